/**
 * The key ranges a restore splits and imports: BR's `MergeAndRewriteFileRanges`. Files of one
 * backed-up range (its default and write CF files) form one range; adjacent ranges of the same
 * table and the same index (or both records) are merged while the result stays under the
 * region-size targets (96 MiB, 960,000 keys), so small files do not make tiny regions. Each
 * merged range is then rewritten onto the new table, and its ends become split keys.
 * @module
 */
import { compareBytes } from "../codec/bytes.ts";
import type { File } from "../gen/brpb_pb.ts";
import { decodeTableId, isIndexKey, isRecordKey } from "../tidb/tablecodec.ts";
import { decodeInt } from "../codec/bytes.ts";
import { matchRule, rewriteKey, type RewriteRule, RuleIndex } from "./rewrite.ts";

/** BR's `DefaultMergeRegionSizeBytes`. */
export const MERGE_REGION_SIZE = 96 * 1024 * 1024;
/** BR's `DefaultMergeRegionKeyCount`. */
export const MERGE_REGION_KEYS = 960_000;

/** A range of the backup and the files that hold it. */
export interface FileRange {
  startKey: Uint8Array;
  endKey: Uint8Array;
  files: File[];
  /** KV bytes of its files (both CFs, as the backup's totals count them). */
  bytes: bigint;
  kvs: bigint;
}

/** Merge targets (BR's `--merge-region-size-bytes`, `--merge-region-key-count`). */
export interface MergeOptions {
  sizeBytes?: number;
  keyCount?: number;
}

/** Table id and "r" or the index id of a table key, so ranges of different kinds stay apart. */
function kindOf(key: Uint8Array): string | undefined {
  const table = decodeTableId(key);
  if (table === undefined) return undefined;
  if (isRecordKey(key)) return `${table}r`;
  if (isIndexKey(key)) return `${table}i${decodeInt(key, 11)}`;
  return `${table}`;
}

/**
 * Groups `files` by range and merges adjacent small ranges (BR's `MergeFileRanges`). The result
 * is sorted by start key; each file is in exactly one range.
 */
export function mergeFileRanges(files: Iterable<File>, opts: MergeOptions = {}): FileRange[] {
  const size = BigInt(opts.sizeBytes ?? MERGE_REGION_SIZE);
  const keys = BigInt(opts.keyCount ?? MERGE_REGION_KEYS);
  const groups = new Map<string, FileRange>();
  for (const f of files) {
    const id = `${f.startKey.join(",")}|${f.endKey.join(",")}`;
    const g = groups.get(id);
    if (g) g.files.push(f);
    else groups.set(id, { startKey: f.startKey, endKey: f.endKey, files: [f], bytes: 0n, kvs: 0n });
  }
  const ranges = [...groups.values()];
  for (const r of ranges) {
    for (const f of r.files) {
      r.bytes += f.totalBytes;
      r.kvs += f.totalKvs;
    }
  }
  ranges.sort((a, b) => compareBytes(a.startKey, b.startKey));
  const out: FileRange[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (
      last && compareBytes(last.endKey, r.startKey) === 0 &&
      kindOf(last.startKey) !== undefined && kindOf(last.startKey) === kindOf(r.startKey) &&
      last.bytes + r.bytes <= size && last.kvs + r.kvs <= keys
    ) {
      last.endKey = r.endKey;
      last.files.push(...r.files);
      last.bytes += r.bytes;
      last.kvs += r.kvs;
    } else {
      out.push({ ...r, files: [...r.files] });
    }
  }
  return out;
}

/** A range rewritten onto the new table, with the rule its files are downloaded with. */
export interface RewrittenRange extends FileRange {
  newStartKey: Uint8Array;
  newEndKey: Uint8Array;
  rule: RewriteRule | undefined;
}

/**
 * Rewrites each range with the rule matching it (a list is searched whole; a `RuleIndex` looks
 * in the range's table only); undefined rules leave keys as they are (raw).
 */
export function rewriteRanges(
  ranges: FileRange[],
  rules: readonly RewriteRule[] | RuleIndex | undefined,
): RewrittenRange[] {
  return ranges.map((r) => {
    if (!rules) return { ...r, newStartKey: r.startKey, newEndKey: r.endKey, rule: undefined };
    const rule = rules instanceof RuleIndex
      ? rules.match(r.startKey, r.endKey)
      : matchRule(rules as readonly RewriteRule[], r.startKey, r.endKey);
    if (!rule) {
      throw new Error(
        `no rewrite rule covers the backup range ${hexKey(r.startKey)}..${hexKey(r.endKey)} ` +
          `(file ${r.files[0]?.name}); the backup does not match its schemas`,
      );
    }
    return {
      ...r,
      newStartKey: rewriteKey(r.startKey, rule),
      newEndKey: rewriteKey(r.endKey, rule),
      rule,
    };
  });
}

function hexKey(k: Uint8Array): string {
  return Array.from(k, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The sorted, distinct split keys of rewritten ranges: every range's start and end. */
export function splitKeys(ranges: readonly RewrittenRange[]): Uint8Array[] {
  const all = ranges.flatMap((r) => [r.newStartKey, r.newEndKey]).filter((k) => k.length > 0);
  all.sort(compareBytes);
  return all.filter((k, i) => i === 0 || compareBytes(all[i - 1]!, k) !== 0);
}
