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
