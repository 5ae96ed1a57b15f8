/**
 * Fast decoders for the two JSON layers a resume reads a million times over, used before the
 * general ones in `files.ts`:
 *
 * - `scanRangeGroups`: a range group (`RangeGroups`) straight from its decrypted bytes, with no
 *   string of the whole group and no intermediate object per file; base64 is decoded into the
 *   arena as it is scanned and 64-bit integers are built from their digits.
 * - `scanDataFile`: a data file's header, slicing out its large base64 strings instead of
 *   copying them as `JSON.parse` does.
 *
 * Both accept only the canonical form the writers produce (BR's Go encoder and ours: no
 * whitespace, no escapes where they do not belong, known field names, integers as decimal
 * strings or plain digits) and give up on anything else, returning undefined: the caller then
 * runs the general decoder, which either reads the input or says what is wrong with it. So they
 * never decide that input is malformed, and whatever they accept decodes to the same values the
 * general decoders give.
 * @module
 */
import { Buffer } from "node:buffer";
import type { File, TableMeta } from "../gen/brpb_pb.ts";
import type { Base64Arena } from "./_json.ts";
import type { CheckpointRange, RangeGroups } from "./files.ts";

const EMPTY: Uint8Array = new Uint8Array(0);
const DECODER = new TextDecoder();
const ENCODER = new TextEncoder();

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const LETTER_N = 0x6e;
const NULL_TAIL = [0x75, 0x6c, 0x6c]; // "ull"

// Bytes a string holds as they are, in one lookup: printable ASCII but the quote and backslash.
const PRINTABLE = new Uint8Array(256);
for (let c = 0x20; c < 0x7f; c++) PRINTABLE[c] = 1;
PRINTABLE[QUOTE] = 0;
PRINTABLE[BACKSLASH] = 0;

const TWO_32 = 2 ** 32;
const POW10 = [1, 10, 100, 1000, 10000, 100000];
// Builds a uint64 bigint from two 32-bit halves in one step; little-endian is fixed by the
// explicit flags, not the platform.
const U64 = new DataView(new ArrayBuffer(8));

/** Thrown inside the scanners on anything non-canonical; caught at their entry points. */
class NotCanonical {}
const NOT_CANONICAL = new NotCanonical();

function keys(...names: string[]): Uint8Array[] {
  return names.map((n) => ENCODER.encode(n));
}

const ROOT_KEYS = keys("group-key", "groups");
const RANGE_KEYS = keys("StartKey", "EndKey", "Files");
const FILE_KEYS = keys(
  "name",
  "sha256",
  "start_key",
  "end_key",
  "start_version",
  "end_version",
  "crc64xor",
  "total_kvs",
  "total_bytes",
  "table_metas",
  "cf",
  "size",
  "cipher_iv",
);
const META_KEYS = keys("physical_id", "crc64xor", "total_kvs", "total_bytes");
// Column family names come back as the same constant strings instead of a fresh copy each.
const CF_NAMES = ["write", "default", "lock"];
const CF_QUOTED = keys(...CF_NAMES.map((n) => `"${n}"`));

class Scanner {
  readonly b: Uint8Array;
  readonly text: Buffer;
  readonly arena: Base64Arena;
  p = 0;
  // The digits of the last integer read: `a` holds the first 15, `r` the `m` after them.
  a = 0;
  m = 0;
  r = 0;
  // The last end_version read (usually the backup ts of every file): reused, not rebuilt.
  va = -1;
  vm = 0;
  vr = 0;
  vBig = 0n;
  // The span of the last base64 string read, quotes excluded.
  s0 = 0;
  s1 = 0;

  constructor(b: Uint8Array, arena: Base64Arena) {
    this.b = b;
    this.text = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    this.arena = arena;
  }

  /** Consumes `c` or gives up. */
  expect(c: number): void {
    if (this.b[this.p] !== c) throw NOT_CANONICAL;
    this.p++;
  }

  /** True (and consumed) when the next value is `null`. */
  isNull(): boolean {
    const b = this.b;
    const p = this.p;
    if (b[p] !== LETTER_N) return false;
    if (b[p + 1] !== NULL_TAIL[0] || b[p + 2] !== NULL_TAIL[1] || b[p + 3] !== NULL_TAIL[2]) {
      throw NOT_CANONICAL;
    }
    this.p = p + 4;
    return true;
  }

