/**
 * `tibr restore`: BR's snapshot restore. Reads the backup's metadata, selects tables, creates
 * their schemas through a TiDB server (as Lightning does), works out rewrite rules from the new
 * IDs, prepares the cluster (schedulers paused, import mode, regions split and scattered),
 * downloads and ingests every file, checks each table's checksum against the backup's, and puts
 * the cluster back as it was, also on failure and on Ctrl-C.
 * @module
 */
import { compareBytes } from "../codec/bytes.ts";
import { type CipherInfo, validateCipher } from "../crypto/cipher.ts";
import {
  allFilter,
  parseFilter,
  schemasFilter,
  type TableFilter,
  tablesFilter,
} from "../filter/mod.ts";
import type { File } from "../gen/brpb_pb.ts";
import { log } from "../log.ts";
import { PdClient, type RegionInfo } from "../pd/client.ts";
import type { TlsOptions } from "../rpc/transport.ts";
import { toStorageBackend } from "../storage/backend.ts";
import { openStorage } from "../storage/registry.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { StoreConnections } from "../tikv/stores.ts";
import { LockResolver } from "../txn/lock_resolver.ts";
import { MetaReader } from "../backup/metareader.ts";
import { ActionType, type Job } from "../tidb/model.ts";
import { formatBytes, formatSpeed } from "../backup/progress.ts";
import { type PhasedProgress, phasedProgress } from "./progress.ts";
import { parseRawKey } from "../backup/task.ts";
import { Pool } from "../pool.ts";
import { restoredRanges } from "./checksum.ts";
import { coprocessorChecksum } from "../backup/checksum.ts";
import { ImportModeKeeper, isTikv, SchedulerPause, splitAndScatter } from "./cluster.ts";
import { FileImporter, regionsOf } from "./importer.ts";
import { batchSpan, importBatches, rangeBatches } from "./batches.ts";
import { decodeTableId } from "../tidb/tablecodec.ts";
import {
  collectFiles,
  createDatabaseSql,
  createTableSql,
  type DryRunPlan,
  namesOnly,
  rebaseSql,
  type SelectedTable,
  selectTables,
  tableName,
  tableTotals,
  wholeSchemas,
} from "./plan.ts";
import { mergeFileRanges, rewriteRanges, type RewrittenRange, splitKeys } from "./ranges.ts";
import { createTables, DEFAULT_DDL_BATCH_SIZE } from "./schemas.ts";
import {
  columnIdChanges,
  predictedColumnIdChanges,
  RuleIndex,
  type TableRewrite,
  tableRewrite,
} from "./rewrite.ts";
import { quoteIdent, TidbClient, type TidbEndpoint } from "./tidb.ts";
import { rangeKey, RestoreCheckpoint } from "./checkpoint.ts";
import { discoverTidb } from "../tidb/discover.ts";
import { loadStatistics, type StatsLoadResult } from "./stats.ts";
import { metrics } from "../metrics.ts";
import { restoreLabel, restoreSummaryLogLine } from "./summary.ts";
import {
  type CreatedTable,
  reencodeChangedTables,
  type ReencodeRun,
  reencodeTargetRefusal,
} from "./reencode.ts";

/** The restore kinds, as BR's subcommands. */
export type RestoreMode = "full" | "db" | "table" | "raw" | "txn";

/** Everything a restore needs; built from flags by the CLI. */
export interface RestoreConfig {
  mode: RestoreMode;
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
  cipher?: CipherInfo;
  /** Where TiDB is; absent host: found through PD. */
  tidb?: Partial<TidbEndpoint>;
  /** Files in flight per store. */
  concurrency: number;
  /** Tables created a batch (BR's `--ddl-batch-size`, default 128; 0 or 1: one at a time). */
  ddlBatchSize?: number;
  /** TiDB sessions creating tables at once (default 16, BR's DDL concurrency). */
  ddlConcurrency?: number;
  /** Download limit per store, MiB/s (0 = none). */
  rateLimitMiB?: number;
  checksum: boolean;
  /** Restore data into tables that exist already; create nothing. */
  noSchema?: boolean;
  /** Load the backup's table statistics into the restored tables (default true, as BR). */
  loadStats?: boolean;
  dryRun?: boolean;
  raw?: { start: string; end: string; format: "hex" | "raw" | "escaped"; cf: string };
  progress?: "auto" | "bar" | "lines" | "quiet";
  /** Retry budget of one range (store down, busy, stale regions), ms. */
  budgetMs?: number;
  /** Record progress and resume an interrupted restore (default true). */
  useCheckpoint?: boolean;
  /** Where the checkpoint lives (default: `checkpoints/restore-<cluster id>` in the backup). */
  checkpointStorage?: string;
  /** Checkpoint flush interval, ms (default 30 s). */
  checkpointFlushIntervalMs?: number;
  signal?: AbortSignal;
}

