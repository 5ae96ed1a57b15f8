/**
 * The block format shared by data, index, metaindex and properties blocks: entries with
 * shared-prefix key compression, then the restart array (fixed32 offsets) and its length.
 * @module
 */
import { decodeVarNumber, putVarNumber } from "../codec/varint.ts";
import { SstError } from "./errors.ts";

/**
 * Builds one block. Every `restartInterval` entries a restart point stores the full key, so a
 * reader can binary-search the block; between them keys share a prefix with their predecessor.
 */
export class BlockBuilder {
  readonly #interval: number;
  #buf = new Uint8Array(8192);
  #len = 0;
  #restarts: number[] = [0];
  #counter = 0;
  #lastKey: Uint8Array = new Uint8Array(0);
  #count = 0;

  constructor(restartInterval: number) {
    this.#interval = restartInterval;
  }

  /** Entries added since the last reset. */
  get count(): number {
    return this.#count;
  }

  /** Size `finish()` would return now. */
  get estimatedSize(): number {
    return this.#len + this.#restarts.length * 4 + 4;
  }

  /** Size after adding an entry of these lengths (upper bound: assumes no shared prefix). */
  sizeAfter(keyLen: number, valueLen: number): number {
    return this.estimatedSize + keyLen + valueLen + 15 + (this.#counter >= this.#interval ? 4 : 0);
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.#len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  #varint(v: number): void {
    this.#len = putVarNumber(this.#buf, this.#len, v);
  }

  /** Appends an entry; keys must arrive in the block's order (the caller checks). */
  add(key: Uint8Array, value: Uint8Array): void {
    let shared = 0;
    if (this.#counter >= this.#interval) {
      this.#restarts.push(this.#len);
      this.#counter = 0;
    } else {
      const last = this.#lastKey;
      const n = Math.min(last.length, key.length);
      while (shared < n && last[shared] === key[shared]) shared++;
    }
    const nonShared = key.length - shared;
    this.#reserve(15 + nonShared + value.length);
    this.#varint(shared);
    this.#varint(nonShared);
    this.#varint(value.length);
    this.#buf.set(key.subarray(shared), this.#len);
    this.#len += nonShared;
    this.#buf.set(value, this.#len);
    this.#len += value.length;
    this.#lastKey = key;
    this.#counter++;
    this.#count++;
  }

  /** The finished block (a fresh copy); call `reset` before reusing the builder. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.estimatedSize);
    out.set(this.#buf.subarray(0, this.#len));
    const dv = new DataView(out.buffer);
    let at = this.#len;
    for (const r of this.#restarts) {
      dv.setUint32(at, r, true);
      at += 4;
    }
    dv.setUint32(at, this.#restarts.length, true);
    return out;
  }

  /** Empties the builder for the next block. */
  reset(): void {
    this.#len = 0;
    this.#restarts = [0];
    this.#counter = 0;
    this.#lastKey = new Uint8Array(0);
    this.#count = 0;
  }
}

/** Where a block's file and offset are, for error messages. */
export interface BlockOrigin {
  file: string;
  offset: number;
  what: string;
}

function corrupt(origin: BlockOrigin, why: string): SstError {
  return new SstError(
    "Corruption",
    `${origin.what} block is malformed (${why}); the file is damaged, re-create or re-download it`,
    { file: origin.file, offset: origin.offset },
  );
}

/** Byte offset where a block's entries end (its restart array begins). */
export function entriesEnd(block: Uint8Array, origin: BlockOrigin): number {
  if (block.length < 4) throw corrupt(origin, `only ${block.length} bytes`);
  const dv = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const packed = dv.getUint32(block.length - 4, true);
  // The top bit marks a data block carrying a hash index after its restart array.
  const hasHash = packed >>> 31 === 1;
  const numRestarts = packed & 0x7fffffff;
  let end = block.length - 4;
  if (hasHash) {
    if (end < 2) throw corrupt(origin, "hash index truncated");
    const buckets = dv.getUint16(end - 2, true);
    end -= 2 + buckets;
  }
  end -= numRestarts * 4;
  if (numRestarts === 0 || end < 0) {
    throw corrupt(origin, `restart count ${numRestarts} does not fit in ${block.length} bytes`);
  }
  return end;
}

/** Decoded entries of one block: `values[i]` are views into the block. */
export interface BlockEntries {
  keys: Uint8Array[];
  values: Uint8Array[];
}

/**
 * Decodes every entry of a block with `<shared><non_shared><value_length>` headers. Keys are
 * views into one fresh buffer per block (never reused, so they stay valid); values are views
 * into `block`. One buffer instead of one array per key: most of a scan's time went to
 * allocating and collecting those.
 */
export function decodeBlock(block: Uint8Array, origin: BlockOrigin): BlockEntries {
  const end = entriesEnd(block, origin);
  const keys: Uint8Array[] = [];
  const values: Uint8Array[] = [];
  // Keys take at most the block's bytes plus the shared prefixes; grown if that guess is short.
  let arena = new Uint8Array(end + (end >>> 1) + 64);
  let used = 0;
  let prevAt = 0;
  let prevLen = 0;
  let pos = 0;
  while (pos < end) {
    let shared = block[pos++]!;
    if (shared >= 0x80) [shared, pos] = slowVarint(block, pos - 1, end, origin);
    let nonShared = block[pos++]!;
    if (nonShared >= 0x80) [nonShared, pos] = slowVarint(block, pos - 1, end, origin);
    let valueLen = block[pos++]!;
    if (valueLen >= 0x80) [valueLen, pos] = slowVarint(block, pos - 1, end, origin);
    if (pos > end || shared > prevLen || pos + nonShared + valueLen > end) {
      throw corrupt(origin, `entry ${keys.length} at block offset ${pos} overruns the block`);
    }
    const len = shared + nonShared;
    if (used + len > arena.length) {
      // Earlier keys keep the old buffer; only the previous key's prefix is needed here.
      const next = new Uint8Array(Math.max(arena.length * 2, len + 64));
      for (let i = 0; i < shared; i++) next[i] = arena[prevAt + i]!;
      arena = next;
      prevAt = 0;
      used = 0;
    }
    const at = used;
    if (at !== prevAt) { for (let i = 0; i < shared; i++) arena[at + i] = arena[prevAt + i]!; }
    for (let i = 0; i < nonShared; i++) arena[at + shared + i] = block[pos + i]!;
    used += len;
    pos += nonShared;
    keys.push(arena.subarray(at, at + len));
    values.push(block.subarray(pos, pos + valueLen));
    pos += valueLen;
    prevAt = at;
    prevLen = len;
  }
  return { keys, values };
}

/** Why a data block's entries are not in internal-key order, or undefined when they are. */
export type OrderFault = "short-key" | "out-of-order";

/**
 * A decoded data block without an object per entry: entry `i`'s internal key (user key +
 * 8-byte trailer) is `keys[keyAt[i], keyEnd[i])` and its value `block[valAt[i], valEnd[i])`.
 * The buffers belong to this block alone, so ranges stay valid as long as it is referenced.
 */
export class DataBlock {
  count = 0;
  /** Keys, rebuilt from their shared prefixes. */
  keys: Uint8Array;
  keyAt: Int32Array;
  keyEnd: Int32Array;
  /** The uncompressed block, which holds the values. */
  block: Uint8Array;
  valAt: Int32Array;
  valEnd: Int32Array;
  /** Set when an entry broke the order (`faultAt` is its index); entries before it are valid. */
  fault?: OrderFault;
  faultAt = 0;

