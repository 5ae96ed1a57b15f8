/**
 * The coprocessor checksum BR runs after a backup: TiKV computes crc64xor / kvs / bytes of a
 * table's record range and every public index at the backup ts (coprocessor request type 105),
 * region by region; the sums are compared with those of the backed-up files.
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { compareBytes } from "../codec/bytes.ts";
import {
  ChecksumAlgorithm,
  ChecksumRequestSchema,
  ChecksumResponseSchema,
  ChecksumScanOn,
} from "../gen/checksum_pb.ts";
import type { PdClient } from "../pd/client.ts";
import { sendToRegion } from "../tikv/region_request.ts";
import type { StoreConnections } from "../tikv/stores.ts";
import type { LockResolver } from "../txn/lock_resolver.ts";
import type { TableChecksum } from "./metawriter.ts";
import { emptyChecksum, foldChecksum } from "../codec/crc64.ts";
import { Backoffer, BO } from "../backoff.ts";

/** The coprocessor request type of a checksum. */
export const REQ_TYPE_CHECKSUM = 105n;

/**
 * A range of a table to checksum, and whether it holds records or index entries. With a `rule`
 * (restore's `ChecksumRewriteRule`) TiKV hashes each key under `oldPrefix` instead of its own
 * `newPrefix`, so a restored table's sums compare with the backup's.
 */
export interface ChecksumRange {
  startKey: Uint8Array;
  endKey: Uint8Array;
  scanOn: "table" | "index";
  rule?: { oldPrefix: Uint8Array; newPrefix: Uint8Array };
}

/** A checksum request the cluster failed. */
export class ChecksumError extends Error {
  override name = "ChecksumError";
}

/** Computes the checksum of `ranges` at `ts` through the coprocessor of each region's leader. */
export async function coprocessorChecksum(
  pd: PdClient,
  stores: StoreConnections,
  resolver: LockResolver,
  ranges: ChecksumRange[],
  ts: bigint,
  signal?: AbortSignal,
): Promise<TableChecksum> {
  const sum = emptyChecksum();
  const bo = new Backoffer({ budgetMs: 0, ...(signal ? { signal } : {}) });
  for (const range of ranges) {
    const data = toBinary(
      ChecksumRequestSchema,
      create(ChecksumRequestSchema, {
        startTsFallback: ts,
        scanOn: range.scanOn === "table" ? ChecksumScanOn.Table : ChecksumScanOn.Index,
        algorithm: ChecksumAlgorithm.Crc64_Xor,
        ...(range.rule ? { rule: range.rule } : {}),
      }),
    );
    let cur = range.startKey;
    for (;;) {
      const { response, region } = await sendToRegion(pd, stores, cur, async (c, ctx, region) => {
        const stop = region.endKey.length === 0 || compareBytes(range.endKey, region.endKey) < 0
          ? range.endKey
          : region.endKey;
        const r = await c.coprocessor({
          context: ctx,
          tp: REQ_TYPE_CHECKSUM,
          data,
          startTs: ts,
          ranges: [{ start: cur, end: stop }],
        }, { timeoutMs: 60_000, ...(signal ? { signal } : {}) });
        return { response: r, regionError: r.regionError };
      }, signal ? { signal } : {});
      if (response.locked) {
        const ms = await resolver.resolveLocks(ts, [response.locked]);
        // As client-go's coprocessor reads: txnLockFast, never past the lock's expiry.
        if (ms > 0) await bo.backoff(BO.txnLockFast, "key is locked", { maxSleepMs: ms });
        continue;
      }
      if (response.otherError) {
        throw new ChecksumError(
          `checksum failed on region ${region.region.id}: ${response.otherError}`,
        );
      }
      const part = fromBinary(ChecksumResponseSchema, response.data);
      foldChecksum(sum, {
        crc64xor: part.checksum,
        totalKvs: part.totalKvs,
        totalBytes: part.totalBytes,
      });
      if (region.endKey.length === 0 || compareBytes(region.endKey, range.endKey) >= 0) break;
      cur = region.endKey;
    }
  }
  return sum;
}
