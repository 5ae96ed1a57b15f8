/**
 * `tibr backup`: BR's backup task. Connects to PD, picks the backup ts and protects it from GC,
 * claims the storage, works out the ranges, backs them up through the stores, checks table
 * checksums, and writes the backup metadata, with `backupmeta` last.
 * @module
 */
import process from "node:process";
import { compareBytes, fromHex } from "../codec/bytes.ts";
import { type CipherInfo, EncryptionMethod, validateCipher } from "../crypto/cipher.ts";
import {
  allFilter,
  parseFilter,
  schemasFilter,
  type TableFilter,
  tablesFilter,
} from "../filter/mod.ts";
import { CompressionType } from "../gen/brpb_pb.ts";
import type { Store } from "../gen/metapb_pb.ts";
import { log } from "../log.ts";
import { discoverTidb } from "../tidb/discover.ts";
import { dumpTableStats, statsBlocks, writeTableStats } from "./stats.ts";
import { PdClient } from "../pd/client.ts";
import type { TlsOptions } from "../rpc/transport.ts";
import { toStorageBackend } from "../storage/backend.ts";
import { openStorage } from "../storage/registry.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { SchemaReader } from "../tidb/meta.ts";
import { JobState } from "../tidb/model.ts";
import { TikvSnapshot } from "../tikv/snapshot.ts";
import { StoreConnections } from "../tikv/stores.ts";
import { LockResolver } from "../txn/lock_resolver.ts";
import { Pool } from "../pool.ts";
import { RunScope } from "../run_scope.ts";
import { brVersionText } from "../version.ts";
import type { BackupConfig as CheckpointConfig } from "../checkpoint/meta.ts";
import { BackupCheckpoint, finishLeftover } from "./_checkpoint.ts";
import { coprocessorChecksum } from "./checksum.ts";
import { BackupClient, BackupError, type BackupRequestInit } from "./client.ts";
import { BACKUP_LOCK_FILE, BACKUP_META_FILE, MetaWriter } from "./metawriter.ts";
import { MetaReader } from "./metareader.ts";
import { BackupConfigError } from "./errors.ts";
import { claimStorage, lockFileError, refuseFinishedBackup } from "./marker.ts";
import {
  checkFiles,
  filesProblemMessage,
  ListedFiles,
  orphanFiles,
  StoredFiles,
} from "./files_check.ts";
import { physicalMs } from "../checkpoint/lock.ts";
import { createProgress, formatSpeed } from "./progress.ts";
import { backupLabel, summaryLogLine } from "./summary.ts";
import { metrics } from "../metrics.ts";
import { type BackupPlan, type BackupTable, buildBackupPlan } from "./ranges.ts";
import { backupSchemas, checkTableChecksum } from "./schemas.ts";
import { type KeyRange, type Range, RangeTree } from "./rangetree.ts";
import {
  checkGCSafePoint,
  DEFAULT_GC_TTL_SECONDS,
  type GcKeeper,
  parseBackupTs,
  parseTimeAgo,
  resolveBackupTs,
  startGcKeeper,
  tsToDate,
} from "./timestamps.ts";

/** The backup kinds, as BR's subcommands. */
export type BackupMode = "full" | "db" | "table" | "raw" | "txn";

/** Raw-KV options. */
export interface RawOptions {
  start: string;
  end: string;
  format: "hex" | "raw" | "escaped";
  cf: string;
}

/** Everything a backup run needs; built from flags by the CLI. */
export interface BackupConfig {
  mode: BackupMode;
  pd: string[];
  tls?: TlsOptions;
  storage: string;
  storageFlags?: Record<string, string>;
  storagePlugins?: string[];
  sendCredentials: boolean;
  db?: string;
  table?: string;
  filter?: string[];
  caseSensitive?: boolean;
  backupTs?: string;
  timeAgo?: string;
  lastBackupTs?: bigint;
  gcTtlSeconds?: number;
  concurrency: number;
  rateLimitMiB?: number;
  checksum: boolean;
  compression: "lz4" | "snappy" | "zstd";
  compressionLevel?: number;
  cipher?: CipherInfo;
  raw?: RawOptions;
  progress?: "auto" | "bar" | "lines" | "quiet";
  /** Total fine-grained backoff per range, ms (BR: 80 s). */
  maxBackoffMs?: number;
  /**
   * Record progress in the storage and resume from it (default true; never for noop storage or
   * incremental backups).
   */
  useCheckpoint?: boolean;
  /** Checkpoint flush interval, ms (default 30 s). */
  checkpointFlushIntervalMs?: number;
  /** Also compare the sha256 of every data file before `backupmeta` (`--verify-files`). */
  verifyFiles?: boolean;
  /**
   * Leave table statistics out (`--ignore-stats`, default true as in BR); false reads them from
   * a TiDB server found in PD and writes them as BR does (see `stats.ts`).
   */
  ignoreStats?: boolean;
  /** Deadline of loading the storage plugin and of its `open()`, ms (`--storage-timeout`). */
  storageTimeoutMs?: number;
  signal?: AbortSignal;
}

