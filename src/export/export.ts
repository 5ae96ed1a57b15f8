/**
 * `tibr export`: the rows of backed-up tables, read from the backup's files alone (no cluster),
 * written in Dumpling's layout to any storage:
 *
 * - `{db}-schema-create.sql`, `{db}.{table}-schema.sql` (SHOW CREATE text from
 *   src/tidb/show_create.ts; `-schema-view.sql` / `-schema-sequence.sql` for views and
 *   sequences);
 * - `{db}.{table}.{NNNNNNNNN}.sql|csv` data files, a new one past `fileSize` bytes;
 * - `metadata` naming the backup ts, written last: its presence means the export finished.
 *
 * Rows are streamed in key order, one backup file pair at a time per physical table
 * (partitions one after the other into the same files), keeping for each key the newest
 * commit record at or below the backup ts: a Put gives the row, a Delete hides it, Lock and
 * Rollback records are passed over. Every file is written through the storage's streaming
 * writer, so it appears whole when closed or not at all.
 * @module
 */
import { MetaReader } from "../backup/metareader.ts";
import { createProgress, formatBytes } from "../backup/progress.ts";
import { compareBytes } from "../codec/bytes.ts";
import type { CipherInfo } from "../crypto/cipher.ts";
import {
  allFilter,
  isSkippedByBackup,
  parseFilter,
  schemasFilter,
  SYSTEM_SCHEMA,
  type TableFilter,
  tablesFilter,
} from "../filter/mod.ts";
import type { File } from "../gen/brpb_pb.ts";
import { decodeBackupFile, openBackupSst } from "../sst/backup.ts";
import { openStorage } from "../storage/registry.ts";
import type { ExternalStorage, StorageWriter } from "../storage/types.ts";
import type { DBInfo, TableInfo } from "../tidb/model.ts";
import { physicalTableIds } from "../tidb/model.ts";
import { RowDecoder, type SqlValue, valueClass } from "../tidb/row_decode.ts";
import { recordRange } from "../tidb/tablecodec.ts";
import { showCreateDatabase, showCreateTable } from "../tidb/show_create.ts";
import { SnapshotFilter } from "./records.ts";
import {
  type ColumnKind,
  columnKind,
  CsvEncoder,
  type CsvOptions,
  DEFAULT_CSV,
  OutBuffer,
  quoteIdent,
  writeSqlValue,
} from "./format.ts";

/** A configuration error of an export (exit code 2 at the CLI). */
export class ExportConfigError extends Error {
  override name = "ExportConfigError";
}

/** What to export and how. */
export interface ExportConfig {
  /** The backup's storage location. */
  storage: string;
  storageFlags?: Record<string, string>;
  storagePlugins?: string[];
  /** The backup's crypter, when it was encrypted. */
  cipher?: CipherInfo;
  /** Where to write (a storage location). */
  output: string;
  format?: "sql" | "csv";
  db?: string;
  table?: string;
  filter?: string[];
  caseSensitive?: boolean;
  /** Start a new data file past this many bytes (default 256 MiB). */
  fileSize?: number;
  /** Start a new INSERT statement past this many bytes (default 1,000,000 as Dumpling). */
  statementSize?: number;
  csv?: Partial<CsvOptions>;
  /** Zone TIMESTAMP values are written in (default UTC). */
  tz?: string;
  progress?: "auto" | "bar" | "lines" | "quiet";
  signal?: AbortSignal;
}

/** One exported table. */
export interface TableExportSummary {
  db: string;
  table: string;
  rows: number;
  bytes: number;
  files: string[];
}

/** What an export wrote. */
export interface ExportSummary {
  backupTs: string;
  format: "sql" | "csv";
  output: string;
  tables: TableExportSummary[];
  rows: number;
  bytes: number;
  files: number;
  seconds: number;
}

const DEFAULT_FILE_SIZE = 256 * 1024 * 1024;
const DEFAULT_STATEMENT_SIZE = 1_000_000;
const FLUSH_AT = 1 << 20;