  /** Opens an object or array; true when it is empty (and then already closed). */
  open(open: number, close: number): boolean {
    this.expect(open);
    if (this.b[this.p] !== close) return false;
    this.p++;
    return true;
  }

  /** After a member or element: true when another follows, false when `close` ended it. */
  next(close: number): boolean {
    const c = this.b[this.p++];
    if (c === COMMA) return true;
    if (c === close) return false;
    throw NOT_CANONICAL;
  }

  /**
   * Reads `"name":` and returns the index of `name` in `names`. Writers put the fields in one
   * order, so the search starts at `hint` (the index after the previous field's). A name of
   * escape-free bytes followed by a quote is the whole key: nothing is matched by prefix.
   */
  key(names: readonly Uint8Array[], hint: number): number {
    const b = this.b;
    const p = this.p;
    if (b[p] !== QUOTE) throw NOT_CANONICAL;
    const n = names.length;
    for (let k = 0; k < n; k++) {
      const i = hint + k < n ? hint + k : hint + k - n;
      const name = names[i]!;
      const len = name.length;
      if (b[p + len + 1] !== QUOTE || b[p + len + 2] !== COLON) continue;
      let j = 0;
      while (j < len && b[p + 1 + j] === name[j]) j++;
      if (j === len) {
        this.p = p + len + 3;
        return i;
      }
    }
    // A field the general decoder ignores, or an escaped name: it takes over.
    throw NOT_CANONICAL;
  }

  /** A string field (null is ""). */
  string(): string {
    if (this.isNull()) return "";
    const b = this.b;
    if (b[this.p] !== QUOTE) throw NOT_CANONICAL;
    const s = this.p + 1;
    let e = s;
    let plain = true;
    for (;;) {
      while (PRINTABLE[b[e]!] === 1) e++;
      const c = b[e];
      if (c === QUOTE) break;
      if (c === undefined) throw NOT_CANONICAL;
      plain = false;
      if (c === BACKSLASH) e++;
      e++;
    }
    this.p = e + 1;
    if (plain) return this.text.toString("latin1", s, e);
    // Escapes or UTF-8: JSON.parse of just this literal gives exactly what a full parse would.
    try {
      return JSON.parse(DECODER.decode(b.subarray(s - 1, e + 1))) as string;
    } catch {
      throw NOT_CANONICAL;
    }
  }

  /** The column family: the known names as constants. */
  cf(): string {
    const b = this.b;
    const p = this.p;
    for (let i = 0; i < CF_QUOTED.length; i++) {
      const q = CF_QUOTED[i]!;
      let j = 0;
      while (j < q.length && b[p + j] === q[j]) j++;
      if (j === q.length) {
        this.p = p + j;
        return CF_NAMES[i]!;
      }
    }
    return this.string();
  }

  /**
   * A base64 field (null is empty); its span goes to `s0`/`s1` (both -1 for null).
   */
  bytes(): Uint8Array {
    const b = this.b;
    if (b[this.p] !== QUOTE) {
      if (!this.isNull()) throw NOT_CANONICAL;
      this.s0 = this.s1 = -1;
      return EMPTY;
    }
    const s = this.p + 1;
    let out = this.arena.decodeQuoted(b, s);
    let e = this.arena.end;
    if (out === undefined) {
      // Longer than the one-pass decoder takes: find the end, then decode.
      e = b.indexOf(QUOTE, s);
      if (e < 0) throw NOT_CANONICAL;
      out = this.arena.decodeAscii(b, s, e);
      if (out === undefined) throw NOT_CANONICAL;
    }
    this.s0 = s;
    this.s1 = e;
    this.p = e + 1;
    return out;
  }

  /**
   * True (and consumed, with `s0`/`s1` set) when the next value is the string in `b[s, e)`:
   * compared from the end, where keys of neighbouring ranges differ.
   */
  same(s: number, e: number): boolean {
    if (s < 0) return false;
    const b = this.b;
    const q = this.p + 1;
    const len = e - s;
    if (b[this.p] !== QUOTE || b[q + len] !== QUOTE) return false;
    for (let i = len - 1; i >= 0; i--) if (b[q + i] !== b[s + i]) return false;
    this.s0 = q;
    this.s1 = q + len;
    this.p = q + len + 1;
    return true;
  }

