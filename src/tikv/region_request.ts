/**
 * Sends a KV request to the leader of the region that holds a key, retrying on the region
 * errors TiKV uses to say "ask again elsewhere" (stale epoch, moved leader, busy store).
 * @module
 */
import { type Client, ConnectError } from "@connectrpc/connect";
import { isConnectionLost } from "../rpc/transport.ts";
import type { Error as RegionError } from "../gen/errorpb_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ContextSchema } from "../gen/kvrpcpb_pb.ts";

/** A kvrpcpb.Context as an init object. */
export type ContextInit = MessageInitShape<typeof ContextSchema>;
import type { Tikv } from "../gen/tikvpb_pb.ts";
import type { PdClient, RegionInfo } from "../pd/client.ts";
import { logKey } from "../log.ts";
import { type StoreConnections, StoreUnreachableError } from "./stores.ts";
import { Backoffer, BackoffExhaustedError, type BackoffKind, BO } from "../backoff.ts";
import type { Peer } from "../gen/metapb_pb.ts";
import type { Clock } from "../storage/clock.ts";

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
  /** Attempts before giving up (default 100: a guard for retries that need no backoff). */
  maxAttempts?: number;
  /** Total backoff before giving up, ms (client-go's 20 s for reads). */
  budgetMs?: number;
  /** Time for backoffs; the system clock by default. */
  clock?: Clock;
  signal?: AbortSignal;
}

/** client-go's backoff budget of a read (getMaxBackoff / scannerNextMaxBackoff were 20 s). */
export const REGION_REQUEST_BUDGET_MS = 20_000;

/** The kvrpcpb.Context addressing a region's leader. */
export function regionContext(info: RegionInfo): ContextInit {
  return {
    regionId: info.region.id,
    ...(info.region.regionEpoch ? { regionEpoch: info.region.regionEpoch } : {}),
    ...(info.leader ? { peer: info.leader } : {}),
  };
}

/**
 * What to do about a region error, as client-go's onRegionError: the backoff kind to sleep
 * (none: retry at once), whether to ask PD for the region again, and whether the store's
 * connection is stale.
 */
interface RegionErrorPlan {
  kind: BackoffKind | undefined;
  /** A new leader named by NotLeader: retry there without asking PD. */
  leader?: Peer;
  reload: boolean;
  resetStore: boolean;
}

function planFor(e: RegionError): RegionErrorPlan {
  if (e.notLeader) {
    const leader = e.notLeader.leader;
    // A named leader is tried at once; none means an election: wait for it.
    if (leader && leader.storeId !== 0n) {
      return { kind: undefined, leader, reload: false, resetStore: false };
    }
    return { kind: BO.regionScheduling, reload: true, resetStore: false };
  }
  if (e.storeNotMatch) return { kind: undefined, reload: true, resetStore: true };
  if (e.epochNotMatch) {
    // TiKV names the current regions: the region changed, nothing to wait for.
    if (e.epochNotMatch.currentRegions.length > 0) {
      return { kind: undefined, reload: true, resetStore: false };
    }
    return { kind: BO.regionMiss, reload: true, resetStore: false };
  }
  if (e.serverIsBusy) return { kind: BO.tikvServerBusy, reload: false, resetStore: false };
  if (e.staleCommand) return { kind: BO.staleCmd, reload: true, resetStore: false };
  if (e.maxTimestampNotSynced) return { kind: BO.maxTsNotSynced, reload: false, resetStore: false };
  if (e.regionNotInitialized) {
    return { kind: BO.regionNotInitialized, reload: false, resetStore: false };
  }
  if (e.diskFull) return { kind: BO.tikvDiskFull, reload: false, resetStore: false };
  return { kind: BO.regionMiss, reload: true, resetStore: false };
}

/** The region error's case, for messages. */
function describe(e: RegionError): string {
  const set = Object.entries(e).filter(([k, v]) =>
    v !== undefined && k !== "message" && k !== "$typeName"
  )
    .map(([k]) => k);
  return `region error: ${e.message || set.join(",") || "unknown"}`;
}

/**
 * Finds the region of `key`, sends `fn` to its leader, and retries on region errors and
 * unreachable stores with client-go's backoff for each error until it succeeds, the attempts
 * run out, or the backoff budget is spent.
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
  const max = opts.maxAttempts ?? 100;
  const signal = opts.signal;
  const bo = new Backoffer({
    budgetMs: opts.budgetMs ?? REGION_REQUEST_BUDGET_MS,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(signal ? { signal } : {}),
  });
  let last = "";
  let hint = "check the cluster's health with pd-ctl";
  let region: RegionInfo | undefined;
  const giveUp = (why: string, cause?: unknown) =>
    new RegionRequestError(
      `request for key ${logKey(key)} failed ${why}: ${last}; ${hint}, then try again`,
      cause === undefined ? undefined : { cause },
    );
  const backoff = async (kind: BackoffKind) => {
    try {
      await bo.backoff(kind, last);
    } catch (err) {
      if (err instanceof BackoffExhaustedError) {
        throw giveUp(`after ${Math.round(bo.sleptMs / 1000)} s of backoff`, err);
      }
      throw err;
    }
  };
  for (let attempt = 0; attempt < max; attempt++) {
    region ??= await pd.getRegion(key);
    if (!region?.leader) {
      last = "region has no leader";
      region = undefined;
      await backoff(BO.regionMiss);
      continue;
    }
    const storeId = region.leader.storeId;
    try {
      const client = await stores.tikv(storeId);
      const { response, regionError } = await fn(client, regionContext(region), region);
      if (!regionError) return { response, region };
      last = describe(regionError);
      const plan = planFor(regionError);
      if (plan.resetStore) stores.reset(storeId);
      if (plan.leader) region = { ...region, leader: plan.leader };
      else if (plan.reload) region = undefined;
      if (plan.kind) await backoff(plan.kind);
    } catch (err) {
      if (err instanceof RegionRequestError || signal?.aborted) throw err;
      region = undefined;
      if (err instanceof StoreUnreachableError) {
        last = err.message;
        hint = `check that store ${storeId} is up`;
        await backoff(BO.tikvRPC);
        continue;
      }
      const ce = ConnectError.from(err);
      // Canceled without our signal: another request's reset dropped the shared connection.
      if (isConnectionLost(ce, signal)) {
        stores.reset(storeId);
        last = `store ${storeId}: ${ce.rawMessage}`;
        hint = `bring store ${storeId} back, or wait until its regions elect leaders on live ` +
          `stores`;
        await backoff(BO.tikvRPC);
        continue;
      }
      throw err;
    }
  }
  throw giveUp(`after ${max} attempts`);
}