  constructor(block: Uint8Array, capacity: number, keyBytes: number) {
    this.block = block;
    this.keys = new Uint8Array(keyBytes);
    this.keyAt = new Int32Array(capacity);
    this.keyEnd = new Int32Array(capacity);
    this.valAt = new Int32Array(capacity);
    this.valEnd = new Int32Array(capacity);
  }

  /** Entry `i`'s internal key, as a view. */
  key(i: number): Uint8Array {
    return this.keys.subarray(this.keyAt[i]!, this.keyEnd[i]!);
  }

  /** Entry `i`'s user key (the internal key without its trailer), as a view. */
  userKey(i: number): Uint8Array {
    return this.keys.subarray(this.keyAt[i]!, this.keyEnd[i]! - 8);
  }

  /** Entry `i`'s value, as a view. */
  value(i: number): Uint8Array {
    return this.block.subarray(this.valAt[i]!, this.valEnd[i]!);
  }

  #grow(): void {
    const n = this.keyAt.length * 2;
    for (const f of ["keyAt", "keyEnd", "valAt", "valEnd"] as const) {
      const next = new Int32Array(n);
      next.set(this[f]);
      this[f] = next;
    }
  }

  /** Appends an entry; the key's bytes are already at `keys[at, at + len)`. */
  push(at: number, len: number, valAt: number, valLen: number): void {
    if (this.count === this.keyAt.length) this.#grow();
    const i = this.count++;
    this.keyAt[i] = at;
    this.keyEnd[i] = at + len;
    this.valAt[i] = valAt;
    this.valEnd[i] = valAt + valLen;
  }
}

