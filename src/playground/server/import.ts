/**
 * A playground store's `import_sstpb.ImportSST` service, as TiKV's `sst_service.rs` and
 * `sst_importer` serve it to BR's restore:
 *
 * - `SwitchMode`: Import or Normal. Import mode lapses back to Normal after the import-mode
 *   timeout (TiKV's `import.import-mode-timeout`, 10 minutes) unless renewed by another
 *   SwitchMode(Import), as BR renews it while it restores.
 * - `SetDownloadSpeedLimit`: bytes/s read from external storage by this store (0 = unlimited).
 * - `Download`: reads the named backup file from the request's storage backend through tibr's
 *   storage plugins, decrypts it per `cipher_info` (the IV is `SSTMeta.cipher_iv`), verifies
 *   every block checksum, rewrites each key's `old_key_prefix` to `new_key_prefix` (on the
 *   encoded origin key, TiKV's legacy rewrite mode) and, with `new_timestamp`, sets the key's ts
 *   and the write record's start ts to it; keys outside `sst.range` (mapped back to the old
 *   prefix) are dropped. The result is staged on this store under TiKV's file name
 *   (`{uuid}_{region}_{conf_ver}_{version}_{cf}.sst`) and the response names the first and last
 *   rewritten key (origin keys, inclusive), or `is_empty`. Raw-KV files (`z` + raw key) take the
 *   same path with an empty rule.
 * - `Ingest` / `MultiIngest`: the Context is checked as every RPC's (RegionNotFound,
 *   StoreNotMatch, NotLeader with the leader, EpochNotMatch with the current regions, then
 *   injected faults); a file not staged here is TiKV's StaleCommand ("The file which would be
 *   ingested doest not exist."); each SST meta must name the region and its current epoch
 *   (RegionNotFound / EpochNotMatch) and a range inside it (KeyNotInRegion), as raftstore checks
 *   an IngestSst command; then every file of the request is applied to the MVCC engine in one
 *   step and its staged copy is consumed on every store, as the Raft log applies it on each peer.
 *
 * With `instant` (benchmarks), Download reads nothing and answers the range's first key (with
 * a ts for MVCC files) as both bounds, and Ingest checks everything but applies nothing.
 *
 * Playground differences: staged files live in memory (packed, `_packed_kvs.ts`); a write-CF
 * put whose long value lives in the default CF must be ingested in the same request as that
 * default-CF file (BR always ingests a range's two files together); DownloadRequest's keyspace
 * rewrite mode and batch (`ssts` map) form are not served.
 * @module
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { compareBytes, concatBytes, encodeUintDesc, hex, prefixNext } from "../../codec/bytes.ts";
import { decodeWriteValue, parseDataKey } from "../../codec/tikv.ts";
import { encodeVarU64 } from "../../codec/varint.ts";
import { toStr } from "../_bytes.ts";
import {
  type CipherInfo,
  decrypt,
  EncryptionMethod,
  keyLength,
  methodName,
} from "../../crypto/cipher.ts";
import { type StorageBackend, StorageBackendSchema } from "../../gen/brpb_pb.ts";
import type { Context } from "../../gen/kvrpcpb_pb.ts";
import {
  type DownloadRequest,
  DownloadRequestSchema,
  type DownloadResponseSchema,
  type ImportSST,
  type RewriteRule,
  type SSTMeta,
  SwitchMode,
} from "../../gen/import_sstpb_pb.ts";
import { type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { log } from "../../log.ts";
import { SstReader } from "../../sst/reader.ts";
import { bytesSource } from "../../sst/source.ts";
import { storageFromBackend } from "../../storage/from_backend.ts";
import type { ExternalStorage } from "../../storage/types.ts";
import type { Cluster } from "../cluster.ts";
import type { IngestVersion } from "../mvcc.ts";
import type { Region } from "../regions.ts";
import { epochNotMatch, keyNotInRegion, type RegionErrorInit, regionNotFound } from "./_convert.ts";
import { RateLimiter, type ServerStats, sleep } from "./_flow.ts";
import { PackedKvs } from "./_packed_kvs.ts";
import { checkContext, keyInRegion } from "./_region_check.ts";

/** TiKV's default `import.import-mode-timeout`. */
export const IMPORT_MODE_TIMEOUT_MS = 10 * 60 * 1000;

