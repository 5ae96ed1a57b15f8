/**
 * Private helpers of the playground engine: the B+ tree class, and the "byte string" form of
 * keys, values and timestamps it stores.
 *
 * Keys and values are kept as latin1 strings (one char per byte): V8 and JSC store them compactly,
 * `<` on them is exactly memcmp order, and a string costs far less memory than a Uint8Array. A ts
 * is an 8-char big-endian string, so ts order is string order too.
 * @module
 */
import btreeModule from "sorted-btree";
import { Buffer } from "node:buffer";
import { runtimeName } from "../runtime.ts";

type BTreeClass = typeof btreeModule.default;
// Deno hands a CommonJS module's exports object to a default import, Bun its `default` export.
const btreeExports = btreeModule as unknown as BTreeClass | { default: BTreeClass };
/** The sorted-btree B+ tree class, whichever runtime loads it. */
export const BTree: BTreeClass = typeof btreeExports === "function"
  ? btreeExports
  : btreeExports.default;
/** A sorted-btree B+ tree instance. */
export type BTree<K, V> = btreeModule.default<K, V>;

/** Byte-string order (memcmp order for latin1 strings). */
export function compareStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Nodes of 64 entries keep the trees shallow and their per-entry overhead small. */
export const NODE_SIZE = 64;

/** A new byte-string keyed tree. */
export function newTree<V>(): BTree<string, V> {
  return new BTree<string, V>(undefined, compareStr, NODE_SIZE);
}

/** Greater than every byte string: an unbounded end. */
export const KEY_MAX = "\u0100";

/** Bytes to a byte string. */
export function toStr(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}

/** An end key to a byte string; empty means unbounded. */
export function endToStr(b: Uint8Array): string {
  return b.length === 0 ? KEY_MAX : toStr(b);
}

// Small arrays are cut from shared slabs: allocating a fresh ArrayBuffer per key costs several
// times more than copying the bytes.
const SLAB = 1 << 16;
let slab = new Uint8Array(SLAB);
let slabAt = 0;

// Bun converts strings to bytes natively in a few dozen ns; on Deno that costs ~0.5 µs, more than
// a JS copy loop into a slab.
const NATIVE_TO_BYTES = runtimeName() === "bun";

/** The bytes of `s.slice(from, to)` (a byte string), as a Uint8Array. */
export function toBytes(s: string, from = 0, to = s.length): Uint8Array {
  const n = to - from;
  if (NATIVE_TO_BYTES || n > 1024) {
    return Buffer.from(from === 0 && to === s.length ? s : s.slice(from, to), "latin1");
  }
  if (slabAt + n > SLAB) {
    slab = new Uint8Array(SLAB);
    slabAt = 0;
  }
  const start = slabAt;
  for (let i = from; i < to; i++) slab[slabAt++] = s.charCodeAt(i);
  return slab.subarray(start, slabAt);
}

/** A u64 ts as its 8-char big-endian byte string. */
export function tsToStr(ts: bigint): string {
  const hi = Number(ts >> 32n);
  const lo = Number(ts & 0xffffffffn);
  return String.fromCharCode(
    hi >>> 24,
    (hi >>> 16) & 255,
    (hi >>> 8) & 255,
    hi & 255,
    lo >>> 24,
    (lo >>> 16) & 255,
    (lo >>> 8) & 255,
    lo & 255,
  );
}

/** The ts stored as 8 big-endian chars at `at`. */
export function strToTs(s: string, at = 0): bigint {
  const hi = ((s.charCodeAt(at) << 24) | (s.charCodeAt(at + 1) << 16) |
    (s.charCodeAt(at + 2) << 8) | s.charCodeAt(at + 3)) >>> 0;
  const lo = ((s.charCodeAt(at + 4) << 24) | (s.charCodeAt(at + 5) << 16) |
    (s.charCodeAt(at + 6) << 8) | s.charCodeAt(at + 7)) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** The smallest byte string greater than `s` (for resuming a scan after `s`). */
export function after(s: string): string {
  return s + "\u0000";
}

// Scratch for building flat byte strings natively: concatenating JS strings makes ropes that
// cost memory and get flattened (copied) on first read.
let scratch = Buffer.alloc(4096);
let scratchLen = 0;

function scratchReserve(n: number): void {
  if (scratchLen + n <= scratch.length) return;
  const next = Buffer.alloc(Math.max(scratch.length * 2, scratchLen + n));
  scratch.copy(next, 0, 0, scratchLen);
  scratch = next;
}

/** Starts building a byte string (see `strTs`, `strByte`, `strBytes`, `strFinish`). */
export function strBegin(): void {
  scratchLen = 0;
}

/** Appends a ts as 8 big-endian bytes. */
export function strTs(ts: bigint): void {
  scratchReserve(8);
  scratch.writeBigUInt64BE(ts, scratchLen);
  scratchLen += 8;
}

/** Appends one byte. */
export function strByte(b: number): void {
  scratchReserve(1);
  scratch[scratchLen++] = b;
}

/** Appends bytes. */
export function strBytes(b: Uint8Array): void {
  scratchReserve(b.length);
  scratch.set(b, scratchLen);
  scratchLen += b.length;
}

/** The flat byte string built since `strBegin`. */
export function strFinish(): string {
  return scratch.toString("latin1", 0, scratchLen);
}
