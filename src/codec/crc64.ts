/**
 * CRC-64/XZ (Go's `hash/crc64` with the ECMA table, TiKV's `crc64fast`) and the crc64xor
 * checksum TiKV and BR compute over a set of KVs.
 *
 * The CRC runs on two 32-bit halves with slicing-by-8 tables: bigint arithmetic per byte would
 * be far too slow for a pass over every KV of a backup.
 * @module
 */

// Reflected ECMA-182 polynomial, split into 32-bit halves.
const POLY_HI = 0xc96c5795 | 0;
const POLY_LO = 0xd7870f42 | 0;

// T[k][i] = CRC of byte i followed by k zero bytes; table k lives at [k*256, k*256+256). Int32
// tables and `| 0` arithmetic keep every value a small integer: JavaScriptCore (Bun) boxes
// uint32 values above 2^31 as doubles, which made the scan 20x slower there.
const TAB_LO = new Int32Array(8 * 256);
const TAB_HI = new Int32Array(8 * 256);

for (let i = 0; i < 256; i++) {
  let lo = i;
  let hi = 0;
  for (let b = 0; b < 8; b++) {
    const carry = lo & 1;
    lo = (lo >>> 1) | ((hi & 1) << 31);
    hi = hi >>> 1;
    if (carry) {
      lo ^= POLY_LO;
      hi ^= POLY_HI;
    }
  }
  TAB_LO[i] = lo;
  TAB_HI[i] = hi;
}
for (let k = 1; k < 8; k++) {
  for (let i = 0; i < 256; i++) {
    const plo = TAB_LO[(k - 1) * 256 + i]!;
    const phi = TAB_HI[(k - 1) * 256 + i]!;
    const idx = plo & 0xff;
    TAB_LO[k * 256 + i] = ((plo >>> 8) | (phi << 24)) ^ TAB_LO[idx]!;
    TAB_HI[k * 256 + i] = (phi >>> 8) ^ TAB_HI[idx]!;
  }
}

// Result registers of `update` (int32), to return two halves without allocating.
let outLo = 0;
let outHi = 0;

/**
 * Runs the (un-inverted) CRC register `lo`/`hi` over `data[from, to)`, slicing by 8; result in
 * outLo/outHi.
 */
function update(lo: number, hi: number, data: Uint8Array, from: number, to: number): void {
  let i = from;
  const end8 = to - ((to - from) & 7);
  while (i < end8) {
    const a = lo ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    const b = hi ^
      (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24));
    lo = TAB_LO[1792 + (a & 0xff)]! ^ TAB_LO[1536 + ((a >>> 8) & 0xff)]! ^
      TAB_LO[1280 + ((a >>> 16) & 0xff)]! ^ TAB_LO[1024 + (a >>> 24)]! ^
      TAB_LO[768 + (b & 0xff)]! ^ TAB_LO[512 + ((b >>> 8) & 0xff)]! ^
      TAB_LO[256 + ((b >>> 16) & 0xff)]! ^ TAB_LO[b >>> 24]!;
    hi = TAB_HI[1792 + (a & 0xff)]! ^ TAB_HI[1536 + ((a >>> 8) & 0xff)]! ^
      TAB_HI[1280 + ((a >>> 16) & 0xff)]! ^ TAB_HI[1024 + (a >>> 24)]! ^
      TAB_HI[768 + (b & 0xff)]! ^ TAB_HI[512 + ((b >>> 8) & 0xff)]! ^
      TAB_HI[256 + ((b >>> 16) & 0xff)]! ^ TAB_HI[b >>> 24]!;
    i += 8;
  }
  for (; i < to; i++) {
    const idx = (lo ^ data[i]!) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ TAB_LO[idx]!;
    hi = (hi >>> 8) ^ TAB_HI[idx]!;
  }
  outLo = lo;
  outHi = hi;
}

function toBig(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/**
 * CRC-64/XZ of `data`. `seed` is a previous result to continue from, as Go's
 * `crc64.Update(seed, ecmaTable, data)`: `crc64(b, crc64(a)) === crc64(a ‖ b)`.
 */
export function crc64(data: Uint8Array, seed = 0n): bigint {
  const s = BigInt.asUintN(64, ~seed);
  update(Number(s & 0xffffffffn) | 0, Number(s >> 32n) | 0, data, 0, data.length);
  return toBig(~outHi, ~outLo);
}

/**
 * The checksum triple of a set of KVs (a file, a table, a range), as `backup.File`, BR's
 * checksum and TiKV's coprocessor checksum report it. Defined once here.
 */
export interface KvChecksum {
  /** XOR of every KV's CRC-64/XZ of key ‖ value. */
  crc64xor: bigint;
  totalKvs: bigint;
  /** Sum of key and value lengths. */
  totalBytes: bigint;
}

/** An empty triple (the identity of `foldChecksum`). */
export function emptyChecksum(): KvChecksum {
  return { crc64xor: 0n, totalKvs: 0n, totalBytes: 0n };
}

/** Adds `part` into `into` (XOR of crcs, sums of counts); returns `into`. */
export function foldChecksum(into: KvChecksum, part: KvChecksum): KvChecksum {
  into.crc64xor ^= part.crc64xor;
  into.totalKvs += part.totalKvs;
  into.totalBytes += part.totalBytes;
  return into;
}

/**
 * Running crc64xor, total_kvs and total_bytes of a set of KVs, as TiKV's backup writer and BR's
 * checksum compute them: per KV, CRC-64/XZ of key ‖ value, XOR-ed over all KVs (so order does
 * not matter); bytes are key length + value length.
 */
export class ChecksumAccumulator {
  #xorLo = 0;
  #xorHi = 0;
  // Plain numbers: exact up to 2^53, far beyond any backup's KV count or byte total.
  #kvs = 0;
  #bytes = 0;

  /** Adds one KV. */
  add(key: Uint8Array, value: Uint8Array): void {
    update(-1, -1, key, 0, key.length);
    update(outLo, outHi, value, 0, value.length);
    this.#xorLo ^= ~outLo;
    this.#xorHi ^= ~outHi;
    this.#kvs++;
    this.#bytes += key.length + value.length;
  }

  /** Adds one KV given as ranges: `kb[ks, ke)` ‖ `vb[vs, ve)` (no views made). */
  addRanges(kb: Uint8Array, ks: number, ke: number, vb: Uint8Array, vs: number, ve: number): void {
    update(-1, -1, kb, ks, ke);
    update(outLo, outHi, vb, vs, ve);
    this.#xorLo ^= ~outLo;
    this.#xorHi ^= ~outHi;
    this.#kvs++;
    this.#bytes += ke - ks + ve - vs;
  }

  /** Folds another accumulator's KVs into this one. */
  merge(other: ChecksumAccumulator): void {
    this.#xorLo ^= other.#xorLo;
    this.#xorHi ^= other.#xorHi;
    this.#kvs += other.#kvs;
    this.#bytes += other.#bytes;
  }

  /** XOR of every KV's CRC-64 (0 when empty). */
  get crc64xor(): bigint {
    return toBig(this.#xorHi, this.#xorLo);
  }

  /** Number of KVs added. */
  get totalKvs(): bigint {
    return BigInt(this.#kvs);
  }

  /** Sum of key and value lengths. */
  get totalBytes(): bigint {
    return BigInt(this.#bytes);
  }

  /** The triple so far. */
  checksum(): KvChecksum {
    return { crc64xor: this.crc64xor, totalKvs: this.totalKvs, totalBytes: this.totalBytes };
  }
}