/** The summary printed at the end (and `--output json`). */
export interface RestoreSummary {
  kind: string;
  storage: string;
  backupTs: string;
  restoreTs: string;
  tables: number;
  databases: number;
  dataFiles: number;
  totalKvs: string;
  totalBytes: string;
  ranges: number;
  splitKeys: number;
  newRegions: number;
  checksum: "passed" | "skipped" | "not in backup";
  timeTakenMs: number;
  averageSpeed: string;
  /** Bytes of the backup's data files restored (compressed, as stored): BR's `Size`. */
  restoreDataSize: string;
  /** Time spent splitting and scattering regions, ms. */
  splitTimeMs: number;
  /** Tables whose backup has no checksum to compare with (BR skips them silently). */
  tablesWithoutChecksum?: string[];
  /** Ranges an interrupted earlier run had ingested (present when resumed). */
  resumedRanges?: number;
  /**
   * Tables whose column IDs the created copy numbers otherwise (`db.table (col: old -> new)`):
   * their rows and index values were re-encoded, and their checksum compared with one of the
   * re-encoded KVs.
   */
  reencodedTables?: string[];
  /** Tables whose backed-up statistics were loaded (absent with `--load-stats=false`). */
  statsLoaded?: number;
  /** Tables whose statistics failed to load (`db.table: reason`); their data is restored. */
  statsFailed?: string[];
}

/** A configuration or input error: one line, exit code 2. */
export class RestoreConfigError extends Error {
  override name = "RestoreConfigError";
}

/** A runtime failure of the restore: one line, exit code 1. */
export class RestoreError extends Error {
  override name = "RestoreError";
}

/** The default TiDB ports (TiDB's `-P 4000` and `--status 10080`). */
export const TIDB_DEFAULTS = { port: 4000, statusPort: 10080, user: "root" } as const;

function filterOf(cfg: RestoreConfig): TableFilter {
  const opts = { caseSensitive: cfg.caseSensitive ?? false };
  switch (cfg.mode) {
    case "db":
      if (!cfg.db) throw new RestoreConfigError("restore db needs --db NAME");
      return schemasFilter([cfg.db], opts);
    case "table":
      if (!cfg.db || !cfg.table) {
        throw new RestoreConfigError("restore table needs --db NAME and --table NAME");
      }
      return tablesFilter([{ schema: cfg.db, table: cfg.table }], opts);
    default:
      return cfg.filter && cfg.filter.length > 0 ? parseFilter(cfg.filter, opts) : allFilter();
  }
}

/** Finds the TiDB server: given flags, else the first one registered in PD's etcd. */
async function tidbEndpoint(cfg: RestoreConfig, pd: PdClient): Promise<TidbEndpoint> {
  const t = cfg.tidb ?? {};
  const login = { user: t.user ?? TIDB_DEFAULTS.user, password: t.password ?? "" };
  if (t.host) {
    return {
      host: t.host,
      port: t.port ?? TIDB_DEFAULTS.port,
      statusPort: t.statusPort ?? TIDB_DEFAULTS.statusPort,
      ...login,
    };
  }
  let found;
  try {
    found = await discoverTidb(pd.leader, cfg.tls, cfg.signal);
  } catch (err) {
    throw new RestoreError(
      `cannot list the TiDB servers registered in PD (${(err as Error).message}): give one with ` +
        "--tidb-host and --tidb-port",
    );
  }
  const first = found[0];
  if (!first) {
    throw new RestoreError(
      "no TiDB server is registered in PD (/topology/tidb/): start one for the target cluster, " +
        "or give one with --tidb-host and --tidb-port",
    );
  }
  log("restore").info("found TiDB {addr} (status port {status}) in PD", {
    addr: `${first.host}:${first.port}`,
    status: first.statusPort,
  });
  return { host: first.host, port: first.port, statusPort: first.statusPort, ...login };
}

/** A table restored: the backup's, and how its keys map onto the created one. */
export interface Restored {
  sel: SelectedTable;
  rewrite: TableRewrite;
}

