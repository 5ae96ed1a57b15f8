/**
 * A playground store's `backup.Backup/backup` stream, as TiKV's backup endpoint serves it.
 *
 * For every region this store leads that intersects the request's range (or each of its
 * `sub_ranges`), the store scans the MVCC engine at `end_version` (or, for an incremental
 * backup, only what changed in `(start_version, end_version]`, deletes included) and writes two
 * SST files through tibr's storage plugins to the request's `storage_backend`:
 *
 * - the write CF: `z + EncodeBytes(key) + EncodeUintDesc(commit_ts)` → write record (short values
 *   inline), one per key;
 * - the default CF: `z + EncodeBytes(key) + EncodeUintDesc(start_ts)` → value, for values longer
 *   than 255 bytes. As TiKV does, an empty default CF file is not written.
 *
 * Files are named `{store}_{region}_{epoch version}_{sha256 hex of the start key}_{unix ms}_{cf}.sst`
 * (under `{store}/` for local storage), compressed per `compression_type`, encrypted per
 * `cipher_info` (the IV goes in `File.cipher_iv`), and limited to `rate_limit` bytes/s. Each File
 * carries crc64xor / total_kvs / total_bytes of the KVs credited to it: a KV counts in the
 * default-CF file when its value lives there, else in the write-CF file.
 *
 * One BackupResponse is streamed per region, in completion order, with the intersected raw range;
 * or with an Error: `kv_error.locked` when a lock blocks the scan, `region_error` when the region
 * moved, `cluster_id_error` for another cluster's request, and `msg` when storage fails.
 *
 * Raw-KV mode (`is_raw_kv`) backs up the raw keyspace of `cf` (`z + key` → value, one file).
 * Region bounds of raw keys are judged like transactional ones (on the encoded key), a
 * playground simplification: real API V1 raw regions are cut on unencoded keys.
 * @module
 */
import { forEachPool } from "../../pool.ts";
import { createHash } from "node:crypto";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { compareBytes, encodeBytes, hex } from "../../codec/bytes.ts";
import { ChecksumAccumulator } from "../../codec/crc64.ts";
import {
  type CipherInfo,
  EncryptionMethod,
  randomIv,
  validateCipher,
} from "../../crypto/cipher.ts";
import {
  type Backup,
  type BackupRequest,
  type BackupResponseSchema,
  CompressionType,
  type FileSchema,
  StorageBackendSchema,
} from "../../gen/brpb_pb.ts";
import { log } from "../../log.ts";
import type { SstCompression } from "../../sst/_compression.ts";
import { SstWriter, type SstWriterOptions } from "../../sst/writer.ts";
import { backendKind } from "../../storage/from_backend.ts";
import type { ExternalStorage, StorageWriter } from "../../storage/types.ts";
import type { Cluster } from "../cluster.ts";
import { hasDefaultCfValue, LockedError, type MvccEntry, type RawCf } from "../mvcc.ts";
import type { Region } from "../regions.ts";
import {
  epochNotMatch,
  injectedError,
  lockInfoPb,
  notLeader,
  type RegionErrorInit,
  regionNotFound,
} from "./_convert.ts";
import { mvccDataKey, rawDataKey, writeCfValue } from "./_encode.ts";
import { AsyncQueue, RateLimiter, type ServerStats, type StoreGate } from "./_flow.ts";
import type { SstWorkerPool } from "./_sst_pool.ts";
import { regionsAround } from "./_region_check.ts";
import { SharedStorages, type StorageLease } from "./_storage_cache.ts";

type ResponseInit = MessageInitShape<typeof BackupResponseSchema>;
type FileInit = MessageInitShape<typeof FileSchema>;