/**
 * Decodes a data block with the checks a scan needs done while the keys are rebuilt: every
 * internal key has its 8-byte trailer, and entries ascend in internal-key order (user key
 * ascending, then sequence number descending). Shared-prefix compression makes the order check
 * cheap: two consecutive keys agree on their `shared` bytes, so only the bytes after them are
 * compared (usually one). Throws `SstError` on a malformed block; an order fault is left in
 * `fault` for the caller to report with its context. `reuse`: a block whose ranges are no longer
 * needed, to fill instead of allocating.
 */
export function decodeDataBlock(
  block: Uint8Array,
  origin: BlockOrigin,
  reuse?: DataBlock,
): DataBlock {
  const end = entriesEnd(block, origin);
  let out: DataBlock;
  if (reuse) {
    out = reuse;
    out.block = block;
    out.count = 0;
    delete out.fault;
  } else {
    // Entries of a table's data blocks take some 30 bytes or more; keys at most the block's bytes
    // plus the shared prefixes. Both guesses grow when short.
    out = new DataBlock(block, (end >>> 5) + 16, end + (end >>> 1) + 64);
  }
  let arena = out.keys;
  let used = 0;
  let prevAt = 0;
  let prevLen = 0;
  let pos = 0;
  while (pos < end) {
    let shared = block[pos++]!;
    if (shared >= 0x80) [shared, pos] = slowVarint(block, pos - 1, end, origin);
    let nonShared = block[pos++]!;
    if (nonShared >= 0x80) [nonShared, pos] = slowVarint(block, pos - 1, end, origin);
    let valueLen = block[pos++]!;
    if (valueLen >= 0x80) [valueLen, pos] = slowVarint(block, pos - 1, end, origin);
    if (pos > end || shared > prevLen || pos + nonShared + valueLen > end) {
      throw corrupt(origin, `entry ${out.count} at block offset ${pos} overruns the block`);
    }
    const len = shared + nonShared;
    if (len < 8) {
      out.fault = "short-key";
      out.faultAt = out.count;
      return out;
    }
    if (used + len > arena.length) {
      const next = new Uint8Array(Math.max(arena.length * 2, used + len + 64));
      next.set(arena.subarray(0, used));
      arena = next;
      out.keys = arena;
    }
    const at = used;
    if (shared > 16) arena.copyWithin(at, prevAt, prevAt + shared);
    else for (let i = 0; i < shared; i++) arena[at + i] = arena[prevAt + i]!;
    if (nonShared > 16) arena.set(block.subarray(pos, pos + nonShared), at + shared);
    else for (let i = 0; i < nonShared; i++) arena[at + shared + i] = block[pos + i]!;
    if (out.count > 0 && !ascends(arena, prevAt, prevLen, at, len, shared)) {
      out.fault = "out-of-order";
      out.faultAt = out.count;
      return out;
    }
    used += len;
    pos += nonShared;
    out.push(at, len, pos, valueLen);
    pos += valueLen;
    prevAt = at;
    prevLen = len;
  }
  return out;
}