/** Runs a restore (or, with `dryRun`, plans one) and returns its summary or plan. */
export async function runRestore(cfg: RestoreConfig): Promise<RestoreSummary | DryRunPlan> {
  const started = Date.now();
  const signal = cfg.signal;
  if (cfg.cipher) validateCipher(cfg.cipher);
  const tableMode = cfg.mode !== "raw" && cfg.mode !== "txn";
  const filter = tableMode ? filterOf(cfg) : undefined;
  const storage = await openStorage(cfg.storage, {
    ...(cfg.storageFlags ? { flags: cfg.storageFlags } : {}),
    ...(cfg.storagePlugins ? { plugins: cfg.storagePlugins } : {}),
    ...(signal ? { signal } : {}),
  });
  let pd: PdClient | undefined;
  let stores: StoreConnections | undefined;
  let tidb: TidbClient | undefined;
  let cp: RestoreCheckpoint | undefined;
  let reencoded: ReencodeRun | undefined;
  const progress = phasedProgress(cfg.dryRun ? "quiet" : (cfg.progress ?? "auto"));
  metrics.begin("restore", restoreLabel(cfg.mode));
  metrics.phase("connect");
  try {
    const reader = await MetaReader.open(storage, {
      // Decoding a metafile's entries takes far longer than reading the next one: one read
      // ahead keeps the reads off the critical path, and each more would hold 16-128 MiB.
      prefetch: 1,
      ...(cfg.cipher ? { cipher: cfg.cipher } : {}),
      ...(signal ? { signal } : {}),
    });
    const meta = reader.meta;
    checkKind(cfg.mode, meta.isRawKv, meta.isTxnKv, storage);
    pd = await PdClient.connect({
      endpoints: cfg.pd,
      ...(cfg.tls ? { tls: cfg.tls } : {}),
      ...(signal ? { signal } : {}),
    });
    stores = new StoreConnections(pd, cfg.tls);
    const tikvs = (await pd.getAllStores()).filter(isTikv);
    if (tikvs.length === 0) throw new RestoreError("PD knows no TiKV store to restore into");

    if (!tableMode) {
      const source = () => rawFiles(cfg, reader);
      if (cfg.dryRun) {
        const files: File[] = [];
        for await (const f of source()) files.push(f);
        const ranges = rewriteRanges(mergeFileRanges(files), undefined);
        const keys = splitKeys(ranges);
        return planned(
          planOf([], [], "not checked for raw and txn restores", ranges, keys, tikvs.length),
        );
      }
      // The files are read twice, never held: once to count them for the progress bar (and
      // to refuse bad --start/--end before anything is written), once to import them.
      let count = 0;
      for await (const _ of source()) count++;
      cp = await openCheckpoint(cfg, storage, pd, meta.endVersion);
      await cp?.begin(cp.restoreTs ?? 0n);
      const kvs = await importAll(
        cfg,
        { pd, stores, storage, tikvs, progress, cp },
        { files: source, count, rules: undefined },
      );
      await cp?.complete();
      cp = undefined;
      return finish(cfg, storage, meta.endVersion, 0n, started, {
        tables: 0,
        databases: 0,
        files: kvs.files,
        kvs: kvs.kvs,
        bytes: kvs.bytes,
        ranges: kvs.ranges,
        splitKeys: kvs.keys,
        newRegions: kvs.newRegions,
        splitMs: kvs.splitMs,
        dataSize: kvs.size,
        checksum: "skipped",
        ...(kvs.resumed > 0 ? { resumed: kvs.resumed } : {}),
      });
    }

    // Names, IDs and counts a table (whole TableInfos and files only for the dry run's plan).
    const selection = await selectTables(reader, filter!, { whole: cfg.dryRun === true });
    if (selection.tables.length === 0 && selection.databases.length === 0) {
      throw new RestoreConfigError(
        "no database or table of the backup matches: check --db/--table/--filter (names are " +
          "case-insensitive unless --case-sensitive)",
      );
    }
    // An incremental backup restores on top of its base's restore: its tables exist already
    // (or are created by its DDL jobs), so the not-fresh check does not apply; like BR, it
    // keeps no checkpoint and runs no checksum (its schemas' sums cover only the changes).
    const incremental = meta.startVersion > 0n;
    if (incremental) metrics.begin("restore", restoreLabel(cfg.mode, true), started);
    const endpoint = await tidbEndpoint(cfg, pd);
    tidb = await TidbClient.connect(endpoint, signal);
    if (!cfg.dryRun && !incremental) {
      cp = await openCheckpoint(cfg, storage, pd, meta.endVersion);
    }
    const notFresh = incremental
      ? "not checked: an incremental backup restores on top of its base"
      : await checkFresh(cfg, tidb, selection.tables, cp?.createdTables, cp?.resumed ?? false);
    const jobs = incremental ? await ddlJobsToReplay(reader, filter!) : [];

    if (cfg.dryRun) {
      const ranges = rewriteRanges(
        mergeFileRanges(selection.tables.flatMap((t) => t.files ?? [])),
        undefined,
      );
      const plan = planOf(
        selection.tables,
        selection.databases.map((d) => d.db_name.O),
        notFresh,
        ranges,
        splitKeys(ranges),
        tikvs.length,
      );
      return planned(jobs.length > 0 ? { ...plan, ddlJobs: jobs.map((j) => j.query) } : plan);
    }

    if (!cp && !cfg.checkpointStorage) {
      const refusal = await reencodeTargetRefusal(selection.tables, storage, signal);
      if (refusal) throw new RestoreConfigError(refusal);
    }
    // The restore ts (the restored data's commit ts) comes first, as BR's; a resumed run
    // keeps the one its checkpoint recorded.
    const newTs = cp?.restoreTs ?? await pd.getTS();
    await cp?.begin(newTs);
    metrics.phase("schema");
    const schemaBar = progress.phase("Schema", selection.tables.length, "tables");
    const restored: Restored[] = [];
    if (!cfg.noSchema) {
      for (const db of selection.databases) await tidb.exec(createDatabaseSql(db));
    }
    await replayDdlJobs(tidb, jobs);
    // The whole TableInfos stream from the backup a batch at a time; only the rewrite of each
    // table is kept, and a whole TableInfo (both the backup's and the created one) only where
    // column IDs differ (the re-encode needs them), so 100k tables are never held whole.
    const rewrites = new Map<SelectedTable, TableRewrite>();
    const created: CreatedTable[] = [];
    await createTables(wholeSchemas(reader, selection.tables), selection.tables.length, {
      endpoint,
      batchSize: cfg.ddlBatchSize ?? DEFAULT_DDL_BATCH_SIZE,
      ...(cfg.ddlConcurrency ? { concurrency: cfg.ddlConcurrency } : {}),
      ...(cfg.noSchema ? { noSchema: true } : {}),
      ...(signal ? { signal } : {}),
    }, async (sel, info) => {
      rewrites.set(sel, tableRewrite(sel.table, info, newTs));
      if (sel.fileCount > 0 && columnIdChanges(sel.table, info).length > 0) {
        created.push({ sel, info });
      } else {
        sel.table = namesOnly(sel.table);
      }
      if (cp && !cp.createdTables.has(tableName(sel).toLowerCase())) {
        await cp.tableCreated(tableName(sel));
      }
      schemaBar.tick();
    });
    // The tables are on record before any row goes into them, so a rerun after a crash never
    // takes them for someone else's data.
    await cp?.flush();
    // The tables to re-encode are few: their files are read from the backup and held.
    await collectFiles(reader, created.map((c) => c.sel));
    // --- re-encode hook (src/restore/reencode.ts): tables whose created copy numbers its
    // columns otherwise get their rows and index values re-encoded into new files first.
    reencoded = await reencodeChangedTables(created, {
      backup: storage,
      openTarget: cfg.checkpointStorage ? () => openTargetStorage(cfg) : undefined,
      restoreTs: newTs,
      cipher: cfg.cipher,
      // An incremental backup's tables record no KV count to hold the files against.
      checkKvs: !incremental,
      progress: (n) => {
        metrics.phase("re-encode");
        return progress.phase("Re-encode", n, "tables");
      },
      signal,
    });
    for (const sel of selection.tables) {
      restored.push({ sel: reencoded?.replaced.get(sel) ?? sel, rewrite: rewrites.get(sel)! });
    }
    rewrites.clear();
    const ctx: DataContext = { pd, stores, storage, tikvs, progress, cp };
    const kv = await importReencoded(cfg, ctx, restored, reencoded, reader);
    const reencodedNames = reencoded?.tables ?? [];
    // --- end of the re-encode hook
    const { checksum, without } = incremental
      ? { checksum: "skipped" as const, without: [] as string[] }
      : await checksumTables(cfg, ctx, restored);
    await reencoded?.cleanup();
    reencoded = undefined;
    // As BR: statistics last, once the data is in and checked.
    const stats = cfg.loadStats !== false && !incremental
      ? await loadStatistics(reader, storage, cfg.cipher, selection.tables, tidb, signal)
      : undefined;
    await cp?.complete();
    cp = undefined;
    return finish(cfg, storage, meta.endVersion, newTs, started, {
      ...(reencodedNames.length > 0 ? { reencoded: reencodedNames } : {}),
      tables: selection.tables.length,
      databases: selection.databases.length,
      files: kv.files,
      kvs: kv.kvs,
      bytes: kv.bytes,
      ranges: kv.ranges,
      splitKeys: kv.keys,
      newRegions: kv.newRegions,
      splitMs: kv.splitMs,
      dataSize: kv.size,
      checksum,
      ...(stats ? { stats } : {}),
      ...(without.length > 0 ? { without } : {}),
      ...(kv.resumed > 0 ? { resumed: kv.resumed } : {}),
      incremental,
    });
  } catch (err) {
    metrics.phase("failed");
    await reencoded?.cleanup().catch(() => {});
    await cp?.abandon();
    throw err;
  } finally {
    progress.stop();
    await tidb?.close();
    stores?.close();
    pd?.close();
    await storage.close();
  }
}