  /**
   * Reads an integer into `a`/`m`/`r`: a decimal string (proto3 JSON) or plain digits (Go's
   * number); false for null. Leading zeros, signs, fractions and exponents give up. The input
   * ends with `}`, so the digit loops stop before its end.
   */
  digits(): boolean {
    const b = this.b;
    let p = this.p;
    let c = b[p]!;
    const quoted = c === QUOTE;
    if (quoted) c = b[++p]!;
    else if (c === LETTER_N) return !this.isNull();
    const s = p;
    const cut = p + 15;
    let a = 0;
    while (c >= DIGIT_0 && c <= DIGIT_9 && p < cut) {
      a = a * 10 + c - DIGIT_0;
      c = b[++p]!;
    }
    let r = 0;
    const mid = p;
    while (c >= DIGIT_0 && c <= DIGIT_9) {
      r = r * 10 + c - DIGIT_0;
      c = b[++p]!;
    }
    const m = p - mid;
    // Beyond 20 digits nothing fits; a bare number beyond 15 digits is the general decoder's
    // to judge (it may not be exact as a double).
    if (p === s || m > 5 || (p - s > 1 && b[s] === DIGIT_0) || (!quoted && m > 0)) {
      throw NOT_CANONICAL;
    }
    if (quoted) {
      if (c !== QUOTE) throw NOT_CANONICAL;
      p++;
    } else if (c === 0x2e || c === 0x65 || c === 0x45) throw NOT_CANONICAL; // . e E
    this.p = p;
    this.a = a;
    this.m = m;
    this.r = r;
    return true;
  }

  /** The integer just read as a bigint below `2^bits` (64, or 63 for int64). */
  big(bits: 63 | 64): bigint {
    const m = this.m;
    if (m === 0) return BigInt(this.a); // under 10^15: exact as a double
    const f = POW10[m]!;
    const ah = Math.floor(this.a / TWO_32);
    let lo = (this.a - ah * TWO_32) * f + this.r;
    const carry = Math.floor(lo / TWO_32);
    lo -= carry * TWO_32;
    const hi = ah * f + carry;
    if (hi >= (bits === 64 ? TWO_32 : TWO_32 / 2)) throw NOT_CANONICAL; // out of range
    U64.setUint32(0, lo, true);
    U64.setUint32(4, hi, true);
    return U64.getBigUint64(0, true);
  }

  /** A uint64 field (null is 0). */
  u64(): bigint {
    return this.digits() ? this.big(64) : 0n;
  }

  /** The end_version field: equal to the previous one more often than not. */
  version(): bigint {
    if (!this.digits()) return 0n;
    if (this.a === this.va && this.m === this.vm && this.r === this.vr) return this.vBig;
    this.vBig = this.big(64);
    this.va = this.a;
    this.vm = this.m;
    this.vr = this.r;
    return this.vBig;
  }

  tableMetas(): TableMeta[] {
    const out: TableMeta[] = [];
    if (this.isNull() || this.open(OPEN_BRACKET, CLOSE_BRACKET)) return out;
    do {
      let physicalId = 0n;
      let crc64xor = 0n;
      let totalKvs = 0n;
      let totalBytes = 0n;
      if (!this.open(OPEN_BRACE, CLOSE_BRACE)) {
        let k = -1;
        do {
          k = this.key(META_KEYS, k + 1);
          if (k === 0) physicalId = this.digits() ? this.big(63) : 0n;
          else if (k === 1) crc64xor = this.u64();
          else if (k === 2) totalKvs = this.u64();
          else totalBytes = this.u64();
        } while (this.next(CLOSE_BRACE));
      }
      out.push({ $typeName: "backup.TableMeta", physicalId, crc64xor, totalKvs, totalBytes });
    } while (this.next(CLOSE_BRACKET));
    return out;
  }