/** Runs an export; throws one-line errors (`ExportConfigError` for the user's input). */
export async function runExport(cfg: ExportConfig): Promise<ExportSummary> {
  const t0 = performance.now();
  const format = cfg.format ?? "sql";
  const filter = _filter(cfg);
  const open = (loc: string) =>
    openStorage(loc, {
      ...(cfg.storageFlags ? { flags: cfg.storageFlags } : {}),
      ...(cfg.storagePlugins ? { plugins: cfg.storagePlugins } : {}),
      ...(cfg.signal ? { signal: cfg.signal } : {}),
    });
  const src = await open(cfg.storage);
  let out: ExternalStorage | undefined;
  try {
    const reader = await MetaReader.open(src, {
      ...(cfg.cipher ? { cipher: cfg.cipher } : {}),
      ...(cfg.signal ? { signal: cfg.signal } : {}),
    });
    if (reader.meta.isRawKv) {
      throw new ExportConfigError(
        `the backup at ${src.uri()} is a raw-KV backup: it has no tables to export`,
      );
    }
    if (reader.meta.startVersion > 0n) {
      throw new ExportConfigError(
        `the backup at ${src.uri()} is incremental (changes since ts ` +
          `${reader.meta.startVersion}): it does not hold whole tables; export a full backup`,
      );
    }
    const backupTs = reader.meta.endVersion;
    const dbs = new Map<string, DBInfo>();
    const tables: { db: DBInfo; info: TableInfo; files: File[] }[] = [];
    const views: { db: DBInfo; info: TableInfo }[] = [];
    for await (const t of reader.tables()) {
      const dbName = t.db.db_name.O;
      if (_skipSchema(dbName, cfg)) continue;
      if (!t.table) {
        if (filter.matchSchema(dbName)) dbs.set(dbName, t.db);
        continue;
      }
      if (!filter.matchTable(dbName, t.table.name.O)) continue;
      dbs.set(dbName, t.db);
      if (t.table.view || t.table.sequence) views.push({ db: t.db, info: t.table });
      else tables.push({ db: t.db, info: t.table, files: t.files });
    }
    if (tables.length === 0 && (cfg.table || cfg.db || cfg.filter?.length)) {
      const what = cfg.table ? `table ${cfg.db}.${cfg.table}` : cfg.db ? `database ${cfg.db}` : "";
      throw new ExportConfigError(
        what
          ? `no ${what} in the backup at ${src.uri()}; check the name (tibr export selects by ` +
            "--db, --table and -f)"
          : `no table of the backup at ${src.uri()} matches the filter ${cfg.filter!.join(" ")}`,
      );
    }
    out = await open(cfg.output);
    // A `metadata` left by an earlier export would present this one as finished until it is.
    await out.deleteFile("metadata");
    const progress = createProgress("Export", cfg.progress ?? "auto");
    progress.start(tables.reduce((n, t) => n + _pairs(t.files).length, 0), "files");
    const summaries: TableExportSummary[] = [];
    try {
      for (const db of dbs.values()) {
        await _writeText(out, `${_fn(db.db_name.O)}-schema-create.sql`, showCreateDatabase(db));
      }
      // Views and sequences hold no rows: their DDL only, named as Dumpling names it.
      for (const v of views) {
        const kind = v.info.view ? "view" : "sequence";
        await _writeText(
          out,
          `${_fn(v.db.db_name.O)}.${_fn(v.info.name.O)}-schema-${kind}.sql`,
          showCreateTable(v.info),
        );
      }
      for (const t of tables) {
        cfg.signal?.throwIfAborted();
        summaries.push(
          await _exportTable(src, out, t, backupTs, format, cfg, () => progress.tick()),
        );
        progress.addBytes(BigInt(summaries[summaries.length - 1]!.bytes));
      }
      await out.writeFile("metadata", new TextEncoder().encode(_metadata(backupTs, t0)));
    } finally {
      progress.stop();
    }
    const rows = summaries.reduce((n, s) => n + s.rows, 0);
    const bytes = summaries.reduce((n, s) => n + s.bytes, 0);
    return {
      backupTs: backupTs.toString(),
      format,
      output: out.uri(),
      tables: summaries,
      rows,
      bytes,
      files: summaries.reduce((n, s) => n + s.files.length, 0),
      seconds: Math.round((performance.now() - t0) / 10) / 100,
    };
  } finally {
    await src.close();
    await out?.close();
  }
}