/** What the data phases need. */
export interface DataContext {
  pd: PdClient;
  stores: StoreConnections;
  storage: ExternalStorage;
  tikvs: { id: bigint }[];
  progress: PhasedProgress;
  /** Records progress; ranges and checksums it holds are skipped. */
  cp?: RestoreCheckpoint | undefined;
}

/**
 * Imports the files of restored tables: ranges merged and rewritten onto the new IDs, regions
 * split at their ends, every range downloaded and ingested, batch by batch (`batches.ts`).
 * With `reader`, the files are streamed from the backup's metadata (only those of the restored
 * tables and partitions), so memory does not grow with them; tables in `inMemory` (re-encoded
 * copies, whose files the backup's metadata does not list) use their `sel.files`, as do all
 * tables without a reader.
 */
export async function importTables(
  cfg: RestoreConfig,
  ctx: DataContext,
  restored: Restored[],
  reader?: MetaReader,
  inMemory: ReadonlySet<SelectedTable> = new Set(),
): Promise<ImportTotals> {
  const rules = RuleIndex.of(restored.map((r) => r.rewrite));
  const streamed = reader ? restored.filter((r) => !inMemory.has(r.sel)) : [];
  const held = reader ? restored.filter((r) => inMemory.has(r.sel)) : restored;
  const ids = new Set<bigint>();
  for (const r of streamed) {
    ids.add(BigInt(r.sel.table.id));
    for (const p of r.sel.table.partition?.definitions ?? []) ids.add(BigInt(p.id));
  }
  let count = 0;
  for (const r of restored) count += r.sel.files?.length ?? r.sel.fileCount;
  async function* files(): AsyncGenerator<File> {
    if (reader && ids.size > 0) {
      for await (const f of reader.dataFiles()) {
        const id = decodeTableId(f.startKey);
        if (id !== undefined && ids.has(id)) yield f;
      }
    }
    for (const r of held) yield* r.sel.files ?? [];
  }
  return await importAll(cfg, ctx, { files, count, rules });
}

/**
 * Compares each restored table's checksum (coprocessor, with rewrite rules) with the backup's;
 * a mismatch fails naming the table. Tables the backup holds no checksum for are listed.
 */
