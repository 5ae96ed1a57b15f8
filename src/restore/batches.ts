/**
 * The import phase over a stream of backup files, in bounded batches: files are read from the
 * backup's metadata as they come (`MetaReader.dataFiles`, V1 inline or V2 metafiles), gathered
 * into batches of about `batchFiles`, and each batch is merged into ranges, rewritten, split and
 * scattered, then handed to the import pool while the next batch is read and split. Memory holds
 * one batch being prepared and the ranges in flight, whatever the number of files or tables
 * (BR's restore pipeline splits and imports batch by batch the same way).
 *
 * A batch never ends between two files of the same backed-up range (its default-CF and
 * write-CF files, which BR writes next to each other), so a range's files are ingested together.
 * Ranges merge only within a batch: batch boundaries are fixed by the stream and `batchFiles`,
 * so a rerun makes the same ranges (the checkpoint's keys).
 * @module
 */
import { compareBytes } from "../codec/bytes.ts";
import type { File } from "../gen/brpb_pb.ts";
import { Pool } from "../pool.ts";
import { mergeFileRanges, type MergeOptions, rewriteRanges, splitKeys } from "./ranges.ts";
import type { RewrittenRange } from "./ranges.ts";
import type { RewriteRule, RuleIndex } from "./rewrite.ts";

/** Files per batch by default: a few MiB of metadata, thousands of ranges to keep stores busy. */
export const BATCH_FILES = 4096;

/** A batch of ranges ready to split and import. */
export interface RangeBatch {
  ranges: RewrittenRange[];
  /** The batch's split keys: every range's rewritten start and end, sorted and distinct. */
  keys: Uint8Array[];
  /** Files in the batch. */
  files: number;
}

/** Options of `rangeBatches`. */
export interface BatchOptions extends MergeOptions {
  /** Files per batch (`BATCH_FILES` by default). */
  batchFiles?: number;
}

function sameRange(a: File, b: File): boolean {
  return compareBytes(a.startKey, b.startKey) === 0 && compareBytes(a.endKey, b.endKey) === 0;
}

/**
 * Reads `files` lazily and yields them as batches of merged, rewritten ranges (`rules`
 * undefined: keys kept, as raw and txn restores).
 */
export async function* rangeBatches(
  files: AsyncIterable<File> | Iterable<File>,
  rules: readonly RewriteRule[] | RuleIndex | undefined,
  opts: BatchOptions = {},
): AsyncGenerator<RangeBatch> {
  const size = Math.max(1, opts.batchFiles ?? BATCH_FILES);
  let buf: File[] = [];
  const cut = (): RangeBatch => {
    const ranges = rewriteRanges(mergeFileRanges(buf, opts), rules);
    const batch = { ranges, keys: splitKeys(ranges), files: buf.length };
    buf = [];
    return batch;
  };
  for await (const f of files) {
    if (buf.length >= size && !sameRange(buf[buf.length - 1]!, f)) yield cut();
    buf.push(f);
  }
  if (buf.length > 0) yield cut();
}

/** What `importBatches` needs from the cluster side. */
export interface BatchSteps {
  /** Splits and scatters at a batch's keys before its ranges are imported. */
  split(batch: RangeBatch): Promise<void>;
  /** Imports one range (download to every peer, ingest on the leader). */
  importRange(range: RewrittenRange, signal: AbortSignal): Promise<void>;
}

/** The key span of a batch's rewritten ranges (empty start or end: unbounded). */
export function batchSpan(batch: RangeBatch): { start: Uint8Array; end: Uint8Array } {
  let start: Uint8Array | undefined;
  let end: Uint8Array | undefined;
  for (const r of batch.ranges) {
    if (start === undefined || compareBytes(r.newStartKey, start) < 0) start = r.newStartKey;
    if (
      end === undefined ||
      end.length > 0 && (r.newEndKey.length === 0 || compareBytes(r.newEndKey, end) > 0)
    ) end = r.newEndKey;
  }
  return { start: start ?? new Uint8Array(), end: end ?? new Uint8Array() };
}

/** Counts of what `importBatches` went through. */
export interface BatchTotals {
  files: number;
  ranges: number;
  keys: number;
}

/**
 * Runs the import over `batches`: each batch is split, then its ranges go into one pool of
 * `concurrency` tasks shared by every batch, so the next batch is read and split while the
 * current one's last ranges are still importing. Stops at the first failure.
 */
export async function importBatches(
  batches: AsyncIterable<RangeBatch>,
  steps: BatchSteps,
  opts: { concurrency: number; signal?: AbortSignal },
): Promise<BatchTotals> {
  const totals: BatchTotals = { files: 0, ranges: 0, keys: 0 };
  const pool = new Pool({
    concurrency: Math.max(1, opts.concurrency),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  try {
    for await (const batch of batches) {
      if (pool.failed) break;
      totals.files += batch.files;
      totals.ranges += batch.ranges.length;
      totals.keys += batch.keys.length;
      await steps.split(batch);
      for (const r of batch.ranges) await pool.submit((signal) => steps.importRange(r, signal));
    }
  } catch (err) {
    pool.abort(err);
  }
  await pool.drain();
  return totals;
}
