/**
 * Private test helpers of the playground: ground truth computed from the sample rows alone,
 * independently of the engine.
 * @module
 */
import { concatBytes } from "../codec/bytes.ts";
import { crc64 } from "../codec/crc64.ts";
import { publicIndexes } from "../tidb/model.ts";
import type { Catalog, CatalogTable } from "./sample.ts";

/** crc64xor / kvs / bytes of a table's live rows, computed from the catalog alone. */
export function expectedTableChecksum(
  catalog: Catalog,
  t: CatalogTable,
): { crc64xor: bigint; totalKvs: bigint; totalBytes: bigint } {
  const publicIds = new Set(publicIndexes(t.info).map((i) => i.id));
  let crc = 0n;
  let kvs = 0n;
  let bytes = 0n;
  for (let id = 1n; id <= t.maxId; id++) {
    for (const kv of catalog.rowKvsOf(t, id)) {
      if (kv.indexId !== undefined && !publicIds.has(kv.indexId)) continue;
      crc ^= crc64(concatBytes(kv.key, kv.value));
      kvs++;
      bytes += BigInt(kv.key.length + kv.value.length);
    }
  }
  return { crc64xor: crc, totalKvs: kvs, totalBytes: bytes };
}