/** Options of a store's backup service. */
export interface BackupServiceOptions {
  /** Holds the store's work while it is paused or slowed. */
  gate: StoreGate;
  /** The store's own throughput cap (the playground's throttle fault). */
  storeLimiter: RateLimiter;
  /** Counters to update. */
  stats?: ServerStats;
  /**
   * Worker threads that build SST files, started on the first backup; without them (or while a
   * rate limit applies) files are built in this thread.
   */
  workers?: () => Promise<SstWorkerPool | undefined>;
  /** Regions backed up at once when the request does not say (TiKV: `num-threads`). */
  defaultConcurrency?: number;
  /** KVs read from the engine per step; the store yields to other work between steps. */
  batchSize?: number;
  /**
   * Answer requests whose storage backend is noop without building SST files: each region's
   * Files carry the names and checksums of the KVs scanned but no bytes (`size` 0, the sha256
   * of nothing). Measures a backup client with stores costing next to nothing (benchmarks).
   */
  instantNoop?: boolean;
  /**
   * A region whose KVs fit in one scan batch of at most this many bytes is built in this thread
   * (64 KiB): handing a file of a few KVs to a worker (messages to open, fill and finish it, and
   * the answers) cost more than building it.
   */
  inlineBytes?: number;
  /** Storages shared by the requests running at once (the stores of a playground share one). */
  storages?: SharedStorages;
}

/** A storage failure while writing a backup file (injected or real). */
class StorageWriteError extends Error {
  override name = "StorageWriteError";
}

const COMPRESSION: Record<number, SstCompression> = {
  [CompressionType.UNKNOWN]: "lz4",
  [CompressionType.LZ4]: "lz4",
  [CompressionType.SNAPPY]: "snappy",
  [CompressionType.ZSTD]: "zstd",
};

const CF_ID: Record<string, number> = { default: 0, lock: 1, write: 2 };

/** The sha256 of zero bytes: what an instant (noop) File holds, as nothing was written. */
const EMPTY_SHA256 = new Uint8Array(createHash("sha256").digest());

/** TiKV's default `block-size` of the default and write CFs, which its backup SSTs inherit. */
const SST_BLOCK_SIZE = 32 * 1024;

/**
 * A sink that creates its storage object on the first chunk, so a file that never gets data
 * never exists; every chunk passes the rate limiters and the storage-fault draw happens once.
 */
class LazySink {
  #writer: StorageWriter | undefined;
  constructor(
    readonly storage: ExternalStorage,
    readonly name: string,
    readonly limiters: RateLimiter[],
    readonly cluster: Cluster,
    readonly signal: AbortSignal,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (!this.#writer) {
      const fault = this.cluster.faults.pickStorageFailure();
      if (fault !== undefined) {
        throw new StorageWriteError(`failed to write ${this.name}: ${fault}`);
      }
      try {
        this.#writer = await this.storage.create(this.name, { signal: this.signal });
      } catch (err) {
        throw new StorageWriteError(`failed to write ${this.name}: ${(err as Error).message}`);
      }
    }
    for (const l of this.limiters) await l.take(chunk.length, this.signal);
    try {
      await this.#writer.write(chunk);
    } catch (err) {
      throw new StorageWriteError(`failed to write ${this.name}: ${(err as Error).message}`);
    }
  }

  async close(): Promise<unknown> {
    try {
      return await this.#writer?.close();
    } catch (err) {
      throw new StorageWriteError(`failed to write ${this.name}: ${(err as Error).message}`);
    }
  }

  async abort(reason?: unknown): Promise<void> {
    await this.#writer?.abort(reason).catch(() => {});
  }
}

/** The SST file of one CF being built: in this thread, or in a worker (`_sst_pool.ts`). */
interface FileWriter {
  readonly entries: number;
  addWrite(e: MvccEntry): Promise<void> | void;
  addDefault(e: MvccEntry): Promise<void> | void;
  addRaw(key: Uint8Array, value: Uint8Array): Promise<void> | void;
  finish(): Promise<{ size: number; sha256: Uint8Array }>;
  abort(reason?: unknown): Promise<void>;
}

