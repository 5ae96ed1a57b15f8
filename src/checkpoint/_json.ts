/**
 * JSON helpers for checkpoint files: base64 as Go's encoding/json writes `[]byte`, 64-bit
 * integers read without losing precision, and a fast decoder for the many short base64 strings
 * (keys, hashes) of a range group.
 * @module
 */
import { Buffer } from "node:buffer";

const EMPTY = new Uint8Array(0);

/** Standard base64 with padding (Go's `[]byte` JSON encoding). */
export function toBase64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
}

/**
 * Decodes standard base64 natively (large strings). Invalid characters are not detected here
 * (the runtime skips them); callers check the decoded length or a checksum.
 */
export function fromBase64(text: string): Uint8Array {
  const b = Buffer.from(text, "base64");
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Decodes standard base64, rejecting anything else (for small fields). */
export function strictBase64(text: string, what: string): Uint8Array {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new SyntaxError(`${what} is not base64`);
  }
  return fromBase64(text);
}

// Indexed by char code or byte: every value past the alphabet is -1, so `|` catches it.
const DIGIT = new Int16Array(256).fill(-1);
{
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < 64; i++) DIGIT[alphabet.charCodeAt(i)] = i;
}
const CHUNK = 1 << 16;
// Room `decodeQuoted` keeps free before it knows a string's length: longer keys are rare.
const QUOTED_ROOM = 1024;

/**
 * Decodes many short base64 strings into shared 64 KiB chunks, returning views: one native
 * call per string costs more than the decoding itself at the sizes of keys and hashes.
 */
export class Base64Arena {
  #buf = new Uint8Array(CHUNK);
  #pos = 0;
  /** Where the string read by the last successful `decodeQuoted` ends: its closing quote. */
  end = 0;

