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
 * The keys of `records` in `[start, end)` visible at `ts`, with their values, in the records'
 * key order. `end` empty = unbounded.
 */
export async function* committedRecords(
  records: AsyncIterable<BackupKv>,
  ts: bigint,
  start: Uint8Array = new Uint8Array(0),
  end: Uint8Array = new Uint8Array(0),
): AsyncGenerator<VisibleRecord> {
  let decided: Uint8Array | undefined;
  for await (const r of records) {
    if (_same(decided, r.rawKey)) continue;
    if (r.commitTs > ts || r.type === "lock" || r.type === "rollback") continue;
    decided = r.rawKey;
    if (r.type !== "put") continue;
    if (compareBytes(r.rawKey, start) < 0) continue;
    if (end.length > 0 && compareBytes(r.rawKey, end) >= 0) continue;
    yield { key: r.rawKey, value: r.value, commitTs: r.commitTs };
  }
}
