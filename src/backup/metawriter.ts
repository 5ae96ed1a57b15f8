/**
 * Writes BR's backup metadata, BackupMeta V2, as BR's `metautil.MetaWriter` does, streaming:
 * data files, schemas and DDL jobs are appended as they arrive and go out in child metafiles
 * (`backupmeta.datafile.000000001`, `backupmeta.schema.000000002`, `backupmeta.ddl.000000003`;
 * one counter shared by all kinds), each a serialized `MetaFile` of at most `metafileSizeLimit`
 * plaintext bytes (16 MiB by default; BR's limit is 128 MiB). With a cipher, each is AES-CTR
 * encrypted under its own random IV. The index `MetaFile`s in `backupmeta` (`file_index`,
 * `schema_index`, `ddl_indexes`) reference them as `File{name, sha256 and size of the plaintext,
 * cipher_iv}`.
 *
 * `finish` writes `backupmeta` last (the proto bytes, or 16-byte IV ‖ AES-CTR(proto)), so a
 * storage without it is never taken for a finished backup; an aborted writer leaves only child
 * metafiles, which nothing references and a resumed run overwrites.
 *
 * Memory: each kind keeps at most one metafile's worth of encoded bytes, plus one index entry per
 * metafile written and one checksum per table id, whatever the number of files; a backup flushes
 * the data files (`flushDataFiles`) before its schemas, so the two buffers are not full at once.
 *
 * ```ts
 * import { MetaWriter } from "./metawriter.ts";
 * declare const storage: import("../storage/types.ts").ExternalStorage;
 * const w = new MetaWriter(storage);
 * await w.appendDataFiles(filesOfOneRange);
 * await w.appendSchema({ db: dbInfo, table: tableInfo, ...w.tableChecksum(BigInt(tableInfo.id)) });
 * await w.finish({ clusterId, clusterVersion, brVersion, startVersion: 0n, endVersion: backupTs });
 * ```
 * @module
 */
import { create, isMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
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
  type StatsFileIndex,
} from "../gen/brpb_pb.ts";
import type { APIVersion } from "../gen/kvrpcpb_pb.ts";
import {
  type CipherInfo,
  encrypt,
  isEncrypting,
  randomIv,
  validateCipher,
} from "../crypto/cipher.ts";
import { decodeTableId } from "../tidb/tablecodec.ts";
import { type DBInfo, type TableInfo, toJson } from "../tidb/model.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { log } from "../log.ts";
import { compareBytes } from "../codec/bytes.ts";
import {
  type BackupFile,
  ByteWriter,
  encodeFile,
  type FileSums,
  isPackedFile,
  PackedFile,
} from "./_packed_files.ts";
import { varintSize } from "../codec/varint.ts";
import { emptyChecksum, foldChecksum, type KvChecksum } from "../codec/crc64.ts";

/** Name of the root metadata file; its presence marks a finished backup. */
export const BACKUP_META_FILE = "backupmeta";
/** Name of the file BR writes at the start of a backup to claim the storage. */
export const BACKUP_LOCK_FILE = "backup.lock";
/** `BackupMeta.version` of the old layout: files and schemas inline. */
export const META_V1 = 0;
/** `BackupMeta.version` of the layout with child metafiles. */
export const META_V2 = 1;
/** BR's limit on one child metafile's plaintext size (128 MiB). */
export const METAFILE_SIZE_LIMIT = 128 * 1024 * 1024;
/**
 * tibr's limit (16 MiB): readers, BR's and tibr's, follow the index whatever the sizes, and a
 * metafile is held whole while it fills and is written, so BR's 128 MiB cost 128 to 200 MiB of
 * a backup of 100k tables (4 KiB of schema a table) for fewer files, at most a few dozen.
 */
export const DEFAULT_METAFILE_SIZE = 16 * 1024 * 1024;

/** The kinds of child metafile, as they appear in the file names. */
export type MetaKind = "datafile" | "schema" | "ddl";