  /** The bytes of `text` (standard base64, padding optional); throws on anything else. */
  decode(text: string): Uint8Array {
    let len = text.length;
    if (len === 0) return EMPTY;
    while (len > 0 && text.charCodeAt(len - 1) === 61) len--;
    const rest = len & 3;
    if (rest === 1 || text.length - len > 2) throw new SyntaxError("invalid base64 length");
    const n = (len >> 2) * 3 + (rest === 0 ? 0 : rest - 1);
    if (this.#pos + n > this.#buf.length) {
      this.#buf = new Uint8Array(Math.max(CHUNK, n));
      this.#pos = 0;
    }
    const out = this.#buf;
    let o = this.#pos;
    let bad = 0;
    let i = 0;
    const full = len - rest;
    for (; i < full; i += 4) {
      const a = DIGIT[text.charCodeAt(i)] ?? -1;
      const b = DIGIT[text.charCodeAt(i + 1)] ?? -1;
      const c = DIGIT[text.charCodeAt(i + 2)] ?? -1;
      const d = DIGIT[text.charCodeAt(i + 3)] ?? -1;
      bad |= a | b | c | d;
      const v = (a << 18) | (b << 12) | (c << 6) | d;
      out[o++] = v >> 16;
      out[o++] = (v >> 8) & 255;
      out[o++] = v & 255;
    }
    if (rest > 1) {
      const a = DIGIT[text.charCodeAt(i)] ?? -1;
      const b = DIGIT[text.charCodeAt(i + 1)] ?? -1;
      const c = rest === 3 ? DIGIT[text.charCodeAt(i + 2)] ?? -1 : 0;
      bad |= a | b | c;
      const v = (a << 18) | (b << 12) | (c << 6);
      out[o++] = v >> 16;
      if (rest === 3) out[o++] = (v >> 8) & 255;
    }
    if (bad < 0) throw new SyntaxError("invalid base64 character");
    const view = out.subarray(this.#pos, o);
    this.#pos = o;
    return view;
  }

  /**
   * The bytes of the base64 text in `src[start, end)`, read as ASCII, when it is canonical
   * (padded to a multiple of 4, standard alphabet); undefined otherwise, for the caller to fall
   * back to `decode`, which reports the error.
   */
  decodeAscii(src: Uint8Array, start: number, end: number): Uint8Array | undefined {
    const len = end - start;
    if (len === 0) return EMPTY;
    if ((len & 3) !== 0) return undefined;
    const pad = src[end - 1] !== 61 ? 0 : src[end - 2] !== 61 ? 1 : 2;
    const n = (len >> 2) * 3 - pad;
    if (this.#pos + n + 2 > this.#buf.length) {
      this.#buf = new Uint8Array(Math.max(CHUNK, n + 2));
      this.#pos = 0;
    }
    const out = this.#buf;
    const begin = this.#pos;
    let o = begin;
    let bad = 0;
    // The last quantum's padding reads as 0 bits here; the two bytes it yields past `n` are
    // scratch space (reserved above) and dropped from the view.
    const last = end - 4;
    let i = start;
    for (; i < last; i += 4) {
      const a = DIGIT[src[i]!]!;
      const b = DIGIT[src[i + 1]!]!;
      const c = DIGIT[src[i + 2]!]!;
      const d = DIGIT[src[i + 3]!]!;
      bad |= a | b | c | d;
      const v = (a << 18) | (b << 12) | (c << 6) | d;
      out[o++] = v >> 16;
      out[o++] = (v >> 8) & 255;
      out[o++] = v & 255;
    }
    const a = DIGIT[src[i]!]!;
    const b = DIGIT[src[i + 1]!]!;
    const c = pad === 2 ? 0 : DIGIT[src[i + 2]!]!;
    const d = pad !== 0 ? 0 : DIGIT[src[i + 3]!]!;
    bad |= a | b | c | d;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >> 16;
    out[o++] = (v >> 8) & 255;
    out[o] = v & 255;
    if (bad < 0) return undefined;
    this.#pos = begin + n;
    return out.subarray(begin, begin + n);
  }

  /**
   * Decodes the canonical base64 text starting at `src[start]` up to the next `"` in one pass
   * (the quote's index goes to `end`). Undefined when the text is anything else or longer than
   * `QUOTED_ROOM` bytes decoded, for the caller to use `decodeAscii` or give up.
   */
  decodeQuoted(src: Uint8Array, start: number): Uint8Array | undefined {
    // A last byte outside the alphabet stops the quantum loop before the end of `src`.
    if (DIGIT[src[src.length - 1] ?? 0]! >= 0) return undefined;
    if (this.#pos + QUOTED_ROOM > this.#buf.length) {
      this.#buf = new Uint8Array(CHUNK);
      this.#pos = 0;
    }
    const out = this.#buf;
    const begin = this.#pos;
    const limit = begin + QUOTED_ROOM - 3;
    let o = begin;
    let i = start;
    for (;;) {
      const a = DIGIT[src[i]!]!;
      const b = DIGIT[src[i + 1]!]!;
      const c = DIGIT[src[i + 2]!]!;
      const d = DIGIT[src[i + 3]!]!;
      if ((a | b | c | d) < 0) break;
      if (o > limit) return undefined;
      const v = (a << 18) | (b << 12) | (c << 6) | d;
      out[o++] = v >> 16;
      out[o++] = (v >> 8) & 255;
      out[o++] = v & 255;
      i += 4;
    }
    if (src[i] !== 34) {
      // The last quantum: "xx==" or "xxx=", then the quote.
      const a = DIGIT[src[i]!]!;
      const b = DIGIT[src[i + 1]!]!;
      const c = src[i + 2] === 61 ? 0 : DIGIT[src[i + 2]!]!;
      if ((a | b | c) < 0 || src[i + 3] !== 61 || src[i + 4] !== 34 || o > limit) {
        return undefined;
      }
      const v = (a << 18) | (b << 12) | (c << 6);
      out[o++] = v >> 16;
      if (src[i + 2] !== 61) out[o++] = (v >> 8) & 255;
      i += 4;
    }
    this.end = i;
    if (o === begin) return EMPTY;
    this.#pos = o;
    return out.subarray(begin, o);
  }
}

const MAX_U64 = 0xffffffffffffffffn;
const POW10 = Array.from({ length: 17 }, (_, i) => 10 ** i);
const MIN_I64 = -0x8000000000000000n;

/**
 * A 64-bit integer field: a decimal string (proto3 JSON), a safe integer, or a bigint (from
 * `parseJsonBig`); absent is 0. Anything else, or a value outside the type, throws.
 */
export function int64Field(value: unknown, what: string, signed = false): bigint {
  if (typeof value === "string") {
    const len = value.length;
    const first = value.charCodeAt(0);
    // BigInt() alone would also take "", " 1" and "0x1f".
    if (len === 0 || len > 20 || !((first >= 48 && first <= 57) || (signed && first === 45))) {
      throw new SyntaxError(`${what} is not an integer`);
    }
    let v: bigint;
    if (len < 16) {
      // Exact as a double below 10^15, and BigInt(number) is cheaper than parsing the text.
      const n = +value;
      // Only plain digits have as many digits as their magnitude: this rejects "1e3", "1.0".
      const digits = first === 45 ? len - 1 : len;
      const a = Math.abs(n);
      if (
        !Number.isInteger(n) || a >= POW10[digits]! || (digits > 1 && a < POW10[digits - 1]!)
      ) throw new SyntaxError(`${what} is not an integer`);
      v = BigInt(n);
    } else {
      try {
        v = BigInt(value);
      } catch {
        throw new SyntaxError(`${what} is not an integer`);
      }
    }
    // Under 19 digits a value cannot leave the int64/uint64 range.
    if (len >= 19 && (signed ? v < MIN_I64 || v > -MIN_I64 - 1n : v > MAX_U64)) {
      throw new SyntaxError(`${what} is out of range`);
    }
    if (first === 48 && len > 1) throw new SyntaxError(`${what} is not an integer`);
    return v;
  }
  if (value === undefined || value === null) return 0n;
  let v: bigint;
  if (typeof value === "number" && Number.isSafeInteger(value)) v = BigInt(value);
  else if (typeof value === "bigint") v = value;
  else throw new SyntaxError(`${what} is not an integer`);
  if (signed ? v < MIN_I64 || v > -MIN_I64 - 1n : v < 0n || v > MAX_U64) {
    throw new SyntaxError(`${what} is out of range`);
  }
  return v;
}

/** A non-negative safe integer field (sizes, counts, durations); absent is 0. */
export function numberField(value: unknown, what: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  throw new SyntaxError(`${what} is not a non-negative integer`);
}

/** An optional string field; absent is "". */
export function stringField(value: unknown, what: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  throw new SyntaxError(`${what} is not a string`);
}

/** A plain-object value, or a SyntaxError naming it. */
export function objectField(value: unknown, what: string): Record<string, unknown> {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return value as Record<string, unknown>;
  }
  throw new SyntaxError(`${what} is not an object`);
}

/**
 * JSON.parse that keeps integers beyond 2^53 exact as bigints, for the small files Go's
 * encoding/json writes with uint64 numbers (lock, meta, checksums).
 */
export function parseJsonBig(text: string): unknown {
  return JSON.parse(
    text,
    function (_key, value: unknown, context?: { source?: string }) {
      if (typeof value === "number" && !Number.isSafeInteger(value)) {
        const src = context?.source;
        if (src !== undefined && /^-?\d+$/.test(src)) return BigInt(src);
      }
      return value;
    } as (this: unknown, key: string, value: unknown) => unknown,
  );
}

const rawJSON = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON;

/** `value` as JSON, with bigints written as bare integers (as Go writes uint64). */
export function stringifyBig(value: unknown): string {
  return JSON.stringify(value, (_k, v) => typeof v === "bigint" ? rawJSON(v.toString()) : v);
}
