/**
 * Re-encoding the data of tables whose column IDs the restored copy does not keep. Row format v2
 * (and v1) and the restored data in index values name columns by ID; a table created from SQL
 * numbers its columns 1..n, so a backed-up table with a history (a dropped column, a column added
 * FIRST or AFTER) would have every row misread if its files were ingested as they are. Like TiDB
 * Lightning, tibr decodes each row, encodes it again with the new IDs, writes the result as
 * backup-shaped SST files (write CF with short values inline, default CF for long ones) to a
 * temporary prefix of a writable storage, and ingests those through the same Download and
 * MultiIngest path. Keys keep their old table and index IDs, so the rewrite rules apply as to
 * any backup file.
 *
 * Rows keep their values: columns the table no longer has are left out, and columns an old row
 * lacks get the value TiDB read for them before the restore (the backup's origin default),
 * written explicitly, since the created table's origin defaults are not the backup's.
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import { compareBytes, hex } from "../codec/bytes.ts";
import {
  ChecksumAccumulator,
  emptyChecksum,
  foldChecksum,
  type KvChecksum,
} from "../codec/crc64.ts";
import { dataKey, encodeWriteValue, SHORT_VALUE_MAX_LEN } from "../codec/tikv.ts";
import { type CipherInfo, EncryptionMethod } from "../crypto/cipher.ts";
import { type File, FileSchema } from "../gen/brpb_pb.ts";
import { Pool } from "../pool.ts";
import { decodeBackupFile, openBackupSst } from "../sst/backup.ts";
import type { SstReader } from "../sst/reader.ts";
import { SstWriter } from "../sst/writer.ts";
import { isStorageError } from "../storage/errors.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { type Datum, packTime } from "../tidb/datum.ts";
import type { ColumnInfo, TableInfo } from "../tidb/model.ts";
import { RowDecoder, storedColumns, valueClass } from "../tidb/row_decode.ts";
import { decodeRow, encodeColumnValue, encodeRow, ROW_CODEC_VERSION } from "../tidb/rowcodec.ts";
import {
  COMMON_HANDLE_FLAG,
  INDEX_VERSION_FLAG,
  isIndexKey,
  isRecordKey,
  PARTITION_ID_FLAG,
} from "../tidb/tablecodec.ts";
import { ColumnFlag, MysqlType } from "../tidb/types.ts";
import { type SelectedTable, tableName } from "./plan.ts";
import { columnIdChanges, predictedColumnIdChanges } from "./rewrite.ts";

/** Re-encoding failed: the data does not decode as the backup's schema says. */
export class ReencodeError extends Error {
  override name = "ReencodeError";
}

/** Old column ID → new column ID, by column name (case-insensitive, as TiDB matches names). */
export function columnIdMap(oldTable: TableInfo, newTable: TableInfo): Map<number, number> {
  const byName = new Map(newTable.cols.map((c) => [c.name.L || c.name.O.toLowerCase(), c.id]));
  const out = new Map<number, number>();
  for (const c of oldTable.cols) {
    const id = byName.get(c.name.L || c.name.O.toLowerCase());
    if (id !== undefined) out.set(c.id, id);
  }
  return out;
}

const utf8d = new TextDecoder();

/**
 * The datum to store for a column an old row lacks. The row decoder keeps origin defaults as
 * text (it converts when showing them); stored, they must have the column's own encoding.
 */