export async function checksumTables(
  cfg: RestoreConfig,
  ctx: DataContext,
  restored: Restored[],
): Promise<{ checksum: RestoreSummary["checksum"]; without: string[] }> {
  const without: string[] = [];
  if (!cfg.checksum) return { checksum: "skipped", without };
  const { pd, stores, progress } = ctx;
  const signal = cfg.signal;
  const resolver = new LockResolver(pd, stores, signal ? { signal } : {});
  const ts = await pd.getTS();
  const pool = new Pool({ concurrency: 4, ...(signal ? { signal } : {}) });
  const withData = restored.filter((r) => r.sel.fileCount > 0);
  metrics.phase("checksum");
  const bar = progress.phase("Checksum", withData.length, "tables");
  await pool.forEach(withData, async (r) => {
    const s = r.sel;
    if (ctx.cp?.checksummed.has(BigInt(s.table.id))) {
      bar.tick();
      return;
    }
    if (s.crc64xor === 0n && s.totalKvs === 0n && s.totalBytes === 0n) {
      without.push(tableName(s));
      bar.tick();
      return;
    }
    const got = await coprocessorChecksum(
      pd,
      stores,
      resolver,
      restoredRanges(r.rewrite),
      ts,
      signal,
    );
    if (
      got.crc64xor !== s.crc64xor || got.totalKvs !== s.totalKvs ||
      got.totalBytes !== s.totalBytes
    ) {
      throw new RestoreError(
        `checksum mismatch for table ${tableName(s)}: the backup records crc64xor ` +
          `${s.crc64xor}, ${s.totalKvs} kvs, ${s.totalBytes} bytes; the restored table has ` +
          `crc64xor ${got.crc64xor}, ${got.totalKvs} kvs, ${got.totalBytes} bytes`,
      );
    }
    await ctx.cp?.checksumDone(BigInt(s.table.id), got);
    bar.tick();
  });
  progress.stop();
  const checksum = without.length > 0 && without.length === withData.length
    ? "not in backup"
    : "passed";
  return { checksum, without };
}

/** The restore checkpoint, unless turned off; its options are those that change the result. */
async function openCheckpoint(
  cfg: RestoreConfig,
  storage: ExternalStorage,
  pd: PdClient,
  backupTs: bigint,
): Promise<RestoreCheckpoint | undefined> {
  if (cfg.useCheckpoint === false) return undefined;
  return await RestoreCheckpoint.open({
    ...(cfg.checkpointStorage ? { url: cfg.checkpointStorage } : {}),
    backupStorage: storage,
    ...(cfg.storageFlags ? { storageFlags: cfg.storageFlags } : {}),
    ...(cfg.storagePlugins ? { storagePlugins: cfg.storagePlugins } : {}),
    pd,
    config: {
      command: "restore",
      mode: cfg.mode,
      db: cfg.db ?? null,
      table: cfg.table ?? null,
      filter: cfg.filter ?? [],
      "case-sensitive": cfg.caseSensitive ?? false,
      "no-schema": cfg.noSchema ?? false,
      "backup-ts": backupTs,
      "raw.start": cfg.raw?.start ?? null,
      "raw.end": cfg.raw?.end ?? null,
      "raw.cf": cfg.raw?.cf ?? null,
    },
    ...(cfg.cipher ? { cipher: cfg.cipher } : {}),
    ...(cfg.checkpointFlushIntervalMs ? { flushIntervalMs: cfg.checkpointFlushIntervalMs } : {}),
    ...(cfg.signal ? { signal: cfg.signal } : {}),
  });
}

/**
 * The DDL jobs of an incremental backup that touch the selected schemas and tables, in schema
 * version order (BR's `FilterDDLJobs` and the order `ExecDDLs` replays them in).
 */
async function ddlJobsToReplay(reader: MetaReader, filter: TableFilter): Promise<Job[]> {
  const out: Job[] = [];
  for await (const job of reader.ddlJobs()) {
    if (!job.query) continue;
    const db = job.schema_name;
    const selected = job.table_name
      ? filter.matchTable(db, job.table_name)
      : filter.matchSchema(db);
    if (selected) out.push(job);
  }
  const version = (j: Job) => BigInt(j.binlog?.SchemaVersion ?? 0);
  return out.sort((a, b) => (version(a) < version(b) ? -1 : version(a) > version(b) ? 1 : 0));
}

/** Replays DDL jobs through TiDB, each in its schema (BR's `ExecDDLs`). */
async function replayDdlJobs(tidb: TidbClient, jobs: Job[]): Promise<void> {
  for (const job of jobs) {
    const schemaJob = job.type === ActionType.CreateSchema || job.type === ActionType.DropSchema;
    if (!schemaJob && job.schema_name) await tidb.exec(`USE ${quoteIdent(job.schema_name)}`);
    log("restore").info("replaying DDL job {id}: {query}", { id: job.id, query: job.query });
    await tidb.exec(job.query);
  }
}

function checkKind(mode: RestoreMode, isRaw: boolean, isTxn: boolean, storage: ExternalStorage) {
  const kind = isRaw ? "raw" : isTxn ? "txn" : "table";
  const want = mode === "raw" ? "raw" : mode === "txn" ? "txn" : "table";
  if (kind !== want) {
    const cmd = kind === "table" ? "full, db or table" : kind;
    throw new RestoreConfigError(
      `the backup at ${storage.uri()} is a ${kind === "table" ? "table" : kind + "-KV"} ` +
        `backup: restore it with 'tibr restore ${cmd}'`,
    );
  }
}

/** The files a raw or txn restore imports, read as they come (never collected). */
async function* rawFiles(cfg: RestoreConfig, reader: MetaReader): AsyncGenerator<File> {
  let start: Uint8Array = new Uint8Array();
  let end: Uint8Array = new Uint8Array();
  if (cfg.mode === "raw" && cfg.raw) {
    try {
      start = parseRawKey(cfg.raw.start, cfg.raw.format);
      end = parseRawKey(cfg.raw.end, cfg.raw.format);
    } catch (err) {
      throw new RestoreConfigError((err as Error).message);
    }
  }
  for await (const f of reader.dataFiles()) {
    if (cfg.mode === "raw" && cfg.raw && f.cf !== "" && f.cf !== cfg.raw.cf) continue;
    // Files wholly outside [start, end) are left out; files across a bound are taken whole (as
    // BR, which restores whole files).
    if (end.length > 0 && compareBytes(f.startKey, end) >= 0) continue;
    if (start.length > 0 && f.endKey.length > 0 && compareBytes(f.endKey, start) <= 0) continue;
    yield f;
  }
}

