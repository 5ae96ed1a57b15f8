/**
 * `tibr verify`: checks a backup offline, from its storage alone, at one of four levels, each
 * including the ones before it:
 *
 * - `meta`: backupmeta and every metafile decode (sha256 and size of each metafile match),
 *   every data file exists with its listed size (a stat), the files' ranges cover each table's
 *   record and public index ranges (per partition) or the raw/txn range, with no gap and no
 *   overlap; `backup.lock` and leftovers of an interrupted run are noted.
 * - `files`: every data file is read and its sha256 compared.
 * - `data`: every SST is decoded (decrypted, block checksums checked), each file's crc64xor /
 *   kvs / bytes recomputed and compared with its File entry, each table's totals with its Schema
 *   entry, and every key checked to lie inside its file's range.
 * - `semantic`: rows and index entries cross-checked (see `semantic.ts`).
 *
 * Metafiles are streamed; what is held per data file is its range (for the coverage check) and
 * its name (to spot leftovers), a few dozen bytes. At most `concurrency` files are in memory.
 * @module
 */
import { createHash } from "node:crypto";
import { log } from "../log.ts";
import { availableParallelism } from "node:os";
import { BACKUP_LOCK_FILE, BACKUP_META_FILE } from "../backup/metawriter.ts";
import { BackupMetaError, MetaReader, readBackupMeta } from "../backup/metareader.ts";
import type { Progress } from "../backup/progress.ts";
import { compareBytes, hex } from "../codec/bytes.ts";
import { ChecksumAccumulator } from "../codec/crc64.ts";
import type { CipherInfo } from "../crypto/cipher.ts";
import type { BackupMeta, File } from "../gen/brpb_pb.ts";
import { decodeBackupFile, type KvChecksum } from "../sst/backup.ts";
import { decodePair, type StoredBytes } from "./_decode.ts";
import { DecodePool } from "./_decode_pool.ts";
import { SstError } from "../sst/errors.ts";
import { SstReader } from "../sst/reader.ts";
import { bytesSource, decryptingSource } from "../sst/source.ts";
import { isStorageError } from "../storage/errors.ts";
import { Semaphore } from "../storage/concurrency.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { type DBInfo, parseJson, type TableInfo } from "../tidb/model.ts";
import { decodeTableId, indexRange, recordRange } from "../tidb/tablecodec.ts";
import { SchemaState } from "../tidb/types.ts";
import { SemanticChecker } from "./semantic.ts";

/** How deep `verify` looks; each level includes the ones before it. */
export type VerifyLevel = "meta" | "files" | "data" | "semantic";
/** The levels, in order. */
export const VERIFY_LEVELS: readonly VerifyLevel[] = ["meta", "files", "data", "semantic"];

/** One thing wrong with the backup. */
export interface VerifyProblem {
  /** The lowest level that sees it. */
  level: VerifyLevel;
  /** A closed set of kinds, e.g. `MissingFile`, `Sha256Mismatch`, `RangeGap`. */
  code: string;
  message: string;
  table?: string;
  index?: string;
  file?: string;
  /** A sample key, hex. */
  key?: string;
}

/** What was checked of one table. */
export interface VerifyTable {
  name: string;
  files: number;
  /** Recomputed from the files (data and semantic levels; "0" below). */
  crc64xor: string;
  kvs: string;
  bytes: string;
  /** What the table's schema entry records. */
  schema: { crc64xor: string; totalKvs: string; totalBytes: string };
  result: "ok" | "failed";
}

/** The outcome of `verifyBackup`. */
export interface VerifyReport {
  storage: string;
  level: VerifyLevel;
  kind: "table" | "raw" | "txn";
  backupTs: string;
  /** Data files listed by the metadata. */
  files: number;
  /** Stored bytes of the data files (as listed). */
  size: string;
  /** KVs and bytes recomputed from the files (data and semantic levels). */
  kvs: string;
  bytes: string;
  tables: VerifyTable[];
  problems: VerifyProblem[];
  /** Things worth knowing that are not wrong with the backup (backup.lock, leftovers). */
  notes: string[];
  ok: boolean;
}

