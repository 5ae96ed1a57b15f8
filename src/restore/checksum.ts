/**
 * The checksum of a restored table, as BR's restore runs it: a coprocessor checksum (request
 * type 105) of every new record and index range with a `ChecksumRewriteRule`, so TiKV hashes
 * each key under its old prefix and the sums can be compared with backupmeta's. The requests
 * are the backup's (`coprocessorChecksum`); this module makes the ranges and their rules.
 * @module
 */
import type { ChecksumRange } from "../backup/checksum.ts";
import { indexPrefix, indexRange, recordPrefix, recordRange } from "../tidb/tablecodec.ts";
import type { TableRewrite } from "./rewrite.ts";

/** One range to checksum with the rule mapping its new prefix back to the old one. */
export type RuledRange = Required<ChecksumRange>;

/** The record and index ranges of a restored table, each with its rule (BR's checksum ranges). */
export function restoredRanges(rw: TableRewrite): RuledRange[] {
  const out: RuledRange[] = [];
  // A partitioned table's own id holds no data: only its partitions are physical.
  for (const oldId of rw.physical) {
    const newId = rw.tableIds.get(oldId)!;
    const rec = recordRange(newId);
    out.push({
      startKey: rec.start,
      endKey: rec.end,
      scanOn: "table",
      rule: { oldPrefix: recordPrefix(oldId), newPrefix: recordPrefix(newId) },
    });
    for (const [oldIdx, newIdx] of rw.indexIds) {
      const r = indexRange(newId, newIdx);
      out.push({
        startKey: r.start,
        endKey: r.end,
        scanOn: "index",
        rule: { oldPrefix: indexPrefix(oldId, oldIdx), newPrefix: indexPrefix(newId, newIdx) },
      });
    }
  }
  return out;
}