/**
 * Whether internal key b (at `bAt`, `bLen` bytes) sorts after internal key a, both in `buf`,
 * given that their first `shared` bytes are equal.
 */
function ascends(
  buf: Uint8Array,
  aAt: number,
  aLen: number,
  bAt: number,
  bLen: number,
  shared: number,
): boolean {
  const au = aLen - 8;
  const bu = bLen - 8;
  const n = au < bu ? au : bu;
  for (let i = shared; i < n; i++) {
    const d = buf[bAt + i]! - buf[aAt + i]!;
    if (d !== 0) return d > 0;
  }
  if (au !== bu) return bu > au;
  // Same user key: the newer entry (larger sequence number) comes first.
  return trailerSeq(buf, bAt + bu) < trailerSeq(buf, aAt + au);
}

/** The sequence number of the trailer at `at` (exact below 2^53, beyond any real file's). */
function trailerSeq(buf: Uint8Array, at: number): number {
  const lo = (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
  const hi = (buf[at + 4]! | (buf[at + 5]! << 8) | (buf[at + 6]! << 16) | (buf[at + 7]! << 24)) >>>
    0;
  return hi * 2 ** 24 + (lo >>> 8);
}

/** A decoded index entry: the separator key and the raw handle bytes (or delta) after it. */
export interface IndexEntries {
  keys: Uint8Array[];
  /** For delta-encoded blocks: whether the entry's value is a full handle (shared == 0). */
  full: boolean[];
  values: Uint8Array[];
}

/**
 * Decodes an index block written with value delta encoding (format_version >= 4): entries have
 * no value length; a value runs to the next entry. Entries with shared == 0 hold a full
 * handle, the others a signed size delta.
 */
export function decodeDeltaIndexBlock(block: Uint8Array, origin: BlockOrigin): IndexEntries {
  const end = entriesEnd(block, origin);
  const out: IndexEntries = { keys: [], full: [], values: [] };
  let prev: Uint8Array = new Uint8Array(0);
  let pos = 0;
  while (pos < end) {
    let shared, nonShared;
    [shared, pos] = slowVarint(block, pos, end, origin);
    [nonShared, pos] = slowVarint(block, pos, end, origin);
    if (shared > prev.length || pos + nonShared > end) {
      throw corrupt(origin, `index entry ${out.keys.length} overruns the block`);
    }
    const key = new Uint8Array(shared + nonShared);
    key.set(prev.subarray(0, shared));
    key.set(block.subarray(pos, pos + nonShared), shared);
    pos += nonShared;
    // The value's length is implied by its varints: a handle is two, a delta one.
    const valueStart = pos;
    const count = shared === 0 ? 2 : 1;
    for (let i = 0; i < count; i++) [, pos] = slowVarint(block, pos, end, origin);
    out.keys.push(key);
    out.full.push(shared === 0);
    out.values.push(block.subarray(valueStart, pos));
    prev = key;
  }
  return out;
}

/** Reads a varint (up to 64 bits, as a safe number) at `pos`, bounded by `end`. */
export function slowVarint(
  buf: Uint8Array,
  pos: number,
  end: number,
  origin: BlockOrigin,
): [number, number] {
  let v: { value: number; next: number };
  try {
    v = decodeVarNumber(buf.subarray(0, end), pos);
  } catch {
    throw corrupt(origin, `varint at block offset ${pos} is truncated or too large`);
  }
  return [v.value, v.next];
}