/** The summary printed at the end (and `--output json`). */
export interface BackupSummary {
  kind: string;
  storage: string;
  backupTs: string;
  backupTime: string;
  lastBackupTs: string;
  totalRanges: number;
  totalRegions: number;
  totalKvs: string;
  totalBytes: string;
  backupDataSize: string;
  dataFiles: number;
  tables: number;
  checksum: "passed" | "skipped";
  timeTakenMs: number;
  averageSpeed: string;
  /** Ranges an earlier, interrupted run had finished (present when resumed). */
  resumedRanges?: number;
  /**
   * Checkpointed ranges whose files were missing or damaged in the storage, backed up again
   * (present when there were some).
   */
  redoneRanges?: number;
  /** Whether every data file's sha256 was read back and compared (`--verify-files`). */
  filesVerified?: boolean;
  /** Files of earlier runs that no range kept, removed before `backupmeta` (when some). */
  orphansRemoved?: number;
  /**
   * An earlier run had written the whole backup and was stopped while removing its checkpoint;
   * this run only removed the leftovers (present and true then).
   */
  alreadyComplete?: boolean;
}

export { BackupConfigError, checkTableChecksum };

const COMPRESSION: Record<BackupConfig["compression"], CompressionType> = {
  lz4: CompressionType.LZ4,
  snappy: CompressionType.SNAPPY,
  zstd: CompressionType.ZSTD,
};

/** Tables checksummed at a time (BR's `--checksum-concurrency` default). */
const CHECKSUM_CONCURRENCY = 4;
/** Tables whose statistics are read from TiDB at a time. */
const STATS_CONCURRENCY = 4;

/** Parses a raw-mode key in BR's `--format` (hex, raw, escaped). */
export function parseRawKey(value: string, format: RawOptions["format"]): Uint8Array {
  switch (format) {
    case "hex":
      try {
        return fromHex(value);
      } catch {
        throw new BackupConfigError(`'${value}' is not a hex key: use --format raw or escaped`);
      }
    case "raw":
      return new TextEncoder().encode(value);
    case "escaped": {
      const out: number[] = [];
      for (let i = 0; i < value.length; i++) {
        const c = value[i]!;
        if (c === "\\" && value[i + 1] === "x") {
          const h = value.slice(i + 2, i + 4);
          if (!/^[0-9a-fA-F]{2}$/.test(h)) {
            throw new BackupConfigError(`bad escape '\\x${h}' in key '${value}'`);
          }
          out.push(parseInt(h, 16));
          i += 3;
        } else if (c === "\\" && i + 1 < value.length) {
          const e = value[++i]!;
          out.push(
            ({ n: 10, t: 9, r: 13, "0": 0, "\\": 92 } as Record<string, number>)[e] ??
              e.charCodeAt(0),
          );
        } else {
          out.push(...new TextEncoder().encode(c));
        }
      }
      return Uint8Array.from(out);
    }
  }
}

function filterOf(cfg: BackupConfig): TableFilter {
  const opts = { caseSensitive: cfg.caseSensitive ?? false };
  switch (cfg.mode) {
    case "db":
      if (!cfg.db) throw new BackupConfigError("backup db needs --db NAME");
      return schemasFilter([cfg.db], opts);
    case "table":
      if (!cfg.db || !cfg.table) {
        throw new BackupConfigError("backup table needs --db NAME and --table NAME");
      }
      return tablesFilter([{ schema: cfg.db, table: cfg.table }], opts);
    default:
      return cfg.filter && cfg.filter.length > 0 ? parseFilter(cfg.filter, opts) : allFilter();
  }
}

function isTiKV(store: Store): boolean {
  return !store.labels.some((l) => l.key === "engine" && l.value === "tiflash");
}

/**
 * The options that change what a backup contains, hashed into the checkpoint: a rerun with
 * other values cannot resume it. Concurrency, rate limit and checksum do not change the data.
 */
export function checkpointConfig(cfg: BackupConfig): CheckpointConfig {
  return {
    mode: cfg.mode,
    db: cfg.db ?? null,
    table: cfg.table ?? null,
    filter: cfg.filter ?? [],
    "case-sensitive": cfg.caseSensitive ?? false,
    backupts: cfg.backupTs ?? null,
    lastbackupts: cfg.lastBackupTs ?? 0n,
    "raw.start": cfg.raw?.start ?? null,
    "raw.end": cfg.raw?.end ?? null,
    "raw.format": cfg.raw?.format ?? null,
    "raw.cf": cfg.raw?.cf ?? null,
    compression: cfg.compression,
    "compression-level": cfg.compressionLevel ?? 0,
    "crypter.method": cfg.cipher && cfg.cipher.method !== EncryptionMethod.PLAINTEXT
      ? cfg.cipher.method
      : 0,
  };
}

