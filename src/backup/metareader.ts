/**
 * Reads BR backup metadata: `backupmeta` (decrypted when a cipher is given), then the child
 * metafiles its indexes reference, each checked against the sha256 and size recorded for it.
 * Reads both layouts: V2 (child metafiles) and V1 (files, schemas and DDLs inline), as BR's
 * `metautil.MetaReader` does. Entries come out in the order they were written.
 *
 * ```ts
 * import { MetaReader } from "./metareader.ts";
 * declare const storage: import("../storage/types.ts").ExternalStorage;
 * const reader = await MetaReader.open(storage);
 * for await (const s of reader.schemas()) console.log(s.db.db_name.O, s.table?.name.O);
 * for await (const f of reader.dataFiles()) console.log(f.name);
 * ```
 * @module
 */
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { createHash } from "node:crypto";
import {
  type BackupMeta,
  BackupMetaSchema,
  type File,
  FileSchema,
  type MetaFile,
  MetaFileSchema,
  type RawRange,
  RawRangeSchema,
  type Schema,
  SchemaSchema,
} from "../gen/brpb_pb.ts";
import {
  type CipherInfo,
  decrypt,
  isEncrypting,
  IV_LENGTH,
  validateCipher,
} from "../crypto/cipher.ts";
import { heapCheck } from "../heap.ts";
import { decodeTableId } from "../tidb/tablecodec.ts";
import type { KvChecksum } from "../codec/crc64.ts";
import { type DBInfo, type Job, parseJson, type TableInfo } from "../tidb/model.ts";
import { isStorageError } from "../storage/errors.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { BACKUP_META_FILE, META_V1, META_V2 } from "./metawriter.ts";
import { objectUri } from "../storage/url.ts";

/** Why backup metadata could not be read. */
export type BackupMetaErrorCode =
  /** No `backupmeta`, or a metafile it references is missing. */
  | "NotFound"
  /** `backupmeta` does not decode: wrong or missing crypter key, or not a backupmeta. */
  | "Undecodable"
  /** A metafile's content does not match what `backupmeta` records for it. */
  | "Corrupt";

/** A failure to read backup metadata, with a one-line message saying what to do. */
export class BackupMetaError extends Error {
  override name = "BackupMetaError";
  /** The kind of failure. */
  readonly code: BackupMetaErrorCode;

  constructor(code: BackupMetaErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}

/** Options of `readBackupMeta` and `MetaReader`. */
export interface MetaReaderOptions {
  /** The crypter the backup was written with; absent or PLAINTEXT for a plain backup. */
  cipher?: CipherInfo;
  /** Name of the root file (default `backupmeta`). */
  metaFileName?: string;
  /** Cancels storage reads. */
  signal?: AbortSignal;
  /** Metafiles read ahead while earlier ones are consumed (default 2). */
  prefetch?: number;
  /**
   * Plaintext bytes of metafiles read ahead at most (default 64 MiB): BR writes metafiles of up
   * to 128 MiB, and two of those read ahead would hold 256 MiB besides the one being read. The
   * next metafile is read ahead anyway when it alone is over the budget and nothing else is.
   */
  prefetchBytes?: number;
}

/** The default of `MetaReaderOptions.prefetchBytes`. */
export const PREFETCH_BYTES = 64 * 1024 * 1024;

/**
 * A verified child metafile, kept as its bytes: its entries are decoded one at a time as they
 * are read, so a 128 MiB metafile of 500k files never becomes 500k objects at once.
 */
class _LazyMetaFile {
  readonly #bytes: Uint8Array;
  /** Where it is, for errors. */
  readonly at: string;
  constructor(bytes: Uint8Array, at: string) {
    this.#bytes = bytes;
    this.at = at;
  }