function _storedDefault(c: ColumnInfo, d: Datum, table: string): Datum {
  if (d.kind === "bytes" && c.type.Tp === MysqlType.Bit) {
    // BIT is stored as an unsigned integer; its origin default comes as big-endian bytes.
    let v = 0n;
    for (const b of d.value) v = (v << 8n) | BigInt(b);
    return { kind: "uint", value: v };
  }
  if (d.kind !== "string") return d;
  const text = utf8d.decode(d.value);
  const cls = valueClass(c.type);
  const bad = () =>
    new ReencodeError(
      `the origin default ${JSON.stringify(text)} of column ${c.name.O} of table ${table} ` +
        "cannot be re-encoded",
    );
  switch (cls) {
    case "int":
    case "year":
      if (!/^[-+]?\d+$/.test(text.trim())) throw bad();
      return { kind: "int", value: BigInt(text.trim()) };
    case "uint":
      if (!/^\+?\d+$/.test(text.trim())) throw bad();
      return { kind: "uint", value: BigInt(text.trim()) };
    case "enum": {
      const i = (c.type.Elems ?? []).findIndex((e) => e.toLowerCase() === text.toLowerCase());
      if (i < 0) throw bad();
      return { kind: "uint", value: BigInt(i + 1) };
    }
    case "set": {
      const elems = (c.type.Elems ?? []).map((e) => e.toLowerCase());
      let v = 0n;
      for (const part of text === "" ? [] : text.split(",")) {
        const i = elems.indexOf(part.toLowerCase());
        if (i < 0) throw bad();
        v |= 1n << BigInt(i);
      }
      return { kind: "uint", value: v };
    }
    case "date":
    case "datetime":
    case "timestamp": {
      const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?$/.exec(
        text.trim(),
      );
      if (!m) throw bad();
      return {
        kind: "time",
        value: packTime({
          year: +m[1]!,
          month: +m[2]!,
          day: +m[3]!,
          hour: +(m[4] ?? 0),
          minute: +(m[5] ?? 0),
          second: +(m[6] ?? 0),
          microsecond: +((m[7] ?? "").padEnd(6, "0")),
        }),
      };
    }
    case "duration": {
      const m = /^(-)?(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(text.trim());
      if (!m) throw bad();
      const us = ((BigInt(m[2]!) * 60n + BigInt(m[3]!)) * 60n + BigInt(m[4]!)) * 1_000_000n +
        BigInt((m[5] ?? "").padEnd(6, "0"));
      return { kind: "duration", value: (m[1] ? -us : us) * 1000n };
    }
    case "string":
    case "binary":
      return d;
    default:
      throw bad();
  }
}

/** One v2 column as raw value bytes (null for NULL). */
interface _RawColumn {
  id: number;
  bytes: Uint8Array | null;
}

/** Row format v2 from raw column value bytes (the layout `encodeRow` writes from datums). */
function _encodeRawRow(columns: _RawColumn[]): Uint8Array {
  const notNull = columns.filter((c) => c.bytes !== null).sort((a, b) => a.id - b.id);
  const nulls = columns.filter((c) => c.bytes === null).sort((a, b) => a.id - b.id);
  let dataLen = 0;
  let maxId = 0;
  for (const c of columns) if (c.id > maxId) maxId = c.id;
  for (const c of notNull) dataLen += c.bytes!.length;
  const large = maxId > 255 || dataLen > 0xffff;
  const idWidth = large ? 4 : 1;
  const offWidth = large ? 4 : 2;
  const out = new Uint8Array(
    6 + (notNull.length + nulls.length) * idWidth + notNull.length * offWidth + dataLen,
  );
  const dv = new DataView(out.buffer);
  out[0] = ROW_CODEC_VERSION;
  out[1] = large ? 1 : 0;
  dv.setUint16(2, notNull.length, true);
  dv.setUint16(4, nulls.length, true);
  let p = 6;
  for (const c of [...notNull, ...nulls]) {
    if (large) dv.setUint32(p, c.id, true);
    else out[p] = c.id;
    p += idWidth;
  }
  let end = 0;
  for (const c of notNull) {
    end += c.bytes!.length;
    if (large) dv.setUint32(p, end, true);
    else dv.setUint16(p, end, true);
    p += offWidth;
  }
  for (const c of notNull) {
    out.set(c.bytes!, p);
    p += c.bytes!.length;
  }
  return out;
}

/** Re-encodes record and index values of one table from its backup IDs to its new IDs. */
export class ValueReencoder {
  readonly #ids: Map<number, number>;
  readonly #decoder: RowDecoder;
  /** Stored columns of the backup's table whose values a record holds (not the int handle). */
  readonly #valueCols: { oldId: number; newId: number; info: ColumnInfo }[];
  readonly #table: string;

  constructor(oldTable: TableInfo, newTable: TableInfo) {
    this.#table = oldTable.name.O;
    this.#ids = columnIdMap(oldTable, newTable);
    this.#decoder = new RowDecoder(oldTable);
    this.#valueCols = storedColumns(oldTable)
      .filter((c) => !(oldTable.pk_is_handle && (c.type.Flag & ColumnFlag.PriKey) !== 0))
      .map((c) => {
        const newId = this.#ids.get(c.id);
        if (newId === undefined) {
          throw new ReencodeError(
            `column ${c.name.O} of table ${oldTable.name.O} is not in the restored table`,
          );
        }
        return { oldId: c.id, newId, info: c };
      });
  }

  /**
   * A record value with the new column IDs: every column of the backup's schema, from the row
   * when it holds the column, else the origin default TiDB read for it (written explicitly).
   */
  record(key: Uint8Array, value: Uint8Array): Uint8Array {
    try {
      if (value.length > 0 && value[0] === ROW_CODEC_VERSION) {
        const row = decodeRow(value);
        let datums: Map<number, Datum> | undefined;
        const cols: _RawColumn[] = [];
        for (const c of this.#valueCols) {
          if (row.has(c.oldId)) {
            cols.push({ id: c.newId, bytes: row.get(c.oldId)! });
            continue;
          }
          datums ??= this.#decoder.datums(key, value);
          const d = datums.get(c.oldId);
          cols.push({
            id: c.newId,
            bytes: d === undefined || d.kind === "null"
              ? null
              : encodeColumnValue(_storedDefault(c.info, d, this.#table)),
          });
        }
        return _encodeRawRow(cols);
      }
      // Row format v1 (datum-encoded pairs): through the decoder's datums.
      const datums = this.#decoder.datums(key, value);
      return encodeRow(
        this.#valueCols.map((c) => ({
          id: c.newId,
          datum: _storedDefault(c.info, datums.get(c.oldId) ?? { kind: "null" }, this.#table),
        })),
      );
    } catch (err) {
      if (err instanceof ReencodeError) throw err;
      throw new ReencodeError(
        `cannot re-encode the row ${hex(key)} of table ${this.#table}: ${(err as Error).message}`,
      );
    }
  }

  /**
   * An index value with the new column IDs: only values carrying restored data (a v2 row of the
   * index columns, TiDB's new-collation and clustered-table layouts) change; the handle, the
   * partition ID and the tail are kept.
   */
  index(key: Uint8Array, value: Uint8Array): Uint8Array {
    // TiDB's old layout (an 8-byte handle or "0") is at most 9 bytes and names no column.
    if (value.length <= 9) return value;
    const tailLen = value[0]!;
    const end = value.length - tailLen;
    let p = 1;
    if (value[p] === INDEX_VERSION_FLAG) p += 2;
    if (p < end && value[p] === COMMON_HANDLE_FLAG) p += 3 + ((value[p + 1]! << 8) | value[p + 2]!);
    if (p < end && value[p] === PARTITION_ID_FLAG) p += 9;
    if (p >= end || value[p] !== ROW_CODEC_VERSION) return value;
    let restored;
    try {
      restored = decodeRow(value.subarray(p, end));
    } catch (err) {
      throw new ReencodeError(
        `cannot re-encode the index value of ${hex(key)} of table ${this.#table}: ` +
          (err as Error).message,
      );
    }
    const cols: _RawColumn[] = [];
    for (const [id, bytes] of restored) {
      const newId = this.#ids.get(id);
      if (newId === undefined) {
        throw new ReencodeError(
          `the index value of ${hex(key)} of table ${this.#table} names column ID ${id}, ` +
            "which the backup's schema does not have",
        );
      }
      cols.push({ id: newId, bytes });
    }
    const row = _encodeRawRow(cols);
    const out = new Uint8Array(p + row.length + tailLen);
    out.set(value.subarray(0, p), 0);
    out.set(row, p);
    out.set(value.subarray(end), p + row.length);
    return out;
  }

  /** The value of any key of the table: records and index entries re-encoded, others kept. */
  value(key: Uint8Array, value: Uint8Array): Uint8Array {
    if (isRecordKey(key)) return this.record(key, value);
    if (isIndexKey(key)) return this.index(key, value);
    return value;
  }
}

/** What re-encoding one table gave. */
export interface ReencodedTable {
  /** The new files (keys under the backup's IDs, values with the new column IDs). */
  files: File[];
  /** The checksum of the re-encoded KVs, as the backup's would be for them. */
  checksum: KvChecksum;
}

/** Options of `reencodeTable`. */
export interface ReencodeOptions {
  /** Where the backup files are. */
  source: ExternalStorage;
  /** Where the re-encoded files go (writable; `prefix` is removed by `removeReencoded`). */
  target: ExternalStorage;
  prefix: string;
  cipher?: CipherInfo | undefined;
  oldTable: TableInfo;
  newTable: TableInfo;
  files: File[];
  /** Files re-encoded at once. */
  concurrency?: number;
  signal?: AbortSignal | undefined;
}

/** Groups backup files into their write/default pairs (same range). */
function _pairs(files: File[]): { write?: File; default?: File }[] {
  const byRange = new Map<string, { write?: File; default?: File }>();
  for (const f of files) {
    const k = `${hex(f.startKey)}-${hex(f.endKey)}`;
    let p = byRange.get(k);
    if (!p) byRange.set(k, p = {});
    if (f.cf === "default") p.default = f;
    else p.write = f;
  }
  return [...byRange.values()];
}

interface _Out {
  writer: SstWriter;
  acc: ChecksumAccumulator;
  name: string;
  iv: Uint8Array | undefined;
}

/**
 * Re-encodes one table's backup files into new backup-shaped files under `prefix` in `target`.
 * Each write/default pair gives a new pair over the same range, so merging and splitting work
 * as for the original files.
 */
export async function reencodeTable(o: ReencodeOptions): Promise<ReencodedTable> {
  const coder = new ValueReencoder(o.oldTable, o.newTable);
  const encrypt = o.cipher && o.cipher.method !== EncryptionMethod.PLAINTEXT ? o.cipher : undefined;
  const checksum = emptyChecksum();
  const out: File[][] = [];
  const pairs = _pairs(o.files);
  const pool = new Pool({
    concurrency: o.concurrency ?? 4,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  await pool.forEach(pairs, async (pair, n) => {
    const files = await _reencodePair(o, coder, encrypt, pair, n);
    out[n] = files.files;
    foldChecksum(checksum, files.checksum);
  });
  return { files: out.flat(), checksum };
}

async function _reencodePair(
  o: ReencodeOptions,
  coder: ValueReencoder,
  encrypt: CipherInfo | undefined,
  pair: { write?: File; default?: File },
  n: number,
): Promise<ReencodedTable> {
  const model = pair.write ?? pair.default!;
  const open = (f: File) =>
    openBackupSst(o.source, { name: f.name, size: Number(f.size), cipherIv: f.cipherIv }, o.cipher);
  const readers: SstReader[] = [];
  const made: _Out[] = [];
  const start = async (cf: "write" | "default"): Promise<_Out> => {
    const name = `${o.prefix}/${o.oldTable.id}_${n}_${cf}.sst`;
    const iv = encrypt ? new Uint8Array(randomBytes(16)) : undefined;
    const sink = await o.target.create(name, o.signal ? { signal: o.signal } : {});
    const writer = new SstWriter(sink, {
      compression: "zstd",
      columnFamily: cf === "write" ? { name: "write", id: 2 } : { name: "default", id: 0 },
      name,
      ...(encrypt && iv ? { cipher: { info: encrypt, iv } } : {}),
    });
    const w = { writer, acc: new ChecksumAccumulator(), name, iv };
    made.push(w);
    return w;
  };
  let write: _Out | undefined;
  let dflt: _Out | undefined;
  // Default-CF keys of one user key, written newest start ts first once the key is done.
  let pending: { raw: Uint8Array; entries: { ts: bigint; value: Uint8Array }[] } | undefined;
  const flushPending = async () => {
    if (!pending) return;
    pending.entries.sort((a, b) => (a.ts > b.ts ? -1 : a.ts < b.ts ? 1 : 0));
    dflt ??= await start("default");
    for (const e of pending.entries) await dflt.writer.add(dataKey(pending.raw, e.ts), e.value);
    pending = undefined;
  };
  try {
    if (!pair.write) {
      throw new ReencodeError(
        `the backup file ${model.name} (default CF) has no write-CF file over the same range`,
      );
    }
    const w = await open(pair.write);
    readers.push(w);
    const d = pair.default ? await open(pair.default) : undefined;
    if (d) readers.push(d);
    for await (const kv of decodeBackupFile({ write: w, ...(d ? { default: d } : {}) })) {
      o.signal?.throwIfAborted();
      const value = kv.type === "put" ? coder.value(kv.rawKey, kv.value) : kv.value;
      const long = kv.type === "put" && value.length > SHORT_VALUE_MAX_LEN;
      write ??= await start("write");
      await write.writer.add(
        dataKey(kv.rawKey, kv.commitTs),
        encodeWriteValue({
          type: kv.type,
          startTs: kv.startTs,
          ...(kv.type === "put" && !long ? { shortValue: value } : {}),
        }),
      );
      if (long) {
        if (pending && compareBytes(pending.raw, kv.rawKey) !== 0) await flushPending();
        pending ??= { raw: kv.rawKey, entries: [] };
        pending.entries.push({ ts: kv.startTs, value });
      }
      (long ? (dflt ??= await start("default")) : write).acc.add(kv.rawKey, value);
    }
    await flushPending();
    const files: File[] = [];
    const checksum = emptyChecksum();
    for (const m of made) {
      const res = await m.writer.finish();
      const sum = m.acc.checksum();
      foldChecksum(checksum, sum);
      files.push(create(FileSchema, {
        name: m.name,
        sha256: res.sha256,
        startKey: model.startKey,
        endKey: model.endKey,
        startVersion: model.startVersion,
        endVersion: model.endVersion,
        crc64xor: sum.crc64xor,
        totalKvs: sum.totalKvs,
        totalBytes: sum.totalBytes,
        cf: m.name.endsWith("_write.sst") ? "write" : "default",
        size: BigInt(res.size),
        ...(m.iv ? { cipherIv: m.iv } : {}),
      }));
    }
    return { files, checksum };
  } catch (err) {
    for (const m of made) await m.writer.abort?.(err).catch(() => {});
    throw err;
  } finally {
    for (const r of readers) await r.close();
  }
}

/** Removes the re-encoded files under `prefix` (after the restore has ingested them). */
export async function removeReencoded(
  target: ExternalStorage,
  prefix: string,
  signal?: AbortSignal,
): Promise<void> {
  const names: string[] = [];
  await target.walkDir({ subDir: prefix, ...(signal ? { signal } : {}) }, (name) => {
    names.push(name);
  });
  if (names.length > 0) await target.deleteFiles(names, signal ? { signal } : {});
}

/**
 * Where no checkpoint storage was written to, the re-encoded files of the tables that will need
 * them go to the backup storage: one small write (then deleted) proves it takes them before any
 * table is created, so a read-only one is refused while the cluster is still untouched. Returns
 * the one-line reason, or undefined when nothing needs re-encoding or the write worked.
 */
export async function reencodeTargetRefusal(
  tables: readonly SelectedTable[],
  backup: ExternalStorage,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const first = tables.find((t) =>
    t.fileCount > 0 && (t.renumbered ?? predictedColumnIdChanges(t.table).length > 0)
  );
  if (!first) return undefined;
  const probe = `checkpoints/reencode-probe-${hex(randomBytes(8))}`;
  try {
    await backup.writeFile(probe, new Uint8Array(0), signal ? { signal } : {});
  } catch (err) {
    if (!isStorageError(err, "PermissionDenied")) throw err;
    return `the rows of ${tableName(first)} must be re-encoded (its columns get other IDs when ` +
      `created), but the backup storage ${backup.uri()} is read-only: give a writable ` +
      "--checkpoint-storage URL for the re-encoded files";
  }
  await backup.deleteFile(probe, signal ? { signal } : {}).catch(() => {});
  return undefined;
}

/** A created table: the backup's selection and the TableInfo TiDB gave it. */
export interface CreatedTable {
  sel: SelectedTable;
  info: TableInfo;
}

/** What `reencodeChangedTables` did. */
export interface ReencodeRun {
  /** The selections of re-encoded tables, pointing at the new files and their checksums. */
  replaced: Map<SelectedTable, SelectedTable>;
  /** `db.table (col: old -> new, ...)` of every re-encoded table, for the summary. */
  tables: string[];
  /** Where the new files are (the backup storage, or the checkpoint storage). */
  target: ExternalStorage;
  /** Removes the new files (and closes `target` when it was opened here). */
  cleanup(): Promise<void>;
}

/** Options of `reencodeChangedTables`. */
export interface ReencodeRunOptions {
  backup: ExternalStorage;
  /** A storage of its own (`--checkpoint-storage`); default: the backup storage. */
  openTarget?: (() => Promise<ExternalStorage>) | undefined;
  /** The restore ts: it names the temporary prefix, so a resumed run writes the same names. */
  restoreTs: bigint;
  cipher?: CipherInfo | undefined;
  /** Hold the re-encoded KV count against the backup's (default true). */
  checkKvs?: boolean;
  signal?: AbortSignal | undefined;
  /** Called once with the number of tables to re-encode (when any); `tick` after each. */
  progress?: (tables: number) => { tick(): void };
}

/**
 * Re-encodes the tables whose created copy has other column IDs than the backup's. Tables
 * without data, or whose IDs match, are left as they are (`replaced` lacks them).
 */
export async function reencodeChangedTables(
  created: CreatedTable[],
  o: ReencodeRunOptions,
): Promise<ReencodeRun> {
  const todo = created
    .map((c) => ({ ...c, changes: columnIdChanges(c.sel.table, c.info) }))
    .filter((c) => c.changes.length > 0 && c.sel.fileCount > 0);
  const replaced = new Map<SelectedTable, SelectedTable>();
  const tables = todo.map((c) =>
    `${tableName(c.sel)} (${
      c.changes.map((x) => `${x.name}: ${x.oldId} -> ${x.newId}`).join(", ")
    })`
  );
  if (todo.length === 0) {
    return { replaced, tables, target: o.backup, cleanup: () => Promise.resolve() };
  }
  const own = o.openTarget !== undefined;
  const target = own ? await o.openTarget!() : o.backup;
  const prefix = own ? `reencode-${o.restoreTs}` : `checkpoints/reencode-${o.restoreTs}`;
  const cleanup = async () => {
    try {
      await removeReencoded(target, prefix, o.signal);
    } finally {
      if (own) await target.close();
    }
  };
  const bar = o.progress?.(todo.length);
  try {
    for (const c of todo) {
      let res: ReencodedTable;
      try {
        res = await reencodeTable({
          source: o.backup,
          target,
          prefix,
          cipher: o.cipher,
          oldTable: c.sel.table,
          newTable: c.info,
          files: c.sel.files ?? [],
          signal: o.signal,
        });
      } catch (err) {
        if (err instanceof ReencodeError || o.signal?.aborted) throw err;
        const e = err as Error;
        if (e.name === "SstError") throw err;
        throw new ReencodeError(
          `cannot write the re-encoded files of ${tableName(c.sel)} to ${target.uri()} ` +
            `(${e.message.split("\n")[0]}); a read-only backup storage needs a writable ` +
            "--checkpoint-storage URL",
        );
      }
      if (
        o.checkKvs !== false && c.sel.totalKvs !== 0n && res.checksum.totalKvs !== c.sel.totalKvs
      ) {
        throw new ReencodeError(
          `re-encoding ${tableName(c.sel)} gave ${res.checksum.totalKvs} KVs, but the backup ` +
            `records ${c.sel.totalKvs}: the backup files do not match its metadata`,
        );
      }
      // The backup's checksum covers the old values; the restored table is compared with
      // the one of the re-encoded KVs (a table backed up without checksums stays without).
      const noSum = c.sel.crc64xor === 0n && c.sel.totalKvs === 0n && c.sel.totalBytes === 0n;
      replaced.set(c.sel, {
        ...c.sel,
        files: res.files,
        fileCount: res.files.length,
        ...(noSum ? {} : {
          crc64xor: res.checksum.crc64xor,
          totalKvs: res.checksum.totalKvs,
          totalBytes: res.checksum.totalBytes,
        }),
      });
      bar?.tick();
    }
  } catch (err) {
    await cleanup().catch(() => {});
    throw err;
  }
  return { replaced, tables, target, cleanup };
}
