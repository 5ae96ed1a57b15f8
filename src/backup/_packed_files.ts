/**
 * Backup `File` messages kept as compact bytes, for the range tree and the metadata writer.
 *
 * A decoded File costs about 900 bytes of heap (an object, four byte arrays, six bigints, two
 * strings); its protobuf encoding about 195. A backup of a million regions holds two million
 * Files until its range is complete, so the tree packs each range's files into shared 1 MiB
 * slabs, once more squeezed: the range's keys are stored once rather than in every file, and a
 * file name shares its prefix with the previous file's (TiKV names a region's write and default
 * SSTs alike but for the CF). About 145 bytes a file remain. `PackedFile` views decode a field
 * when it is read, and write their exact protobuf encoding straight into a metafile.
 *
 * `encodeFile` writes exactly what protobuf-es `toBinary(FileSchema, f)` writes (fields in
 * number order, defaults left out), several times faster.
 * @module
 */
import {
  putVarNumber,
  putVarU64,
  skipVarint,
  varintSize,
  varNumberAt,
  varU64At,
} from "../codec/varint.ts";
import { create, fromBinary, isMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { type File, FileSchema, type TableMeta, TableMetaSchema } from "../gen/brpb_pb.ts";
import { decodeInt } from "../codec/bytes.ts";
import type { KvChecksum } from "../codec/crc64.ts";

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();
const EMPTY = new Uint8Array(0);
// Wire types.
const VARINT = 0;
const LEN = 2;
/** TiDB's table key prefix `t`. */
const TABLE_PREFIX = 0x74;

// Splits a uint64 bigint into 32-bit halves without bigint arithmetic (which allocates).

/** A File as a message or an init object. */
export type FileLike = BackupFile | MessageInitShape<typeof FileSchema>;

/** A growable byte buffer with the few protobuf primitives a File needs. */
export class ByteWriter {
  buf: Uint8Array;
  pos = 0;

  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
  }

  /** The bytes written so far (a view, valid until the next write or `reset`). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** A non-negative integer below 2^53 as a varint. */
  varint(n: number): void {
    this.ensure(10);
    this.pos = putVarNumber(this.buf, this.pos, n);
  }

  /** A uint64 as a varint (negative values as their two's complement, as protobuf does). */
  bigVarint(v: bigint): void {
    this.ensure(10);
    this.pos = putVarU64(this.buf, this.pos, v);
  }

  bytes(src: Uint8Array, start = 0, end = src.length): void {
    const n = end - start;
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    // Short copies in a loop: `subarray` would allocate a view for each.
    if (n <= 64) { for (let i = start; i < end; i++) b[p++] = src[i]!; }
    else {
      b.set(start === 0 && end === src.length ? src : src.subarray(start, end), p);
      p += n;
    }
    this.pos = p;
  }

  /** `s` as UTF-8, without its length. */
  utf8(s: string): void {
    const n = s.length;
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = p;
        this.bytes(ENCODER.encode(s.slice(i)));
        return;
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  fieldString(no: number, s: string | undefined): void {
    if (!s) return;
    this.varint((no << 3) | LEN);
    // Reserve one length byte; move the text if its UTF-8 form is 128 bytes or more.
    const at = this.pos;
    this.pos++;
    this.utf8(s);
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return;
    }
    const extra = varintSize(len) - 1;
    this.ensure(extra);
    this.buf.copyWithin(at + 1 + extra, at + 1, this.pos);
    putVarNumber(this.buf, at, len);
    this.pos += extra;
  }

  fieldBytes(no: number, v: Uint8Array | undefined): void {
    if (!v || v.length === 0) return;
    this.varint((no << 3) | LEN);
    this.varint(v.length);
    this.bytes(v);
  }

  fieldU64(no: number, v: bigint | undefined): void {
    if (!v) return;
    this.varint((no << 3) | VARINT);
    this.bigVarint(v);
  }
}

/** Fields 5 to 13 of a File, as `toBinary` writes them. */
function encodeTail(w: ByteWriter, f: FileLike): void {
  w.fieldU64(5, f.startVersion as bigint | undefined);
  w.fieldU64(6, f.endVersion as bigint | undefined);
  w.fieldU64(7, f.crc64xor as bigint | undefined);
  w.fieldU64(8, f.totalKvs as bigint | undefined);
  w.fieldU64(9, f.totalBytes as bigint | undefined);
  w.fieldString(10, f.cf);
  w.fieldU64(11, f.size as bigint | undefined);
  w.fieldBytes(12, f.cipherIv);
  for (const m of f.tableMetas ?? []) {
    const meta = isMessage(m, TableMetaSchema) ? m : create(TableMetaSchema, m);
    const bytes = toBinary(TableMetaSchema, meta);
    w.varint((13 << 3) | LEN);
    w.varint(bytes.length);
    w.bytes(bytes);
  }
}

