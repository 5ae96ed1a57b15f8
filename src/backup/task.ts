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
import { forEachPool, Pool } from "../pool.ts";
import { RunScope } from "../run_scope.ts";
import { brVersionText } from "../version.ts";
import type { BackupConfig as CheckpointConfig } from "../checkpoint/meta.ts";
import { BackupCheckpoint, finishLeftover } from "./_checkpoint.ts";
import { coprocessorChecksum } from "./checksum.ts";
import { BackupClient, BackupError, type BackupRequestInit } from "./client.ts";
import {
  BACKUP_LOCK_FILE,
  BACKUP_META_FILE,
  MetaWriter,
  type TableChecksum,
} from "./metawriter.ts";
import { MetaReader } from "./metareader.ts";
import { createProgress, formatBytes } from "./progress.ts";
import { type BackupPlan, buildBackupPlan } from "./ranges.ts";
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
import { objectUri } from "../storage/url.ts";

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
   * An earlier run had written the whole backup and was stopped while removing its checkpoint;
   * this run only removed the leftovers (present and true then).
   */
  alreadyComplete?: boolean;
}

/** A configuration error: printed as one line, exit code 2. */
export class BackupConfigError extends Error {
  override name = "BackupConfigError";
}

const COMPRESSION: Record<BackupConfig["compression"], CompressionType> = {
  lz4: CompressionType.LZ4,
  snappy: CompressionType.SNAPPY,
  zstd: CompressionType.ZSTD,
};

/** Tables checksummed at a time (BR's `--checksum-concurrency` default). */
const CHECKSUM_CONCURRENCY = 4;

const LOCK_TEXT = "DO NOT DELETE\nThis file exists to remind other backup jobs won't use this path";

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

/** Refuses a storage that already holds a finished backup. */
export async function refuseFinishedBackup(storage: ExternalStorage): Promise<void> {
  if (await storage.fileExists(BACKUP_META_FILE)) {
    throw new BackupConfigError(
      `${
        objectUri(storage.uri(), BACKUP_META_FILE)
      } exists: that storage already holds a backup; ` +
        `choose an empty directory or prefix`,
    );
  }
}

/**
 * Claims the storage: refuses one that holds a finished backup, or another run's `backup.lock`
 * unless `resuming` (the checkpoint being resumed proves the lock is this backup's own).
 */
export async function claimStorage(storage: ExternalStorage, resuming = false): Promise<void> {
  await refuseFinishedBackup(storage);
  if (await storage.fileExists(BACKUP_LOCK_FILE)) {
    if (resuming) return;
    throw lockFileError(storage);
  }
  await storage.writeFile(BACKUP_LOCK_FILE, new TextEncoder().encode(LOCK_TEXT));
}