  /** A file of a range whose keys are at `b[rs0, rs1)` and `b[re0, re1)` (-1: absent). */
  file(
    rs0: number,
    rs1: number,
    startKey: Uint8Array,
    re0: number,
    re1: number,
    endKey: Uint8Array,
  ): File {
    let name = "";
    let sha256 = EMPTY;
    let fileStart = EMPTY;
    let fileEnd = EMPTY;
    let startVersion = 0n;
    let endVersion = 0n;
    let crc64xor = 0n;
    let totalKvs = 0n;
    let totalBytes = 0n;
    let tableMetas: TableMeta[] | undefined;
    let cf = "";
    let size = 0n;
    let cipherIv = EMPTY;
    if (!this.open(OPEN_BRACE, CLOSE_BRACE)) {
      let k = -1;
      do {
        k = this.key(FILE_KEYS, k + 1);
        switch (k) {
          case 0:
            name = this.string();
            break;
          case 1:
            sha256 = this.bytes();
            break;
          case 2:
            // A file usually spans its range exactly: the range's key bytes are shared.
            fileStart = this.same(rs0, rs1) ? startKey : this.bytes();
            break;
          case 3:
            fileEnd = this.same(re0, re1) ? endKey : this.bytes();
            break;
          case 4:
            startVersion = this.u64();
            break;
          case 5:
            endVersion = this.version();
            break;
          case 6:
            crc64xor = this.u64();
            break;
          case 7:
            totalKvs = this.u64();
            break;
          case 8:
            totalBytes = this.u64();
            break;
          case 9:
            tableMetas = this.tableMetas();
            break;
          case 10:
            cf = this.cf();
            break;
          case 11:
            size = this.u64();
            break;
          default:
            cipherIv = this.bytes();
        }
      } while (this.next(CLOSE_BRACE));
    }
    return {
      $typeName: "backup.File",
      name,
      sha256,
      startKey: fileStart,
      endKey: fileEnd,
      startVersion,
      endVersion,
      crc64xor,
      totalKvs,
      totalBytes,
      tableMetas: tableMetas ?? [],
      cf,
      size,
      cipherIv,
    };
  }

  group(): RangeGroups {
    let groupKey: string | undefined;
    let groups: CheckpointRange[] | undefined;
    // The digit loops rely on a closing byte that is not a digit.
    if (this.b[this.b.length - 1] !== CLOSE_BRACE) throw NOT_CANONICAL;
    if (this.open(OPEN_BRACE, CLOSE_BRACE)) throw NOT_CANONICAL;
    let k = -1;
    do {
      k = this.key(ROOT_KEYS, k + 1);
      if (k === 0) {
        if (this.isNull()) throw NOT_CANONICAL;
        groupKey = this.string();
      } else groups = this.ranges();
    } while (this.next(CLOSE_BRACE));
    if (this.p !== this.b.length || groupKey === undefined || groups === undefined) {
      throw NOT_CANONICAL;
    }
    return { groupKey, groups };
  }

  ranges(): CheckpointRange[] {
    const out: CheckpointRange[] = [];
    if (this.open(OPEN_BRACKET, CLOSE_BRACKET)) return out;
    // The previous range's end key: usually this range's start key.
    let pe0 = -1;
    let pe1 = -1;
    let prevEnd = EMPTY;
    do {
      let rs0 = -1;
      let rs1 = -1;
      let re0 = -1;
      let re1 = -1;
      let startKey = EMPTY;
      let endKey = EMPTY;
      let files: File[] = [];
      if (!this.open(OPEN_BRACE, CLOSE_BRACE)) {
        let k = -1;
        do {
          k = this.key(RANGE_KEYS, k + 1);
          if (k === 0) {
            startKey = this.same(pe0, pe1) ? prevEnd : this.bytes();
            rs0 = this.s0;
            rs1 = this.s1;
          } else if (k === 1) {
            endKey = this.bytes();
            re0 = this.s0;
            re1 = this.s1;
          } else {
            files = [];
            if (this.isNull() || this.open(OPEN_BRACKET, CLOSE_BRACKET)) continue;
            do files.push(this.file(rs0, rs1, startKey, re0, re1, endKey)); while (
              this.next(CLOSE_BRACKET)
            );
          }
        } while (this.next(CLOSE_BRACE));
      }
      out.push({ startKey, endKey, files });
      pe0 = re0;
      pe1 = re1;
      prevEnd = endKey;
    } while (this.next(CLOSE_BRACKET));
    return out;
  }
}

/**
 * Decodes a range group from its JSON bytes when they are in the canonical form; undefined
 * otherwise (then decode it with `decodeRangeGroups`). Byte fields are views into `arena`.
 */
export function scanRangeGroups(bytes: Uint8Array, arena: Base64Arena): RangeGroups | undefined {
  try {
    return new Scanner(bytes, arena).group();
  } catch (err) {
    if (err === NOT_CANONICAL) return undefined;
    throw err;
  }
}

const BASE64_OR_PAD = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") {
  BASE64_OR_PAD[c.charCodeAt(0)] = 1;
}

const DATA_FIELDS = new Set(["dure-time", "flush-time", "range-group-metas"]);
const META_FIELDS = new Set([
  "RangeGroupsEncriptedData",
  "Checksum",
  "CipherIv",
  "Size",
  "RangeCount",
  "FileCount",
]);