/** A summary as text for people. */
export function exportSummaryText(s: ExportSummary): string {
  const lines = s.tables.map((t) =>
    `  ${t.db}.${t.table}: ${t.rows} rows, ${formatBytes(t.bytes)}, ${t.files.length} files`
  );
  return `Export of backup ts ${s.backupTs} to ${s.output} (${s.format}) finished: ` +
    `${s.tables.length} tables, ${s.rows} rows, ${formatBytes(s.bytes)}, ${s.files} files ` +
    `in ${s.seconds}s\n${lines.join("\n")}${lines.length ? "\n" : ""}`;
}

function _filter(cfg: ExportConfig): TableFilter {
  const opts = { caseSensitive: cfg.caseSensitive ?? false };
  if (cfg.table !== undefined) {
    if (cfg.db === undefined) throw new ExportConfigError("--table needs --db NAME");
    return tablesFilter([{ schema: cfg.db, table: cfg.table }], opts);
  }
  if (cfg.db !== undefined) return schemasFilter([cfg.db], opts);
  if (cfg.filter && cfg.filter.length > 0) return parseFilter(cfg.filter, opts);
  return allFilter();
}

/** System schemas are left out unless asked for by name, as Dumpling does. */
function _skipSchema(name: string, cfg: ExportConfig): boolean {
  if (isSkippedByBackup(name)) return true;
  const asked = cfg.db !== undefined || (cfg.filter?.length ?? 0) > 0;
  return !asked && name.toLowerCase() === SYSTEM_SCHEMA;
}

/** The write-CF files with their default-CF partners, in key order. */
function _pairs(files: File[]): { write: File; default?: File }[] {
  const byStem = new Map<string, { write?: File; default?: File }>();
  for (const f of files) {
    const stem = f.name.replace(/_(default|write)\.sst$/, "");
    const p = byStem.get(stem) ?? {};
    if (f.cf === "default") p.default = f;
    else p.write = f;
    byStem.set(stem, p);
  }
  const out: { write: File; default?: File }[] = [];
  for (const p of byStem.values()) {
    if (!p.write) {
      throw new Error(
        `backup file ${
          p.default!.name
        } (default CF) has no write-CF partner; the backup is damaged`,
      );
    }
    out.push(p.default ? { write: p.write, default: p.default } : { write: p.write });
  }
  return out.sort((a, b) => compareBytes(a.write.startKey, b.write.startKey));
}

/** Dumpling's file name escaping: characters a path cannot hold become %XX. */
function _fn(name: string): string {
  return name.replace(
    // deno-lint-ignore no-control-regex -- control characters are what a file name cannot hold
    /[\x00-\x1f/\\%:*?"<>|]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0"),
  );
}

async function _writeText(out: ExternalStorage, name: string, sql: string): Promise<void> {
  await out.writeFile(
    name,
    new TextEncoder().encode(`/*!40101 SET NAMES binary*/;\n${sql};\n`),
  );
}

function _metadata(ts: bigint, t0: number): string {
  const at = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);
  const started = Date.now() - (performance.now() - t0);
  return `Started dump at: ${at(started)}\nSHOW MASTER STATUS:\n\tLog: tidb-binlog\n` +
    `\tPos: ${ts}\n\tGTID:\n\nFinished dump at: ${at(Date.now())}\n`;
}

