/**
 * Private: a reusable byte builder for the hot encoding paths (keys and rows). Allocating small
 * typed arrays costs far more than copying bytes (about 0.6 µs each on Deno), so encoders write
 * into one scratch buffer and hand out a single copy cut from a shared slab.
 * @module
 */

const SLAB = 1 << 16;
let slab = new Uint8Array(SLAB);
let slabAt = 0;

/** `n` fresh bytes; small ones are views into a shared slab that is never written again. */
export function allocBytes(n: number): Uint8Array {
  if (n > 4096) return new Uint8Array(n);
  if (slabAt + n > SLAB) {
    slab = new Uint8Array(SLAB);
    slabAt = 0;
  }
  const out = slab.subarray(slabAt, slabAt + n);
  slabAt += n;
  return out;
}

/** Appends bytes to a growable scratch buffer; `finish` copies them out. Not reentrant. */
export class ByteWriter {
  buf = new Uint8Array(512);
  dv = new DataView(this.buf.buffer);
  len = 0;

  /** Empties the writer. */
  reset(): this {
    this.len = 0;
    return this;
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  /** One byte. */
  u8(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /** Raw bytes. */
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** TiDB's EncodeInt: big-endian int64 with the sign bit flipped. */
  int64Cmp(v: bigint): void {
    this.reserve(8);
    this.dv.setBigInt64(this.len, v, false);
    this.buf[this.len] = this.buf[this.len]! ^ 0x80;
    this.len += 8;
  }

  /** Big-endian uint64 (EncodeUint). */
  uint64(v: bigint): void {
    this.reserve(8);
    this.dv.setBigUint64(this.len, v, false);
    this.len += 8;
  }

  /** TiDB's memcomparable EncodeBytes: 8-byte groups, each followed by 0xFF - padding. */
  memcmpBytes(raw: Uint8Array): void {
    const groups = Math.floor(raw.length / 8) + 1;
    this.reserve(groups * 9);
    const buf = this.buf;
    let src = 0;
    let at = this.len;
    for (let g = 0; g < groups; g++) {
      const take = Math.min(8, raw.length - src);
      for (let i = 0; i < take; i++) buf[at + i] = raw[src + i]!;
      for (let i = take; i < 8; i++) buf[at + i] = 0;
      buf[at + 8] = 0xff - (8 - take);
      src += take;
      at += 9;
    }
    this.len = at;
  }

  /** Little-endian u16. */
  u16le(v: number): void {
    this.reserve(2);
    this.buf[this.len++] = v & 0xff;
    this.buf[this.len++] = (v >>> 8) & 0xff;
  }

  /** Little-endian u32. */
  u32le(v: number): void {
    this.reserve(4);
    this.dv.setUint32(this.len, v, true);
    this.len += 4;
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    const out = allocBytes(this.len);
    out.set(this.buf.subarray(0, this.len));
    return out;
  }
}

/** The writer key encoders share (they never nest). */
export const KEY_WRITER = new ByteWriter();
