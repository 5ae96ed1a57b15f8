/**
 * TiDB's table key layout (`tablecodec`), in raw (not memcomparable) form as KV requests carry
 * keys:
 *
 * - record: `t{EncodeInt(tableID)}_r{EncodeInt(handle)}`, or `_r{EncodeKey(pk values)}` for a
 *   clustered (common-handle) table;
 * - index: `t{EncodeInt(tableID)}_i{EncodeInt(indexID)}{EncodeKey(values)}`, followed by the
 *   handle for non-unique entries (and unique ones holding a NULL);
 * - meta keys start with `m` (see meta.ts).
 *
 * Index values use TiDB's two layouts: the old one (8-byte handle for unique entries, "0"
 * otherwise) for int-handle tables, and version 1 (`tailLen | 125 | 1 | [common handle]`) for
 * clustered tables.
 * @module
 */
import { concatBytes, decodeInt, encodeInt, prefixNext } from "../codec/bytes.ts";
import { type Datum, DatumFlag, encodeKey, writeKeyDatum } from "./datum.ts";
import { KEY_WRITER } from "./_writer.ts";

/** First byte of every table key. */
export const TABLE_PREFIX = 0x74; // 't'
/** First byte of every meta key. */
export const META_PREFIX = 0x6d; // 'm'
const RECORD_SEP = Uint8Array.of(0x5f, 0x72); // "_r"
const INDEX_SEP = Uint8Array.of(0x5f, 0x69); // "_i"

/** Flag before a common handle inside an index value. */
export const COMMON_HANDLE_FLAG = 127;
/** Flag before a partition id inside a global index value. */
export const PARTITION_ID_FLAG = 126;
/** Flag before the version byte of a version-1 index value. */
export const INDEX_VERSION_FLAG = 125;

/** A row handle: an int64 for int-handle tables, or `EncodeKey(pk values)` for clustered ones. */
export type Handle = bigint | Uint8Array;

/** A half-open raw key range `[start, end)`; an empty end is unbounded. */
export interface KeyRange {
  start: Uint8Array;
  end: Uint8Array;
}

/** `t{EncodeInt(tableID)}`. */
export function tablePrefix(tableId: bigint): Uint8Array {
  return concatBytes(Uint8Array.of(TABLE_PREFIX), encodeInt(tableId));
}

/** `t{tableID}_r`, the prefix of every record key of the table. */
export function recordPrefix(tableId: bigint): Uint8Array {
  return concatBytes(tablePrefix(tableId), RECORD_SEP);
}

/** `t{tableID}_i{EncodeInt(indexID)}`, the prefix of every key of one index. */
export function indexPrefix(tableId: bigint, indexId: bigint): Uint8Array {
  return concatBytes(tablePrefix(tableId), INDEX_SEP, encodeInt(indexId));
}

/** The bytes a handle contributes to a key. */
export function handleBytes(handle: Handle): Uint8Array {
  return typeof handle === "bigint" ? encodeInt(handle) : handle;
}

/** A record key; `handle` is an int handle or an encoded common handle (`commonHandle`). */
export function encodeRecordKey(tableId: bigint, handle: Handle): Uint8Array {
  const w = KEY_WRITER.reset();
  w.u8(TABLE_PREFIX);
  w.int64Cmp(tableId);
  w.u8(0x5f);
  w.u8(0x72);
  if (typeof handle === "bigint") w.int64Cmp(handle);
  else w.bytes(handle);
  return w.finish();
}

/** The encoded common handle of a clustered table: `EncodeKey` of its primary-key values. */
export function commonHandle(pkValues: readonly Datum[]): Uint8Array {
  return encodeKey(pkValues);
}

/**
 * An index key. `handle` is appended when the entry is not distinct (non-unique index, or a
 * unique index with a NULL value): an int handle as an int datum, a common handle as its bytes.
 */
export function encodeIndexKey(
  tableId: bigint,
  indexId: bigint,
  values: readonly Datum[],
  handle?: Handle,
): Uint8Array {
  const w = KEY_WRITER.reset();
  w.u8(TABLE_PREFIX);
  w.int64Cmp(tableId);
  w.u8(0x5f);
  w.u8(0x69);
  w.int64Cmp(indexId);
  for (const v of values) writeKeyDatum(w, v);
  if (typeof handle === "bigint") {
    w.u8(DatumFlag.Int);
    w.int64Cmp(handle);
  } else if (handle !== undefined) {
    w.bytes(handle);
  }
  return w.finish();
}

/** All record keys of a table: `[t{id}_r, t{id}_s)`. */
export function recordRange(tableId: bigint): KeyRange {
  const start = recordPrefix(tableId);
  return { start, end: prefixNext(start) };
}

/** All keys of one index: `[t{id}_i{idx}, t{id}_i{idx+1})`. */
export function indexRange(tableId: bigint, indexId: bigint): KeyRange {
  return { start: indexPrefix(tableId, indexId), end: indexPrefix(tableId, indexId + 1n) };
}

/** Every key of a table (records and indexes): `[t{id}, t{id+1})`. */
export function tableRange(tableId: bigint): KeyRange {
  return { start: tablePrefix(tableId), end: tablePrefix(tableId + 1n) };
}

/** The table id of a table key, or undefined when the key is not a table key. */
export function decodeTableId(key: Uint8Array): bigint | undefined {
  if (key.length < 9 || key[0] !== TABLE_PREFIX) return undefined;
  return decodeInt(key, 1);
}

/** True when `key` is a record key (`t..._r...`). */
export function isRecordKey(key: Uint8Array): boolean {
  return key.length >= 11 && key[0] === TABLE_PREFIX && key[9] === 0x5f && key[10] === 0x72;
}

/** True when `key` is an index key (`t..._i...`). */
export function isIndexKey(key: Uint8Array): boolean {
  return key.length >= 19 && key[0] === TABLE_PREFIX && key[9] === 0x5f && key[10] === 0x69;
}

/** Table id and int handle of an int-handle record key; throws for other keys. */
export function decodeRecordKey(key: Uint8Array): { tableId: bigint; handle: bigint } {
  if (!isRecordKey(key) || key.length !== 19) {
    throw new Error("key is not an int-handle record key t{tableID}_r{handle}");
  }
  return { tableId: decodeInt(key, 1), handle: decodeInt(key, 11) };
}

/** Table id and index id of an index key; throws for other keys. */
export function decodeIndexKeyPrefix(key: Uint8Array): { tableId: bigint; indexId: bigint } {
  if (!isIndexKey(key)) throw new Error("key is not an index key t{tableID}_i{indexID}...");
  return { tableId: decodeInt(key, 1), indexId: decodeInt(key, 11) };
}

/**
 * The value of an index entry. `distinct` entries (unique index, no NULL) carry the handle:
 * int-handle tables use the old layout (8-byte big-endian handle, or "0" when not distinct);
 * clustered tables use version 1 with the common handle for distinct entries.
 */
export function encodeIndexValue(handle: Handle, distinct: boolean): Uint8Array {
  if (typeof handle === "bigint") {
    const w = KEY_WRITER.reset();
    if (!distinct) w.u8(0x30);
    else w.uint64(BigInt.asUintN(64, handle));
    return w.finish();
  }
  const parts: Uint8Array[] = [Uint8Array.of(0, INDEX_VERSION_FLAG, 1)];
  if (distinct) {
    parts.push(Uint8Array.of(COMMON_HANDLE_FLAG, handle.length >> 8, handle.length & 0xff), handle);
  }
  return concatBytes(...parts);
}