async function _exportTable(
  src: ExternalStorage,
  out: ExternalStorage,
  t: { db: DBInfo; info: TableInfo; files: File[] },
  backupTs: bigint,
  format: "sql" | "csv",
  cfg: ExportConfig,
  tick: () => void,
): Promise<TableExportSummary> {
  const base = `${_fn(t.db.db_name.O)}.${_fn(t.info.name.O)}`;
  // BR keeps the next AUTO_INCREMENT value in the backed-up TableInfo.
  const ddl = showCreateTable(t.info, { autoIncrement: t.info.auto_inc_id });
  await _writeText(out, `${base}-schema.sql`, ddl);
  const decoder = new RowDecoder(t.info, { tz: cfg.tz ?? "UTC" });
  // Generated columns are computed on load (a server refuses values for them).
  const keep: number[] = [];
  decoder.columns.forEach((c, i) => {
    if (c.generated_expr_string === "") keep.push(i);
  });
  const cols = keep.map((i) => decoder.columns[i]!);
  const kinds: ColumnKind[] = cols.map((c) => columnKind(valueClass(c.type)));
  const f32 = cols.map((c) => valueClass(c.type) === "float32");
  const years = cols.flatMap((c, i) => (valueClass(c.type) === "year" ? [i] : []));
  const writer = new _DataWriter(out, base, format, cfg, cols.map((c) => c.name.O), t.info.name.O);
  const pairs = _pairs(t.files);
  let rows = 0;
  const seen = new Set<object>();
  try {
    for (const pid of physicalTableIds(t.info)) {
      const range = recordRange(BigInt(pid));
      for (const p of pairs) {
        if (!_overlaps(p.write, range.start, range.end)) continue;
        cfg.signal?.throwIfAborted();
        if (!seen.has(p)) {
          seen.add(p);
          tick();
        }
        const openSst = (f: File) =>
          openBackupSst(
            src,
            { name: f.name, size: Number(f.size), cipherIv: f.cipherIv },
            cfg.cipher,
          );
        const write = await openSst(p.write);
        const dflt = p.default ? await openSst(p.default) : undefined;
        const records = decodeBackupFile(dflt ? { write, default: dflt } : { write });
        const visible = new SnapshotFilter(backupTs, range.start, range.end);
        for await (const kv of records) {
          if (!visible.accept(kv)) continue;
          const all = decoder.decode(kv.rawKey, kv.value);
          const vals: SqlValue[] = keep.length === all.length ? all : keep.map((i) => all[i]!);
          // YEAR is a string to clients, always 4 digits: '0' would load as 2000, '0000' as 0.
          for (const i of years) {
            const v = vals[i];
            if (typeof v === "bigint") vals[i] = String(v).padStart(4, "0");
          }
          const pending = writer.row(vals, kinds, f32);
          if (pending) await pending;
          rows++;
        }
      }
    }
    for (const p of pairs) if (!seen.has(p)) tick();
    await writer.finish();
  } catch (err) {
    await writer.abort(err);
    throw err;
  }
  return {
    db: t.db.db_name.O,
    table: t.info.name.O,
    rows,
    bytes: writer.bytes,
    files: writer.files,
  };
}

function _overlaps(f: File, start: Uint8Array, end: Uint8Array): boolean {
  const fEndsBefore = f.endKey.length > 0 && compareBytes(f.endKey, start) <= 0;
  const fStartsAfter = compareBytes(f.startKey, end) >= 0;
  return !fEndsBefore && !fStartsAfter;
}

/** Writes one table's data files: rows into INSERT statements or CSV lines, split by size. */
class _DataWriter {
  readonly files: string[] = [];
  bytes = 0;
  readonly #out: ExternalStorage;
  readonly #base: string;
  readonly #format: "sql" | "csv";
  readonly #fileSize: number;
  readonly #stmtSize: number;
  readonly #csv: CsvEncoder;
  readonly #names: string[];
  readonly #insert: string;
  readonly #tzLine: string;
  readonly #buf = new OutBuffer(FLUSH_AT * 2);
  #w: StorageWriter | undefined;
  #fileBytes = 0;
  #stmtBytes = -1; // -1: no INSERT open
  #index = 0;

