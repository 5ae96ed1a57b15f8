/**
 * Sends a KV request to the leader of the region that holds a key, retrying on the region
 * errors TiKV uses to say "ask again elsewhere" (stale epoch, moved leader, busy store).
 * @module
 */
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { Error as RegionError } from "../gen/errorpb_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ContextSchema } from "../gen/kvrpcpb_pb.ts";

/** A kvrpcpb.Context as an init object. */
export type ContextInit = MessageInitShape<typeof ContextSchema>;
import type { Tikv } from "../gen/tikvpb_pb.ts";
import type { PdClient, RegionInfo } from "../pd/client.ts";
import { logKey } from "../log.ts";
import { type StoreConnections, StoreUnreachableError } from "./stores.ts";
import { sleep } from "../sleep.ts";

/** A request that could not be served after all retries. */
export class RegionRequestError extends Error {
  override name = "RegionRequestError";
}

/** What a region request callback returns: the response, with its region error if any. */
export interface RegionResponse<T> {
  response: T;
  regionError: RegionError | undefined;
}

/** Options for `sendToRegion`. */
export interface RegionRequestOptions {
  /** Attempts before giving up. */
  maxAttempts?: number;
  signal?: AbortSignal;
}

/** The kvrpcpb.Context addressing a region's leader. */
export function regionContext(info: RegionInfo): ContextInit {
  return {
    regionId: info.region.id,
    ...(info.region.regionEpoch ? { regionEpoch: info.region.regionEpoch } : {}),
    ...(info.leader ? { peer: info.leader } : {}),
  };
}

/**
 * Finds the region of `key`, sends `fn` to its leader, and retries on region errors and
 * unreachable stores (with a short backoff) until it succeeds or attempts run out.
 */
export async function sendToRegion<T>(
  pd: PdClient,
  stores: StoreConnections,
  key: Uint8Array,
  fn: (
    client: Client<typeof Tikv>,
    ctx: ContextInit,
    region: RegionInfo,
  ) => Promise<RegionResponse<T>>,
  opts: RegionRequestOptions = {},
): Promise<{ response: T; region: RegionInfo }> {
  const max = opts.maxAttempts ?? 20;
  let last = "";
  let hint = "check the cluster's health with pd-ctl";
  for (let attempt = 0; attempt < max; attempt++) {
    if (attempt > 0) await sleep(Math.min(50 * 2 ** attempt, 1000), opts.signal);
    const region = await pd.getRegion(key);
    if (!region?.leader) {
      last = "region has no leader";
      continue;
    }
    try {
      const client = await stores.tikv(region.leader.storeId);
      const { response, regionError } = await fn(client, regionContext(region), region);
      if (!regionError) return { response, region };
      last = `region error: ${regionError.message || Object.keys(regionError).join(",")}`;
    } catch (err) {
      const storeId = region.leader.storeId;
      if (err instanceof StoreUnreachableError) {
        last = err.message;
        hint = `check that store ${storeId} is up`;
        continue;
      }
      const ce = ConnectError.from(err);
      // Canceled without our signal: another request's reset dropped the shared connection.
      const dropped = ce.code === Code.Canceled && !opts.signal?.aborted;
      if (ce.code === Code.Unavailable || ce.code === Code.DeadlineExceeded || dropped) {
        stores.reset(storeId);
        last = `store ${storeId}: ${ce.rawMessage}`;
        hint = `bring store ${storeId} back, or wait until its regions elect leaders on live ` +
          `stores`;
        continue;
      }
      throw err;
    }
  }
  throw new RegionRequestError(
    `request for key ${logKey(key)} failed after ${max} attempts: ${last}; ${hint}, then try again`,
  );
}