/** Options of the cluster-wide import state. */
export interface ImportOptions {
  /** How long Import mode lasts without renewal (10 minutes, as TiKV). */
  importModeTimeoutMs?: number;
  /**
   * Download reads nothing and Ingest writes nothing: each call is checked as usual and answers
   * at once (Download with the range's first key), so a benchmark measures the client alone.
   */
  instant?: boolean;
  /** ms clock (Date.now by default). */
  now?: () => number;
}

/** An injected Download fault (see `ImportState.injectDownloadFault`). */
export interface DownloadFault {
  id: number;
  /** Only Downloads on this store (any when absent). */
  storeId?: bigint;
  /** 0..1: chance that a Download fails. */
  probability: number;
  /** Extra delay of every matching Download, ms. */
  delayMs: number;
  /** Fails at most this many times, then the rule goes (unlimited when absent). */
  remaining?: number;
  /** The error a failed Download answers with. */
  message: string;
}

/** A downloaded, rewritten file waiting for its ingest. */
interface StagedFile {
  cf: "default" | "write";
  raw: boolean;
  /** Full data keys (`z` + origin key) with their values, in key order. */
  entries: PackedKvs;
  bytes: number;
  /** Staged by an instant Download: nothing to apply. */
  instant: boolean;
}

/** A shared read of a Download's file: the bytes read (-1: none), then the rewrite or error. */
type ReadResult =
  & { length: number }
  & ({ result: Awaited<ReturnType<typeof rewriteFile>>; error?: undefined } | { error: string });

/** One store's import state. */
class StoreImport {
  mode = SwitchMode.Normal;
  /** When Import mode was last entered or renewed (ms). */
  since = 0;
  speedLimit = 0;
  readonly limiter = new RateLimiter(() => this.speedLimit);
  readonly staged = new Map<string, StagedFile>();
}

/** Counters of the import service, for the admin status and tests. */
export interface ImportStats {
  downloads: number;
  downloadErrors: number;
  downloadedBytes: number;
  emptyDownloads: number;
  ingests: number;
  ingestErrors: number;
  ingestedFiles: number;
  ingestedKvs: number;
  /**
   * Files ingested while a live follower of the region had not downloaded them: TiKV's
   * follower would fail to apply the IngestSst command (it panics), so a restore client must
   * download every file to every peer first. Tests expect 0.
   */
  missingOnFollowers: number;
}

/** The import state of every store of a cluster: modes, limits, staged files, faults. */
export class ImportState {
  readonly timeoutMs: number;
  readonly instant: boolean;
  readonly stats: ImportStats = {
    downloads: 0,
    downloadErrors: 0,
    downloadedBytes: 0,
    emptyDownloads: 0,
    ingests: 0,
    ingestErrors: 0,
    ingestedFiles: 0,
    ingestedKvs: 0,
    missingOnFollowers: 0,
  };
  readonly #now: () => number;
  readonly #stores = new Map<bigint, StoreImport>();
  #faults: DownloadFault[] = [];
  #nextFault = 1;
  /**
   * Reads and rewrites of files by request (see `#shared`): the peers of a region download the
   * same file with the same rule, which the playground reads and rewrites once for all.
   */
  readonly #reads = new Map<string, { path: string; work: Promise<ReadResult> }>();
  /** Opened storages by serialized backend, so every Download does not reopen a plugin. */
  readonly #storages = new Map<string, Promise<ExternalStorage>>();

  constructor(readonly cluster: Cluster, opts: ImportOptions = {}) {
    this.timeoutMs = opts.importModeTimeoutMs ?? IMPORT_MODE_TIMEOUT_MS;
    this.instant = opts.instant ?? false;
    this.#now = opts.now ?? Date.now;
  }

  /** A store's state (created on first use). */
  store(id: bigint): StoreImport {
    let s = this.#stores.get(id);
    if (!s) {
      s = new StoreImport();
      this.#stores.set(id, s);
    }
    return s;
  }