  /** Walks every field once: throws when the framing is not a protobuf message's. */
  checkFraming(): void {
    const r = new BinaryReader(this.#bytes);
    while (r.pos < r.len) {
      const [field, wire] = r.tag();
      r.skip(wire, field);
    }
  }

  /** The raw bytes of each entry of field `no` (length-delimited), in order. */
  *raw(no: number): Generator<Uint8Array> {
    const r = new BinaryReader(this.#bytes);
    while (r.pos < r.len) {
      const [field, wire] = r.tag();
      if (field === no && wire === WireType.LengthDelimited) yield r.bytes();
      else r.skip(wire, field);
    }
  }

  /** Whether it indexes further metafiles (field 1, `meta_files`). */
  get isIndex(): boolean {
    for (const _ of this.raw(1)) return true;
    return false;
  }

  /** Decodes it whole (an index: small). */
  decode(): MetaFile {
    return fromBinary(MetaFileSchema, this.#bytes);
  }
}

function _notMetaFile(at: string, err: unknown): BackupMetaError {
  return new BackupMetaError(
    "Corrupt",
    `${at} matches its sha256 but is not a MetaFile (${(err as Error).message}); the ` +
      "backup was written by an incompatible tool",
    err,
  );
}

/** The leaf entries of a metafile, decoded as read; the same over an inline index. */
interface _Leaf {
  dataFiles(): Iterable<File>;
  schemas(): Iterable<Schema>;
  rawRanges(): Iterable<RawRange>;
  ddls(): Iterable<Uint8Array>;
}

function _inline(m: MetaFile): _Leaf {
  return {
    dataFiles: () => m.dataFiles,
    schemas: () => m.schemas,
    rawRanges: () => m.rawRanges,
    ddls: () => m.ddls,
  };
}

function _lazy(m: _LazyMetaFile): _Leaf {
  function* of<T>(no: number, decode: (b: Uint8Array) => T): Generator<T> {
    for (const b of m.raw(no)) {
      let v: T;
      try {
        v = decode(b);
      } catch (err) {
        throw _notMetaFile(m.at, err);
      }
      // Decoding a metafile's entries never waits on I/O: the heap keeper looks in here.
      heapCheck();
      yield v;
    }
  }
  // A decoded message's bytes fields are views of what it was decoded from: a File or RawRange
  // decoded from the metafile itself would keep all of it (16-128 MiB) alive while any of its
  // entries is in flight (a restore's ranges outlive the metafile's turn); decoded from a copy
  // of its own few hundred bytes, the metafile goes once it is read.
  return {
    dataFiles: () => of(2, (b) => fromBinary(FileSchema, b.slice())),
    schemas: () => of(3, (b) => fromBinary(SchemaSchema, b)),
    rawRanges: () => of(4, (b) => fromBinary(RawRangeSchema, b.slice())),
    ddls: () => m.raw(5),
  };
}

/** A schema entry with its DBInfo and TableInfo decoded. */
export interface BackupSchema extends KvChecksum {
  db: DBInfo;
  /** Absent for a database backed up without tables. */
  table?: TableInfo;
  tiflashReplicas: number;
  /** The entry as stored, JSON bytes included. */
  raw: Schema;
}

/** A schema and the data files of its table and partitions. */
export interface BackupTable extends BackupSchema {
  files: File[];
}

const DECODER = new TextDecoder();

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function where(storage: ExternalStorage, name: string): string {
  return objectUri(storage.uri(), name);
}

/** Whether every index entry of `m` looks like one BR writes (a name and a 32-byte sha256). */
function plausibleIndex(m: MetaFile | undefined): boolean {
  return m === undefined || m.metaFiles.every((f) => f.name.length > 0 && f.sha256.length === 32);
}

/**
 * Reads and decodes `backupmeta`. A wrong or missing crypter key is reported as such: the
 * decrypted bytes then fail to parse, or parse into something no BR writes.
 */
export async function readBackupMeta(
  storage: ExternalStorage,
  opts: MetaReaderOptions = {},
): Promise<BackupMeta> {
  const name = opts.metaFileName ?? BACKUP_META_FILE;
  if (opts.cipher) validateCipher(opts.cipher);
  let bytes: Uint8Array;
  try {
    bytes = await storage.readFile(name, { signal: opts.signal });
  } catch (err) {
    if (isStorageError(err, "NotFound")) {
      throw new BackupMetaError(
        "NotFound",
        `no ${name} at ${where(storage, name)}: this is not a finished backup; check the ` +
          "storage URL, or finish the backup first",
        err,
      );
    }
    throw err;
  }
  const encrypted = isEncrypting(opts.cipher);
  const hint = encrypted
    ? "the crypter key is wrong, or the backup is not encrypted"
    : "if the backup is encrypted, give its crypter key (--crypter.key)";
  const undecodable = (why: string, cause?: unknown) =>
    new BackupMetaError(
      "Undecodable",
      `cannot decode ${where(storage, name)} (${why}): ${hint}`,
      cause,
    );
  let plain = bytes;
  if (encrypted) {
    if (bytes.length < IV_LENGTH) throw undecodable(`only ${bytes.length} bytes`);
    plain = decrypt(opts.cipher!, bytes.subarray(0, IV_LENGTH), bytes.subarray(IV_LENGTH));
  }
  let meta: BackupMeta;
  try {
    meta = fromBinary(BackupMetaSchema, plain);
  } catch (err) {
    throw undecodable("not a valid BackupMeta message", err);
  }
  if (meta.version !== META_V1 && meta.version !== META_V2) {
    throw undecodable(`unknown metadata version ${meta.version}`);
  }
  if (
    !plausibleIndex(meta.fileIndex) || !plausibleIndex(meta.schemaIndex) ||
    !plausibleIndex(meta.ddlIndexes) || !plausibleIndex(meta.rawRangeIndex) ||
    (meta.clusterId === 0n && meta.endVersion === 0n && !meta.isRawKv)
  ) {
    throw undecodable("its fields are not those of a backup");
  }
  return meta;
}

/** Reads the entries of a backup's metadata, V1 or V2. */
export class MetaReader {
  /** The decoded `backupmeta`. */
  readonly meta: BackupMeta;
  readonly #storage: ExternalStorage;
  readonly #cipher: CipherInfo | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #prefetch: number;
  readonly #prefetchBytes: number;

  constructor(storage: ExternalStorage, meta: BackupMeta, opts: MetaReaderOptions = {}) {
    if (opts.cipher) validateCipher(opts.cipher);
    this.meta = meta;
    this.#storage = storage;
    this.#cipher = opts.cipher;
    this.#signal = opts.signal;
    this.#prefetch = Math.max(1, opts.prefetch ?? 2);
    this.#prefetchBytes = opts.prefetchBytes ?? PREFETCH_BYTES;
  }

  /** Reads `backupmeta` (see `readBackupMeta`) and returns a reader for it. */
  static async open(storage: ExternalStorage, opts: MetaReaderOptions = {}): Promise<MetaReader> {
    return new MetaReader(storage, await readBackupMeta(storage, opts), opts);
  }

  /** `META_V1` or `META_V2`. */
  get version(): number {
    return this.meta.version;
  }

  /** Every data file: V1's inline ones, then those in the file index's metafiles. */
  async *dataFiles(): AsyncGenerator<File> {
    yield* this.meta.files;
    for await (const m of this.#walk(this.meta.fileIndex)) yield* m.dataFiles();
  }

  /** Every schema entry as stored. */
  async *rawSchemas(): AsyncGenerator<Schema> {
    yield* this.meta.schemas;
    for await (const m of this.#walk(this.meta.schemaIndex)) yield* m.schemas();
  }

  /** Every schema entry with DBInfo and TableInfo decoded (TSO fields as bigint). */
  async *schemas(): AsyncGenerator<BackupSchema> {
    let n = 0;
    for await (const raw of this.rawSchemas()) {
      n++;
      let db: DBInfo;
      let table: TableInfo | undefined;
      try {
        db = parseJson<DBInfo>(raw.db);
        table = raw.table.length > 0 ? parseJson<TableInfo>(raw.table) : undefined;
      } catch (err) {
        throw new BackupMetaError(
          "Corrupt",
          `schema entry ${n} of the backup at ${this.#storage.uri()} is not valid JSON ` +
            `(${(err as Error).message}); the backup metadata is damaged`,
          err,
        );
      }
      yield {
        db,
        table,
        crc64xor: raw.crc64xor,
        totalKvs: raw.totalKvs,
        totalBytes: raw.totalBytes,
        tiflashReplicas: raw.tiflashReplicas,
        raw,
      };
    }
  }

  /** Each DDL job's JSON as stored (V1's inline array is split into its jobs). */
  async *ddlJobs(): AsyncGenerator<Job> {
    if (this.meta.version === META_V1) {
      const text = DECODER.decode(this.meta.ddls).trim();
      if (text.length === 0) return;
      const jobs = parseJson<Job[] | null>(text);
      yield* jobs ?? [];
      return;
    }
    for await (const m of this.#walk(this.meta.ddlIndexes)) {
      for (const d of m.ddls()) yield parseJson<Job>(d);
    }
  }

  /** All DDL jobs as one JSON array, BR's `ReadDDLs` form. */
  async readDDLs(): Promise<Uint8Array> {
    if (this.meta.version === META_V1) return this.meta.ddls;
    const parts: Uint8Array[] = [];
    for await (const m of this.#walk(this.meta.ddlIndexes)) parts.push(...m.ddls());
    if (parts.length === 0) return this.meta.ddls;
    const size = parts.reduce((n, p) => n + p.length, 0) + parts.length + 1;
    const out = new Uint8Array(size);
    out[0] = 0x5b; // [
    let off = 1;
    for (const [i, p] of parts.entries()) {
      out.set(p, off);
      off += p.length;
      out[off++] = i === parts.length - 1 ? 0x5d : 0x2c; // ] or ,
    }
    return out;
  }

  /** The raw-KV ranges: inline ones (where BR writes them), then any in a raw range index. */
  async *rawRanges(): AsyncGenerator<RawRange> {
    yield* this.meta.rawRanges;
    for await (const m of this.#walk(this.meta.rawRangeIndex)) yield* m.rawRanges();
  }

  /**
   * Every schema with the data files of its table id and partition ids, as BR's
   * `ReadSchemasFiles`. Like BR it holds every data file's metadata in memory.
   */
  async *tables(): AsyncGenerator<BackupTable> {
    const byTable = new Map<bigint, File[]>();
    for await (const f of this.dataFiles()) {
      const id = decodeTableId(f.startKey);
      if (id === undefined) continue;
      const list = byTable.get(id);
      if (list) list.push(f);
      else byTable.set(id, [f]);
    }
    for await (const s of this.schemas()) {
      const files: File[] = [];
      if (s.table) {
        const ids = [s.table.id, ...(s.table.partition?.definitions ?? []).map((d) => d.id)];
        for (const id of ids) files.push(...(byTable.get(BigInt(id)) ?? []));
      }
      yield { ...s, files };
    }
  }

  /**
   * The leaf MetaFiles under `index`, in order: the index itself when it holds entries inline
   * (no `meta_files`), else each referenced metafile, verified, read ahead (`prefetch` of them
   * within `prefetchBytes`, counting the one being read).
   */
  async *#walk(index: MetaFile | undefined, depth = 0): AsyncGenerator<_Leaf> {
    if (!index) return;
    if (index.metaFiles.length === 0) {
      yield _inline(index);
      return;
    }
    if (depth > 2) {
      throw new BackupMetaError(
        "Corrupt",
        `the metafile index of the backup at ${this.#storage.uri()} nests deeper than BR ` +
          "writes; the backup metadata is damaged",
      );
    }
    const nodes = index.metaFiles;
    const pending: { file: Promise<_LazyMetaFile>; size: number }[] = [];
    let held = 0;
    let next = 0;
    const fill = () => {
      while (next < nodes.length && pending.length < this.#prefetch) {
        const size = Number(nodes[next]!.size);
        if (held > 0 && held + size > this.#prefetchBytes) break;
        const file = this.#load(nodes[next++]!);
        // Read-ahead failures surface when awaited; never as unhandled rejections.
        file.catch(() => {});
        pending.push({ file, size });
        held += size;
      }
    };
    fill();
    while (pending.length > 0) {
      const { file, size } = pending.shift()!;
      const child = await file;
      // The metafile before this one (16-128 MiB outside the heap) is garbage now; the keeper
      // looks at once rather than at its next tick, by which a quick pass may have read several.
      heapCheck(true);
      if (child.isIndex) {
        held -= size;
        fill();
        yield* this.#walk(child.decode(), depth + 1);
        continue;
      }
      fill();
      yield _lazy(child);
      held -= size;
      fill();
    }
  }

  /** Reads one metafile, decrypts it, and checks it against its index entry. */
  async #load(node: File): Promise<_LazyMetaFile> {
    const at = where(this.#storage, node.name);
    let data: Uint8Array;
    try {
      data = await this.#storage.readFile(node.name, { signal: this.#signal });
    } catch (err) {
      if (isStorageError(err, "NotFound")) {
        throw new BackupMetaError(
          "NotFound",
          `${at} is missing though backupmeta references it; the backup is incomplete or damaged`,
          err,
        );
      }
      throw err;
    }
    const encrypted = isEncrypting(this.#cipher);
    if (encrypted && node.cipherIv.length === 0 && data.length > 0) {
      throw new BackupMetaError(
        "Corrupt",
        `${at} was written without encryption, but a crypter key was given; run without it`,
      );
    }
    if (!encrypted && node.cipherIv.length > 0) {
      throw new BackupMetaError(
        "Corrupt",
        `${at} is encrypted; give the backup's crypter key (--crypter.key)`,
      );
    }
    const plain = encrypted && data.length > 0 ? decrypt(this.#cipher!, node.cipherIv, data) : data;
    const digest = sha256(plain);
    if (!equalBytes(digest, node.sha256)) {
      throw new BackupMetaError(
        "Corrupt",
        `${at} has sha256 ${hex(digest)} but backupmeta records ${hex(node.sha256)}: ` +
          (encrypted ? "the crypter key is wrong or the file is damaged" : "the file is damaged"),
      );
    }
    if (BigInt(plain.length) !== node.size) {
      throw new BackupMetaError(
        "Corrupt",
        `${at} holds ${plain.length} bytes but backupmeta records ${node.size}: the file is damaged`,
      );
    }
    const file = new _LazyMetaFile(plain, at);
    try {
      // The framing is checked whole here, so a file of another format fails before any of its
      // entries is used; each entry is decoded when read.
      file.checkFraming();
    } catch (err) {
      throw _notMetaFile(at, err);
    }
    return file;
  }
}