  constructor(
    out: ExternalStorage,
    base: string,
    format: "sql" | "csv",
    cfg: ExportConfig,
    names: string[],
    table: string,
  ) {
    this.#out = out;
    this.#base = base;
    this.#format = format;
    this.#fileSize = cfg.fileSize ?? DEFAULT_FILE_SIZE;
    this.#stmtSize = cfg.statementSize ?? DEFAULT_STATEMENT_SIZE;
    this.#csv = new CsvEncoder({ ...DEFAULT_CSV, ...cfg.csv });
    this.#names = names;
    this.#insert = `INSERT INTO ${quoteIdent(table)} (${names.map(quoteIdent).join(",")}) VALUES\n`;
    const tz = cfg.tz ?? "UTC";
    const offset = tz.toUpperCase() === "UTC" ? "+00:00" : tz;
    this.#tzLine = `/*!40103 SET TIME_ZONE='${offset}' */;\n`;
  }

  /** Adds a row; returns a promise only when it has to open, flush or close a file. */
  row(vals: SqlValue[], kinds: ColumnKind[], f32: boolean[]): Promise<void> | undefined {
    if (!this.#w) return this.#begin().then(() => this.row(vals, kinds, f32));
    const b = this.#buf;
    const before = b.len;
    if (this.#format === "sql") {
      if (this.#stmtBytes < 0) {
        b.text(this.#insert);
        this.#stmtBytes = 0;
      } else {
        b.text(",\n");
      }
      b.byte(0x28);
      for (let i = 0; i < vals.length; i++) {
        if (i > 0) b.byte(0x2c);
        writeSqlValue(b, vals[i]!, kinds[i]!, f32[i]!);
      }
      b.byte(0x29);
      this.#stmtBytes += b.len - before;
      if (this.#stmtBytes >= this.#stmtSize) this.#endStatement();
    } else {
      for (let i = 0; i < vals.length; i++) {
        if (i > 0) this.#csv.separator(b);
        this.#csv.value(b, vals[i]!, kinds[i]!, f32[i]!);
      }
      b.text(this.#csv.opts.lineTerminator);
    }
    this.#fileBytes += b.len - before;
    if (this.#fileBytes >= this.#fileSize) return this.#end();
    if (b.len >= FLUSH_AT) return this.#flush();
    return undefined;
  }

  async finish(): Promise<void> {
    if (this.#w) await this.#end();
  }

  async abort(reason: unknown): Promise<void> {
    const w = this.#w;
    this.#w = undefined;
    this.#buf.reset();
    await w?.abort(reason).catch(() => {});
  }

  async #begin(): Promise<void> {
    const name = `${this.#base}.${String(this.#index++).padStart(9, "0")}.${this.#format}`;
    this.#w = await this.#out.create(name);
    this.files.push(name);
    const b = this.#buf;
    const before = b.len;
    if (this.#format === "sql") {
      b.text("/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\n/*!40101 SET NAMES binary*/;\n");
      // As mysqldump: no strict mode (TiDB keeps values a strict server refuses, such as the
      // empty ENUM member), and an AUTO_INCREMENT 0 stays 0.
      b.text("/*!40101 SET SQL_MODE='NO_AUTO_VALUE_ON_ZERO'*/;\n");
      b.text(this.#tzLine);
    } else {
      this.#names.forEach((n, i) => {
        if (i > 0) this.#csv.separator(b);
        this.#csv.header(b, n);
      });
      b.text(this.#csv.opts.lineTerminator);
    }
    this.#fileBytes = b.len - before;
  }

  #endStatement(): void {
    if (this.#stmtBytes < 0) return;
    this.#buf.text(";\n");
    this.#fileBytes += 2;
    this.#stmtBytes = -1;
  }

  async #flush(): Promise<void> {
    if (this.#buf.len === 0) return;
    await this.#w!.write(this.#buf.view());
    this.#buf.reset();
  }

  async #end(): Promise<void> {
    this.#endStatement();
    await this.#flush();
    const w = this.#w!;
    this.#w = undefined;
    const stat = await w.close();
    this.bytes += stat.size;
  }
}
