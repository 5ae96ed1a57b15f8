/**
 * The store's coprocessor, as far as BR uses it: the checksum request (type 105, a
 * `tipb.ChecksumRequest`), which TiKV answers with crc64xor / total_kvs / total_bytes over the
 * newest put at or below the request's ts of every key in its ranges, cut to the region.
 *
 * With `ChecksumRequest.rule` (a `ChecksumRewriteRule`), every key must start with `new_prefix`
 * (else `Wrong prefix expect: [...]`, as TiKV) and is hashed, counted and sized as if it began
 * with `old_prefix`: a restored table's checksum equals its backup's.
 *
 * A lock that blocks reading at that ts is answered in `locked`, as TiKV's scanner does, so the
 * client resolves it and asks again. Other request types (DAG, analyze) get `other_error`.
 * @module
 */
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { ChecksumAccumulator } from "../../codec/crc64.ts";
import { compareBytes, concatBytes } from "../../codec/bytes.ts";
import {
  ChecksumAlgorithm,
  ChecksumRequestSchema,
  ChecksumResponseSchema,
} from "../../gen/checksum_pb.ts";
import type { Request, ResponseSchema } from "../../gen/coprocessor_pb.ts";
import type { Cluster } from "../cluster.ts";
import { LockedError } from "../mvcc.ts";
import { lockInfoPb } from "./_convert.ts";
import type { ServerStats } from "./_flow.ts";
import { checkContext, clampToScope } from "./_region_check.ts";

/** The request type of a checksum (TiDB's `kv.ReqTypeChecksum`). */
export const REQ_TYPE_CHECKSUM = 105n;

type ResponseInit = MessageInitShape<typeof ResponseSchema>;

function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/** Serves one coprocessor request to `storeId`. */
export function handleCoprocessor(
  cluster: Cluster,
  storeId: bigint,
  req: Request,
  stats?: ServerStats,
): ResponseInit {
  if (stats) stats.coprocessorRequests++;
  const first = req.ranges[0];
  const check = checkContext(cluster, storeId, req.context, first ? [first.start] : [], stats);
  if (check.error) return { regionError: check.error };
  if (req.tp !== REQ_TYPE_CHECKSUM) {
    return {
      otherError: `coprocessor request type ${req.tp} is not supported by the playground; ` +
        `only checksum (${REQ_TYPE_CHECKSUM}) is`,
    };
  }
  let creq;
  try {
    creq = fromBinary(ChecksumRequestSchema, req.data);
  } catch (err) {
    return { otherError: `cannot decode the ChecksumRequest: ${(err as Error).message}` };
  }
  if ((creq.algorithm ?? ChecksumAlgorithm.Crc64_Xor) !== ChecksumAlgorithm.Crc64_Xor) {
    return { otherError: `checksum algorithm ${creq.algorithm} is not supported; use crc64_xor` };
  }
  const ts = req.startTs !== 0n ? req.startTs : creq.startTsFallback ?? 0n;
  const acc = new ChecksumAccumulator();
  const bypassLocks = req.context?.resolvedLocks ?? [];
  // A ChecksumRewriteRule (a restored table) hashes each key as it was under the old prefix,
  // so the result compares with the backup's checksum.
  const oldPrefix = creq.rule?.oldPrefix ?? new Uint8Array(0);
  const newPrefix = creq.rule?.newPrefix ?? new Uint8Array(0);
  const rewrite = creq.rule !== undefined && compareBytes(oldPrefix, newPrefix) !== 0;
  try {
    for (const r of req.ranges) {
      const { start, end } = clampToScope(check.scope, r.start, r.end);
      if (end.length > 0 && compareBytes(start, end) >= 0) continue;
      for (const batch of cluster.mvcc.backupBatches(start, end, ts, { bypassLocks })) {
        for (const e of batch) {
          if (!hasPrefix(e.key, newPrefix)) {
            return { otherError: `Wrong prefix expect: [${newPrefix.join(", ")}]` };
          }
          acc.add(
            rewrite ? concatBytes(oldPrefix, e.key.subarray(newPrefix.length)) : e.key,
            e.value,
          );
        }
      }
    }
  } catch (err) {
    if (err instanceof LockedError) return { locked: lockInfoPb(err.lock) };
    throw err;
  }
  const data = toBinary(
    ChecksumResponseSchema,
    create(ChecksumResponseSchema, {
      checksum: acc.crc64xor,
      totalKvs: acc.totalKvs,
      totalBytes: acc.totalBytes,
    }),
  );
  return { data, ...(first ? { range: { start: first.start, end: first.end } } : {}) };
}