/** Builds the file in this thread, streaming it through a `LazySink`. */
class LocalFileWriter implements FileWriter {
  readonly #sst: SstWriter;
  constructor(sink: LazySink, opts: SstWriterOptions) {
    this.#sst = new SstWriter(sink, opts);
  }
  get entries(): number {
    return this.#sst.entries;
  }
  addWrite(e: MvccEntry): Promise<void> {
    return this.#sst.add(mvccDataKey(e.key, e.commitTs), writeCfValue(e));
  }
  addDefault(e: MvccEntry): Promise<void> {
    return this.#sst.add(mvccDataKey(e.key, e.startTs), e.value);
  }
  addRaw(key: Uint8Array, value: Uint8Array): Promise<void> {
    return this.#sst.add(rawDataKey(key), value);
  }
  finish(): Promise<{ size: number; sha256: Uint8Array }> {
    return this.#sst.finish();
  }
  abort(reason?: unknown): Promise<void> {
    return this.#sst.abort(reason);
  }
}

/** One SST file of a region, with the checksum of the KVs credited to it. */
class CfFile {
  readonly acc = new ChecksumAccumulator();

  constructor(
    readonly cf: string,
    readonly name: string,
    readonly writer: FileWriter,
    readonly iv: Uint8Array | undefined,
  ) {}

  /** Finishes the file and returns its File message, or undefined when it holds no KV. */
  async finish(range: { start: Uint8Array; end: Uint8Array }, req: BackupRequest) {
    if (this.writer.entries === 0) {
      await this.writer.abort();
      return undefined;
    }
    let r;
    try {
      r = await this.writer.finish();
    } catch (err) {
      if (err instanceof StorageWriteError || err instanceof LockedError) throw err;
      throw new StorageWriteError(`failed to write ${this.name}: ${(err as Error).message}`);
    }
    const file: FileInit = {
      name: this.name,
      sha256: r.sha256,
      startKey: range.start,
      endKey: range.end,
      startVersion: req.startVersion,
      endVersion: req.endVersion,
      crc64xor: this.acc.crc64xor,
      totalKvs: this.acc.totalKvs,
      totalBytes: this.acc.totalBytes,
      cf: this.cf,
      size: BigInt(r.size),
      ...(this.iv ? { cipherIv: this.iv } : {}),
    };
    return file;
  }
}

/** What every region of one BackupRequest shares. */
interface RequestContext {
  req: BackupRequest;
  storage: ExternalStorage;
  limiters: RateLimiter[];
  signal: AbortSignal;
  /** The worker pool, when workers build the files. */
  pool: SstWorkerPool | undefined;
  /** The request's id in the worker pool. */
  request: number | undefined;
  /** The request's storage backend, serialized for the workers. */
  backendBytes: Uint8Array;
  /** Answer with instant Files (`instantNoop` and a noop backend). */
  instant: boolean;
}

/** A region of this store to back up, with the raw range to cover in it. */
interface RegionTask {
  region: Region;
  start: Uint8Array;
  end: Uint8Array;
}

function maxKey(a: Uint8Array, b: Uint8Array): Uint8Array {
  return compareBytes(a, b) >= 0 ? a : b;
}

/** The smaller end key, where empty means unbounded. */
function minEnd(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return compareBytes(a, b) <= 0 ? a : b;
}

/** The store's leader regions intersecting each raw range, with the intersections. */
function planRegions(
  cluster: Cluster,
  storeId: bigint,
  ranges: { start: Uint8Array; end: Uint8Array }[],
): RegionTask[] {
  const tasks: RegionTask[] = [];
  for (const rg of ranges) {
    const encStart = rg.start.length > 0 ? encodeBytes(rg.start) : rg.start;
    const encEnd = rg.end.length > 0 ? encodeBytes(rg.end) : rg.end;
    for (const region of cluster.regions.scanRegions(encStart, encEnd)) {
      if (region.leader.storeId !== storeId) continue;
      const raw = cluster.rawRangeOf(region);
      const start = maxKey(raw.start, rg.start);
      const end = minEnd(raw.end, rg.end);
      if (end.length > 0 && compareBytes(start, end) >= 0) continue;
      tasks.push({ region, start, end });
    }
  }
  return tasks;
}