/**
 * Writes a File's fields (not framed) as `toBinary` does. A message carrying unknown fields
 * goes through protobuf-es, which keeps them.
 */
export function encodeFile(w: ByteWriter, f: FileLike): void {
  if ((f as File).$unknown?.length) {
    const full = isMessage(f, FileSchema) ? f : create(FileSchema, f);
    w.bytes(toBinary(FileSchema, full));
    return;
  }
  if (f instanceof PackedFile) {
    w.ensure(f.encodedLength());
    w.pos = f.writeEncoded(w.buf, w.pos);
    return;
  }
  w.fieldString(1, f.name);
  w.fieldBytes(2, f.sha256);
  w.fieldBytes(3, f.startKey);
  w.fieldBytes(4, f.endKey);
  encodeTail(w, f);
}

/** The position after the length-prefixed bytes at `p`. */
function skipLen(b: Uint8Array, p: number): number {
  return skipVarint(b, p) + varNumberAt(b, p);
}

/** Where field `no` is in `b[start, end)`: the position of its value (LEN: its length), or -1. */
function findField(b: Uint8Array, start: number, end: number, no: number): number {
  let p = start;
  while (p < end) {
    const tag = varNumberAt(b, p);
    p = skipVarint(b, p);
    if (tag >>> 3 === no) return p;
    switch (tag & 7) {
      case VARINT:
        p = skipVarint(b, p);
        break;
      case LEN:
        p = skipLen(b, p);
        break;
      case 1:
        p += 8;
        break;
      case 5:
        p += 4;
        break;
      default:
        throw new Error(`corrupt packed backup file: wire type ${tag & 7}`);
    }
  }
  return -1;
}

function u64Field(b: Uint8Array, start: number, end: number, no: number): bigint {
  const p = findField(b, start, end, no);
  return p < 0 ? 0n : varU64At(b, p);
}

/** Length-prefixed bytes at `p` as a fresh copy. */
function copyLen(b: Uint8Array, p: number): Uint8Array {
  const q = skipVarint(b, p);
  return b.slice(q, q + varNumberAt(b, p));
}

function fromTableMeta(b: Uint8Array): TableMeta {
  const u64 = (no: number) => u64Field(b, 0, b.length, no);
  return create(TableMetaSchema, {
    physicalId: BigInt.asIntN(64, u64(1)),
    crc64xor: u64(2),
    totalKvs: u64(3),
    totalBytes: u64(4),
  });
}

// Per-file flags in a packed record.
const OWN_START = 1;
const OWN_END = 2;

// Indexes into PARTS, the scratch `PackedFile.#parts` fills.
const SUFFIX = 0;
const SHA = 1;
const START = 2;
const END = 3;
const TAIL = 4;
const PARTS = new Int32Array(5);

/** The bytes of a length-delimited field of `len` bytes (0 when empty: not written). */
function fieldSize(len: number): number {
  return len > 0 ? 1 + varintSize(len) + len : 0;
}

/**
 * Writes field `no` from the length-prefixed bytes at `from` of `src` (nothing when empty);
 * returns the position after it.
 */
function copyField(dst: Uint8Array, p: number, no: number, src: Uint8Array, from: number): number {
  const len = varNumberAt(src, from);
  if (len === 0) return p;
  dst[p++] = (no << 3) | LEN;
  p = putVarNumber(dst, p, len);
  const s = skipVarint(src, from);
  for (let i = 0; i < len; i++) dst[p++] = src[s + i]!;
  return p;
}

/**
 * What the metadata writer reads of a file in one pass. Bigints are filled in only for files
 * whose start key is in a table (others count for no table's checksum).
 */
export interface FileSums extends KvChecksum {
  /** The table of the start key, if any. */
  tableId: bigint | undefined;
  /** Stored bytes (`size`). */
  size: bigint;
  /** Whether the file splits its sums by table (then read `tableMetas`). */
  hasTableMetas: boolean;
}

/**
 * The fields of a `backup.File`, read-only: what the range tree hands on and the metadata
 * writer takes. Either a File message or a `PackedFile` view; `toFileMessage` makes a real
 * message of either, for code that needs one (protobuf-es's `toBinary`, say).
 */
