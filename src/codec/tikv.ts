/**
 * TiKV's storage formats: MVCC data keys (`z` + memcomparable raw key + descending ts) and the
 * values of the write CF (commit records).
 * @module
 */
import { concatBytes, decodeBytes, decodeUintDesc, encodeBytes, encodeUintDesc } from "./bytes.ts";
import { decodeVarU64, pushVarU64 } from "./varint.ts";

/** TiKV's prefix on every key of its data column families. */
export const DATA_PREFIX = 0x7a; // 'z'

/** Longest value TiKV inlines into the write record instead of the default CF. */
export const SHORT_VALUE_MAX_LEN = 255;

/** Kind of commit record in the write CF. */
export type WriteType = "put" | "delete" | "lock" | "rollback";

/** A decoded write-CF value. */
export interface WriteRecord {
  type: WriteType;
  /** The transaction's start ts; the default CF holds a long value under this ts. */
  startTs: bigint;
  /** The value itself when at most `SHORT_VALUE_MAX_LEN` bytes (then nothing is in default CF). */
  shortValue?: Uint8Array;
  /** A rollback record shares this commit record's key. */
  hasOverlappedRollback?: boolean;
  /** Commit ts of the next version when this record was rewritten by an overlapped rollback. */
  gcFence?: bigint;
  /** Commit ts of the last PUT/DELETE before this LOCK/ROLLBACK (0 = none recorded). */
  lastChangeTs?: bigint;
  /** Estimated versions between this record and `lastChangeTs`. */
  versionsToLastChange?: bigint;
  /** Source tag of the transaction (CDC/TiFlash); 0 when absent. */
  txnSource?: bigint;
}

const TYPE_BYTE: Record<WriteType, number> = {
  put: 0x50, // 'P'
  delete: 0x44, // 'D'
  lock: 0x4c, // 'L'
  rollback: 0x52, // 'R'
};
const BYTE_TYPE = new Map<number, WriteType>(
  Object.entries(TYPE_BYTE).map(([k, v]) => [v, k as WriteType]),
);
const SHORT_VALUE_PREFIX = 0x76; // 'v'
const OVERLAPPED_ROLLBACK = 0x52; // 'R'
const GC_FENCE_PREFIX = 0x46; // 'F'
const LAST_CHANGE_PREFIX = 0x6c; // 'l'
const TXN_SOURCE_PREFIX = 0x53; // 'S'

/** `z` + encodeBytes(raw), followed by encodeUintDesc(ts) when `ts` is given. */
export function dataKey(raw: Uint8Array, ts?: bigint): Uint8Array {
  const prefix = Uint8Array.of(DATA_PREFIX);
  return ts === undefined
    ? concatBytes(prefix, encodeBytes(raw))
    : concatBytes(prefix, encodeBytes(raw), encodeUintDesc(ts));
}

/**
 * Splits a data key into the raw key and its ts (undefined when the key has no ts suffix).
 * Throws when the key lacks the `z` prefix or is not memcomparable-encoded.
 */
export function parseDataKey(key: Uint8Array): { raw: Uint8Array; ts: bigint | undefined } {
  if (key[0] !== DATA_PREFIX) {
    throw new Error(
      `key does not start with TiKV's data prefix 'z' (first byte ${
        key.length ? "0x" + key[0]!.toString(16) : "missing"
      }); it is not a TiKV data key`,
    );
  }
  const { value, next } = decodeBytes(key, 1);
  const rest = key.length - next;
  if (rest === 0) return { raw: value, ts: undefined };
  if (rest !== 8) {
    throw new Error(
      `data key has ${rest} bytes after its memcomparable part; expected 0 or an 8-byte ts`,
    );
  }
  return { raw: value, ts: decodeUintDesc(key, next) };
}