/** The name of the `seq`-th child metafile (BR's `backupmeta.%s.%09d`). */
export function metafileName(kind: MetaKind, seq: number): string {
  return `backupmeta.${kind}.${String(seq).padStart(9, "0")}`;
}

/** BR's fast checksum of a table over its data files: the one checksum triple. */
export type TableChecksum = KvChecksum;

/** A schema to record: DBInfo/TableInfo as objects (JSON-encoded here) or as JSON bytes. */
export interface SchemaInput {
  db: DBInfo | Uint8Array;
  /** Absent for a database without tables. */
  table?: TableInfo | Uint8Array | null;
  crc64xor?: bigint;
  totalKvs?: bigint;
  totalBytes?: bigint;
  tiflashReplicas?: number;
  /** The table's statistics files (`Schema.stats_index`, see `stats.ts`). */
  statsIndex?: StatsFileIndex[];
}

/** The BackupMeta fields the caller knows; everything else the writer fills in. */
export interface BackupMetaFields {
  clusterId: bigint;
  clusterVersion: string;
  brVersion: string;
  /** 0 for a full backup; the last backup ts for an incremental one. */
  startVersion: bigint;
  /** The backup ts. */
  endVersion: bigint;
  apiVersion?: APIVersion;
  /** TiDB's `new_collations_enabled_on_first_bootstrap`, as BR writes it: "True" or "False". */
  newCollationsEnabled?: string;
  isRawKv?: boolean;
  isTxnKv?: boolean;
  /** Left at 0 (unset) unless the caller knows the value official BR expects. */
  backupSchemaVersion?: number;
}

/** Options of `MetaWriter`. */
export interface MetaWriterOptions {
  /** Encrypts metafiles and `backupmeta` (AES-CTR); PLAINTEXT or absent writes them plain. */
  cipher?: CipherInfo;
  /** Most plaintext bytes in one child metafile (default `DEFAULT_METAFILE_SIZE`). */
  metafileSizeLimit?: number;
  /** Name of the root file (default `backupmeta`). */
  metaFileName?: string;
  /** Cancels storage writes. */
  signal?: AbortSignal;
}

/** Options of `finish`. */
export interface FinishOptions {
  /**
   * Runs after every metafile is written and right before `backupmeta` is: the place for a
   * last check that this run still holds the checkpoint lock (fencing). Throwing stops the write.
   */
  beforeWrite?: () => void | Promise<void>;
}

/** What the writer has done so far. */
export interface MetaWriterStats {
  dataFiles: number;
  schemas: number;
  ddls: number;
  /** Child metafiles written. */
  metaFiles: number;
  /** Bytes of child metafiles as stored (ciphertext when encrypting). */
  metaFilesSize: number;
  /** Sum of the data files' `size`. */
  archiveSize: bigint;
  /** Encoded bytes waiting in buffers for their metafile. */
  bufferedBytes: number;
}

const ENCODER = new TextEncoder();
/** An entry buffer's first size, bytes (see `EntryBuffer`). */
const FIRST_BUFFER = 64 * 1024;
// Field numbers of MetaFile: data_files 2, schemas 3, ddls 5.
const FIELD: Record<MetaKind, number> = { datafile: 2, schema: 3, ddl: 5 };
const logger = () => log("backup");

/**
 * Encoded MetaFile entries of one kind in one buffer that doubles from 64 KiB up to the metafile
 * size limit, and `take` hands the bytes over without a copy. Not the limit at once: untouched
 * pages cost no RSS, but the runtimes count the whole buffer as external memory, and two 128 MiB
 * buffers (BR's limit) let JSC's heap hold some 250 MiB more garbage between collections.
 */
class EntryBuffer {
  #buf: Uint8Array | undefined;
  size = 0; // bytes used: the plaintext size of the metafile they will form
  items = 0;

  constructor(readonly kind: MetaKind, readonly capacity: number) {}