export type BackupFile = Readonly<Omit<File, "$typeName" | "$unknown">>;

/** A real `backup.File` message of `f`: the edge where packed views become messages again. */
export function toFileMessage(f: BackupFile): File {
  if (f instanceof PackedFile) return f.toMessage();
  return isMessage(f, FileSchema) ? f : create(FileSchema, f);
}

/**
 * A read-only `BackupFile` backed by a packed record: each field is decoded when read (byte
 * fields as fresh copies). It is not a protobuf message (`toMessage` makes one); the metadata
 * writer copies its encoding straight from the record.
 *
 * Record layout (`FileArena`): `[start key][end key][file count]` then per file
 * `[flags][name prefix length][name suffix][sha256][own start key?][own end key?][tail]`, each
 * part length-prefixed; the tail is fields 5-13 as `toBinary` encodes them.
 */
export class PackedFile implements BackupFile {
  readonly #slab: Uint8Array;
  /** The record's offset in the slab. */
  readonly #rec: number;
  /** This file's offset in the slab (its flags). */
  readonly #at: number;

  constructor(slab: Uint8Array, rec: number, at: number) {
    this.#slab = slab;
    this.#rec = rec;
    this.#at = at;
  }

  /**
   * Offsets (of the length prefixes) of this file's parts into `PARTS`: name suffix, sha256,
   * start key, end key, tail. A shared scratch array, so reading a field allocates nothing.
   */
  #parts(): Int32Array {
    const b = this.#slab;
    const flags = b[this.#at]!;
    const suffix = skipVarint(b, this.#at + 1);
    const sha = skipLen(b, suffix);
    let p = skipLen(b, sha);
    let start = this.#rec;
    let end = skipLen(b, start);
    if (flags & OWN_START) {
      start = p;
      p = skipLen(b, p);
    }
    if (flags & OWN_END) {
      end = p;
      p = skipLen(b, p);
    }
    PARTS[SUFFIX] = suffix;
    PARTS[SHA] = sha;
    PARTS[START] = start;
    PARTS[END] = end;
    PARTS[TAIL] = p;
    return PARTS;
  }

  /**
   * Writes the name's UTF-8 bytes at `at` of `dst`, rebuilt from the prefixes shared with the
   * files before it (each file's suffix lands after its prefix); returns its length.
   */
  #writeName(dst: Uint8Array, at: number): number {
    const b = this.#slab;
    // Earlier names may be longer: nothing is written past this name's own length.
    const limit = this.#nameLength();
    let p = skipLen(b, skipLen(b, this.#rec));
    const count = varNumberAt(b, p);
    p = skipVarint(b, p);
    for (let i = 0; i < count; i++) {
      const prefix = varNumberAt(b, p + 1);
      const suffix = skipVarint(b, p + 1);
      const s = skipVarint(b, suffix);
      const len = Math.min(varNumberAt(b, suffix), limit - prefix);
      for (let j = 0; j < len; j++) dst[at + prefix + j] = b[s + j]!;
      if (p === this.#at) return limit;
      p = PackedFile.#skipFile(b, p);
    }
    throw new Error("corrupt packed backup file: not in its record");
  }

  /** The length of the name's UTF-8 bytes. */
  #nameLength(): number {
    const b = this.#slab;
    return varNumberAt(b, this.#at + 1) + varNumberAt(b, skipVarint(b, this.#at + 1));
  }

  /** The position after the file at `p`. */
  static #skipFile(b: Uint8Array, p: number): number {
    const flags = b[p]!;
    p = skipLen(b, skipLen(b, skipVarint(b, p + 1)));
    if (flags & OWN_START) p = skipLen(b, p);
    if (flags & OWN_END) p = skipLen(b, p);
    return skipLen(b, p);
  }

  /** The length of the File's protobuf encoding. */
  encodedLength(): number {
    const b = this.#slab;
    const parts = this.#parts();
    return fieldSize(this.#nameLength()) + fieldSize(varNumberAt(b, parts[SHA]!)) +
      fieldSize(varNumberAt(b, parts[START]!)) + fieldSize(varNumberAt(b, parts[END]!)) +
      varNumberAt(b, parts[TAIL]!);
  }

  /** Writes the File's protobuf encoding at `at` of `dst`; returns the position after it. */
  writeEncoded(dst: Uint8Array, at: number): number {
    const b = this.#slab;
    let p = at;
    const nameLen = this.#nameLength();
    if (nameLen > 0) {
      dst[p++] = (1 << 3) | LEN;
      p = putVarNumber(dst, p, nameLen);
      p += this.#writeName(dst, p);
    }
    const parts = this.#parts();
    p = copyField(dst, p, 2, b, parts[SHA]!);
    p = copyField(dst, p, 3, b, parts[START]!);
    p = copyField(dst, p, 4, b, parts[END]!);
    const tail = parts[TAIL]!;
    const t = skipVarint(b, tail);
    const len = varNumberAt(b, tail);
    for (let i = 0; i < len; i++) dst[p++] = b[t + i]!;
    return p;
  }

  /** The File's protobuf encoding, as a fresh array. */
  get encoded(): Uint8Array {
    const out = new Uint8Array(this.encodedLength());
    this.writeEncoded(out, 0);
    return out;
  }

  /** The `backup.File` message this view stands for (decoded from its encoding). */
  toMessage(): File {
    return fromBinary(FileSchema, this.encoded);
  }

  /** Where field `no` of the tail is (as `findField`), or -1. */
  #inTail(no: number): number {
    const b = this.#slab;
    const t = this.#parts()[TAIL]!;
    const s = skipVarint(b, t);
    return findField(b, s, s + varNumberAt(b, t), no);
  }
  #u64(no: number): bigint {
    const p = this.#inTail(no);
    return p < 0 ? 0n : varU64At(this.#slab, p);
  }

  get name(): string {
    const out = new Uint8Array(this.#nameLength());
    this.#writeName(out, 0);
    return DECODER.decode(out);
  }
  get sha256(): Uint8Array {
    return copyLen(this.#slab, this.#parts()[SHA]!);
  }
  get startKey(): Uint8Array {
    return copyLen(this.#slab, this.#parts()[START]!);
  }
  get endKey(): Uint8Array {
    return copyLen(this.#slab, this.#parts()[END]!);
  }
  get startVersion(): bigint {
    return this.#u64(5);
  }
  get endVersion(): bigint {
    return this.#u64(6);
  }
  get crc64xor(): bigint {
    return this.#u64(7);
  }
  get totalKvs(): bigint {
    return this.#u64(8);
  }
  get totalBytes(): bigint {
    return this.#u64(9);
  }
  get cf(): string {
    const p = this.#inTail(10);
    if (p < 0) return "";
    const q = skipVarint(this.#slab, p);
    return DECODER.decode(this.#slab.subarray(q, q + varNumberAt(this.#slab, p)));
  }
  get size(): bigint {
    return this.#u64(11);
  }
  get cipherIv(): Uint8Array {
    const p = this.#inTail(12);
    return p < 0 ? new Uint8Array(0) : copyLen(this.#slab, p);
  }
  get tableMetas(): TableMeta[] {
    const out: TableMeta[] = [];
    const b = this.#slab;
    const t = this.#parts()[TAIL]!;
    let p = skipVarint(b, t);
    const end = p + varNumberAt(b, t);
    for (;;) {
      p = findField(b, p, end, 13);
      if (p < 0) return out;
      const q = skipVarint(b, p);
      const len = varNumberAt(b, p);
      out.push(fromTableMeta(b.subarray(q, q + len)));
      p = q + len;
    }
  }

  /** Fills `out` with what the metadata writer sums, in one pass, and returns it. */
  sums(out: FileSums): FileSums {
    const b = this.#slab;
    const parts = this.#parts();
    const start = parts[START]!;
    const tail = parts[TAIL]!;
    const k = skipVarint(b, start);
    out.tableId = varNumberAt(b, start) >= 9 && b[k] === TABLE_PREFIX
      ? decodeInt(b, k + 1)
      : undefined;
    out.crc64xor = 0n;
    out.totalKvs = 0n;
    out.totalBytes = 0n;
    out.size = 0n;
    out.hasTableMetas = false;
    const wantSums = out.tableId !== undefined;
    let p = skipVarint(b, tail);
    const end = p + varNumberAt(b, tail);
    while (p < end) {
      const tag = b[p++]!; // field numbers 5-13: one-byte tags
      const no = tag >>> 3;
      if ((tag & 7) === LEN) {
        if (no === 13) out.hasTableMetas = true;
        p = skipLen(b, p);
        continue;
      }
      if (no === 11) out.size = varU64At(b, p);
      else if (wantSums && no === 7) out.crc64xor = varU64At(b, p);
      else if (wantSums && no === 8) out.totalKvs = varU64At(b, p);
      else if (wantSums && no === 9) out.totalBytes = varU64At(b, p);
      p = skipVarint(b, p);
    }
    return out;
  }

  /** Whether two views are files of the same packed range. */
  static sameRange(a: PackedFile, b: PackedFile): boolean {
    return a.#slab === b.#slab && a.#rec === b.#rec;
  }

  /** A plain object of the main fields, so logs and `JSON.stringify` show them. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      cf: this.cf,
      startVersion: String(this.startVersion),
      endVersion: String(this.endVersion),
      totalKvs: String(this.totalKvs),
      totalBytes: String(this.totalBytes),
      size: String(this.size),
    };
  }
}

/** Whether a file is a packed view. */
export function isPackedFile(f: unknown): f is PackedFile {
  return f instanceof PackedFile;
}

/** Bytes per slab: large enough that slab headers cost nothing, small enough to waste little. */
const SLAB = 1 << 20;
/**
 * An arena's first slab; each next one doubles up to SLAB. Most ranges of a backup of many small
 * tables hold one region: a 1 MiB slab each was 1 MiB zeroed and dropped per range (300k ranges:
 * 300 GiB of allocation churn, the largest CPU cost of the data phase after the RPCs).
 */
const FIRST_SLAB = 4 << 10;
/** Record positions are `slab index * SPAN + offset`: plain numbers, exact far beyond need. */
const SPAN = 2 ** 24;

function equalRange(a: Uint8Array, b: Uint8Array, start: number, end: number): boolean {
  if (end - start !== a.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[start + i]) return false;
  return true;
}

/**
 * The memory-saving store the range tree keeps finished ranges in: a record per range, found by
 * a number, whose files come back as `PackedFile` views (which the metadata writer encodes
 * straight from the record).
 */
export interface PackedFileStore {
  /** Bytes held. */
  readonly bytes: number;
  /** Stores one range and its files; returns the record's position. */
  add(startKey: Uint8Array, endKey: Uint8Array, files: readonly FileLike[]): number;
  /** Marks the record gone: it must not be read again. */
  release(pos: number): void;
  /** The record's start key (a view: do not modify). */
  startKey(pos: number): Uint8Array;
  /** The record's end key (a view: do not modify). */
  endKey(pos: number): Uint8Array;
  /** The record's files, as views. */
  files(pos: number): PackedFile[];
}

const _scratch = {
  rec: new ByteWriter(4096),
  file: new ByteWriter(512),
  name: new ByteWriter(256),
  prevName: new ByteWriter(256),
};

/**
 * Packed range records (layout at `PackedFile`) in slabs (4 KiB, doubling up to 1 MiB), each
 * found by a number.
 * `release` marks a record gone; a slab is dropped once none of its records is left (views
 * handed out earlier keep their slab alive until they are garbage themselves).
 */
export class FileArena implements PackedFileStore {
  readonly #slabs: (Uint8Array | undefined)[] = [];
  /** Records not yet released, per slab. */
  readonly #live: number[] = [];
  #used = SLAB;
  #nextSlab = FIRST_SLAB;
  // Scratch space shared by every arena (`add` runs to its end synchronously): a backup keeps an
  // arena per range, and 100k ranges with 5 KiB of scratch each would hold 500 MiB.
  readonly #rec = _scratch.rec;
  readonly #file = _scratch.file;
  readonly #name = _scratch.name;
  readonly #prevName = _scratch.prevName;
  /** Bytes of the slabs held. */
  bytes = 0;

  /** Stores one range and its files; returns the record's position. */
  add(startKey: Uint8Array, endKey: Uint8Array, files: readonly FileLike[]): number {
    const rec = this.#rec;
    rec.reset();
    rec.varint(startKey.length);
    rec.bytes(startKey);
    rec.varint(endKey.length);
    rec.bytes(endKey);
    rec.varint(files.length);
    this.#prevName.reset();
    for (const f of files) this.#addFile(f, startKey, endKey);
    const n = rec.pos;
    let last = this.#slabs.length - 1;
    let slab = this.#slabs[last];
    if (!slab || this.#used + n > slab.length) {
      // The slab being left behind goes now if all its records already have.
      if (last >= 0 && this.#live[last] === 0) this.#drop(last);
      slab = new Uint8Array(Math.max(this.#nextSlab, n));
      this.#nextSlab = Math.min(SLAB, this.#nextSlab * 2);
      this.bytes += slab.length;
      this.#slabs.push(slab);
      this.#live.push(0);
      this.#used = 0;
      last++;
    }
    const off = this.#used;
    slab.set(rec.view(), off);
    this.#used += n;
    this.#live[last]!++;
    return last * SPAN + off;
  }

  /** Marks the record at `pos` gone: it must not be read through this arena again. */
  release(pos: number): void {
    const i = Math.floor(pos / SPAN);
    if (--this.#live[i]! !== 0) return;
    this.#drop(i);
    // The slab being filled goes too once it is empty: the next record starts a new one. An
    // arena that stays around after its range is done (a checkpoint's tree of a range) must not
    // keep a 1 MiB slab per range: 10k ranges were 10 GiB of address space and a third of the
    // backup's RSS.
    if (i === this.#slabs.length - 1) this.#used = SLAB;
  }

  #drop(i: number): void {
    const slab = this.#slabs[i];
    if (!slab) return;
    this.bytes -= slab.length;
    this.#slabs[i] = undefined;
  }

  #addFile(f: FileLike, rangeStart: Uint8Array, rangeEnd: Uint8Array): void {
    const rec = this.#rec;
    // A view from another tree is decoded through its getters like any message.
    const start = f.startKey ?? EMPTY;
    const end = f.endKey ?? EMPTY;
    const ownStart = !equalRange(start, rangeStart, 0, rangeStart.length);
    const ownEnd = !equalRange(end, rangeEnd, 0, rangeEnd.length);
    rec.ensure(1);
    rec.buf[rec.pos++] = (ownStart ? OWN_START : 0) | (ownEnd ? OWN_END : 0);
    const name = this.#name;
    name.reset();
    name.utf8(f.name ?? "");
    const prev = this.#prevName;
    let prefix = 0;
    const max = Math.min(prev.pos, name.pos);
    while (prefix < max && prev.buf[prefix] === name.buf[prefix]) prefix++;
    rec.varint(prefix);
    rec.varint(name.pos - prefix);
    rec.bytes(name.buf, prefix, name.pos);
    prev.reset();
    prev.bytes(name.buf, 0, name.pos);
    const sha = f.sha256 ?? EMPTY;
    rec.varint(sha.length);
    rec.bytes(sha);
    if (ownStart) {
      rec.varint(start.length);
      rec.bytes(start);
    }
    if (ownEnd) {
      rec.varint(end.length);
      rec.bytes(end);
    }
    const tail = this.#file;
    tail.reset();
    encodeTail(tail, f);
    rec.varint(tail.pos);
    rec.bytes(tail.buf, 0, tail.pos);
  }

  #slab(pos: number): Uint8Array {
    const slab = this.#slabs[Math.floor(pos / SPAN)];
    if (!slab) throw new Error(`packed record ${pos} read after its release`);
    return slab;
  }

  /** The start key of the record at `pos` (a view: do not modify). */
  startKey(pos: number): Uint8Array {
    const slab = this.#slab(pos);
    const at = pos % SPAN;
    const p = skipVarint(slab, at);
    return slab.subarray(p, p + varNumberAt(slab, at));
  }

  /** The end key of the record at `pos` (a view: do not modify). */
  endKey(pos: number): Uint8Array {
    const slab = this.#slab(pos);
    const at = skipLen(slab, pos % SPAN);
    const p = skipVarint(slab, at);
    return slab.subarray(p, p + varNumberAt(slab, at));
  }

  /** The files of the record at `pos`, as views. */
  files(pos: number): PackedFile[] {
    const slab = this.#slab(pos);
    const rec = pos % SPAN;
    let p = skipLen(slab, skipLen(slab, rec));
    const count = varNumberAt(slab, p);
    p = skipVarint(slab, p);
    const out = new Array<PackedFile>(count);
    for (let i = 0; i < count; i++) {
      out[i] = new PackedFile(slab, rec, p);
      const flags = slab[p]!;
      p = skipLen(slab, skipLen(slab, skipVarint(slab, p + 1)));
      if (flags & OWN_START) p = skipLen(slab, p);
      if (flags & OWN_END) p = skipLen(slab, p);
      p = skipLen(slab, p);
    }
    return out;
  }
}

/** Whether every file is a File message (or a packed view) that packing keeps whole. */
export function packable(files: readonly unknown[]): boolean {
  for (const f of files) {
    if (f instanceof PackedFile) continue;
    if (!isMessage(f, FileSchema) || f.$unknown?.length) return false;
  }
  return true;
}