function lockFileError(storage: ExternalStorage): BackupConfigError {
  return new BackupConfigError(
    `${
      objectUri(storage.uri(), BACKUP_LOCK_FILE)
    } exists: another backup uses that storage, or an ` +
      `earlier one failed there without a checkpoint; choose another location or remove its ` +
      `files`,
  );
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
export async function runBackup(cfg: BackupConfig): Promise<BackupSummary> {
  const started = Date.now();
  // The run's signal: the caller's, also aborted by the GC keeper's failure (see scope.run).
  const scope = new RunScope(cfg.signal);
  const signal = scope.signal;
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

  const storage = await openStorage(cfg.storage, {
    ...(cfg.storageFlags ? { flags: cfg.storageFlags } : {}),
    ...(cfg.storagePlugins ? { plugins: cfg.storagePlugins } : {}),
    ...(signal ? { signal } : {}),
  });
  const backend = toStorageBackend(storage, cfg.sendCredentials);
  let pd: PdClient;
  try {
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
  let keeper: GcKeeper | undefined;
  let checkpoint: BackupCheckpoint | undefined;
  const progress = createProgress(
    cfg.mode === "raw" ? "Raw Backup" : cfg.mode === "txn" ? "Txn Backup" : "Full Backup",
    cfg.progress ?? "auto",
  );
  try {
    const lastTs = cfg.lastBackupTs ?? 0n;
    if (checkpointWanted(cfg, storage)) {
      const cpOpts = {
        config: checkpointConfig(cfg),
        ...(cfg.cipher ? { cipher: cfg.cipher } : {}),
        ...(cfg.checkpointFlushIntervalMs
          ? { flushIntervalMs: cfg.checkpointFlushIntervalMs }
          : {}),
        ...(signal ? { signal } : {}),
      };
      if (
        await storage.fileExists(BACKUP_META_FILE) && await finishLeftover(storage, pd, cpOpts)
      ) {
        progress.stop();
        return await summaryOfFinished(cfg, storage, started);
      }
      await refuseFinishedBackup(storage);
      checkpoint = await BackupCheckpoint.open(storage, pd, cpOpts);
    } else if (cfg.useCheckpoint !== false && !storage.capabilities().discardsWrites) {
      log("backup").info("incremental backup: no checkpoint, as BR");
    }
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
    });
    // A failed keeper aborts the run; the backup's workers stop and settle before it throws.
    const result = await scope.run(work, ...(keeper ? [keeper.failed] : []));
    progress.stop();
    const took = checkpoint ? checkpoint.dureTimeMs(started) : Date.now() - started;
    const secs = Math.max(took / 1000, 0.001);
    return {
      kind: cfg.mode === "raw"
        ? "Raw Backup"
        : cfg.mode === "txn"
        ? "Txn Backup"
        : lastTs > 0n
        ? "Incremental Backup"
        : "Full Backup",
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
      averageSpeed: `${formatBytes(Number(result.bytes) / secs)}/s`,
      ...(checkpoint?.resumed ? { resumedRanges: checkpoint.resumedRanges } : {}),
    };
  } catch (err) {
    progress.stop();
    await checkpoint?.abandon();
    throw err;
  } finally {
    scope.close();
    keeper?.stop();
    stores.close();
    pd.close();
    await storage.close();
  }
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
    kind: m.isRawKv ? "Raw Backup" : m.startVersion > 0n ? "Incremental Backup" : "Full Backup",
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
}