/** Reads the few tokens of a data file's header around its large base64 strings. */
class HeaderScanner {
  readonly t: string;
  p = 0;

  constructor(text: string) {
    this.t = text;
  }

  expect(c: number): void {
    if (this.t.charCodeAt(this.p) !== c) throw NOT_CANONICAL;
    this.p++;
  }

  next(close: number): boolean {
    const c = this.t.charCodeAt(this.p++);
    if (c === COMMA) return true;
    if (c === close) return false;
    throw NOT_CANONICAL;
  }

  /** A string; the text holds no backslash, so it is the characters up to the next quote. */
  string(): string {
    this.expect(QUOTE);
    const e = this.t.indexOf('"', this.p);
    if (e < 0) throw NOT_CANONICAL;
    const s = this.t.slice(this.p, e);
    this.p = e + 1;
    return s;
  }

  key(names: Set<string>): string {
    const k = this.string();
    if (!names.has(k)) throw NOT_CANONICAL;
    this.expect(COLON);
    return k;
  }

  /** A plain non-negative safe integer: what `numberField` takes as is. */
  number(): number {
    const t = this.t;
    const s = this.p;
    let p = s;
    let v = 0;
    let c = t.charCodeAt(p);
    while (c >= DIGIT_0 && c <= DIGIT_9) {
      v = v * 10 + c - DIGIT_0;
      c = t.charCodeAt(++p);
    }
    const n = p - s;
    // Up to 2^53 every partial sum is exact, so a larger value cannot round down into range.
    if (
      n === 0 || n > 16 || v > Number.MAX_SAFE_INTEGER || (n > 1 && t.charCodeAt(s) === DIGIT_0)
    ) {
      throw NOT_CANONICAL;
    }
    if (c === 0x2e || c === 0x65 || c === 0x45) throw NOT_CANONICAL; // . e E
    this.p = p;
    return v;
  }

  meta(): Record<string, unknown> {
    const m: Record<string, unknown> = {};
    this.expect(OPEN_BRACE);
    do {
      const k = this.key(META_FIELDS);
      if (k === "CipherIv" && this.t.startsWith("null", this.p)) {
        this.p += 4;
        m[k] = null;
      } else if (k === "RangeGroupsEncriptedData" || k === "Checksum" || k === "CipherIv") {
        m[k] = this.string();
      } else m[k] = this.number();
    } while (this.next(CLOSE_BRACE));
    // The payload goes to a lenient base64 decoder, which skips what is not base64, and JSON
    // forbids control characters in strings, which nothing here looks for: a stray character
    // shows as a length other than the canonical one for the size (then the general parser
    // takes over), or as a decoded size short of `Size` (which decoding reports as either
    // parser would), unless it sits where padding may be, which is checked here.
    const enc = m.RangeGroupsEncriptedData;
    const size = m.Size;
    if (typeof enc !== "string" || typeof size !== "number") throw NOT_CANONICAL;
    const len = enc.length;
    if (len !== Math.ceil(size / 3) * 4) throw NOT_CANONICAL;
    for (let i = Math.max(0, len - 4); i < len; i++) {
      if (!(BASE64_OR_PAD[enc.charCodeAt(i)] ?? 0)) throw NOT_CANONICAL;
    }
    return m;
  }

  file(): Record<string, unknown> {
    const root: Record<string, unknown> = {};
    this.expect(OPEN_BRACE);
    do {
      const k = this.key(DATA_FIELDS);
      if (k === "range-group-metas") {
        const metas: unknown[] = [];
        this.expect(OPEN_BRACKET);
        if (this.t.charCodeAt(this.p) === CLOSE_BRACKET) this.p++;
        else {
          do metas.push(this.meta()); while (this.next(CLOSE_BRACKET));
        }
        root[k] = metas;
      } else root[k] = this.number();
    } while (this.next(CLOSE_BRACE));
    if (this.p !== this.t.length) throw NOT_CANONICAL;
    return root;
  }
}

/**
 * What `JSON.parse` gives for a data file's text when the text is in the canonical form (no
 * whitespace or escapes, known fields, plain integers); undefined otherwise. It skips copying
 * the large base64 strings, which is most of what a full parse costs here.
 */
export function scanDataFile(text: string): Record<string, unknown> | undefined {
  if (text.indexOf("\\") >= 0) return undefined;
  try {
    return new HeaderScanner(text).file();
  } catch (err) {
    if (err === NOT_CANONICAL) return undefined;
    throw err;
  }
}