  /** The bytes `payload` will take as a length-delimited field. */
  static framedSize(payload: Uint8Array): number {
    return 1 + varintSize(payload.length) + payload.length;
  }

  add(payload: Uint8Array): void {
    const p = this.#frame(payload.length);
    this.#buf!.set(payload, p);
    this.size = p + payload.length;
    this.items++;
  }

  /** Adds a packed file's encoding, written straight into the buffer. */
  addPacked(file: PackedFile): void {
    const p = this.#frame(file.encodedLength());
    this.size = file.writeEncoded(this.#buf!, p);
    this.items++;
  }

  /** Makes room for an entry of `len` bytes and writes its tag and length; returns where its
   * bytes go. */
  #frame(len: number): number {
    const need = 1 + varintSize(len) + len;
    let buf = this.#buf;
    if (!buf || this.size + need > buf.length) {
      // Doubling up to the limit; only a single entry batch larger than the limit goes past it.
      const grown = Math.min(this.capacity, Math.max(FIRST_BUFFER, (buf?.length ?? 0) * 2));
      const next = new Uint8Array(Math.max(grown, this.size + need));
      if (buf) next.set(buf.subarray(0, this.size));
      this.#buf = buf = next;
    }
    let p = this.size;
    buf[p++] = (FIELD[this.kind] << 3) | 2;
    for (let n = len;; n = Math.floor(n / 128)) {
      if (n < 128) {
        buf[p++] = n;
        break;
      }
      buf[p++] = (n % 128) | 0x80;
    }
    return p;
  }

  /** The bytes as one serialized MetaFile, and an emptied buffer. */
  take(): Uint8Array {
    const out = this.#buf?.subarray(0, this.size) ?? new Uint8Array(0);
    this.#buf = undefined;
    this.size = 0;
    this.items = 0;
    return out;
  }
}

/** An encoded entry, or a packed file to encode straight into the metafile. */
type Entry = Uint8Array | PackedFile;

/** Whether two files cover the same key range (they belong to one region's response). */
function sameRange(a: BackupFile, b: BackupFile): boolean {
  if (isPackedFile(a) && isPackedFile(b)) return PackedFile.sameRange(a, b);
  return compareBytes(a.startKey, b.startKey) === 0 && compareBytes(a.endKey, b.endKey) === 0;
}

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** Sealed bytes and the IV used (empty when not encrypting), as BR's `metautil.Encrypt`. */
function seal(
  plain: Uint8Array,
  cipher: CipherInfo | undefined,
): { data: Uint8Array; iv: Uint8Array } {
  if (!isEncrypting(cipher) || plain.length === 0) return { data: plain, iv: new Uint8Array() };
  const iv = randomIv();
  return { data: encrypt(cipher!, iv, plain), iv };
}

/**
 * Adds a data file's checksum to the per-table sums: per `table_metas` entry when TiKV split a
 * file's statistics by table, else whole to the table its start key belongs to. Files outside
 * any table (raw KV) count for no table.
 */
export function addFileChecksum(sums: Map<bigint, TableChecksum>, file: BackupFile): void {
  if (file.tableMetas.length > 0) {
    for (const m of file.tableMetas) {
      addSums(sums, m.physicalId, m.crc64xor, m.totalKvs, m.totalBytes);
    }
    return;
  }
  const id = decodeTableId(file.startKey);
  if (id !== undefined) addSums(sums, id, file.crc64xor, file.totalKvs, file.totalBytes);
}

function addSums(
  sums: Map<bigint, TableChecksum>,
  id: bigint,
  crc: bigint,
  kvs: bigint,
  bytes: bigint,
): void {
  const part = { crc64xor: crc, totalKvs: kvs, totalBytes: bytes };
  const s = sums.get(id);
  if (s) foldChecksum(s, part);
  else sums.set(id, part);
}