async function doBackup(cfg: BackupConfig, ctx: BackupContext): Promise<BackupTotals> {
  const { pd, stores, resolver, storage, backupTs, lastTs } = ctx;
  const writer = new MetaWriter(storage, {
    ...(cfg.cipher ? { cipher: cfg.cipher } : {}),
    ...(cfg.signal ? { signal: cfg.signal } : {}),
  });
  let plan: BackupPlan | undefined;
  let ranges: KeyRange[];
  try {
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
      plan = await buildBackupPlan(reader, ctx.filter!);
      if (plan.tables.length === 0 && plan.emptyDatabases.length === 0) {
        throw new BackupConfigError(
          "no database or table matches the filter: check --db/--table/--filter (names are " +
            "case-insensitive unless --case-sensitive)",
        );
      }
      ranges = plan.ranges;
      if (lastTs > 0n) await writeDdlJobs(writer, reader, lastTs, pd, stores, resolver, cfg);
    }

    const cp = ctx.checkpoint;
    if (cp) {
      await cp.begin(backupTs, ranges);
      await claimStorage(storage, true);
    }
    const allStores = (await pd.getAllStores()).filter(isTiKV);
    // After the first failed range no range starts, and the ones running see the pool's signal.
    const rangePool = new Pool({
      concurrency: ctx.concurrency,
      ...(cfg.signal ? { signal: cfg.signal } : {}),
    });
    const client = new BackupClient(pd, stores, resolver, {
      clusterId: pd.clusterId,
      newTree: () => new RangeTree(),
      ...(cfg.maxBackoffMs !== undefined ? { maxBackoffMs: cfg.maxBackoffMs } : {}),
      signal: rangePool.signal,
    });
    const totals: BackupTotals = {
      ranges: ranges.length,
      regions: 0,
      kvs: 0n,
      bytes: 0n,
      size: 0n,
      files: 0,
      tables: plan?.tables.length ?? 0,
      checksummed: false,
    };
    ctx.progress.start(ranges.length, "ranges");
    await rangePool.forEach(ranges, async (range) => {
      const done = cp?.doneTree(range);
      if (done) totals.regions += done.len;
      // Finished sub-ranges go to the metadata writer in key order while the range is backed
      // up (BR's metaWriter.Send, range by range), so a range of a million regions is never
      // held whole. The writer queues calls in order; its first failure sticks and is
      // rethrown below.
      let sent: Promise<void> = Promise.resolve();
      const sink = (r: Range) => {
        for (const f of r.files) {
          totals.kvs += f.totalKvs;
          totals.bytes += f.totalBytes;
          totals.size += f.size;
          ctx.progress.addBytes(f.totalBytes);
        }
        totals.files += r.files.length;
        sent = writer.appendDataFiles(r.files);
        sent.catch(() => {});
      };
      const tree = await client.backupRange(range, ctx.template, allStores, {
        region: (resp) => {
          totals.regions++;
          cp?.record(range, resp);
        },
      }, { ...(done ? { done } : {}), sink });
      cp?.check();
      // The whole range has been handed over; only a response reaching past the range's end
      // (TiKV clips them, so normally none) could still be held.
      for (const r of tree.ranges()) sink(r);
      await sent;
      ctx.progress.tick();
    });

    if (plan) {
      const doChecksum = cfg.checksum && lastTs === 0n;
      const tables = plan.tables;
      // The cluster's checksums, CHECKSUM_CONCURRENCY tables at a time (BR's
      // --checksum-concurrency); the schemas are then written in plan order.
      const fromCluster: (TableChecksum | undefined)[] = new Array(tables.length);
      if (doChecksum) {
        const poolOpts = {
          concurrency: CHECKSUM_CONCURRENCY,
          ...(cfg.signal ? { signal: cfg.signal } : {}),
        };
        await forEachPool(tables, poolOpts, async (t, i, signal) => {
          if (t.ranges.length === 0) return;
          const id = BigInt(t.table.id);
          let sum = cp?.savedChecksum(id);
          if (!sum) {
            const t0 = performance.now();
            sum = await coprocessorChecksum(pd, stores, resolver, t.ranges, backupTs, signal);
            await cp?.saveChecksum(id, sum, (performance.now() - t0) / 1000);
          }
          fromCluster[i] = sum;
        });
      }
      for (let i = 0; i < tables.length; i++) {
        const t = tables[i]!;
        const fromFiles = writer.tableChecksum(...t.physicalIds);
        const sum = fromCluster[i];
        if (sum) checkTableChecksum(`${t.db.db_name.O}.${t.table.name.O}`, fromFiles, sum);
        await writer.appendSchema({ db: t.db, table: t.table, ...fromFiles });
      }
      for (const db of plan.emptyDatabases) await writer.appendSchema({ db });
      totals.checksummed = doChecksum;
    }
    // The last checkpoint flush, then backupmeta only while this run still holds the lock.
    await cp?.flush();
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
    return totals;
  } catch (err) {
    writer.abort();
    throw err;
  }
}

/** Fails the backup when the files' sums differ from the cluster's, naming the table. */
export function checkTableChecksum(
  name: string,
  files: TableChecksum,
  cluster: TableChecksum,
): void {
  if (
    files.crc64xor !== cluster.crc64xor || files.totalKvs !== cluster.totalKvs ||
    files.totalBytes !== cluster.totalBytes
  ) {
    throw new BackupError(
      `checksum mismatch for table ${name}: backup files have crc64xor ${files.crc64xor}, ` +
        `${files.totalKvs} kvs, ${files.totalBytes} bytes; the cluster has crc64xor ` +
        `${cluster.crc64xor}, ${cluster.totalKvs} kvs, ${cluster.totalBytes} bytes`,
    );
  }
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