/**
 * Refuses to restore over data (BR's "not fresh" check): a full, unfiltered restore needs a
 * cluster without user tables; otherwise each selected table that exists must be empty. With
 * `--no-schema` every selected table must exist. Returns the check's result for the plan.
 */
async function checkFresh(
  cfg: RestoreConfig,
  tidb: TidbClient,
  tables: SelectedTable[],
  ours: Set<string> = new Set(),
  resumed = false,
): Promise<string> {
  // Tables an interrupted run of this restore created are its own, not someone's data.
  const existing = (await tidb.userTables()).filter((t) =>
    !ours.has(`${t.db}.${t.table}`.toLowerCase())
  );
  const have = new Set(existing.map((t) => `${t.db}.${t.table}`.toLowerCase()));
  if (cfg.noSchema) {
    const missing = tables.filter((t) => !have.has(tableName(t).toLowerCase()));
    if (missing.length > 0) {
      throw new RestoreConfigError(
        `--no-schema needs the tables to exist, but ${list(missing.map(tableName))} do not: ` +
          "create them first, or restore without --no-schema",
      );
    }
  }
  const fullUnfiltered = cfg.mode === "full" && !(cfg.filter && cfg.filter.length > 0);
  // A resumed run may find tables its predecessor created just before it was killed, not yet on
  // record: those of the selection are let through here (rows in them are still refused below).
  const selected = new Set(tables.map((t) => tableName(t).toLowerCase()));
  const others = resumed
    ? existing.filter((t) => !selected.has(`${t.db}.${t.table}`.toLowerCase()))
    : existing;
  if (fullUnfiltered && others.length > 0 && !cfg.noSchema) {
    throw new RestoreConfigError(
      `the target cluster is not fresh: it has ${others.length} user table(s) ` +
        `(${list(others.map((t) => `${t.db}.${t.table}`))}); restore into an empty cluster, ` +
        "or leave tables out with --filter",
    );
  }
  const withRows: string[] = [];
  for (const t of tables) {
    if (!have.has(tableName(t).toLowerCase()) || ours.has(tableName(t).toLowerCase())) continue;
    if (await tidb.hasRows(t.db.db_name.O, t.table.name.O)) withRows.push(tableName(t));
  }
  if (withRows.length > 0) {
    throw new RestoreConfigError(
      `the target cluster is not fresh: ${list(withRows)} already hold rows; drop or truncate ` +
        "them, or leave them out with --filter '!db.table'",
    );
  }
  const reused = tables.filter((t) => have.has(tableName(t).toLowerCase())).length;
  return reused > 0 ? `fresh (${reused} existing empty table(s) reused)` : "fresh";
}