/** TiKV's write-CF value: type byte, varint start ts, then the optional flagged fields. */
export function encodeWriteValue(w: WriteRecord): Uint8Array {
  const out: number[] = [TYPE_BYTE[w.type]];
  pushVarU64(out, w.startTs);
  if (w.shortValue !== undefined) {
    if (w.shortValue.length > SHORT_VALUE_MAX_LEN) {
      throw new RangeError(
        `short value of ${w.shortValue.length} bytes exceeds ${SHORT_VALUE_MAX_LEN}; ` +
          `put it in the default CF instead`,
      );
    }
    out.push(SHORT_VALUE_PREFIX, w.shortValue.length);
    for (const b of w.shortValue) out.push(b);
  }
  if (w.hasOverlappedRollback) out.push(OVERLAPPED_ROLLBACK);
  if (w.gcFence !== undefined) {
    out.push(GC_FENCE_PREFIX);
    pushU64(out, w.gcFence);
  }
  if (w.lastChangeTs !== undefined) {
    out.push(LAST_CHANGE_PREFIX);
    pushU64(out, w.lastChangeTs);
    pushVarU64(out, w.versionsToLastChange ?? 0n);
  }
  if (w.txnSource !== undefined && w.txnSource !== 0n) {
    out.push(TXN_SOURCE_PREFIX);
    pushVarU64(out, w.txnSource);
  }
  return Uint8Array.from(out);
}

function pushU64(out: number[], v: bigint): void {
  for (let s = 56n; s >= 0n; s -= 8n) out.push(Number((v >> s) & 0xffn));
}

function readU64(buf: Uint8Array, at: number): bigint {
  if (at + 8 > buf.length) throw badWrite(`an 8-byte field at offset ${at} is truncated`);
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(buf[at + i]!);
  return v;
}

function badWrite(why: string): Error {
  return new Error(`malformed write-CF value: ${why}`);
}

/**
 * Decodes a write-CF value. Like TiKV, parsing stops at the first unknown flag byte (fields are
 * written in a fixed order, so newer fields come last). Throws on a truncated or unknown record.
 */
export function decodeWriteValue(buf: Uint8Array): WriteRecord {
  if (buf.length === 0) throw badWrite("empty");
  const type = BYTE_TYPE.get(buf[0]!);
  if (type === undefined) throw badWrite(`unknown write type byte 0x${buf[0]!.toString(16)}`);
  let ts;
  try {
    ts = decodeVarU64(buf, 1);
  } catch (err) {
    throw badWrite(`start ts: ${(err as Error).message}`);
  }
  const rec: WriteRecord = { type, startTs: ts.value };
  let pos = ts.next;
  while (pos < buf.length) {
    const flag = buf[pos++]!;
    if (flag === SHORT_VALUE_PREFIX) {
      const len = buf[pos];
      if (len === undefined || pos + 1 + len > buf.length) {
        throw badWrite(`short value at offset ${pos} is truncated`);
      }
      rec.shortValue = buf.slice(pos + 1, pos + 1 + len);
      pos += 1 + len;
    } else if (flag === OVERLAPPED_ROLLBACK) {
      rec.hasOverlappedRollback = true;
    } else if (flag === GC_FENCE_PREFIX) {
      rec.gcFence = readU64(buf, pos);
      pos += 8;
    } else if (flag === LAST_CHANGE_PREFIX) {
      rec.lastChangeTs = readU64(buf, pos);
      let n;
      try {
        n = decodeVarU64(buf, pos + 8);
      } catch (err) {
        throw badWrite(`versions to last change: ${(err as Error).message}`);
      }
      rec.versionsToLastChange = n.value;
      pos = n.next;
    } else if (flag === TXN_SOURCE_PREFIX) {
      let n;
      try {
        n = decodeVarU64(buf, pos);
      } catch (err) {
        throw badWrite(`txn source: ${(err as Error).message}`);
      }
      rec.txnSource = n.value;
      pos = n.next;
    } else {
      break;
    }
  }
  return rec;
}
