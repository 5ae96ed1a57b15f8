/**
 * LEB128 varints as protobuf, RocksDB and TiKV (`encode_var_u64`) write them: 7 bits per byte,
 * least significant first, high bit set on every byte but the last.
 * @module
 */

const U64_MAX = (1n << 64n) - 1n;

/** Appends the varint of `v` (a u64) to `out`. */
export function pushVarU64(out: number[], v: bigint): void {
  if (v < 0n || v > U64_MAX) throw new RangeError(`uint64 ${v} is out of range for a varint`);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

/** The varint of `v` (a u64). */
export function encodeVarU64(v: bigint): Uint8Array {
  const out: number[] = [];
  pushVarU64(out, v);
  return Uint8Array.from(out);
}

/**
 * Appends the varint of a non-negative safe integer (lengths, offsets, counts) to `out`;
 * faster than the bigint form.
 */
export function pushVarNumber(out: number[], v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`${v} is not a non-negative safe integer for a varint`);
  }
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/**
 * Reads a u64 varint at `offset`; `next` is the offset after it. Throws when it runs past the
 * end of `buf`, is longer than 10 bytes, or overflows 64 bits.
 */
export function decodeVarU64(buf: Uint8Array, offset = 0): { value: bigint; next: number } {
  let result = 0n;
  let shift = 0n;
  for (let i = offset; i < buf.length && i < offset + 10; i++) {
    const b = buf[i]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      if (result > U64_MAX) throw new Error(`varint at offset ${offset} overflows 64 bits`);
      return { value: result, next: i + 1 };
    }
    shift += 7n;
  }
  throw new Error(`varint at offset ${offset} is truncated or longer than 10 bytes`);
}

/**
 * Reads a varint at `offset` as a number; for lengths and counts. Throws like `decodeVarU64`,
 * and when the value exceeds `Number.MAX_SAFE_INTEGER`.
 */
export function decodeVarNumber(buf: Uint8Array, offset = 0): { value: number; next: number } {
  let result = 0;
  let mul = 1;
  for (let i = offset; i < buf.length && i < offset + 8; i++) {
    const b = buf[i]!;
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return { value: result, next: i + 1 };
    mul *= 0x80;
  }
  const big = decodeVarU64(buf, offset);
  if (big.value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Error(`varint at offset ${offset} is too large (${big.value}) for a length`);
  }
  return { value: Number(big.value), next: big.next };
}

/** The bytes the varint of `n` (a non-negative safe integer) takes. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/**
 * Writes the varint of `n` (a non-negative safe integer) at `buf[pos]`, which must have room
 * (10 bytes at most); returns the position after it. For hot paths that fill a buffer.
 */
export function putVarNumber(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[pos++] = n;
  return pos;
}

const SPLIT = new DataView(new ArrayBuffer(8));

/**
 * Writes the varint of a u64 (negative values as their two's complement, as protobuf does) at
 * `buf[pos]`; returns the position after it. Works on two 32-bit halves to stay off bigint math.
 */
export function putVarU64(buf: Uint8Array, pos: number, v: bigint): number {
  if (v >= 0n && v <= 0x1f_ffff_ffff_ffffn) return putVarNumber(buf, pos, Number(v));
  SPLIT.setBigUint64(0, BigInt.asUintN(64, v));
  let hi = SPLIT.getUint32(0);
  let lo = SPLIT.getUint32(4);
  while (hi !== 0 || lo >= 0x80) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[pos++] = lo;
  return pos;
}

/**
 * The varint at `buf[pos]` as a number (exact below 2^53), unchecked: for buffers this process
 * wrote itself. Use `decodeVarNumber` for input from outside.
 */
export function varNumberAt(buf: Uint8Array, pos: number): number {
  let x = buf[pos]!;
  if (x < 0x80) return x;
  let n = x & 0x7f;
  let mul = 0x80;
  for (;;) {
    x = buf[++pos]!;
    n += (x & 0x7f) * mul;
    if (x < 0x80) return n;
    mul *= 0x80;
  }
}

/** The position just after the varint at `buf[pos]` (unchecked, as `varNumberAt`). */
export function skipVarint(buf: Uint8Array, pos: number): number {
  while (buf[pos++]! >= 0x80);
  return pos;
}

/** The varint at `buf[pos]` as a u64 (unchecked, as `varNumberAt`). */
export function varU64At(buf: Uint8Array, pos: number): bigint {
  const x = buf[pos]!;
  if (x < 0x80) return BigInt(x);
  let lo = 0;
  let hi = 0;
  let shift = 0;
  for (;;) {
    const y = buf[pos++]!;
    if (shift < 28) lo |= (y & 0x7f) << shift;
    else if (shift === 28) {
      lo |= (y & 0x0f) << 28;
      hi |= (y & 0x7f) >>> 4;
    } else hi |= (y & 0x7f) << (shift - 32);
    if (y < 0x80) break;
    shift += 7;
  }
  SPLIT.setUint32(0, hi >>> 0);
  SPLIT.setUint32(4, lo >>> 0);
  return SPLIT.getBigUint64(0);
}