/** Whether a run checkpoints: by default yes, except to noop storage and for incrementals. */
function checkpointWanted(cfg: BackupConfig, storage: ExternalStorage): boolean {
  if (cfg.useCheckpoint === false) return false;
  if (storage.capabilities().discardsWrites) return false;
  return !(cfg.lastBackupTs !== undefined && cfg.lastBackupTs > 0n);
}

/** Runs a backup and returns its summary. */
export async function runBackup(outer: BackupConfig): Promise<BackupSummary> {
  const started = Date.now();
  // The run's one cancellation (src/run_scope.ts): the caller's signal (SIGINT/SIGTERM) or the
  // first fatal error anywhere (a range, a checksum, the GC keeper, the checkpoint) aborts it,
  // and every request, retry sleep and storage call of the run takes it, so nothing new is sent
  // after it fires.
  const scope = new RunScope(outer.signal);
  const signal = scope.signal;
  const cfg: BackupConfig = { ...outer, signal };
  if (cfg.cipher) validateCipher(cfg.cipher);
  if (cfg.lastBackupTs !== undefined && cfg.lastBackupTs > 0n && cfg.mode === "raw") {
    throw new BackupConfigError("--lastbackupts does not apply to raw backups");
  }
  const filter = cfg.mode === "raw" || cfg.mode === "txn" ? undefined : filterOf(cfg);
  let concurrency = Math.max(1, cfg.concurrency);
  const rateLimit = BigInt(Math.round((cfg.rateLimitMiB ?? 0) * 1024 * 1024));
  if (rateLimit > 0n && concurrency !== 1) {
    log("backup").warn("--ratelimit is set: concurrency forced to 1, as BR does");
    process.stderr.write("Warning: --ratelimit is set, so --concurrency is forced to 1\n");
    concurrency = 1;
  }
  const givenTs = parseBackupTs(cfg.backupTs);
  const timeAgo = parseTimeAgo(cfg.timeAgo);
  if (givenTs !== undefined && timeAgo > 0) {
    throw new BackupConfigError(
      "--timeago and --backupts both set the backup ts: give only one of them",
    );
  }

  const label = backupLabel(cfg.mode, (cfg.lastBackupTs ?? 0n) > 0n);
  metrics.begin("backup", label);
  metrics.phase("connect");
  const { storage, backend, pd, stores, resolver } = await connect(cfg);
  let keeper: GcKeeper | undefined;
  let checkpoint: BackupCheckpoint | undefined;
  const progress = createProgress(label, cfg.progress ?? "auto");
  try {
    const lastTs = cfg.lastBackupTs ?? 0n;
    if (checkpointWanted(cfg, storage)) {
      const cpOpts = {
        config: checkpointConfig(cfg),
        ...(cfg.cipher ? { cipher: cfg.cipher } : {}),
        ...(cfg.checkpointFlushIntervalMs
          ? { flushIntervalMs: cfg.checkpointFlushIntervalMs }
          : {}),
        verifyFiles: cfg.verifyFiles ?? false,
        ...(signal ? { signal } : {}),
      };
      if (
        await storage.fileExists(BACKUP_META_FILE) && await finishLeftover(storage, pd, cpOpts)
      ) {
        progress.stop();
        const finished = await summaryOfFinished(cfg, storage, started);
        metrics.phase("done");
        return finished;
      }
      await refuseFinishedBackup(storage);
      checkpoint = await BackupCheckpoint.open(storage, pd, cpOpts);
    } else if (cfg.useCheckpoint !== false && !storage.capabilities().discardsWrites) {
      log("backup").info("incremental backup: no checkpoint, as BR");
    }
    // PD time of this run's start: files the stores name with an earlier time are not this
    // run's (see orphanFiles).
    const runStartMs = physicalMs(await pd.getTS());
    const backupTs = await chooseBackupTs(pd, storage, checkpoint, givenTs, timeAgo, lastTs);
    if (cfg.mode !== "raw") {
      keeper = await startGcKeeper(
        pd,
        backupTs,
        cfg.gcTtlSeconds ?? DEFAULT_GC_TTL_SECONDS,
        ...(checkpoint ? [checkpoint.start.gcServiceId] : []),
      );
    }
    // Without a checkpoint the lock file is written now; with one, right after checkpoint.meta
    // (doBackup), so that a crash in between still resumes.
    if (!checkpoint) await claimStorage(storage);
    else if (!checkpoint.resumed && await storage.fileExists(BACKUP_LOCK_FILE)) {
      throw lockFileError(storage);
    }
    log("backup").info("backup ts {ts} ({time}), storage {uri}", {
      ts: String(backupTs),
      time: tsToDate(backupTs).toISOString(),
      uri: storage.uri(),
    });

    const work = doBackup({ ...cfg, signal }, {
      pd,
      stores,
      resolver,
      storage,
      backupTs,
      lastTs,
      concurrency,
      template: {
        startVersion: lastTs,
        endVersion: backupTs,
        rateLimit,
        concurrency: 4,
        storageBackend: backend,
        isRawKv: cfg.mode === "raw",
        cf: cfg.mode === "raw" ? (cfg.raw?.cf ?? "default") : "",
        compressionType: COMPRESSION[cfg.compression],
        compressionLevel: cfg.compressionLevel ?? 0,
        ...(cfg.cipher && cfg.cipher.method !== EncryptionMethod.PLAINTEXT
          ? { cipherInfo: { cipherType: cfg.cipher.method, cipherKey: cfg.cipher.key } }
          : {}),
      },
      filter,
      progress,
      checkpoint,
      runStartMs,
      scope,
    });
    // A failed keeper aborts the run; the backup's workers stop and settle before the first
    // error is thrown.
    const result = await scope.run(work, ...(keeper ? [keeper.failed] : []));
    progress.stop();
    const took = checkpoint ? checkpoint.dureTimeMs(started) : Date.now() - started;
    const secs = Math.max(took / 1000, 0.001);
    const summary: BackupSummary = {
      kind: label,
      storage: storage.uri(),
      backupTs: String(backupTs),
      backupTime: tsToDate(backupTs).toISOString(),
      lastBackupTs: String(lastTs),
      totalRanges: result.ranges,
      totalRegions: result.regions,
      totalKvs: String(result.kvs),
      totalBytes: String(result.bytes),
      backupDataSize: String(result.size),
      dataFiles: result.files,
      tables: result.tables,
      checksum: result.checksummed ? "passed" : "skipped",
      timeTakenMs: took,
      averageSpeed: formatSpeed(Number(result.bytes) / secs),
      ...(checkpoint?.resumed ? { resumedRanges: checkpoint.resumedRanges } : {}),
      ...(checkpoint?.redoneRanges ? { redoneRanges: checkpoint.redoneRanges } : {}),
      ...(result.verified ? { filesVerified: true } : {}),
      ...(result.orphans > 0 ? { orphansRemoved: result.orphans } : {}),
    };
    // BR's single summary line, for scripts that read its log.
    log("summary").info(summaryLogLine(summary));
    metrics.phase("done");
    return summary;
  } catch (err) {
    metrics.phase("failed");
    progress.stop();
    const saved = await checkpoint?.abandon();
    if (outer.signal?.aborted && saved) {
      // Interrupted (Ctrl-C, SIGTERM): say whether the rerun can resume.
      process.stderr.write(
        saved.saved
          // Sub-ranges: the regions' parts the checkpoint records, as `checkpoint status`
          // counts them (the bar counts whole key ranges).
          ? `Checkpoint saved at ${storage.uri()} (${saved.ranges} sub-ranges done): rerun the ` +
            "same command to resume\n"
          : `Could not save the checkpoint at ${storage.uri()} (see the log); a rerun of the ` +
            "same command resumes from the last flush\n",
      );
    }
    throw err;
  } finally {
    scope.close();
    keeper?.stop();
    stores.close();
    pd.close();
    await storage.close();
  }
}

