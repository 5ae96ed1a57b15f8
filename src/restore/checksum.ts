/**
 * The checksum of a restored table, as BR's restore runs it: a coprocessor checksum (request
 * type 105) of every new record and index range with a `ChecksumRewriteRule`, so TiKV hashes
 * each key under its old prefix and the sums can be compared with backupmeta's.
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
import { REQ_TYPE_CHECKSUM } from "../backup/checksum.ts";
import type { TableChecksum } from "../backup/metawriter.ts";
import { indexRange, recordRange } from "../tidb/tablecodec.ts";
import { indexPrefix, recordPrefix } from "../tidb/tablecodec.ts";
import { sleep } from "../sleep.ts";
import type { TableRewrite } from "./rewrite.ts";

/** One range to checksum with the rule mapping its new prefix back to the old one. */
export interface RuledRange {
  startKey: Uint8Array;
  endKey: Uint8Array;
  scanOn: "table" | "index";
  oldPrefix: Uint8Array;
  newPrefix: Uint8Array;
}

/** The record and index ranges of a restored table, each with its rule (BR's checksum ranges). */
export function restoredRanges(rw: TableRewrite): RuledRange[] {
  const out: RuledRange[] = [];
  for (const [oldId, newId] of rw.tableIds) {
    // A partitioned table's own id holds no data; its rules are only those of its partitions.
    if (!rw.rules.some((r) => compareBytes(r.newKeyPrefix, recordPrefix(newId)) === 0)) continue;
    const rec = recordRange(newId);
    out.push({
      startKey: rec.start,
      endKey: rec.end,
      scanOn: "table",
      oldPrefix: recordPrefix(oldId),
      newPrefix: recordPrefix(newId),
    });
    for (const [oldIdx, newIdx] of rw.indexIds) {
      const r = indexRange(newId, newIdx);
      out.push({
        startKey: r.start,
        endKey: r.end,
        scanOn: "index",
        oldPrefix: indexPrefix(oldId, oldIdx),
        newPrefix: indexPrefix(newId, newIdx),
      });
    }
  }
  return out;
}

/** Sums the coprocessor checksums of `ranges` at `ts`, region by region. */
export async function ruledChecksum(
  pd: PdClient,
  stores: StoreConnections,
  resolver: LockResolver,
  ranges: RuledRange[],
  ts: bigint,
  signal?: AbortSignal,
): Promise<TableChecksum> {
  const sum: TableChecksum = { crc64xor: 0n, totalKvs: 0n, totalBytes: 0n };
  for (const range of ranges) {
    const data = toBinary(
      ChecksumRequestSchema,
      create(ChecksumRequestSchema, {
        startTsFallback: ts,
        scanOn: range.scanOn === "table" ? ChecksumScanOn.Table : ChecksumScanOn.Index,
        algorithm: ChecksumAlgorithm.Crc64_Xor,
        rule: { oldPrefix: range.oldPrefix, newPrefix: range.newPrefix },
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
        if (ms > 0) await sleep(Math.min(ms, 1000), signal);
        continue;
      }
      if (response.otherError) {
        throw new Error(`checksum failed on region ${region.region.id}: ${response.otherError}`);
      }
      const part = fromBinary(ChecksumResponseSchema, response.data);
      sum.crc64xor ^= part.checksum;
      sum.totalKvs += part.totalKvs;
      sum.totalBytes += part.totalBytes;
      if (region.endKey.length === 0 || compareBytes(region.endKey, range.endKey) >= 0) break;
      cur = region.endKey;
    }
  }
  return sum;
}
