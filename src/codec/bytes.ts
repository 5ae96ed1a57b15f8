/**
 * Byte-level codecs shared by every format tibr touches: TiDB's memcomparable encodings
 * (`EncodeBytes`, `EncodeInt`, `EncodeUint`, `EncodeUintDesc`), byte ordering and hex.
 *
 * All u64 values are `bigint`; encoders reject values outside their range instead of wrapping.
 * @module
 */

const GROUP = 8;
const MARKER = 0xff;
const SIGN_BIT = 1n << 63n;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/**
 * TiDB's memcomparable `EncodeBytes`: the input cut into 8-byte groups, the last one padded with
 * zeros (an input whose length is a multiple of 8, including empty, gets one extra all-zero
 * group); each group is followed by the marker `0xFF - padCount`. The result sorts like the raw
 * bytes and is self-delimiting.
 */
export function encodeBytes(raw: Uint8Array): Uint8Array {
  const groups = Math.floor(raw.length / GROUP) + 1;
  const out = new Uint8Array(groups * (GROUP + 1));
  let src = 0;
  let dst = 0;
  for (let g = 0; g < groups; g++) {
    const take = Math.min(GROUP, raw.length - src);
    out.set(raw.subarray(src, src + take), dst);
    src += take;
    // Padding bytes are already zero in the fresh buffer.
    out[dst + GROUP] = MARKER - (GROUP - take);
    dst += GROUP + 1;
  }
  return out;
}

/**
 * Decodes one `encodeBytes` value starting at `offset`; `next` is the offset just after it.
 * Throws when the groups are cut short, a marker is impossible, or padding is not zero.
 */
export function decodeBytes(
  buf: Uint8Array,
  offset = 0,
): { value: Uint8Array; next: number } {
  let total = 0;
  let pos = offset;
  for (;;) {
    if (pos + GROUP + 1 > buf.length) {
      throw new Error(
        `memcomparable bytes at offset ${offset} are truncated (need ${pos + GROUP + 1 - offset} ` +
          `bytes, have ${buf.length - offset}); the key is not EncodeBytes-encoded`,
      );
    }
    const marker = buf[pos + GROUP]!;
    const pad = MARKER - marker;
    if (pad > GROUP) {
      throw new Error(
        `memcomparable bytes at offset ${offset} have an invalid group marker 0x${
          marker.toString(16)
        } at offset ${pos + GROUP}; the key is not EncodeBytes-encoded`,
      );
    }
    const real = GROUP - pad;
    for (let i = real; i < GROUP; i++) {
      if (buf[pos + i] !== 0) {
        throw new Error(
          `memcomparable bytes at offset ${offset} have non-zero padding at offset ${pos + i}; ` +
            `the key is not EncodeBytes-encoded`,
        );
      }
    }
    total += real;
    pos += GROUP + 1;
    if (pad !== 0) break;
  }
  // Copied in a second pass: a subarray per group costs more than the bytes (hot in ingest).
  const value = new Uint8Array(total);
  for (let at = 0, src = offset; at < total; src += GROUP + 1) {
    const n = total - at < GROUP ? total - at : GROUP;
    for (let i = 0; i < n; i++) value[at + i] = buf[src + i]!;
    at += n;
  }
  return { value, next: pos };
}

function concatParts(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function checkRange(v: bigint, min: bigint, max: bigint, what: string): void {
  if (v < min || v > max) throw new RangeError(`${what} ${v} is out of range [${min}, ${max}]`);
}

function writeU64(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, false);
  return out;
}

function readU64(buf: Uint8Array, offset: number, what: string): bigint {
  if (offset < 0 || offset + 8 > buf.length) {
    throw new Error(
      `${what} at offset ${offset} is truncated: need 8 bytes, have ${
        Math.max(0, buf.length - offset)
      }`,
    );
  }
  return new DataView(buf.buffer, buf.byteOffset + offset, 8).getBigUint64(0, false);
}

/** TiDB's `EncodeInt`: big-endian of the i64 with its sign bit flipped, so it sorts as signed. */
export function encodeInt(v: bigint): Uint8Array {
  checkRange(v, I64_MIN, I64_MAX, "int64");
  return writeU64(BigInt.asUintN(64, v) ^ SIGN_BIT);
}

/** Inverse of `encodeInt`, reading 8 bytes at `offset`. */
export function decodeInt(buf: Uint8Array, offset = 0): bigint {
  return BigInt.asIntN(64, readU64(buf, offset, "encoded int64") ^ SIGN_BIT);
}

/** TiDB's `EncodeUint`: plain big-endian u64. */
export function encodeUint(v: bigint): Uint8Array {
  checkRange(v, 0n, U64_MAX, "uint64");
  return writeU64(v);
}

/** Inverse of `encodeUint`, reading 8 bytes at `offset`. */
export function decodeUint(buf: Uint8Array, offset = 0): bigint {
  return readU64(buf, offset, "encoded uint64");
}

/** TiDB's `EncodeUintDesc`: big-endian of `~v`, so larger values sort first (TiKV's ts suffix). */
export function encodeUintDesc(v: bigint): Uint8Array {
  checkRange(v, 0n, U64_MAX, "uint64");
  return writeU64(U64_MAX ^ v);
}

/** Inverse of `encodeUintDesc`, reading 8 bytes at `offset`. */
export function decodeUintDesc(buf: Uint8Array, offset = 0): bigint {
  return U64_MAX ^ readU64(buf, offset, "encoded descending uint64");
}

/** Byte-wise (unsigned, memcmp) order: negative, zero or positive. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** The parts joined into one new array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  return concatParts(parts, total);
}

/**
 * The smallest key greater than every key starting with `key`: trailing 0xFF bytes dropped and
 * the last remaining byte incremented (`[1, 0xFF]` -> `[2]`). When no such key exists (`key` is
 * empty or all 0xFF), returns an empty array, which key ranges read as "unbounded".
 */
export function prefixNext(key: Uint8Array): Uint8Array {
  let end = key.length;
  while (end > 0 && key[end - 1] === 0xff) end--;
  if (end === 0) return new Uint8Array(0);
  const out = key.slice(0, end);
  out[end - 1]!++;
  return out;
}

const HEX_DIGITS: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lower-case hex of the bytes. */
export function hex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX_DIGITS[bytes[i]!];
  return s;
}

/** Parses hex (either case, even length); throws on anything else. */
export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new Error(`invalid hex string (${s.length} chars): expected an even number of 0-9a-f`);
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Copies small byte strings (keys) into shared 64 KiB chunks and returns views of them. A key
 * of its own costs an ArrayBuffer besides its view once anything reads `.buffer` (about 450
 * bytes a two-key range on Bun, 210 in a slab); a backup of 100k tables holds 300k ranges. A
 * chunk is freed once no view into it is left. Keys longer than a quarter chunk are copied
 * alone.
 */
export class ByteSlab {
  readonly #chunkSize: number;
  #chunk = new Uint8Array(0);
  #used = 0;

  constructor(chunkSize = 64 * 1024) {
    this.#chunkSize = chunkSize;
  }

  /** A copy of `b` in the slab. */
  copy(b: Uint8Array): Uint8Array {
    if (b.length > this.#chunkSize / 4) return b.slice();
    if (this.#used + b.length > this.#chunk.length) {
      this.#chunk = new Uint8Array(this.#chunkSize);
      this.#used = 0;
    }
    const out = this.#chunk.subarray(this.#used, this.#used + b.length);
    out.set(b);
    this.#used += b.length;
    return out;
  }
}