/** Phase: opens the storage, then connects to PD; the stores are reached through PD. */
async function connect(cfg: BackupConfig): Promise<{
  storage: ExternalStorage;
  backend: ReturnType<typeof toStorageBackend>;
  pd: PdClient;
  stores: StoreConnections;
  resolver: LockResolver;
}> {
  const signal = cfg.signal;
  const storage = await openStorage(cfg.storage, {
    ...(cfg.storageFlags ? { flags: cfg.storageFlags } : {}),
    ...(cfg.storagePlugins ? { plugins: cfg.storagePlugins } : {}),
    ...(cfg.storageTimeoutMs ? { timeoutMs: cfg.storageTimeoutMs } : {}),
    ...(signal ? { signal } : {}),
  });
  let backend;
  let pd: PdClient;
  try {
    backend = toStorageBackend(storage, cfg.sendCredentials);
    pd = await PdClient.connect({
      endpoints: cfg.pd,
      ...(cfg.tls ? { tls: cfg.tls } : {}),
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    await storage.close();
    throw err;
  }
  const stores = new StoreConnections(pd, cfg.tls);
  const resolver = new LockResolver(pd, stores, signal ? { signal } : {});
  return { storage, backend, pd, stores, resolver };
}

/**
 * Phase: the backup ts: the resumed checkpoint's (if GC has not passed it), else `--backupts`,
 * `--timeago` or a fresh TSO (never above PD's current TSO, never at or below the GC safe
 * point); an incremental backup's `--lastbackupts` must be before it.
 */
async function chooseBackupTs(
  pd: PdClient,
  storage: ExternalStorage,
  checkpoint: BackupCheckpoint | undefined,
  givenTs: bigint | undefined,
  timeAgo: number,
  lastTs: bigint,
): Promise<bigint> {
  let backupTs: bigint;
  const resumedTs = checkpoint?.start.backupTs;
  if (resumedTs !== undefined) {
    backupTs = resumedTs;
    try {
      await checkGCSafePoint(pd, backupTs);
    } catch (err) {
      throw new BackupConfigError(
        `cannot resume the checkpoint at ${storage.uri()}: ${(err as Error).message}; or ` +
          `start afresh with 'tibr checkpoint clean -s ${storage.uri()}'`,
      );
    }
  } else {
    backupTs = await resolveBackupTs(pd, givenTs, timeAgo);
  }
  if (lastTs > 0n && lastTs >= backupTs) {
    throw new BackupConfigError(
      `--lastbackupts ${lastTs} must be before the backup ts ${backupTs}`,
    );
  }
  return backupTs;
}

/**
 * The summary of a backup an earlier run finished (it was stopped after writing `backupmeta`),
 * read back from its metadata.
 */
async function summaryOfFinished(
  cfg: BackupConfig,
  storage: ExternalStorage,
  started: number,
): Promise<BackupSummary> {
  const reader = await MetaReader.open(storage, {
    ...(cfg.cipher ? { cipher: cfg.cipher } : {}),
    ...(cfg.signal ? { signal: cfg.signal } : {}),
  });
  let kvs = 0n, bytes = 0n, size = 0n, files = 0, tables = 0;
  for await (const f of reader.dataFiles()) {
    kvs += f.totalKvs;
    bytes += f.totalBytes;
    size += f.size;
    files++;
  }
  for await (const t of reader.tables()) if (t.table) tables++;
  const m = reader.meta;
  const took = Date.now() - started;
  return {
    kind: m.isRawKv
      ? "Raw Backup"
      : m.isTxnKv
      ? "Txn Backup"
      : backupLabel(cfg.mode, m.startVersion > 0n),
    storage: storage.uri(),
    backupTs: String(m.endVersion),
    backupTime: tsToDate(m.endVersion).toISOString(),
    lastBackupTs: String(m.startVersion),
    totalRanges: 0,
    totalRegions: 0,
    totalKvs: String(kvs),
    totalBytes: String(bytes),
    backupDataSize: String(size),
    dataFiles: files,
    tables,
    checksum: cfg.checksum ? "passed" : "skipped",
    timeTakenMs: took,
    averageSpeed: "-",
    alreadyComplete: true,
  };
}

interface BackupContext {
  pd: PdClient;
  stores: StoreConnections;
  resolver: LockResolver;
  storage: ExternalStorage;
  backupTs: bigint;
  lastTs: bigint;
  concurrency: number;
  template: BackupRequestInit;
  filter: TableFilter | undefined;
  progress: ReturnType<typeof createProgress>;
  checkpoint: BackupCheckpoint | undefined;
  /** PD physical time this run started, ms. */
  runStartMs: number;
  /** The run's scope: a pool's first failure fails it, so work outside the pool stops too. */
  scope: RunScope;
}

interface BackupTotals {
  ranges: number;
  regions: number;
  kvs: bigint;
  bytes: bigint;
  size: bigint;
  files: number;
  tables: number;
  checksummed: boolean;
  /** Whether every file's sha256 was compared. */
  verified: boolean;
  /** Orphan files removed. */
  orphans: number;
}

/**
 * The backup loop, as its phases: plan the ranges (and, for an incremental backup, the DDL
 * jobs), start the checkpoint and BR's marker, push the ranges down to the stores, check the
 * tables' checksums, and write the metadata with `backupmeta` last.
 */
async function doBackup(cfg: BackupConfig, ctx: BackupContext): Promise<BackupTotals> {
  const writer = new MetaWriter(ctx.storage, {
    ...(cfg.cipher ? { cipher: cfg.cipher } : {}),
    ...(cfg.signal ? { signal: cfg.signal } : {}),
  });
  try {
    const { ranges, plan } = await planRanges(cfg, ctx, writer);
    const cp = ctx.checkpoint;
    if (cp) {
      await cp.begin(ctx.backupTs, ranges, ctx.runStartMs);
      await claimStorage(ctx.storage, true);
    }
    const totals: BackupTotals = {
      ranges: ranges.length,
      regions: 0,
      kvs: 0n,
      bytes: 0n,
      size: 0n,
      files: 0,
      tables: plan?.tables ?? 0,
      checksummed: false,
      verified: false,
      orphans: 0,
    };
    const listed = await pushDown(cfg, ctx, writer, ranges, totals);
    // The data files' buffer goes before the schemas' fills (each up to the metafile limit).
    await writer.flushDataFiles();
    if (plan) totals.checksummed = await tableChecksums(cfg, ctx, writer, plan);
    await writeMetadata(cfg, ctx, writer, listed, totals);
    return totals;
  } catch (err) {
    writer.abort();
    throw err;
  }
}

/** Phase: the key ranges to back up, from the schema at the backup ts (or the raw range). */
async function planRanges(
  cfg: BackupConfig,
  ctx: BackupContext,
  writer: MetaWriter,
): Promise<{ ranges: KeyRange[]; plan?: BackupPlan }> {
  const { pd, stores, resolver, backupTs, lastTs } = ctx;
  let plan: BackupPlan | undefined;
  let ranges: KeyRange[];
  if (cfg.mode === "raw") {
    const raw = cfg.raw ?? { start: "", end: "", format: "hex", cf: "default" };
    const start = parseRawKey(raw.start, raw.format);
    const end = parseRawKey(raw.end, raw.format);
    if (end.length > 0 && compareBytes(start, end) >= 0) {
      throw new BackupConfigError("--start must be before --end");
    }
    ranges = [{ startKey: start, endKey: end }];
    writer.appendRawRange({ startKey: start, endKey: end, cf: raw.cf });
  } else if (cfg.mode === "txn") {
    ranges = [{ startKey: new Uint8Array(), endKey: new Uint8Array() }];
  } else {
    const reader = new SchemaReader(new TikvSnapshot(pd, stores, resolver, cfg.signal), backupTs);
    plan = await buildBackupPlan(reader, ctx.filter!, cfg.signal ? { signal: cfg.signal } : {});
    if (plan.tables === 0 && plan.emptyDatabases.length === 0) {
      throw new BackupConfigError(
        "no database or table matches the filter: check --db/--table/--filter (names are " +
          "case-insensitive unless --case-sensitive)",
      );
    }
    ranges = plan.ranges;
    if (lastTs > 0n) await writeDdlJobs(writer, reader, lastTs, pd, stores, resolver, cfg);
  }
  return plan ? { ranges, plan } : { ranges };
}

/**
 * Yields each range and lets go of it: nothing needs a range again once it is handed to the
 * pool, and 100k tables make 300k of them (their keys' slabs are freed as the ranges go).
 */
function* handOut(ranges: KeyRange[]): Generator<KeyRange> {
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    ranges[i] = EMPTY_RANGE;
    yield r;
  }
}
const EMPTY_RANGE: KeyRange = { startKey: new Uint8Array(), endKey: new Uint8Array() };

/**
 * Phase: every range pushed down to the stores, `concurrency` at a time; finished sub-ranges go
 * to the metadata writer and the checkpoint as they come. Returns every listed file.
 */
async function pushDown(
  cfg: BackupConfig,
  ctx: BackupContext,
  writer: MetaWriter,
  ranges: KeyRange[],
  totals: BackupTotals,
): Promise<ListedFiles> {
  const { pd, stores, resolver } = ctx;
  const cp = ctx.checkpoint;
  const allStores = (await pd.getAllStores()).filter(isTiKV);
  // After the first failed range no range starts, and the ones running see the pool's signal.
  const rangePool = new Pool({
    concurrency: ctx.concurrency,
    ...(cfg.signal ? { signal: cfg.signal } : {}),
    onFail: (err) => ctx.scope.fail(err),
  });
  const client = new BackupClient(pd, stores, resolver, {
    clusterId: pd.clusterId,
    newTree: () => new RangeTree(),
    ...(cfg.maxBackoffMs !== undefined ? { maxBackoffMs: cfg.maxBackoffMs } : {}),
    signal: rangePool.signal,
  });
  // Every file the metadata lists, for the check before backupmeta (the sha256 only when it
  // is compared).
  const listed = new ListedFiles();
  // A storage that discards writes has no files to confirm before backupmeta.
  const checkFiles = !ctx.storage.capabilities().discardsWrites;
  metrics.phase("backup");
  metrics.plan({ ranges: ranges.length });
  ctx.progress.start(ranges.length, "ranges");
  await rangePool.forEach(handOut(ranges), async (range) => {
    const done = cp?.doneTree(range);
    if (done) {
      totals.regions += done.len;
      metrics.regionDone(done.len);
    }
    // Finished sub-ranges go to the metadata writer in key order while the range is backed
    // up (BR's metaWriter.Send, range by range), so a range of a million regions is never
    // held whole. The writer queues calls in order; its first failure sticks and is
    // rethrown below.
    let sent: Promise<void> = Promise.resolve();
    const sink = (r: Range) => {
      // Once per range, not per file: a million-region backup calls this a million times.
      let kvs = 0n;
      let bytes = 0n;
      for (const f of r.files) {
        kvs += f.totalKvs;
        bytes += f.totalBytes;
        totals.size += f.size;
        if (!checkFiles) continue;
        listed.set(f.name, f.size, cfg.verifyFiles ? f.sha256.slice() : undefined);
      }
      totals.kvs += kvs;
      totals.bytes += bytes;
      totals.files += r.files.length;
      ctx.progress.addBytes(bytes);
      metrics.data({ kvs, bytes, files: r.files.length });
      sent = writer.appendDataFiles(r.files);
      sent.catch(() => {});
    };
    const tree = await client.backupRange(range, ctx.template, allStores, {
      region: (resp) => {
        totals.regions++;
        metrics.regionDone();
        cp?.record(range, resp);
      },
    }, { ...(done ? { done } : {}), sink });
    cp?.check();
    // The whole range has been handed over; only a response reaching past the range's end
    // (TiKV clips them, so normally none) could still be held.
    for (const r of tree.ranges()) sink(r);
    await sent;
    ctx.progress.tick();
    metrics.rangeDone();
  });
  return listed;
}

/**
 * Phase: the schemas, read again at the backup ts a chunk at a time (see `schemas.ts`): each
 * table's checksum from the cluster (CHECKSUM_CONCURRENCY tables at a time, BR's
 * --checksum-concurrency; reused from the checkpoint) compared with its files', its statistics
 * with `--ignore-stats=false`, then its schema written, in plan order. Returns whether the
 * checksums were compared.
 */
async function tableChecksums(
  cfg: BackupConfig,
  ctx: BackupContext,
  writer: MetaWriter,
  plan: BackupPlan,
): Promise<boolean> {
  const { pd, stores, resolver, backupTs, lastTs } = ctx;
  const cp = ctx.checkpoint;
  const doChecksum = cfg.checksum && lastTs === 0n;
  const status = cfg.ignoreStats === false && lastTs === 0n ? await statsServer(cfg, ctx) : "";
  // A phase of its own, so the bar of the backup is not left standing at 100 %.
  if (doChecksum) {
    metrics.phase("checksum");
    ctx.progress.phase("Checksum", plan.tables, "tables");
  } else if (status) {
    metrics.phase("statistics");
    ctx.progress.phase("Statistics", plan.tables, "tables");
  }
  const { withStats } = await backupSchemas({
    reader: new SchemaReader(new TikvSnapshot(pd, stores, resolver, cfg.signal), backupTs),
    filter: ctx.filter!,
    plan,
    fromFiles: (ids) => writer.tableChecksum(...ids),
    write: (schema) => writer.appendSchema(schema),
    concurrency: doChecksum ? CHECKSUM_CONCURRENCY : STATS_CONCURRENCY,
    ...(cfg.signal ? { signal: cfg.signal } : {}),
    onFail: (err: unknown) => ctx.scope.fail(err),
    ...(doChecksum || status ? { tick: () => ctx.progress.tick() } : {}),
    ...(doChecksum
      ? {
        checksum: async (t: BackupTable, signal: AbortSignal) => {
          const id = BigInt(t.table.id);
          let sum = cp?.savedChecksum(id);
          if (!sum) {
            const t0 = performance.now();
            sum = await coprocessorChecksum(pd, stores, resolver, t.ranges, backupTs, signal);
            await cp?.saveChecksum(id, sum, (performance.now() - t0) / 1000);
          }
          return sum;
        },
      }
      : {}),
    ...(status
      ? {
        stats: async (t: BackupTable, signal: AbortSignal) => {
          const text = await dumpTableStats(status, t.db.db_name.O, t.table.name.O, signal);
          if (text === undefined) return undefined;
          return await writeTableStats(ctx.storage, cfg.cipher, statsBlocks(t.table, text), signal);
        },
      }
      : {}),
  });
  if (status) {
    log("backup").info("backed up the statistics of {n} of {total} tables from TiDB {status}", {
      n: withStats,
      total: plan.tables,
      status,
    });
  }
  return doChecksum;
}

/**
 * With `--ignore-stats=false`: the status address of a TiDB server of the cluster (found in
 * PD's etcd) to read statistics from, as BR; "" when there is none (BR logs and goes on).
 */
async function statsServer(cfg: BackupConfig, ctx: BackupContext): Promise<string> {
  let tidb;
  try {
    tidb = (await discoverTidb(ctx.pd.leader, cfg.tls, cfg.signal))[0];
  } catch (err) {
    cfg.signal?.throwIfAborted();
    log("backup").warn("cannot list the TiDB servers in PD ({error}): no statistics backed up", {
      error: (err as Error).message,
    });
    return "";
  }
  if (!tidb) {
    log("backup").warn(
      "no TiDB server is registered in PD (/topology/tidb/): no statistics backed up",
    );
    return "";
  }
  return `${tidb.host}:${tidb.statusPort}`;
}

/**
 * Phase: the last checkpoint flush, the data files confirmed in the storage (orphans removed),
 * then `backupmeta` only while this run still holds the lock; then the checkpoint is removed.
 */
async function writeMetadata(
  cfg: BackupConfig,
  ctx: BackupContext,
  writer: MetaWriter,
  listed: ListedFiles,
  totals: BackupTotals,
): Promise<void> {
  const { pd, storage, backupTs, lastTs } = ctx;
  const cp = ctx.checkpoint;
  metrics.phase("write metadata");
  // The last checkpoint flush, then backupmeta only while this run still holds the lock and
  // every listed file is in the storage as the stores wrote it.
  await cp?.flush();
  if (!storage.capabilities().discardsWrites) {
    const check = await confirmFiles(storage, listed, {
      verify: cfg.verifyFiles ?? false,
      sinceMs: cp ? cp.startMs : ctx.runStartMs,
      ...(cfg.signal ? { signal: cfg.signal } : {}),
    });
    totals.verified = cfg.verifyFiles ?? false;
    totals.orphans = check.orphans;
  }
  await writer.finish({
    clusterId: pd.clusterId,
    clusterVersion: await clusterVersion(pd),
    brVersion: brVersionText(),
    startVersion: lastTs,
    endVersion: backupTs,
    isRawKv: cfg.mode === "raw",
    isTxnKv: cfg.mode === "txn",
    newCollationsEnabled: "True",
  }, cp ? { beforeWrite: () => cp.assertHeld() } : {});
  if (cp) {
    try {
      await cp.complete();
    } catch (err) {
      // The backup is complete; only the checkpoint's leftovers remain.
      log("backup").warn(
        "the backup finished, but its checkpoint files could not be removed ({error}); " +
          "remove them with 'tibr checkpoint clean -s {uri}'",
        { error: (err as Error).message, uri: storage.uri() },
      );
    }
  }
}

/**
 * Confirms every listed file in the storage (one listing; with `verify` also its sha256) and
 * removes the orphans of this backup's runs (TiKV-named files written since `sinceMs` that no
 * range kept). Throws a BackupError naming the missing or damaged files.
 */
async function confirmFiles(
  storage: ExternalStorage,
  listed: ListedFiles,
  opts: { verify: boolean; sinceMs: number | undefined; signal?: AbortSignal },
): Promise<{ orphans: number }> {
  const t0 = performance.now();
  const stored = await StoredFiles.list(storage, opts.signal, listed);
  const problems = await checkFiles(storage, stored, listed.values(), opts.verify, opts.signal);
  log("backup").info("checked {n} data files at {uri} ({how}, {ms} ms): {bad} missing or damaged", {
    n: listed.size,
    uri: storage.uri(),
    how: `${stored.listed ? "one listing" : "a stat per file"}${opts.verify ? " + sha256" : ""}`,
    ms: Math.round(performance.now() - t0),
    bad: problems.length,
  });
  if (problems.length > 0) {
    throw new BackupError(filesProblemMessage(storage.uri(), problems, listed.size));
  }
  if (opts.sinceMs === undefined) return { orphans: 0 };
  const orphans = orphanFiles(stored, listed, opts.sinceMs);
  if (orphans.length > 0) {
    await storage.deleteFiles(orphans, opts.signal ? { signal: opts.signal } : {});
    log("backup").info("removed {n} files no range kept (earlier runs' or retries')", {
      n: orphans.length,
    });
  }
  return { orphans: orphans.length };
}

/**
 * The cluster version as PD reports it (`/pd/api/v1/config/cluster-version`, which BR records):
 * PD raises it to the lowest version among its stores (tombstones aside), so that is what it
 * reports once they all run.
 */
export async function clusterVersion(pd: PdClient): Promise<string> {
  const stores = await pd.getAllStores();
  return lowestVersion(stores.map((s) => s.version ?? ""));
}

/** The lowest semantic version of `versions` (a `v` prefix allowed), as written; "" if none. */
export function lowestVersion(versions: readonly string[]): string {
  const parse = (v: string) => /^v?(\d+)\.(\d+)\.(\d+)/.exec(v)?.slice(1).map(Number);
  let best: [string, number[]] | undefined;
  for (const v of versions) {
    const p = parse(v);
    if (!p) continue;
    if (!best || _less(p, best[1])) best = [v, p];
  }
  return best?.[0] ?? "";
}

function _less(a: number[], b: number[]): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

async function writeDdlJobs(
  writer: MetaWriter,
  reader: SchemaReader,
  lastTs: bigint,
  pd: PdClient,
  stores: StoreConnections,
  resolver: LockResolver,
  cfg: BackupConfig,
): Promise<void> {
  const last = new SchemaReader(new TikvSnapshot(pd, stores, resolver, cfg.signal), lastTs);
  const lastVersion = await last.getSchemaVersion();
  const jobs = [...await reader.listQueuedJobs(), ...await reader.listHistoryJobs()];
  let n = 0;
  for (const { info, raw } of jobs) {
    const done = info.state === JobState.Done || info.state === JobState.Synced;
    const version = BigInt(info.binlog?.SchemaVersion ?? 0);
    if (done && version > lastVersion) {
      await writer.appendDDL(raw);
      n++;
    }
  }
  log("backup").info("recorded {n} DDL jobs after schema version {v}", {
    n,
    v: String(lastVersion),
  });
}
