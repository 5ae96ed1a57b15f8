/**
 * The rows visible at a snapshot, from the commit records of a backup file (TiKV's write CF,
 * tikv components/txn_types write.rs): records come per key newest first; the newest record
 * committed at or below the snapshot ts that is a Put or a Delete decides the key (a Put gives
 * its value, a Delete hides the key); Lock and Rollback records carry no data and are passed
 * over, as TiKV's snapshot reader does.
 * @module
 */
import { compareBytes } from "../codec/bytes.ts";
import type { BackupKv } from "../sst/backup.ts";

/** One row visible at the snapshot. */
export interface VisibleRecord {
  key: Uint8Array;
  value: Uint8Array;
  commitTs: bigint;
}

function _same(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Decides, record by record in file order, which records are rows visible at `ts` within
 * `[start, end)` (`end` empty = unbounded). Stateful: feed one file's records in order.
 */
export class SnapshotFilter {
  #decided: Uint8Array | undefined;
  readonly #ts: bigint;
  readonly #start: Uint8Array;
  readonly #end: Uint8Array;

  constructor(
    ts: bigint,
    start: Uint8Array = new Uint8Array(0),
    end: Uint8Array = new Uint8Array(0),
  ) {
    this.#ts = ts;
    this.#start = start;
    this.#end = end;
  }

  /** True when `r` is the visible version of a key in range. */
  accept(r: BackupKv): boolean {
    if (_same(this.#decided, r.rawKey)) return false;
    if (r.commitTs > this.#ts || r.type === "lock" || r.type === "rollback") return false;
    this.#decided = r.rawKey;
    if (r.type !== "put") return false;
    if (compareBytes(r.rawKey, this.#start) < 0) return false;
    return this.#end.length === 0 || compareBytes(r.rawKey, this.#end) < 0;
  }
}

/**
 * The keys of `records` in `[start, end)` visible at `ts`, with their values, in the records'
 * key order. `end` empty = unbounded.
 */
export async function* committedRecords(
  records: AsyncIterable<BackupKv>,
  ts: bigint,
  start: Uint8Array = new Uint8Array(0),
  end: Uint8Array = new Uint8Array(0),
): AsyncGenerator<VisibleRecord> {
  const filter = new SnapshotFilter(ts, start, end);
  for await (const r of records) {
    if (filter.accept(r)) yield { key: r.rawKey, value: r.value, commitTs: r.commitTs };
  }
}