  /** A store's mode now: Import lapses to Normal once the timeout passed without renewal. */
  mode(id: bigint): SwitchMode {
    const s = this.store(id);
    if (s.mode === SwitchMode.Import && this.#now() - s.since >= this.timeoutMs) {
      s.mode = SwitchMode.Normal;
      log("playground", "import").info("store {store}: import mode lapsed after {ms} ms", {
        store: String(id),
        ms: this.timeoutMs,
      });
    }
    return s.mode;
  }

  /** SwitchMode: enters (or renews) Import mode, or goes back to Normal. */
  switchMode(id: bigint, mode: SwitchMode): void {
    const s = this.store(id);
    s.mode = mode === SwitchMode.Import ? SwitchMode.Import : SwitchMode.Normal;
    s.since = this.#now();
  }

  /** Makes Downloads fail with `probability` and/or take `delayMs` longer; returns the rule id. */
  injectDownloadFault(f: Omit<DownloadFault, "id" | "message"> & { message?: string }): number {
    if (!(f.probability >= 0 && f.probability <= 1)) {
      throw new RangeError(`probability ${f.probability} must be between 0 and 1`);
    }
    const id = this.#nextFault++;
    this.#faults.push({
      ...f,
      id,
      // What TiKV answers when the object store refuses the read (sst_importer's error text).
      message: f.message ?? "Cannot read the backup file from external storage: " +
          "injected download failure (the playground's fault API)",
    });
    return id;
  }

  /** Removes one Download fault rule, or all of them. */
  clearDownloadFaults(id?: number): void {
    this.#faults = id === undefined ? [] : this.#faults.filter((f) => f.id !== id);
  }

  /** Current Download fault rules. */
  downloadFaults(): readonly DownloadFault[] {
    return this.#faults;
  }

  /** The delay and failure a Download on `storeId` meets now. */
  #pickDownloadFault(storeId: bigint): { delayMs: number; message?: string } {
    let delayMs = 0;
    for (const f of this.#faults) {
      if (f.storeId !== undefined && f.storeId !== storeId) continue;
      delayMs += f.delayMs;
      if (f.probability > 0 && this.cluster.faults.random() < f.probability) {
        if (f.remaining !== undefined && --f.remaining <= 0) this.clearDownloadFaults(f.id);
        return { delayMs, message: f.message };
      }
    }
    return { delayMs };
  }

  /** Mode, speed limit and staged files per store, with the counters and fault rules. */
  status(): Record<string, unknown> {
    const stores: Record<string, unknown> = {};
    for (const s of this.cluster.regions.stores()) {
      const st = this.store(s.id);
      let bytes = 0;
      for (const f of st.staged.values()) bytes += f.bytes;
      stores[String(s.id)] = {
        mode: this.mode(s.id) === SwitchMode.Import ? "Import" : "Normal",
        speedLimit: st.speedLimit,
        stagedFiles: st.staged.size,
        stagedBytes: bytes,
      };
    }
    return {
      importModeTimeoutMs: this.timeoutMs,
      instant: this.instant,
      stores,
      ...this.stats,
      downloadFaults: this.#faults.map((f) => ({
        ...f,
        storeId: f.storeId === undefined ? undefined : String(f.storeId),
      })),
    };
  }

  /** The storage a Download reads from (cached per backend). */
  storageOf(backend: StorageBackend | undefined): Promise<ExternalStorage> {
    const key = backend ? hex(toBinary(StorageBackendSchema, backend)) : "";
    let p = this.#storages.get(key);
    if (!p) {
      p = storageFromBackend(backend);
      // A failed open is not kept: the next Download tries again.
      p.catch(() => this.#storages.delete(key));
      if (this.#storages.size >= 16) void this.close();
      this.#storages.set(key, p);
    }
    return p;
  }

  /** Closes the storages Downloads opened (the playground is stopping). */
  async close(): Promise<void> {
    const opened = [...this.#storages.values()];
    this.#storages.clear();
    for (const p of opened) await (await p.catch(() => undefined))?.close();
  }

  /** Serves one Download on `storeId`. */
  async download(
    storeId: bigint,
    req: DownloadRequest,
    signal?: AbortSignal,
  ): Promise<MessageInitShape<typeof DownloadResponseSchema>> {
    this.stats.downloads++;
    const fault = this.#pickDownloadFault(storeId);
    if (fault.delayMs > 0) await sleep(fault.delayMs, signal);
    const fail = (message: string) => {
      this.stats.downloadErrors++;
      log("playground", "import").info("store {store}: download of {name} failed: {message}", {
        store: String(storeId),
        name: req.name,
        message,
      });
      return { error: { message } };
    };
    if (fault.message !== undefined) return fail(fault.message);
    const meta = req.sst;
    if (!meta) return fail("the download request has no sst meta");
    const path = sstPath(meta);
    if (typeof path !== "string") return fail(path.error);
    const cf = meta.cfName;
    if (cf !== "default" && cf !== "write") {
      return fail(`invalid cf name ${JSON.stringify(cf)}: a downloaded SST is default or write`);
    }
    const st = this.store(storeId);
    const rule = req.rewriteRule;
    if (this.instant) {
      st.staged.set(path, {
        cf,
        raw: req.isRawKv,
        entries: new PackedKvs(),
        bytes: 0,
        instant: true,
      });
      // Nothing is read, so the answer is the range's first key as both bounds (with a ts for
      // an MVCC file, as TiKV's answer has): a key inside the region that a client can pass to
      // Ingest after cutting the ts, as it does with a real answer.
      const start = meta.range?.start ?? new Uint8Array(0);
      const key = req.isRawKv
        ? start
        : concatBytes(start, encodeUintDesc(rule?.newTimestamp ?? 0n));
      return { range: { start: key, end: key } };
    }
    const got = await this.#shared(req, path);
    signal?.throwIfAborted();
    // Paced in 64 KiB steps, as TiKV's limiter paces its reads: per store, as each reads.
    for (let off = 0; off < got.length; off += 64 * 1024) {
      await st.limiter.take(Math.min(64 * 1024, got.length - off), signal);
    }
    if (got.length >= 0) this.stats.downloadedBytes += got.length;
    if (got.error !== undefined) return fail(got.error);
    const result = got.result;
    if (result.entries.length === 0) {
      this.stats.emptyDownloads++;
      return result.range ? { range: result.range } : { isEmpty: true };
    }
    st.staged.set(path, {
      cf,
      raw: req.isRawKv,
      entries: result.entries,
      bytes: result.bytes,
      instant: false,
    });
    return { range: result.range };
  }

  /**
   * The read, decryption and rewrite of a Download's file, shared by every store that asks for
   * it with an identical request (same file, meta, rule, backend and cipher): TiKV's peers do
   * this work each on its own machine at the same time, while the playground's stores share one
   * thread, so doing it once keeps the stores' busy time what a cluster's would be. The result
   * is deterministic in the request, so each store gets what it would have computed; the staged
   * entries are shared read-only. Entries go when their file is ingested, or after the 64 most
   * recent.
   */
  #shared(req: DownloadRequest, path: string): Promise<ReadResult> {
    const key = hex(toBinary(DownloadRequestSchema, req));
    const hit = this.#reads.get(key);
    if (hit) return hit.work;
    // Not cancelled by the first asker's signal: other stores may be waiting for it.
    const work = this.#readAndRewrite(req, path);
    // A failed read is not kept: the client's retry reads again, as TiKV's would.
    work.then(
      (r) => r.error !== undefined && this.#reads.delete(key),
      () => this.#reads.delete(key),
    );
    this.#reads.set(key, { path, work });
    if (this.#reads.size > 64) this.#reads.delete(this.#reads.keys().next().value!);
    return work;
  }

  async #readAndRewrite(req: DownloadRequest, path: string): Promise<ReadResult> {
    const meta = req.sst!;
    const tempPath = `import/.temp/${path}`;
    let bytes: Uint8Array;
    let url = "storage";
    try {
      const storage = await this.storageOf(req.storageBackend);
      url = storage.uri();
      bytes = await storage.readFile(req.name);
    } catch (err) {
      return {
        length: -1,
        error: `Cannot read ${url}/${req.name} into ${tempPath}: ${firstLine(err)}`,
      };
    }
    const length = bytes.length;
    if (meta.length > 0n && BigInt(bytes.length) !== meta.length) {
      return {
        length,
        error: `File ${
          JSON.stringify(tempPath)
        } corrupted: length ${bytes.length}, expect ${meta.length}`,
      };
    }
    const cipher = cipherOf(req);
    if (typeof cipher === "string") return { length, error: cipher };
    if (cipher) bytes = decrypt(cipher, meta.cipherIv, bytes);
    try {
      return { length, result: await rewriteFile(bytes, req.name, meta, req.rewriteRule) };
    } catch (err) {
      if (err instanceof DownloadError) return { length, error: err.message };
      return {
        length,
        error: `Engine Engine(Status { code: IoError, sub_code: None, sev: NoError, state: ` +
          `"Corruption: ${firstLine(err)} in ${tempPath}" })`,
      };
    }
  }

  /** Serves one Ingest or MultiIngest on `storeId`; the response's error, if any. */
  ingest(
    storeId: bigint,
    ctx: Context | undefined,
    ssts: readonly SSTMeta[],
    stats?: ServerStats,
  ): RegionErrorInit | undefined {
    this.stats.ingests++;
    const fail = (e: RegionErrorInit) => {
      this.stats.ingestErrors++;
      return e;
    };
    const check = checkContext(this.cluster, storeId, ctx, [], stats, "ingest");
    if (check.error?.serverIsBusy) {
      // TiKV's ingest says why it is busy: its write-stall check and its snapshot both do.
      const why = "too many sst files are ingesting";
      return fail({ message: why, serverIsBusy: { reason: why } });
    }
    if (check.error) return fail(check.error);
    const region = check.scope.region;
    const st = this.store(storeId);
    const files: { path: string; meta: SSTMeta; file: StagedFile }[] = [];
    for (const meta of ssts) {
      const path = sstPath(meta);
      const file = typeof path === "string" ? st.staged.get(path) : undefined;
      if (typeof path !== "string" || !file) {
        return fail({
          message: "The file which would be ingested doest not exist.",
          staleCommand: {},
        });
      }
      files.push({ path, meta, file });
    }
    for (const { meta, file } of files) {
      const bad = checkSstForIngestion(meta, region, file.raw);
      if (bad) return fail(bad);
    }
    let versions: IngestVersion[];
    try {
      versions = txnVersions(files.filter((f) => !f.file.raw).map((f) => f.file));
    } catch (err) {
      return fail({ message: (err as Error).message });
    }
    for (const peer of region.peers) {
      if (peer.storeId === storeId || this.cluster.faults.store(peer.storeId).stopped) continue;
      const staged = this.store(peer.storeId).staged;
      for (const { path } of files) {
        if (staged.has(path)) continue;
        this.stats.missingOnFollowers++;
        log("playground", "import").warn(
          "store {store} has not downloaded {path}, which region {region} ingests: TiKV's " +
            "follower could not apply it; download every file to every peer first",
          { store: String(peer.storeId), path, region: String(region.id) },
        );
      }
    }
    // One synchronous step: no request sees part of the ingest.
    this.cluster.mvcc.ingest(versions);
    let kvs = versions.length;
    for (const { file } of files) {
      if (!file.raw) continue;
      for (const e of file.entries) this.cluster.mvcc.rawPut(e.key.subarray(1), e.value, file.cf);
      kvs += file.entries.length;
    }
    for (const { path } of files) {
      for (const other of this.#stores.values()) other.staged.delete(path);
    }
    if (this.#reads.size > 0) {
      const ingested = new Set(files.map((f) => f.path));
      for (const [k, r] of this.#reads) if (ingested.has(r.path)) this.#reads.delete(k);
    }
    this.stats.ingestedFiles += files.length;
    this.stats.ingestedKvs += kvs;
    return undefined;
  }
}

/** A Download failure with TiKV's message. */
class DownloadError extends Error {
  override name = "DownloadError";
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}

/** TiKV's staged file name of an SST meta, or the error for an invalid uuid. */
function sstPath(meta: SSTMeta): string | { error: string } {
  if (meta.uuid.length !== 16) {
    return { error: `invalid bytes length: expected 16, found ${meta.uuid.length}` };
  }
  const u = hex(meta.uuid);
  const uuid = `${u.slice(0, 8)}-${u.slice(8, 12)}-${u.slice(12, 16)}-${u.slice(16, 20)}-${
    u.slice(20)
  }`;
  const e = meta.regionEpoch;
  return `${uuid}_${meta.regionId}_${e?.confVer ?? 0n}_${e?.version ?? 0n}_${meta.cfName}.sst`;
}

function cipherOf(req: DownloadRequest): CipherInfo | undefined | string {
  const c = req.cipherInfo;
  if (
    !c || c.cipherType === EncryptionMethod.UNKNOWN || c.cipherType === EncryptionMethod.PLAINTEXT
  ) {
    return undefined;
  }
  const want = keyLength(c.cipherType);
  if (c.cipherKey.length !== want) {
    return `Encryption Other("the ${methodName(c.cipherType)} key must be ${want} bytes, ` +
      `got ${c.cipherKey.length}")`;
  }
  return { method: c.cipherType as CipherInfo["method"], key: c.cipherKey };
}

type Bound = { key: Uint8Array; inclusive: boolean } | undefined;

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

function swapPrefix(key: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  return concatBytes(to, key.subarray(from.length));
}

function wrongPrefix(what: string, key: Uint8Array, prefix: Uint8Array): DownloadError {
  return new DownloadError(
    `${what} has wrong prefix: key ${hex(key).toUpperCase()} does not start with ${
      hex(prefix).toUpperCase()
    }`,
  );
}

/**
 * The bounds of `meta.range` (new key space) in the file's key space (old prefix), as TiKV
 * maps them before it scans: a given start or end must carry the new prefix (BR appends 0xff
 * bytes to the prefix for that reason); no end stops at the end of the old prefix.
 */
function oldSpaceBounds(
  meta: SSTMeta,
  oldPrefix: Uint8Array,
  newPrefix: Uint8Array,
): { start: Bound; end: Bound } {
  const rs = meta.range?.start ?? new Uint8Array(0);
  const re = meta.range?.end ?? new Uint8Array(0);
  let start: Bound;
  if (rs.length > 0) {
    if (!startsWith(rs, newPrefix)) throw wrongPrefix("SST start range", rs, newPrefix);
    start = { key: swapPrefix(rs, newPrefix, oldPrefix), inclusive: true };
  }
  let end: Bound;
  if (re.length > 0) {
    if (!startsWith(re, newPrefix)) throw wrongPrefix("SST end range", re, newPrefix);
    end = { key: swapPrefix(re, newPrefix, oldPrefix), inclusive: !meta.endKeyExclusive };
  } else if (oldPrefix.length > 0) {
    const next = prefixNext(oldPrefix);
    end = next.length > 0 ? { key: next, inclusive: false } : undefined;
  }
  return { start, end };
}

function beforeStart(key: Uint8Array, b: Bound): boolean {
  if (!b) return false;
  const c = compareBytes(key, b.key);
  return b.inclusive ? c < 0 : c <= 0;
}

function afterEnd(key: Uint8Array, b: Bound): boolean {
  if (!b) return false;
  const c = compareBytes(key, b.key);
  return b.inclusive ? c > 0 : c >= 0;
}

/** Rewrites one downloaded SST per the rule, keeping what lies in the meta's range. */
async function rewriteFile(
  bytes: Uint8Array,
  name: string,
  meta: SSTMeta,
  rule: RewriteRule | undefined,
): Promise<{
  entries: PackedKvs;
  bytes: number;
  range?: { start: Uint8Array; end: Uint8Array };
}> {
  const oldPrefix = rule?.oldKeyPrefix ?? new Uint8Array(0);
  const newPrefix = rule?.newKeyPrefix ?? new Uint8Array(0);
  const newTs = rule?.newTimestamp ?? 0n;
  const { start, end } = oldSpaceBounds(meta, oldPrefix, newPrefix);
  const reader = await SstReader.open(bytesSource(bytes, name));
  const entries = new PackedKvs();
  // Whether the file holds no entry at all (not just none in the range).
  const emptyFile = reader.properties.numEntries === 0;
  const tsBytes = newTs !== 0n ? encodeUintDesc(newTs) : undefined;
  const startTsBytes = newTs !== 0n ? encodeVarU64(newTs) : undefined;
  const visit = (k: Uint8Array, v: Uint8Array): boolean => {
    const origin = k.subarray(1);
    if (beforeStart(origin, start)) return true;
    if (afterEnd(origin, end)) return false;
    if (!startsWith(origin, oldPrefix)) throw wrongPrefix("Key in SST", origin, oldPrefix);
    const tail = origin.subarray(oldPrefix.length);
    if (tsBytes && tail.length < 8) {
      throw new DownloadError(`bad format key ${hex(origin).toUpperCase()}: no timestamp`);
    }
    const value = tsBytes && meta.cfName === "write" ? withStartTs(v, startTsBytes!, origin) : v;
    // The key is written in place: its first byte, the new prefix, the tail, then the new ts
    // over the tail's own when there is one.
    const keyLen = 1 + newPrefix.length + tail.length;
    const pair = entries.add(keyLen, value.length);
    pair[0] = k[0]!;
    pair.set(newPrefix, 1);
    pair.set(tail, 1 + newPrefix.length);
    if (tsBytes) pair.set(tsBytes, keyLen - 8);
    pair.set(value, keyLen);
    return true;
  };
  try {
    // The scan starts at the range's first data key, as TiKV seeks to it.
    await reader.scan(visit, start ? { start: concatBytes(Uint8Array.of(0x7a), start.key) } : {});
  } finally {
    await reader.close();
  }
  if (emptyFile && compareBytes(oldPrefix, newPrefix) === 0 && newTs === 0n) {
    // TiKV moves an empty, unrewritten file into place and answers the requested range.
    return {
      entries,
      bytes: 0,
      range: {
        start: meta.range?.start ?? new Uint8Array(0),
        end: meta.range?.end ?? new Uint8Array(0),
      },
    };
  }
  if (entries.length === 0) return { entries, bytes: 0 };
  return {
    entries,
    bytes: entries.bytes,
    range: {
      start: entries.key(0).slice(1),
      end: entries.key(entries.length - 1).slice(1),
    },
  };
}

/**
 * A write-CF value with its start ts replaced by the varint `startTs`. TiKV parses the record
 * (`WriteRef::parse`, which stops at the first unknown flag), sets `start_ts` and writes it back
 * (`to_bytes`, known fields in their fixed order): so the known fields after the start ts are
 * copied as they are, and anything from an unknown flag on is dropped.
 */
export function withStartTs(
  v: Uint8Array,
  startTs: Uint8Array,
  origin: Uint8Array,
): Uint8Array {
  const bad = (why: string) =>
    new DownloadError(
      `bad format write ${hex(origin).toUpperCase()}: malformed write-CF value: ${why}`,
    );
  if (v.length === 0) throw bad("empty");
  if (!WRITE_TYPES.has(v[0]!)) throw bad(`unknown write type byte 0x${v[0]!.toString(16)}`);
  const varint = (at: number, what: string): number => {
    let end = at;
    while (end < v.length && v[end]! >= 0x80) end++;
    if (end >= v.length || end - at >= 10) throw bad(`${what}: truncated varint`);
    return end + 1;
  };
  const from = varint(1, "start ts");
  let to = from;
  for (;;) {
    if (to >= v.length) break;
    const flag = v[to]!;
    let next: number;
    if (flag === 0x76) next = to + 2 + (v[to + 1] ?? 0); // 'v': short value, 1-byte length
    else if (flag === 0x52) next = to + 1; // 'R': overlapped rollback
    else if (flag === 0x46) next = to + 9; // 'F': gc fence, u64
    else if (flag === 0x6c) {
      next = to + 9 < v.length ? varint(to + 9, "versions to last change") : v.length + 1; // 'l'
    } else if (flag === 0x53) next = varint(to + 1, "txn source"); // 'S'
    else break;
    if (next > v.length) throw bad(`field 0x${flag.toString(16)} at offset ${to} is truncated`);
    to = next;
  }
  const out = new Uint8Array(1 + startTs.length + to - from);
  out[0] = v[0]!;
  out.set(startTs, 1);
  out.set(v.subarray(from, to), 1 + startTs.length);
  return out;
}

/** TiKV's write type bytes: Put, Delete, Lock, Rollback. */
const WRITE_TYPES = new Set([0x50, 0x44, 0x4c, 0x52]);

/** Whether an origin key of an ingested range lies in the region (raw keys as the playground). */
function inRegion(region: Region, key: Uint8Array, raw: boolean): boolean {
  if (raw) return keyInRegion(region, key);
  if (region.startKey.length > 0 && compareBytes(key, region.startKey) < 0) return false;
  return region.endKey.length === 0 || compareBytes(key, region.endKey) < 0;
}

/** raftstore's checks of an IngestSst command against the region it applies to. */
function checkSstForIngestion(
  meta: SSTMeta,
  region: Region,
  raw: boolean,
): RegionErrorInit | undefined {
  if (meta.regionId !== region.id) return regionNotFound(meta.regionId);
  const sent = {
    confVer: meta.regionEpoch?.confVer ?? 0n,
    version: meta.regionEpoch?.version ?? 0n,
  };
  const now = region.epoch;
  if (sent.confVer !== now.confVer || sent.version !== now.version) {
    return {
      ...epochNotMatch(region, sent, [region]),
      message: `conf_ver: ${sent.confVer} version: ${sent.version} != ` +
        `conf_ver: ${now.confVer} version: ${now.version}`,
    };
  }
  for (const k of [meta.range?.start, meta.range?.end]) {
    if (k !== undefined && !inRegion(region, k, raw)) return keyNotInRegion(k, region);
  }
  return undefined;
}

/** The MVCC versions of the staged write-CF files, long values joined from default-CF files. */
function txnVersions(files: StagedFile[]): IngestVersion[] {
  // By the default-CF data key (`z` + encoded key + start ts): a write record finds its value
  // under its own key's encoded part and its start ts, with nothing decoded.
  const defaults = new Map<string, Uint8Array>();
  for (const f of files) {
    if (f.cf !== "default" || f.instant) continue;
    for (const e of f.entries) defaults.set(toStr(e.key), e.value);
  }
  const out: IngestVersion[] = [];
  for (const f of files) {
    if (f.cf !== "write" || f.instant) continue;
    for (const e of f.entries) {
      const { raw, ts } = parseDataKey(e.key);
      if (ts === undefined) {
        throw new Error(`write-CF key ${hex(e.key)} has no commit ts; it is not an MVCC key`);
      }
      const w = decodeWriteValue(e.value);
      let value = w.shortValue;
      if (w.type === "put" && value === undefined) {
        const dk = new Uint8Array(e.key.length);
        dk.set(e.key.subarray(0, e.key.length - 8));
        dk.set(encodeUintDesc(w.startTs), e.key.length - 8);
        value = defaults.get(toStr(dk));
        if (value === undefined) {
          throw new Error(
            `the default-CF value of key ${hex(raw)} at start ts ${w.startTs} is not in this ` +
              `ingest; ingest a range's default-CF and write-CF files in one MultiIngest`,
          );
        }
      }
      out.push({
        key: raw,
        commitTs: ts,
        startTs: w.startTs,
        type: w.type,
        ...(value !== undefined ? { value } : {}),
        ...(w.hasOverlappedRollback ? { overlappedRollback: true } : {}),
      });
    }
  }
  return out;
}

/** The `import_sstpb.ImportSST` implementation of store `storeId` over `state`. */
export function importService(
  state: ImportState,
  storeId: bigint,
  stats?: ServerStats,
): ServiceImpl<typeof ImportSST> {
  return {
    switchMode(req) {
      state.switchMode(storeId, req.mode);
      log("playground", "import").info("store {store}: switch mode to {mode}", {
        store: String(storeId),
        mode: SwitchMode[req.mode] ?? String(req.mode),
      });
      return {};
    },

    setDownloadSpeedLimit(req) {
      const limit = req.speedLimit;
      state.store(storeId).speedLimit = limit > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(limit);
      return {};
    },

    download(req, ctx) {
      return state.download(storeId, req, ctx.signal);
    },

    ingest(req) {
      const error = state.ingest(storeId, req.context, req.sst ? [req.sst] : [], stats);
      return error ? { error } : {};
    },

    multiIngest(req) {
      const error = state.ingest(storeId, req.context, req.ssts, stats);
      return error ? { error } : {};
    },
  };
}