/** Options of `verifyBackup`. */
export interface VerifyOptions {
  level?: VerifyLevel;
  cipher?: CipherInfo;
  /** Data files in flight (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
  progress?: Progress;
  /** Decode worker threads at the data level (default: min(concurrency, cores)); 0: none. */
  workers?: number;
  /** Most problems listed per code (default 20); the count of the rest is noted. */
  maxProblemsPerCode?: number;
}

interface TableEntry {
  name: string;
  info?: TableInfo;
  physicalIds: bigint[];
  crc64xor: bigint;
  totalKvs: bigint;
  totalBytes: bigint;
  acc: KvChecksum;
  files: number;
  failed: boolean;
}

interface Span {
  start: Uint8Array;
  end: Uint8Array;
  file: string;
}

const PAIR_WINDOW = 1024;

function stemOf(name: string): string {
  return name.replace(/_(default|write)\.sst$/, "");
}

function sha256Hex(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

function levelAtLeast(level: VerifyLevel, want: VerifyLevel): boolean {
  return VERIFY_LEVELS.indexOf(level) >= VERIFY_LEVELS.indexOf(want);
}

/** Checks the backup at `storage`; never throws for a problem of the backup, only reports it. */
export async function verifyBackup(
  storage: ExternalStorage,
  opts: VerifyOptions = {},
): Promise<VerifyReport> {
  const level = opts.level ?? "data";
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const maxPer = opts.maxProblemsPerCode ?? 20;
  const signal = opts.signal;
  const problems: VerifyProblem[] = [];
  const perCode = new Map<string, number>();
  const report = (p: VerifyProblem) => {
    const n = perCode.get(p.code) ?? 0;
    perCode.set(p.code, n + 1);
    if (n < maxPer) problems.push(p);
  };
  const notes: string[] = [];
  const out: VerifyReport = {
    storage: storage.uri(),
    level,
    kind: "table",
    backupTs: "0",
    files: 0,
    size: "0",
    kvs: "0",
    bytes: "0",
    tables: [],
    problems,
    notes,
    ok: false,
  };
  const finish = () => {
    for (const [code, n] of perCode) {
      if (n > maxPer) notes.push(`${n - maxPer} more ${code} problems not listed`);
    }
    out.ok = problems.length === 0;
    return out;
  };

  let meta: BackupMeta;
  try {
    meta = await readBackupMeta(storage, {
      ...(opts.cipher ? { cipher: opts.cipher } : {}),
      signal,
    });
  } catch (err) {
    if (!(err instanceof BackupMetaError)) throw err;
    report({
      level: "meta",
      code: `Meta${err.code}`,
      message: err.message,
      file: BACKUP_META_FILE,
    });
    await noteLeftovers(storage, undefined, notes, signal);
    return finish();
  }
  out.kind = meta.isRawKv ? "raw" : meta.isTxnKv ? "txn" : "table";
  out.backupTs = String(meta.endVersion);
  const incremental = meta.startVersion > 0n;
  const reader = new MetaReader(storage, meta, {
    ...(opts.cipher ? { cipher: opts.cipher } : {}),
    ...(signal ? { signal } : {}),
  });

  // Schemas first: small (one per table), and needed to attribute files.
  const tables: TableEntry[] = [];
  const byPhysical = new Map<bigint, TableEntry>();
  const semantic = level === "semantic" && out.kind === "table" && !incremental
    ? new SemanticChecker()
    : undefined;
  if (level === "semantic" && incremental) {
    notes.push("semantic check skipped: an incremental backup holds changes, not whole tables");
  }
  try {
    for await (const raw of reader.rawSchemas()) {
      let db: DBInfo;
      let info: TableInfo | undefined;
      try {
        db = parseJson<DBInfo>(raw.db);
        info = raw.table.length > 0 ? parseJson<TableInfo>(raw.table) : undefined;
      } catch (err) {
        report({
          level: "meta",
          code: "SchemaUndecodable",
          message: `a schema entry is not valid JSON (${(err as Error).message})`,
        });
        continue;
      }
      if (!info) continue;
      const ids = info.partition?.enable
        ? info.partition.definitions.map((d) => BigInt(d.id))
        : [BigInt(info.id)];
      const t: TableEntry = {
        name: `${db.db_name.O}.${info.name.O}`,
        info,
        physicalIds: ids,
        crc64xor: raw.crc64xor,
        totalKvs: raw.totalKvs,
        totalBytes: raw.totalBytes,
        acc: newSum(),
        files: 0,
        failed: false,
      };
      tables.push(t);
      for (const id of ids) byPhysical.set(id, t);
      if (semantic && !info.view && !info.sequence) semantic.addTable(t.name, info);
    }
  } catch (err) {
    if (!(err instanceof BackupMetaError)) throw err;
    report({ level: "meta", code: `Metafile${err.code}`, message: err.message });
    return finish();
  }

  const spans = new Map<bigint | "all", Span[]>();
  const names = new Set<string>();
  const sem = new Semaphore(concurrency);
  // Decoding is CPU work: at the data level it runs in worker threads (the semantic check needs
  // every KV on this thread, so it decodes here).
  const workers = opts.workers ?? Math.min(concurrency, availableParallelism());
  const pool = level === "data" && out.kind !== "raw" && workers > 0
    ? await DecodePool.start(workers)
    : undefined;
  log("verify").info("verifying {storage} at level {level}: decoding {where}", {
    storage: storage.uri(),
    level,
    where: pool ? `in ${workers} worker threads` : "on the main thread",
  });
  const inFlight = new Set<Promise<void>>();
  let firstError: unknown;
  const pending = new Map<string, { write?: File; default?: File }>();
  let listedFiles = 0;
  let listedSize = 0n;
  const total = newSum();
  const progress = opts.progress;
  // By kB read when files are read (backupmeta's backup_size is their total, metadata included);
  // by file when they are only stat'ed (their count is not known before the metadata is read).
  const byBytes = levelAtLeast(level, "files");
  progress?.start(
    byBytes ? Math.ceil(Number(meta.backupSize) / 1000) : 0,
    byBytes ? "kB" : "files",
  );

  const tableOf = (f: File): TableEntry | undefined => {
    const id = decodeTableId(f.startKey);
    return id === undefined ? undefined : byPhysical.get(id);
  };
  const fail = (f: File | undefined, p: VerifyProblem) => {
    if (f) {
      const t = tableOf(f);
      if (t) {
        t.failed = true;
        p.table ??= t.name;
      }
    }
    report(p);
  };

  const dispatch = async (pair: { write?: File; default?: File }) => {
    await sem.acquire(signal);
    const job = checkPair(pair).catch((err) => {
      firstError ??= err;
    }).finally(() => {
      sem.release();
      inFlight.delete(job);
    });
    inFlight.add(job);
  };

  const checkPair = async (pair: { write?: File; default?: File }) => {
    const files = [pair.write, pair.default].filter((f): f is File => f !== undefined);
    if (!levelAtLeast(level, "files")) {
      for (const f of files) {
        try {
          const st = await storage.stat(f.name, { signal });
          if (BigInt(st.size) !== f.size) {
            fail(f, {
              level: "meta",
              code: "SizeMismatch",
              file: f.name,
              message: `${f.name} holds ${st.size} bytes but the metadata lists ${f.size}`,
            });
          }
        } catch (err) {
          if (!isStorageError(err, "NotFound")) throw err;
          fail(f, missing(f));
        }
        progress?.tick();
      }
      return;
    }
    const bytes = new Map<File, Uint8Array>();
    for (const f of files) {
      let data: Uint8Array;
      try {
        data = await storage.readFile(f.name, { signal });
      } catch (err) {
        if (!isStorageError(err, "NotFound")) throw err;
        fail(f, missing(f));
        continue;
      }
      progress?.addBytes(BigInt(data.length));
      if (BigInt(data.length) !== f.size) {
        fail(f, {
          level: "meta",
          code: "SizeMismatch",
          file: f.name,
          message: `${f.name} holds ${data.length} bytes but the metadata lists ${f.size}`,
        });
        continue;
      }
      const digest = sha256Hex(data);
      if (digest !== hex(f.sha256)) {
        fail(f, {
          level: "files",
          code: "Sha256Mismatch",
          file: f.name,
          message: `${f.name} has sha256 ${digest} but the metadata records ${hex(f.sha256)}`,
        });
        continue;
      }
      bytes.set(f, data);
    }
    if (levelAtLeast(level, "data") && bytes.size === files.length) {
      await checkData(pair, bytes);
    }
    for (const f of files) progress?.tick(Math.round(Number(f.size) / 1000));
  };

  const open = (f: File, data: Uint8Array) =>
    SstReader.open(decryptingSource(bytesSource(data, f.name), opts.cipher, f.cipherIv));

  const checkData = async (
    pair: { write?: File; default?: File },
    bytes: Map<File, Uint8Array>,
  ) => {
    const main = pair.write ?? pair.default!;
    const t = tableOf(main);
    try {
      if (out.kind === "raw") {
        const r = await open(main, bytes.get(main)!);
        const acc = new ChecksumAccumulator();
        let outside: Uint8Array | undefined;
        await r.scan((k, v) => {
          const raw = k[0] === 0x7a ? k.subarray(1) : k;
          if (!outside && !inRange(raw, main)) outside = raw.slice();
          acc.add(raw, v);
        });
        addSum(total, acc);
        compareFile(main, acc);
        if (outside) keyOutside(main, outside);
        return;
      }
      if (!pair.write) {
        fail(main, {
          level: "data",
          code: "UnpairedDefaultFile",
          file: main.name,
          message: `${main.name} is a default-CF file without its write-CF file`,
        });
        return;
      }
      const stored = (f: File): StoredBytes => ({
        name: f.name,
        bytes: bytes.get(f)!,
        iv: f.cipherIv,
      });
      const range = { start: pair.write.startKey, end: pair.write.endKey };
      const w = stored(pair.write);
      const d = pair.default ? stored(pair.default) : undefined;
      const { sums, outside } = pool
        ? await pool.decode({
          write: w,
          ...(d ? { default: d } : {}),
          ...range,
          ...(opts.cipher ? { cipher: opts.cipher } : {}),
        })
        : await decodePair(
          w,
          d,
          range,
          opts.cipher,
          semantic ? (raw, value, isPut) => isPut && semantic.add(raw, value) : undefined,
        );
      bytes.clear();
      const inW = sums.write;
      const inD = sums.default;
      compareFile(pair.write, inW);
      if (pair.default) compareFile(pair.default, inD);
      if (outside) keyOutside(pair.write, outside);
      addSum(total, sums.total);
      if (t) addSum(t.acc, sums.total);
    } catch (err) {
      if (!(err instanceof SstError)) throw err;
      const f = [pair.write, pair.default].find((x) => x?.name === err.file) ?? main;
      fail(f, {
        level: "data",
        code: err.code === "Truncated" ? "SstTruncated" : "SstCorrupt",
        file: f.name,
        message: err.message,
      });
    }
  };

  const compareFile = (f: File, acc: KvChecksum) => {
    if (
      acc.crc64xor !== f.crc64xor || acc.totalKvs !== f.totalKvs || acc.totalBytes !== f.totalBytes
    ) {
      fail(f, {
        level: "data",
        code: "FileChecksumMismatch",
        file: f.name,
        message:
          `${f.name} holds crc64xor ${acc.crc64xor}, ${acc.totalKvs} KVs, ${acc.totalBytes} ` +
          `bytes but its File entry says ${f.crc64xor}, ${f.totalKvs}, ${f.totalBytes}`,
      });
    }
  };
  const keyOutside = (f: File, key: Uint8Array) =>
    fail(f, {
      level: "data",
      code: "KeyOutsideFileRange",
      file: f.name,
      key: hex(key),
      message: `${f.name} holds key ${hex(key)} outside its range [${hex(f.startKey)}, ${
        hex(f.endKey)
      })`,
    });

  try {
    for await (const f of reader.dataFiles()) {
      listedFiles++;
      listedSize += f.size;
      names.add(f.name);
      const t = tableOf(f);
      if (t) t.files++;
      if (f.cf !== "default" || out.kind === "raw") {
        const key = out.kind === "table" ? decodeTableId(f.startKey) ?? "all" : "all";
        const list = spans.get(key);
        const span = { start: f.startKey, end: f.endKey, file: f.name };
        if (list) list.push(span);
        else spans.set(key, [span]);
      }
      if (out.kind === "raw") {
        await dispatch({ default: f });
      } else {
        const stem = stemOf(f.name);
        const p = pending.get(stem) ?? {};
        if (f.cf === "default") p.default = f;
        else p.write = f;
        pending.delete(stem);
        if (p.write && p.default) await dispatch(p);
        else pending.set(stem, p);
        // Files of one range sit side by side in the metafiles; a write-CF file alone is done.
        while (pending.size > PAIR_WINDOW) {
          const [k, v] = pending.entries().next().value!;
          pending.delete(k);
          await dispatch(v);
        }
      }
      if (firstError) throw firstError;
    }
    for (const p of pending.values()) await dispatch(p);
    pending.clear();
  } catch (err) {
    await Promise.allSettled([...inFlight]);
    await pool?.close();
    if (!(err instanceof BackupMetaError)) throw err;
    report({ level: "meta", code: `Metafile${err.code}`, message: err.message });
    return finish();
  }
  await Promise.allSettled([...inFlight]);
  await pool?.close();
  if (firstError) throw firstError;
  out.files = listedFiles;
  out.size = String(listedSize);

  // Coverage.
  const ranges: Array<
    {
      need: Array<{ start: Uint8Array; end: Uint8Array }>;
      got: Span[];
      what: string;
      t?: TableEntry;
    }
  > = [];
  if (out.kind === "table") {
    for (const t of tables) {
      if (!t.info || t.info.view || t.info.sequence) continue;
      for (const id of t.physicalIds) {
        const need = [recordRange(id)];
        for (const idx of t.info.index_info ?? []) {
          if (idx.state === SchemaState.Public) need.push(indexRange(id, BigInt(idx.id)));
        }
        ranges.push({
          need,
          got: spans.get(id) ?? [],
          what: `${t.name} (physical table ${id})`,
          t,
        });
      }
    }
  } else {
    const need: Array<{ start: Uint8Array; end: Uint8Array }> = [];
    if (out.kind === "raw") {
      for await (const r of reader.rawRanges()) need.push({ start: r.startKey, end: r.endKey });
    } else need.push({ start: new Uint8Array(0), end: new Uint8Array(0) });
    ranges.push({ need, got: spans.get("all") ?? [], what: `the ${out.kind} range` });
  }
  for (const r of ranges) {
    checkCoverage(r.need, r.got, r.what, (p) => {
      if (r.t) {
        r.t.failed = true;
        p.table = r.t.name;
      }
      report(p);
    });
  }
  spans.clear();

  if (levelAtLeast(level, "data")) {
    for (const t of tables) {
      if (
        t.acc.crc64xor !== t.crc64xor || t.acc.totalKvs !== t.totalKvs ||
        t.acc.totalBytes !== t.totalBytes
      ) {
        if (t.crc64xor === 0n && t.totalKvs === 0n && t.totalBytes === 0n) {
          notes.push(
            `${t.name}: the schema entry records no checksum (backup taken with --checksum=false?)`,
          );
          continue;
        }
        if (t.failed) continue; // Already explained by a file problem.
        t.failed = true;
        report({
          level: "data",
          code: "TableChecksumMismatch",
          table: t.name,
          message: `${t.name}: its files hold crc64xor ${t.acc.crc64xor}, ${t.acc.totalKvs} KVs, ` +
            `${t.acc.totalBytes} bytes but its schema entry says ${t.crc64xor}, ${t.totalKvs}, ` +
            `${t.totalBytes}`,
        });
      }
    }
    out.kvs = String(total.totalKvs);
    out.bytes = String(total.totalBytes);
  }

  if (semantic) notes.push(...semantic.skipped());
  if (semantic && problems.length === 0) {
    await runSemantic(reader, semantic, storage, opts, byPhysical, report);
  } else if (semantic) {
    notes.push("rows and indexes were not cross-checked: the problems above come first");
  }

  await noteLeftovers(storage, names, notes, signal);
  out.tables = tables.map((t) => ({
    name: t.name,
    files: t.files,
    crc64xor: String(t.acc.crc64xor),
    kvs: String(t.acc.totalKvs),
    bytes: String(t.acc.totalBytes),
    schema: {
      crc64xor: String(t.crc64xor),
      totalKvs: String(t.totalKvs),
      totalBytes: String(t.totalBytes),
    },
    result: t.failed ? "failed" : "ok",
  }));
  return finish();
}

function newSum(): KvChecksum {
  return { crc64xor: 0n, totalKvs: 0n, totalBytes: 0n };
}

function addSum(into: KvChecksum, s: KvChecksum): void {
  into.crc64xor ^= s.crc64xor;
  into.totalKvs += s.totalKvs;
  into.totalBytes += s.totalBytes;
}

function missing(f: File): VerifyProblem {
  return {
    level: "meta",
    code: "MissingFile",
    file: f.name,
    message: `${f.name} is listed in the backup metadata but missing from the storage`,
  };
}

function inRange(key: Uint8Array, f: File): boolean {
  return compareBytes(key, f.startKey) >= 0 &&
    (f.endKey.length === 0 || compareBytes(key, f.endKey) < 0);
}

/**
 * Files must tile each needed range: no two overlap, and once a needed range holds any file, the
 * files cover it from its start to its end. A range with no file at all is empty (TiKV writes no
 * file for a region without data); a hole between files is a gap (see docs/VERIFY.md).
 */
function checkCoverage(
  need: Array<{ start: Uint8Array; end: Uint8Array }>,
  got: Span[],
  what: string,
  report: (p: VerifyProblem) => void,
): void {
  got.sort((a, b) => compareBytes(a.start, b.start));
  for (let i = 1; i < got.length; i++) {
    const prev = got[i - 1]!;
    if (prev.end.length === 0 || compareBytes(got[i]!.start, prev.end) < 0) {
      report({
        level: "meta",
        code: "RangeOverlap",
        file: got[i]!.file,
        key: hex(got[i]!.start),
        message: `${what}: ${got[i]!.file} starts at ${hex(got[i]!.start)}, inside ${prev.file} ` +
          `which ends at ${prev.end.length === 0 ? "the end" : hex(prev.end)}`,
      });
      return;
    }
  }
  const gap = (from: Uint8Array, to: Uint8Array) =>
    report({
      level: "meta",
      code: "RangeGap",
      key: hex(from),
      message: `${what}: no data file covers [${hex(from)}, ${to.length === 0 ? "end" : hex(to)})`,
    });
  for (const n of need) {
    let cur = n.start;
    let touched = false;
    let done = false;
    for (const s of got) {
      if (s.end.length > 0 && compareBytes(s.end, cur) <= 0) continue;
      if (n.end.length > 0 && compareBytes(s.start, n.end) >= 0) break;
      if (compareBytes(s.start, cur) > 0) gap(cur, s.start);
      touched = true;
      cur = s.end;
      if (cur.length === 0 || (n.end.length > 0 && compareBytes(cur, n.end) >= 0)) {
        done = true;
        break;
      }
    }
    if (touched && !done) gap(cur, n.end);
  }
}

/** Second semantic pass over the tables whose fingerprints differ. */
async function runSemantic(
  reader: MetaReader,
  semantic: SemanticChecker,
  storage: ExternalStorage,
  opts: VerifyOptions,
  byPhysical: Map<bigint, TableEntry>,
  report: (p: VerifyProblem) => void,
): Promise<void> {
  const targets = semantic.mismatches();
  if (targets.length > 0) {
    semantic.startDiagnosis(targets);
    const wanted = new Set(targets.map((t) => t.physicalId));
    const pending = new Map<string, { write?: File; default?: File }>();
    const run = async (p: { write?: File; default?: File }) => {
      if (!p.write) return;
      const open = async (f: File) =>
        SstReader.open(
          decryptingSource(
            bytesSource(await storage.readFile(f.name, { signal: opts.signal }), f.name),
            opts.cipher,
            f.cipherIv,
          ),
        );
      const write = await open(p.write);
      const dflt = p.default ? await open(p.default) : undefined;
      for await (const kv of decodeBackupFile({ write, ...(dflt ? { default: dflt } : {}) })) {
        if (kv.type === "put") semantic.add(kv.rawKey, kv.value);
      }
    };
    for await (const f of reader.dataFiles()) {
      const id = decodeTableId(f.startKey);
      if (id === undefined || !wanted.has(id)) continue;
      const stem = stemOf(f.name);
      const p = pending.get(stem) ?? {};
      if (f.cf === "default") p.default = f;
      else p.write = f;
      pending.set(stem, p);
      if (p.write && p.default) {
        pending.delete(stem);
        await run(p);
      }
      while (pending.size > PAIR_WINDOW) {
        const [k, v] = pending.entries().next().value!;
        pending.delete(k);
        await run(v);
      }
    }
    for (const p of pending.values()) await run(p);
  }
  for (const p of semantic.problems()) {
    const t = [...byPhysical.values()].find((x) => x.name === p.table);
    if (t) t.failed = true;
    report({
      level: "semantic",
      code: p.code,
      table: p.table,
      ...(p.index ? { index: p.index } : {}),
      key: p.key,
      message: p.message,
    });
  }
}

/** Notes `backup.lock`, checkpoints, staging leftovers and data files no metadata lists. */
async function noteLeftovers(
  storage: ExternalStorage,
  names: Set<string> | undefined,
  notes: string[],
  signal: AbortSignal | undefined,
): Promise<void> {
  let lock = false;
  let checkpoints = 0;
  let staging = 0;
  const stray: string[] = [];
  let strayCount = 0;
  await storage.walkDir({ ...(signal ? { signal } : {}) }, (name) => {
    if (name === BACKUP_LOCK_FILE) lock = true;
    else if (name.startsWith("checkpoints/")) checkpoints++;
    else if (name.startsWith(".tibr-tmp/")) staging++;
    else if (names && name.endsWith(".sst") && !names.has(name)) {
      strayCount++;
      if (stray.length < 5) stray.push(name);
    }
  });
  if (lock) {
    notes.push(
      `${BACKUP_LOCK_FILE} is present (BR writes it when a backup starts and leaves it in place)`,
    );
  }
  if (checkpoints > 0) {
    notes.push(
      `${checkpoints} checkpoint files under checkpoints/: left by an interrupted run ` +
        "(`tibr checkpoint status` shows them, `tibr checkpoint clean` removes them)",
    );
  }
  if (staging > 0) notes.push(`${staging} staged files under .tibr-tmp/ from an interrupted write`);
  if (strayCount > 0) {
    notes.push(
      `${strayCount} data files no metadata lists (left by an interrupted run?): ${
        stray.join(", ")
      }${strayCount > stray.length ? ", ..." : ""}`,
    );
  }
}