function list(names: string[]): string {
  const shown = names.slice(0, 5).join(", ");
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

/** What an import went through. */
export interface ImportTotals {
  /** Files, merged ranges and split keys imported (counted batch by batch). */
  files: number;
  ranges: number;
  keys: number;
  kvs: bigint;
  bytes: bigint;
  newRegions: number;
  /** Ranges an earlier run had ingested (skipped). */
  resumed: number;
  /** Time spent splitting and scattering, ms. */
  splitMs: number;
  /** Bytes of the imported files as stored (BR's `restore data size(after compressed)`). */
  size: bigint;
}

/**
 * `importTables`, with re-encoded tables read from where their new files are: one import when
 * that is the backup storage, else one per storage.
 */
async function importReencoded(
  cfg: RestoreConfig,
  ctx: DataContext,
  restored: Restored[],
  re: ReencodeRun | undefined,
  reader: MetaReader,
): Promise<ImportTotals> {
  const fresh = new Set(re?.replaced.values() ?? []);
  if (!re || re.target === ctx.storage || re.replaced.size === 0) {
    return await importTables(cfg, ctx, restored, reader, fresh);
  }
  const a = await importTables(cfg, ctx, restored.filter((r) => !fresh.has(r.sel)), reader);
  const b = await importTables(
    cfg,
    { ...ctx, storage: re.target },
    restored.filter((r) => fresh.has(r.sel)),
  );
  return {
    files: a.files + b.files,
    ranges: a.ranges + b.ranges,
    keys: a.keys + b.keys,
    kvs: a.kvs + b.kvs,
    bytes: a.bytes + b.bytes,
    newRegions: a.newRegions + b.newRegions,
    resumed: a.resumed + b.resumed,
    splitMs: a.splitMs + b.splitMs,
    size: a.size + b.size,
  };
}

/** The `--checkpoint-storage`, opened for the re-encoded files. */
async function openTargetStorage(cfg: RestoreConfig): Promise<ExternalStorage> {
  return await openStorage(cfg.checkpointStorage!, {
    ...(cfg.storageFlags ? { flags: cfg.storageFlags } : {}),
    ...(cfg.storagePlugins ? { plugins: cfg.storagePlugins } : {}),
    ...(cfg.signal ? { signal: cfg.signal } : {}),
  });
}

/** The files an import reads: a stream opened afresh per call, and how many it yields. */
interface ImportSource {
  files: () => AsyncIterable<File>;
  /** Files the stream yields (the progress bar's total). */
  count: number;
  /** Undefined: keys kept (raw and txn restores). */
  rules: RuleIndex | undefined;
}

/**
 * Prepares the cluster, then splits and imports the source's files batch by batch
 * (`importBatches`), and undoes the preparation.
 */
async function importAll(
  cfg: RestoreConfig,
  ctx: DataContext,
  source: ImportSource,
): Promise<ImportTotals> {
  const { pd, stores, storage, tikvs, progress, cp } = ctx;
  const signal = cfg.signal;
  const totals: ImportTotals = {
    files: 0,
    ranges: 0,
    keys: 0,
    kvs: 0n,
    bytes: 0n,
    size: 0n,
    newRegions: 0,
    resumed: 0,
    splitMs: 0,
  };
  if (source.count === 0) return totals;
  // Added to what an earlier import of this run planned (a re-encoded table's second import);
  // ranges and regions are planned batch by batch as the files stream in.
  metrics.plan({ files: metrics.status().files.total + source.count });
  const backend = toStorageBackend(storage, cfg.sendCredentials);
  const importer = new FileImporter({
    pd,
    stores,
    backend,
    ...(cfg.cipher ? { cipher: cfg.cipher } : {}),
    isRawKv: cfg.mode === "raw",
    concurrencyPerStore: cfg.concurrency,
    budgetMs: cfg.budgetMs ?? 60_000,
    ...(signal ? { signal } : {}),
  });
  const ids = tikvs.map((s) => s.id);
  let pause: SchedulerPause | undefined;
  let importMode: ImportModeKeeper | undefined;
  const limit = BigInt(Math.round((cfg.rateLimitMiB ?? 0) * 1024 * 1024));
  try {
    pause = await SchedulerPause.start(pd);
    importMode = await ImportModeKeeper.start(stores, tikvs as never);
    if (limit > 0n) await importer.setDownloadSpeedLimit(ids, limit);
    // Split/scatter runs per batch inside the import, the next batch's while the current one
    // imports: one bar, titled with BR's label, counts files. /status shows split/scatter
    // until the first batch is split, then import.
    metrics.phase("split/scatter");
    const bar = progress.phase(restoreLabel(cfg.mode), source.count, "files");
    const hints = new WeakMap<RewrittenRange, RegionInfo[]>();
    const done = await importBatches(rangeBatches(source.files(), source.rules), {
      split: async (batch) => {
        const st = metrics.status();
        // One region per range after the split at range ends; raised if ranges span more.
        metrics.plan({
          ranges: st.ranges.total + batch.ranges.length,
          regions: st.regions.total + batch.ranges.length,
        });
        const splitStarted = Date.now();
        const created = await splitAndScatter(pd, stores, batch.keys, signal ? { signal } : {});
        totals.newRegions += created.length;
        // The batch's regions in one walk, so each range does not ask PD for its own.
        const span = batchSpan(batch);
        const found = await importer.scanRegions(span.start, span.end, 4 * batch.ranges.length);
        totals.splitMs += Date.now() - splitStarted;
        metrics.phase("import");
        if (!found) return;
        for (const r of batch.ranges) {
          const mine = regionsOf(found, r.newStartKey, r.newEndKey);
          if (mine) hints.set(r, mine);
        }
      },
      importRange: async (r) => {
        let ingests = 0;
        if (!cp?.doneRanges.has(rangeKey(r.startKey, r.endKey))) {
          ingests = (await importer.importRange(r, hints.get(r))).ingests;
          await cp?.rangeDone(r.startKey, r.endKey);
          bar.addBytes(r.bytes);
        } else totals.resumed++;
        totals.kvs += r.kvs;
        totals.bytes += r.bytes;
        totals.size += sizeOf(r.files);
        _ingested(r, ingests);
        bar.tick(r.files.length);
      },
    }, { concurrency: cfg.concurrency * ids.length, ...(signal ? { signal } : {}) });
    totals.files = done.files;
    totals.ranges = done.ranges;
    totals.keys = done.keys;
    progress.stop();
    return totals;
  } finally {
    progress.stop();
    // What was ingested is on record before the cluster is put back (a failure to write it is
    // the runner's error, thrown by the next checkpoint call).
    await cp?.flush().catch(() => {});
    if (limit > 0n) {
      await importer.setDownloadSpeedLimit(ids, 0n).catch((err) =>
        log("restore").warn("resetting the download speed limit failed: {e}", { e: err.message })
      );
    }
    await importMode?.stop();
    await pause?.resume();
  }
}

/** Records a range ingested (or found done by the checkpoint, `regions` 0) in the metrics. */
function _ingested(r: RewrittenRange, regions: number): void {
  const s = metrics.status();
  if (s.regions.done + regions > s.regions.total) {
    metrics.plan({ regions: s.regions.done + regions });
  }
  metrics.regionDone(regions);
  metrics.data({ kvs: r.kvs, bytes: r.bytes, files: r.files.length });
  metrics.rangeDone();
}

/** Bytes of the backup's files as stored (BR's `restore data size(after compressed)`). */
function sizeOf(files: File[]): bigint {
  let n = 0n;
  for (const f of files) n += f.size;
  return n;
}

/** A dry run's plan, worked out: the metrics (and /status) say `done`, as after a restore. */
function planned(plan: DryRunPlan): DryRunPlan {
  metrics.phase("done");
  return plan;
}

/** The summary, also as BR's log line; the metrics say `done`. */
function finish(...args: Parameters<typeof summary>): RestoreSummary {
  const s = summary(...args);
  log("summary").info(restoreSummaryLogLine(s));
  metrics.phase("done");
  return s;
}

/** The dry run's note on a table whose rows the restore will re-encode. */
function reencodeNote(t: SelectedTable): { reencode?: string } {
  const changes = t.fileCount > 0 ? predictedColumnIdChanges(t.table) : [];
  if (changes.length === 0) return {};
  return { reencode: changes.map((c) => `${c.name}: ${c.oldId} -> ${c.newId}`).join(", ") };
}

function planOf(
  tables: SelectedTable[],
  databases: string[],
  notFresh: string,
  ranges: RewrittenRange[],
  keys: Uint8Array[],
  stores: number,
): DryRunPlan {
  let bytes = 0n;
  for (const r of ranges) bytes += r.bytes;
  return {
    tables: tables.map((t) => {
      const tot = tableTotals(t);
      return {
        name: tableName(t),
        files: tot.files,
        kvs: String(tot.kvs),
        bytes: String(tot.bytes),
        sql: [createTableSql(t), ...rebaseSql(t)],
        ...reencodeNote(t),
      };
    }),
    databases: databases.map((d) => `${quoteIdent(d)}`),
    notFresh,
    ranges: ranges.length,
    splitKeys: keys.length,
    expectedRegions: keys.length,
    stores,
    // Every region has a replica on up to three stores.
    bytesPerStore: String((bytes * BigInt(Math.min(3, stores))) / BigInt(Math.max(1, stores))),
  };
}

function summary(
  cfg: RestoreConfig,
  storage: ExternalStorage,
  backupTs: bigint,
  restoreTs: bigint,
  started: number,
  t: {
    tables: number;
    databases: number;
    files: number;
    kvs: bigint;
    bytes: bigint;
    ranges: number;
    splitKeys: number;
    newRegions: number;
    checksum: RestoreSummary["checksum"];
    without?: string[];
    resumed?: number;
    incremental?: boolean;
    reencoded?: string[];
    stats?: StatsLoadResult;
    splitMs: number;
    dataSize: bigint;
  },
): RestoreSummary {
  const took = Date.now() - started;
  return {
    kind: restoreLabel(cfg.mode, t.incremental),
    storage: storage.uri(),
    backupTs: String(backupTs),
    restoreTs: String(restoreTs),
    tables: t.tables,
    databases: t.databases,
    dataFiles: t.files,
    totalKvs: String(t.kvs),
    totalBytes: String(t.bytes),
    ranges: t.ranges,
    splitKeys: t.splitKeys,
    newRegions: t.newRegions,
    checksum: t.checksum,
    timeTakenMs: took,
    averageSpeed: formatSpeed(Number(t.bytes) / Math.max(took / 1000, 0.001)),
    restoreDataSize: String(t.dataSize),
    splitTimeMs: t.splitMs,
    ...(t.without ? { tablesWithoutChecksum: t.without } : {}),
    ...(t.resumed ? { resumedRanges: t.resumed } : {}),
    ...(t.reencoded ? { reencodedTables: t.reencoded } : {}),
    ...(t.stats ? { statsLoaded: t.stats.loaded } : {}),
    ...(t.stats && t.stats.failed.length > 0 ? { statsFailed: t.stats.failed } : {}),
  };
}

/** The summary as the lines printed at the end, in the shape of BR's. */
export function restoreSummaryText(s: RestoreSummary): string {
  const rows: [string, string][] = [
    ["storage", s.storage],
    ["BackupTS", s.backupTs],
    ...(s.restoreTs !== "0" ? [["restore ts", s.restoreTs] as [string, string]] : []),
    ["databases", String(s.databases)],
    ["tables", String(s.tables)],
    ["data files", String(s.dataFiles)],
    ["total kv", s.totalKvs],
    ["total kv size", formatBytes(BigInt(s.totalBytes))],
    ["ranges", String(s.ranges)],
    ["split keys", String(s.splitKeys)],
    ["new regions", String(s.newRegions)],
    ...(s.resumedRanges !== undefined
      ? [["resumed from checkpoint", `${s.resumedRanges} ranges`] as [string, string]]
      : []),
    ["checksum", s.checksum],
    ...(s.statsLoaded
      ? [["statistics", `${s.statsLoaded} tables loaded`] as [string, string]]
      : []),
    ["total take", `${(s.timeTakenMs / 1000).toFixed(1)}s`],
    ["average speed", s.averageSpeed],
  ];
  if (s.tablesWithoutChecksum && s.tablesWithoutChecksum.length > 0) {
    rows.push([
      "note",
      `the backup holds no checksum for ${s.tablesWithoutChecksum.length} table(s) ` +
      `(${s.tablesWithoutChecksum.slice(0, 5).join(", ")}): they were not verified`,
    ]);
  }
  if (s.statsFailed && s.statsFailed.length > 0) {
    rows.push([
      "note",
      `the statistics of ${s.statsFailed.length} table(s) failed to load ` +
      `(${s.statsFailed.slice(0, 3).join("; ")}): TiDB's auto-analyze will gather them`,
    ]);
  }
  if (s.reencodedTables && s.reencodedTables.length > 0) {
    rows.push([
      "re-encoded",
      `${s.reencodedTables.join("; ")}: column IDs differ from the created table's, so rows ` +
      "and index values were re-encoded with the new IDs and ingested from new files (TiDB " +
      "Lightning's way); checksum compared with the re-encoded KVs'",
    ]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${s.kind} success summary:\n` +
    rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n") + "\n";
}