/** Streams a backup's metadata into child metafiles and writes `backupmeta` last. */
export class MetaWriter {
  readonly #storage: ExternalStorage;
  readonly #cipher: CipherInfo | undefined;
  readonly #limit: number;
  readonly #name: string;
  readonly #signal: AbortSignal | undefined;
  readonly #buffers: Record<MetaKind, EntryBuffer>;
  /** Where a File that is not packed already gets encoded. */
  readonly #scratch = new ByteWriter(512);
  /** Reused for each packed file's sums. */
  readonly #sums: FileSums = {
    tableId: undefined,
    crc64xor: 0n,
    totalKvs: 0n,
    totalBytes: 0n,
    size: 0n,
    hasTableMetas: false,
  };
  readonly #indexes: Record<MetaKind, File[]> = { datafile: [], schema: [], ddl: [] };
  readonly #rawRanges: RawRange[] = [];
  readonly #checksums = new Map<bigint, TableChecksum>();
  #seq = 0;
  #counts: Record<MetaKind, number> = { datafile: 0, schema: 0, ddl: 0 };
  #metaFilesSize = 0;
  #archiveSize = 0n;
  #queue: Promise<void> = Promise.resolve();
  #state: "open" | "finishing" | "finished" | "aborted" = "open";
  #error: unknown;

  constructor(storage: ExternalStorage, opts: MetaWriterOptions = {}) {
    if (opts.cipher) validateCipher(opts.cipher);
    const limit = opts.metafileSizeLimit ?? DEFAULT_METAFILE_SIZE;
    if (!Number.isSafeInteger(limit) || limit <= 0) {
      throw new RangeError(`metafileSizeLimit must be a positive integer, got ${limit}`);
    }
    this.#storage = storage;
    this.#cipher = opts.cipher;
    this.#limit = limit;
    this.#name = opts.metaFileName ?? BACKUP_META_FILE;
    this.#signal = opts.signal;
    this.#buffers = {
      datafile: new EntryBuffer("datafile", limit),
      schema: new EntryBuffer("schema", limit),
      ddl: new EntryBuffer("ddl", limit),
    };
  }

  /**
   * Appends the data files of backed-up ranges, in order. Consecutive files of the same key
   * range (a region's write and default SSTs) stay together in one metafile, as BR keeps them;
   * a metafile may end between ranges. Their checksums go to `tableChecksum`. Files from the
   * range tree are written from the bytes they were packed into, without a message in between.
   */
  appendDataFiles(
    files: readonly (BackupFile | MessageInitShape<typeof FileSchema>)[],
  ): Promise<void> {
    return this.#run(async () => {
      // One region's files at a time; the array is reused, as #append is done with it.
      const group: Entry[] = [];
      let size = 0;
      let prev: File | PackedFile | undefined;
      for (const f of files) {
        // Packed views are encoded from their record; anything else becomes a message here.
        const file = isPackedFile(f) ? f : isMessage(f, FileSchema) ? f : create(FileSchema, f);
        if (prev && !sameRange(prev, file)) {
          await this.#append("datafile", group, size);
          group.length = 0;
          size = 0;
        }
        prev = file;
        let entry: Entry;
        let length: number;
        if (isPackedFile(file)) {
          length = file.encodedLength();
          entry = file;
          const sums = file.sums(this.#sums);
          if (sums.hasTableMetas) addFileChecksum(this.#checksums, file);
          else if (sums.tableId !== undefined) {
            addSums(this.#checksums, sums.tableId, sums.crc64xor, sums.totalKvs, sums.totalBytes);
          }
          this.#archiveSize += sums.size;
        } else {
          this.#scratch.reset();
          encodeFile(this.#scratch, file);
          entry = this.#scratch.view().slice();
          length = entry.length;
          addFileChecksum(this.#checksums, file);
          this.#archiveSize += file.size;
        }
        group.push(entry);
        size += 1 + varintSize(length) + length;
      }
      if (group.length > 0) await this.#append("datafile", group, size);
      this.#counts.datafile += files.length;
    });
  }

  /**
   * Writes the data files buffered so far out as a metafile now, once the data phase is over:
   * their buffer (up to a metafile's worth) is then not held beside the schemas'. The metafile
   * is the one `finish` would write, under the same sequence number when nothing else was
   * flushed in between.
   */
  flushDataFiles(): Promise<void> {
    return this.#run(() => this.#flush("datafile"));
  }

  /** Appends one table's (or an empty database's) schema. */
  appendSchema(schema: SchemaInput | Schema): Promise<void> {
    return this.#run(async () => {
      const msg = isMessage(schema, SchemaSchema) ? schema : create(SchemaSchema, {
        db: schema.db instanceof Uint8Array ? schema.db : toJson(schema.db),
        table: schema.table == null
          ? new Uint8Array()
          : schema.table instanceof Uint8Array
          ? schema.table
          : toJson(schema.table),
        crc64xor: schema.crc64xor ?? 0n,
        totalKvs: schema.totalKvs ?? 0n,
        totalBytes: schema.totalBytes ?? 0n,
        tiflashReplicas: schema.tiflashReplicas ?? 0,
        statsIndex: schema.statsIndex ?? [],
      });
      const bytes = toBinary(SchemaSchema, msg);
      await this.#append("schema", [bytes], EntryBuffer.framedSize(bytes));
      this.#counts.schema++;
    });
  }

  /** Appends one DDL job of an incremental backup (a TiDB `model.Job`, or its JSON bytes). */
  appendDDL(job: Uint8Array | object): Promise<void> {
    return this.#run(async () => {
      const bytes = job instanceof Uint8Array ? job : toJson(job);
      await this.#append("ddl", [bytes], EntryBuffer.framedSize(bytes));
      this.#counts.ddl++;
    });
  }

  /**
   * Records a raw-KV range. These go inline in `BackupMeta.raw_ranges`, not in a metafile:
   * that is the only place official BR's raw restore looks for them (and a backup has few).
   */
  appendRawRange(range: RawRange | MessageInitShape<typeof RawRangeSchema>): void {
    this.#check();
    this.#rawRanges.push(isMessage(range, RawRangeSchema) ? range : create(RawRangeSchema, range));
  }

  /** The fast checksum of one physical table (or partition) id's files so far. */
  tableChecksum(...physicalIds: bigint[]): TableChecksum {
    const out = emptyChecksum();
    for (const id of physicalIds) {
      const s = this.#checksums.get(id);
      if (s) foldChecksum(out, s);
    }
    return out;
  }

  /** The fast checksums of every physical table id seen in the data files so far. */
  tableChecksums(): ReadonlyMap<bigint, Readonly<TableChecksum>> {
    return this.#checksums;
  }

  /** Counters and sizes so far. */
  get stats(): MetaWriterStats {
    const b = this.#buffers;
    return {
      dataFiles: this.#counts.datafile,
      schemas: this.#counts.schema,
      ddls: this.#counts.ddl,
      metaFiles: this.#seq,
      metaFilesSize: this.#metaFilesSize,
      archiveSize: this.#archiveSize,
      bufferedBytes: b.datafile.size + b.schema.size + b.ddl.size,
    };
  }

  /**
   * Flushes what is buffered, then writes `backupmeta` (version V2) with `fields`, the indexes,
   * raw ranges and `backup_size` (metafiles + data files + backupmeta itself, as BR counts it).
   * Returns the BackupMeta written. After a failure nothing named `backupmeta` exists.
   */
  finish(fields: BackupMetaFields, opts: FinishOptions = {}): Promise<BackupMeta> {
    const result = this.#run(async () => {
      this.#state = "finishing";
      for (const kind of ["datafile", "schema", "ddl"] as const) await this.#flush(kind);
      const index = (kind: MetaKind): MetaFile | undefined =>
        this.#indexes[kind].length > 0
          ? create(MetaFileSchema, { metaFiles: this.#indexes[kind] })
          : undefined;
      const meta = create(BackupMetaSchema, {
        clusterId: fields.clusterId,
        clusterVersion: fields.clusterVersion,
        brVersion: fields.brVersion,
        version: META_V2,
        startVersion: fields.startVersion,
        endVersion: fields.endVersion,
        fileIndex: index("datafile"),
        schemaIndex: index("schema"),
        ddlIndexes: index("ddl"),
        isRawKv: fields.isRawKv ?? false,
        isTxnKv: fields.isTxnKv ?? false,
        rawRanges: this.#rawRanges,
        // BR keeps the V1 field an empty JSON array so old readers find valid JSON.
        ddls: ENCODER.encode("[]"),
        apiVersion: fields.apiVersion,
        newCollationsEnabled: fields.newCollationsEnabled ?? "",
        backupSchemaVersion: fields.backupSchemaVersion ?? 0,
      });
      meta.backupSize = BigInt(this.#metaFilesSize) + this.#archiveSize +
        BigInt(toBinary(BackupMetaSchema, meta).length);
      const plain = toBinary(BackupMetaSchema, meta);
      const { data, iv } = seal(plain, this.#cipher);
      const bytes = iv.length > 0 ? concat(iv, data) : data;
      await opts.beforeWrite?.();
      await this.#storage.writeFile(this.#name, bytes, { signal: this.#signal });
      this.#state = "finished";
      logger().info("wrote {name}", {
        name: this.#name,
        size: bytes.length,
        metaFiles: this.#seq,
        dataFiles: this.#counts.datafile,
        schemas: this.#counts.schema,
        ddls: this.#counts.ddl,
        backupSize: Number(meta.backupSize),
      });
      return meta;
    });
    return result;
  }

  /**
   * Gives up: buffered entries are dropped, later calls fail, and `backupmeta` is never written.
   * Child metafiles already written stay (nothing references them). Idempotent.
   */
  abort(): void {
    if (this.#state === "finished") return;
    this.#state = "aborted";
    for (const b of Object.values(this.#buffers)) b.take();
  }

  #check(): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#state === "aborted") {
      throw new Error("the backup metadata writer was aborted; start the backup again");
    }
    if (this.#state !== "open") {
      throw new Error("the backup metadata is already finished; nothing more can be added");
    }
  }

  /** Runs `op` after every earlier call, so concurrent callers keep their order. */
  #run<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(async () => {
      this.#check();
      try {
        return await op();
      } catch (err) {
        // The first failure sticks: later calls report it instead of writing more.
        this.#error ??= err;
        if (this.#state === "finishing") this.#state = "open";
        throw err;
      }
    });
    this.#queue = next.then(() => undefined, () => undefined);
    return next;
  }

  async #append(kind: MetaKind, entries: Entry[], size: number): Promise<void> {
    const buf = this.#buffers[kind];
    if (buf.items > 0 && buf.size + size > this.#limit) await this.#flush(kind);
    if (size > this.#limit) {
      logger().warn("one {kind} entry batch of {size} bytes exceeds the metafile limit {limit}", {
        kind,
        size,
        limit: this.#limit,
      });
    }
    for (const e of entries) {
      if (e instanceof Uint8Array) buf.add(e);
      else buf.addPacked(e);
    }
    if (buf.size >= this.#limit) await this.#flush(kind);
  }

  async #flush(kind: MetaKind): Promise<void> {
    const buf = this.#buffers[kind];
    if (buf.items === 0) return;
    const items = buf.items;
    const plain = buf.take();
    const { data, iv } = seal(plain, this.#cipher);
    const name = metafileName(kind, ++this.#seq);
    await this.#storage.writeFile(name, data, { signal: this.#signal });
    this.#indexes[kind].push(create(FileSchema, {
      name,
      sha256: sha256(plain),
      size: BigInt(plain.length),
      cipherIv: iv,
    }));
    this.#metaFilesSize += data.length;
    logger().debug("wrote metafile {name}", { name, items, size: data.length });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