function sha256Hex(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

function cipherOf(req: BackupRequest): CipherInfo | undefined {
  const c = req.cipherInfo;
  if (
    !c || c.cipherType === EncryptionMethod.UNKNOWN || c.cipherType === EncryptionMethod.PLAINTEXT
  ) {
    return undefined;
  }
  const info: CipherInfo = { method: c.cipherType as CipherInfo["method"], key: c.cipherKey };
  validateCipher(info);
  return info;
}

/** The `backup.Backup` implementation of store `storeId`. */
export function backupService(
  cluster: Cluster,
  storeId: bigint,
  opts: BackupServiceOptions,
): ServiceImpl<typeof Backup> {
  const batchSize = opts.batchSize ?? 512;
  const inlineBytes = opts.inlineBytes ?? 64 * 1024;
  const storages = opts.storages ?? new SharedStorages();

  /** Checks the region is still what was planned and led here; the region error otherwise. */
  function recheck(task: RegionTask): RegionErrorInit | undefined {
    const now = cluster.regions.getRegionById(task.region.id);
    if (!now) return regionNotFound(task.region.id);
    if (now.leader.storeId !== storeId) return notLeader(now.id, now.leader);
    if (now.epoch.version !== task.region.epoch.version) {
      return epochNotMatch(now, task.region.epoch, regionsAround(cluster, now));
    }
    const injected = cluster.faults.pickRegionError(storeId, now.id);
    if (injected) return injectedError(injected, now, () => regionsAround(cluster, now));
    return undefined;
  }

  /**
   * The Files of a region as `instantNoop` reports them: scanned and checksummed like the real
   * ones (so sums and counts hold), named as TiKV names them, but never encoded or written.
   */
  function instantFiles(task: RegionTask, req: BackupRequest): FileInit[] {
    const stem = `${storeId}_${task.region.id}_${task.region.epoch.version}_` +
      `${sha256Hex(task.start)}_${Date.now()}`;
    const file = (cf: string, acc: ChecksumAccumulator): FileInit => ({
      name: `${stem}_${cf}.sst`,
      sha256: EMPTY_SHA256,
      startKey: task.start,
      endKey: task.end,
      startVersion: req.startVersion,
      endVersion: req.endVersion,
      crc64xor: acc.crc64xor,
      totalKvs: acc.totalKvs,
      totalBytes: acc.totalBytes,
      cf,
      size: 0n,
    });
    if (req.isRawKv) {
      const cf = (req.cf || "default") as RawCf;
      const acc = new ChecksumAccumulator();
      let n = 0;
      for (const batch of cluster.mvcc.rawBatches(task.start, task.end, cf, batchSize)) {
        for (const kv of batch) acc.add(kv.key, kv.value);
        n += batch.length;
      }
      return n > 0 ? [file(cf, acc)] : [];
    }
    const write = new ChecksumAccumulator();
    const dflt = new ChecksumAccumulator();
    let writes = 0;
    let defaults = 0;
    const scan = cluster.mvcc.backupBatches(task.start, task.end, req.endVersion, {
      afterTs: req.startVersion,
      includeDeletes: req.startVersion > 0n,
      batchSize,
    });
    for (const batch of scan) {
      for (const e of batch) {
        writes++;
        if (hasDefaultCfValue(e)) {
          defaults++;
          dflt.add(e.key, e.value);
        } else {
          write.add(e.key, e.value);
        }
      }
    }
    const out: FileInit[] = [];
    // As the real path: default CF first, an empty default-CF file is left out.
    if (defaults > 0) out.push(file("default", dflt));
    if (writes > 0) out.push(file("write", write));
    return out;
  }

  async function backupRegion(task: RegionTask, ctx: RequestContext): Promise<ResponseInit> {
    const { req, storage, limiters, signal } = ctx;
    const range = { startKey: task.start, endKey: task.end };
    await opts.gate.pass(signal);
    const regionError = recheck(task);
    if (regionError) {
      opts.stats?.regionError(regionError);
      return {
        ...range,
        error: {
          msg: regionError.message ?? "",
          detail: { case: "regionError", value: regionError },
        },
      };
    }

    if (ctx.instant) return { ...range, files: instantFiles(task, req) };

    const cipher = cipherOf(req);
    const compression = COMPRESSION[req.compressionType] ?? "lz4";
    const level = req.compressionLevel !== 0 ? { compressionLevel: req.compressionLevel } : {};
    const prefix = backendKind(req.storageBackend) === "local" ? `${storeId}/` : "";
    const stem = `${prefix}${storeId}_${task.region.id}_${task.region.epoch.version}_` +
      `${sha256Hex(task.start)}_${Date.now()}`;
    // Rate limits meter the bytes written, which only the in-thread writer sees as they go.
    const pool = ctx.pool?.usable && ctx.request !== undefined &&
        !limiters.some((l) => l.limited)
      ? ctx.pool
      : undefined;
    const open = (cf: string, inThread = false) => {
      const name = `${stem}_${cf}.sst`;
      const iv = cipher ? randomIv() : undefined;
      const cfId = CF_ID[cf] ?? 0;
      if (pool && !inThread) {
        const writer = pool.open(ctx.request!, {
          backend: ctx.backendBytes,
          name,
          compression,
          ...level,
          blockSize: SST_BLOCK_SIZE,
          cf,
          cfId,
          ...(cipher && iv ? { cipher: { method: cipher.method, key: cipher.key, iv } } : {}),
        }, () => {
          const fault = cluster.faults.pickStorageFailure();
          if (fault !== undefined) throw new StorageWriteError(`failed to write ${name}: ${fault}`);
        });
        return new CfFile(cf, name, writer, iv);
      }
      const sink = new LazySink(storage, name, limiters, cluster, signal);
      const writer = new LocalFileWriter(sink, {
        name,
        compression,
        ...level,
        blockSize: SST_BLOCK_SIZE,
        columnFamily: { name: cf, id: cfId },
        ...(cipher && iv ? { cipher: { info: cipher, iv } } : {}),
      });
      return new CfFile(cf, name, writer, iv);
    };
    const files: CfFile[] = [];
    try {
      if (req.isRawKv) {
        const cf = (req.cf || "default") as RawCf;
        const f = open(cf);
        files.push(f);
        for (const batch of cluster.mvcc.rawBatches(task.start, task.end, cf, batchSize)) {
          for (const kv of batch) {
            await f.writer.addRaw(kv.key, kv.value);
            f.acc.add(kv.key, kv.value);
          }
          await opts.gate.whilePaused(signal);
        }
      } else {
        const incremental = req.startVersion > 0n;
        const scan = cluster.mvcc.backupBatches(task.start, task.end, req.endVersion, {
          afterTs: req.startVersion,
          includeDeletes: incremental,
          batchSize,
        });
        // The first two batches decide where the files are built: a region of one small batch
        // (a small table's) in this thread, anything larger in the workers.
        const head: MvccEntry[][] = [];
        let step = scan.next();
        while (!step.done && head.length < 2) {
          head.push(step.value);
          if (head.length < 2) step = scan.next();
        }
        const inThread = head.length <= 1 &&
          (head[0] ?? []).reduce((n, e) => n + e.key.length + e.value.length, 0) <= inlineBytes;
        const dflt = open("default", inThread);
        const write = open("write", inThread);
        files.push(dflt, write);
        const batches = function* () {
          yield* head;
          if (head.length === 2) yield* scan;
        };
        for (const batch of batches()) {
          for (const e of batch) {
            await write.writer.addWrite(e);
            if (hasDefaultCfValue(e)) {
              await dflt.writer.addDefault(e);
              dflt.acc.add(e.key, e.value);
            } else {
              write.acc.add(e.key, e.value);
            }
          }
          await opts.gate.whilePaused(signal);
        }
      }
      const out: FileInit[] = [];
      const rawRange = { start: task.start, end: task.end };
      for (const f of files) {
        const file = await f.finish(rawRange, req);
        if (file) out.push(file);
      }
      return { ...range, files: out };
    } catch (err) {
      await Promise.all(files.map((f) => f.writer.abort(err).catch(() => {})));
      if (err instanceof LockedError) {
        return {
          ...range,
          error: {
            msg: err.message,
            detail: { case: "kvError", value: { locked: lockInfoPb(err.lock) } },
          },
        };
      }
      if (signal.aborted) throw err;
      const msg = err instanceof StorageWriteError
        ? err.message
        : `backup of region ${task.region.id} failed: ${(err as Error).message ?? String(err)}`;
      log("playground", "backup").warn("store {store}: {msg}", { store: String(storeId), msg });
      return { ...range, error: { msg } };
    }
  }

  return {
    async *backup(req: BackupRequest, ctx: HandlerContext) {
      if (opts.stats) opts.stats.backupRequests++;
      const own = cluster.faults.store(storeId).clusterId || cluster.clusterId;
      if (req.clusterId !== 0n && req.clusterId !== own) {
        yield {
          error: {
            msg: `cluster id mismatch: this store belongs to cluster ${own}, the ` +
              `request is for cluster ${req.clusterId}`,
            detail: {
              case: "clusterIdError",
              value: { current: own, request: req.clusterId },
            },
          },
        } satisfies ResponseInit;
        return;
      }
      try {
        cipherOf(req);
      } catch (err) {
        yield {
          error: { msg: `invalid cipher: ${(err as Error).message}` },
        } satisfies ResponseInit;
        return;
      }
      const ac = new AbortController();
      const onAbort = () => ac.abort(ctx.signal.reason);
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      let lease: StorageLease;
      try {
        lease = await storages.acquire(req.storageBackend, ac.signal);
      } catch (err) {
        ctx.signal.removeEventListener("abort", onAbort);
        yield {
          error: { msg: `cannot open the backup storage: ${(err as Error).message}` },
        } satisfies ResponseInit;
        return;
      }
      const ranges = req.subRanges.length > 0
        ? req.subRanges.map((r) => ({ start: r.startKey, end: r.endKey }))
        : [{ start: req.startKey, end: req.endKey }];
      const tasks = planRegions(cluster, storeId, ranges);
      log("playground", "backup").debug(
        "store {store}: backup of {n} regions in [{start}, {end}) at {ts}",
        {
          store: String(storeId),
          n: tasks.length,
          start: hex(req.startKey),
          end: hex(req.endKey),
          ts: String(req.endVersion),
        },
      );
      const limiters = [opts.storeLimiter];
      if (req.rateLimit > 0n) limiters.push(new RateLimiter(Number(req.rateLimit)));
      const instant = opts.instantNoop === true && backendKind(req.storageBackend) === "noop";
      const started = instant ? undefined : await opts.workers?.();
      const pool = started?.usable ? started : undefined;
      const rctx: RequestContext = {
        req,
        storage: lease.storage,
        limiters,
        signal: ac.signal,
        pool,
        request: pool?.newRequest(),
        backendBytes: toBinary(
          StorageBackendSchema,
          req.storageBackend ?? create(StorageBackendSchema),
        ),
        instant,
      };
      const queue = new AsyncQueue<ResponseInit>();
      const concurrency = Math.max(
        1,
        Math.min(req.concurrency || (opts.defaultConcurrency ?? 4), 32),
      );
      const work = forEachPool(tasks, { concurrency, signal: ac.signal }, async (task) => {
        const resp = await backupRegion(task, rctx);
        const stats = opts.stats;
        if (stats) {
          stats.backupResponses++;
          if (resp.error) stats.backupErrors++;
          for (const f of resp.files ?? []) {
            stats.backupFiles++;
            stats.backupBytes += Number(f.size ?? 0n);
          }
        }
        queue.push(resp);
      })
        .then(() => queue.close(), (err) => queue.close(err));
      try {
        for await (const resp of queue) yield resp;
        await work;
      } finally {
        ac.abort(new Error("backup stream ended"));
        ctx.signal.removeEventListener("abort", onAbort);
        await work.catch(() => {});
        if (rctx.request !== undefined) pool?.endRequest(rctx.request);
        await lease.release().catch(() => {});
      }
    },
  };
}
