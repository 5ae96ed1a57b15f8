/**
 * The playground cluster in-process: one MVCC engine (shared by every store, see mvcc.ts), the
 * region map and stores, the TSO, GC safe points and fault settings. It does no networking:
 * the PD, TiKV and admin servers built on top consult this object for every request, so tests
 * and benchmarks can drive the same state directly.
 *
 * Faults are plain state the servers honour: a stopped store closes its port, a paused one
 * holds requests, a slow one delays them, region errors are injected with a probability, and
 * storage writes of backups can be made to fail.
 *
 * Ground truth (`checksum`, `tableChecksum`, `rawChecksum`) is computed from the engine's trees
 * directly, independently of any backup path.
 * @module
 */
import { closeSync, openSync, readSync } from "node:fs";
import { mkdir, open, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fromHex, hex } from "../codec/bytes.ts";
import { ChecksumAccumulator, type KvChecksum } from "../codec/crc64.ts";
import { type KvReader, SchemaReader } from "../tidb/meta.ts";
import { physicalTableIds, publicIndexes, type TableInfo } from "../tidb/model.ts";
import { indexRange, recordRange, tablePrefix } from "../tidb/tablecodec.ts";
import { log } from "../log.ts";
import { type KeyError, type Mutation, MvccStore, type RawCf } from "./mvcc.ts";
import {
  encodeRegionKey,
  IdAllocator,
  rawBoundOf,
  type Region,
  RegionMap,
  type Store,
} from "./regions.ts";
import { type Clock, physicalOf, Tso } from "./tso.ts";
import { mulberry32 } from "../random.ts";

/** A checksum triple as BR and TiKV report it. */
export type Checksum = KvChecksum;

function triple(acc: ChecksumAccumulator): Checksum {
  return acc.checksum();
}

/** The service id TiDB's GC worker keeps its safe point under. */
export const GC_WORKER = "gc_worker";

/** A service GC safe point (PD's ServiceSafePoint). */
export interface ServiceSafePoint {
  serviceId: string;
  safePoint: bigint;
  /** Unix seconds; `Infinity` never expires. */
  expiresAt: number;
}

/** PD's GC bookkeeping: the GC safe point and the service safe points with TTLs. */
export class GcSafePoints {
  #gcSafePoint = 0n;
  #services = new Map<string, ServiceSafePoint>();

  /** `clock` gives ms; TTLs are judged on it. */
  constructor(readonly clock: Clock) {}

  /** The cluster's GC safe point (UpdateGCSafePoint/GetGCSafePoint). */
  get gcSafePoint(): bigint {
    return this.#gcSafePoint;
  }

  /**
   * Advances the GC safe point (never moves it back) and, as TiDB's GC worker does, the
   * `gc_worker` service safe point with it. Returns the current GC safe point.
   */
  updateGcSafePoint(safePoint: bigint): bigint {
    if (safePoint > this.#gcSafePoint) this.#gcSafePoint = safePoint;
    const w = this.#services.get(GC_WORKER);
    if (w === undefined || w.safePoint < this.#gcSafePoint) {
      this.#services.set(GC_WORKER, {
        serviceId: GC_WORKER,
        safePoint: this.#gcSafePoint,
        expiresAt: Infinity,
      });
    }
    return this.#gcSafePoint;
  }

  #nowSeconds(): number {
    return Math.floor(this.clock() / 1000);
  }

  /** The smallest live service safe point; `gc_worker` at 0 when none is registered, as PD does. */
  minServiceSafePoint(): ServiceSafePoint {
    const now = this.#nowSeconds();
    let min: ServiceSafePoint | undefined;
    for (const [id, s] of this.#services) {
      if (s.expiresAt < now) {
        this.#services.delete(id);
        continue;
      }
      if (min === undefined || s.safePoint < min.safePoint) min = s;
    }
    if (min === undefined) {
      min = { serviceId: GC_WORKER, safePoint: 0n, expiresAt: Infinity };
      this.#services.set(min.serviceId, min);
    }
    return min;
  }

  /**
   * PD's UpdateServiceGCSafePoint: a TTL <= 0 removes the service; a safe point below the current
   * minimum is refused; otherwise it is saved for TTL seconds. Returns the minimum afterwards and
   * its remaining TTL in seconds. `gc_worker` only takes an infinite TTL, as PD insists.
   */
  updateServiceSafePoint(serviceId: string, ttlSeconds: number, safePoint: bigint): {
    serviceId: string;
    ttl: number;
    minSafePoint: bigint;
    updated: boolean;
  } {
    if (serviceId === GC_WORKER && ttlSeconds < Number.MAX_SAFE_INTEGER) {
      throw new Error(
        `the TTL of the ${GC_WORKER} service safe point must be infinite; use another service id`,
      );
    }
    if (ttlSeconds <= 0) this.#services.delete(serviceId);
    let min = this.minServiceSafePoint();
    let updated = false;
    if (ttlSeconds > 0 && safePoint >= min.safePoint) {
      const now = this.#nowSeconds();
      const expiresAt = ttlSeconds >= Number.MAX_SAFE_INTEGER - now ? Infinity : now + ttlSeconds;
      this.#services.set(serviceId, { serviceId, safePoint, expiresAt });
      updated = true;
      if (serviceId === min.serviceId) min = this.minServiceSafePoint();
    }
    const ttl = min.expiresAt === Infinity
      ? Number.MAX_SAFE_INTEGER
      : min.expiresAt - this.#nowSeconds();
    return { serviceId: min.serviceId, ttl, minSafePoint: min.safePoint, updated };
  }

  /** Replaces the service safe points (loading saved state). */
  restoreServices(services: ServiceSafePoint[]): void {
    this.#services.clear();
    for (const s of services) this.#services.set(s.serviceId, { ...s });
  }

  /** Every live service safe point. */
  services(): ServiceSafePoint[] {
    this.minServiceSafePoint();
    return [...this.#services.values()];
  }
}

/** Region errors the servers can be told to answer with (errorpb.Error cases). */
export type RegionErrorKind =
  | "notLeader"
  | "epochNotMatch"
  | "regionNotFound"
  | "keyNotInRegion"
  | "serverIsBusy"
  | "staleCommand";

/** An injected region error: answered with `probability` per matching request. */
export interface RegionErrorRule {
  id: number;
  kind: RegionErrorKind;
  /** 0..1 */
  probability: number;
  /** Only requests to this store (any when absent). */
  storeId?: bigint;
  /** Only requests for this region (any when absent). */
  regionId?: bigint;
  /** Fires at most this many times, then is removed (unlimited when absent). */
  remaining?: number;
}

/** Per-store fault state. */
export interface StoreFault {
  /** The store's server is down: its port is closed. */
  stopped: boolean;
  /** The store accepts connections but holds every request until unpaused. */
  paused: boolean;
  /** Extra delay per request, ms. */
  delayMs: number;
  /** Cap on backup throughput of this store, bytes/s (0 = none). */
  bytesPerSecond: number;
  /**
   * The cluster id this store claims to belong to, when it is not the cluster's own: a store
   * of another cluster, as after a misconfiguration (0 = the cluster's own).
   */
  clusterId: bigint;
}

/** Failing storage writes (backup files written by the stores). */
export interface StorageFault {
  probability: number;
  remaining?: number;
  message: string;
}

/** Fault settings; a seeded random source makes probabilistic faults repeatable. */
export class Faults {
  #stores = new Map<bigint, StoreFault>();
  #rules: RegionErrorRule[] = [];
  #nextRule = 1;
  #storage: StorageFault | undefined;
  #rand: () => number;
  #listeners = new Set<(storeId: bigint, fault: StoreFault) => void>();

  /** `seed` fixes the sequence of random draws. */
  constructor(seed = 1) {
    this.#rand = mulberry32(seed);
  }

  /** A number in [0, 1) from the seeded source. */
  random(): number {
    return this.#rand();
  }

  /** A store's fault state (all clear by default). */
  store(storeId: bigint): StoreFault {
    let f = this.#stores.get(storeId);
    if (f === undefined) {
      f = { stopped: false, paused: false, delayMs: 0, bytesPerSecond: 0, clusterId: 0n };
      this.#stores.set(storeId, f);
    }
    return f;
  }

  /** Calls `fn` whenever a store's fault state changes; returns an unsubscribe function. */
  onStoreChange(fn: (storeId: bigint, fault: StoreFault) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Changes a store's fault state and notifies the servers. */
  setStore(storeId: bigint, change: Partial<StoreFault>): StoreFault {
    const f = Object.assign(this.store(storeId), change);
    log("playground", "faults").info("store {storeId} fault state changed", {
      storeId: String(storeId),
      ...f,
      clusterId: String(f.clusterId),
    });
    for (const fn of this.#listeners) fn(storeId, f);
    return f;
  }

  /** Adds a region-error rule; returns its id. */
  injectRegionError(rule: Omit<RegionErrorRule, "id">): number {
    if (!(rule.probability >= 0 && rule.probability <= 1)) {
      throw new RangeError(`probability ${rule.probability} must be between 0 and 1`);
    }
    const id = this.#nextRule++;
    this.#rules.push({ ...rule, id });
    return id;
  }

  /** Removes one rule, or every rule when no id is given. */
  clearRegionErrors(id?: number): void {
    this.#rules = id === undefined ? [] : this.#rules.filter((r) => r.id !== id);
  }

  /** Current region-error rules. */
  regionErrorRules(): readonly RegionErrorRule[] {
    return this.#rules;
  }

  /** Draws whether a request to `storeId` for `regionId` gets an injected region error. */
  pickRegionError(storeId: bigint, regionId: bigint): RegionErrorKind | undefined {
    for (const r of this.#rules) {
      if (r.storeId !== undefined && r.storeId !== storeId) continue;
      if (r.regionId !== undefined && r.regionId !== regionId) continue;
      if (this.#rand() >= r.probability) continue;
      if (r.remaining !== undefined && --r.remaining <= 0) this.clearRegionErrors(r.id);
      return r.kind;
    }
    return undefined;
  }

  /** Makes backup storage writes fail with `probability` (at most `remaining` times). */
  failStorageWrites(f: { probability: number; remaining?: number; message?: string }): void {
    this.#storage = {
      probability: f.probability,
      remaining: f.remaining,
      message: f.message ?? "injected storage write failure",
    };
  }

  /** Stops failing storage writes. */
  clearStorageFaults(): void {
    this.#storage = undefined;
  }

  /** Draws whether a storage write fails; the message to fail with, or undefined. */
  pickStorageFailure(): string | undefined {
    const s = this.#storage;
    if (s === undefined || this.#rand() >= s.probability) return undefined;
    if (s.remaining !== undefined && --s.remaining <= 0) this.#storage = undefined;
    return s.message;
  }
}

/** Options of a new cluster. */
export interface ClusterOptions {
  /** PD's cluster id (random when absent). */
  clusterId?: bigint;
  /** Number of TiKV stores (3 by default). */
  stores?: number;
  /** Store addresses by index (placeholders until the servers bind their ports). */
  storeAddress?: (index: number) => string;
  /** ms clock for TSO, TTLs and GC (Date.now by default). */
  clock?: Clock;
  /** Seed of the fault-injection random source. */
  seed?: number;
  /** An existing engine to use (loading saved state). */
  mvcc?: MvccStore;
}

/** A transaction's failure inside the playground's own client. */
export class TxnError extends Error {
  /** The key errors that stopped it. */
  readonly errors: KeyError[];
  constructor(what: string, errors: KeyError[]) {
    super(`${what} failed: ${errors.map((e) => e.kind).join(", ")}`);
    this.name = "TxnError";
    this.errors = errors;
  }
}

/** The in-process playground cluster. */
export class Cluster {
  readonly clusterId: bigint;
  readonly clock: Clock;
  readonly tso: Tso;
  readonly ids: IdAllocator;
  readonly regions: RegionMap;
  readonly mvcc: MvccStore;
  readonly gc: GcSafePoints;
  readonly faults: Faults;

  /** Creates the stores and the first region. */
  constructor(o: ClusterOptions = {}) {
    this.clock = o.clock ?? Date.now;
    this.clusterId = o.clusterId ?? randomClusterId();
    this.tso = new Tso(this.clock);
    this.ids = new IdAllocator(1n);
    this.regions = new RegionMap(this.ids);
    this.gc = new GcSafePoints(this.clock);
    this.faults = new Faults(o.seed ?? 1);
    this.mvcc = o.mvcc ?? new MvccStore();
    const n = o.stores ?? 3;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`store count ${n} must be at least 1`);
    for (let i = 0; i < n; i++) {
      this.regions.addStore({ address: o.storeAddress?.(i) ?? `127.0.0.1:${20160 + i}` });
    }
    this.regions.bootstrap();
  }

  /** ms on the cluster's clock. */
  now(): number {
    return this.clock();
  }

  /** A fresh TSO. */
  ts(): bigint {
    return this.tso.next();
  }

  /** Whether `ts` is older than the GC safe point (reads there may miss data). */
  isBelowGcSafePoint(ts: bigint): boolean {
    return ts < this.gc.gcSafePoint;
  }

  /**
   * Runs one optimistic two-phase-commit transaction with timestamps from the TSO (the first
   * mutation's key is the primary). Throws `TxnError` if prewrite or commit fails.
   */
  runTxn(mutations: Mutation[], lockTtl = 3000n): { startTs: bigint; commitTs: bigint } {
    if (mutations.length === 0) throw new Error("a transaction needs at least one mutation");
    const startTs = this.ts();
    const primary = mutations[0]!.key;
    const pw = this.mvcc.prewrite({ mutations, primary, startTs, lockTtl });
    if (pw.errors.length > 0) throw new TxnError("prewrite", pw.errors);
    const commitTs = this.ts();
    const keys = mutations.filter((m) => m.op !== "checkNotExists").map((m) => m.key);
    const c = this.mvcc.commit(keys, startTs, commitTs);
    if (c.error) throw new TxnError("commit", [c.error]);
    return { startTs, commitTs };
  }

  /** A KV reader over the engine (for `SchemaReader` and tests). Locks make reads fail. */
  kvReader(): KvReader {
    const mvcc = this.mvcc;
    return {
      get(key, ts) {
        const r = mvcc.get(key, ts);
        if (r.error) return Promise.reject(new TxnError("get", [r.error]));
        return Promise.resolve(r.value);
      },
      scan(start, end, ts, limit) {
        const pairs = mvcc.scan(start, end, ts, limit);
        const bad = pairs.find((p) => p.error);
        if (bad?.error) return Promise.reject(new TxnError("scan", [bad.error]));
        return Promise.resolve(pairs.map((p) => ({ key: p.key, value: p.value })));
      },
    };
  }

  /** TiDB's schema at `ts` (now by default). */
  schemaReader(ts: bigint = this.ts()): SchemaReader {
    return new SchemaReader(this.kvReader(), ts);
  }

  /** Ground truth of a raw-key range `[start, end)` at `ts`. */
  checksum(start: Uint8Array, end: Uint8Array, ts: bigint): Checksum {
    return triple(this.mvcc.checksum(start, end, ts));
  }

  /**
   * Ground truth of a table at `ts` as BR's checksum covers it: the records and every public
   * index of each physical table (each partition).
   */
  tableChecksum(table: TableInfo, ts: bigint): Checksum {
    const acc = new ChecksumAccumulator();
    for (const id of physicalTableIds(table)) {
      const pid = BigInt(id);
      const ranges = [
        recordRange(pid),
        ...publicIndexes(table).map((i) => indexRange(pid, BigInt(i.id))),
      ];
      for (const r of ranges) acc.merge(this.mvcc.checksum(r.start, r.end, ts));
    }
    return triple(acc);
  }

  /** Ground truth of raw KV in `[start, end)` of a CF. */
  rawChecksum(start: Uint8Array, end: Uint8Array, cf: RawCf = "default"): Checksum {
    return triple(this.mvcc.rawChecksum(start, end, cf));
  }

  /** The raw-key range `[start, end)` a region covers (its encoded bounds decoded). */
  rawRangeOf(region: Region): { start: Uint8Array; end: Uint8Array } {
    return { start: rawBoundOf(region.startKey), end: rawBoundOf(region.endKey) };
  }

  /**
   * Splits every region holding more than `maxBytes` (or `maxKeys` keys, 0 = no limit) of data,
   * as TiKV's split checker does. Returns how many regions were added.
   */
  splitBySize(maxBytes: number, maxKeys = 0): number {
    return this.regions.splitAll((r) => {
      const { start, end } = this.rawRangeOf(r);
      return this.mvcc.splitKeys(start, end, maxBytes, maxKeys).map(encodeRegionKey);
    });
  }

  /** Splits at the start of each table id, as TiDB does for every new table. */
  splitTables(tableIds: number[]): number {
    const before = this.regions.size;
    this.regions.splitAt(tableIds.map((id) => encodeRegionKey(tablePrefix(BigInt(id)))));
    return this.regions.size - before;
  }

  /** Runs GC up to the GC safe point, keeping what live service safe points still need. */
  runGc(): number {
    const min = this.gc.minServiceSafePoint().safePoint;
    const sp = min < this.gc.gcSafePoint ? min : this.gc.gcSafePoint;
    return sp > 0n ? this.mvcc.gc(sp) : 0;
  }

  /**
   * Saves the cluster's state under `dir` (created if missing): `cluster.json` (ids, TSO, GC,
   * stores, regions), `engine.snap` (the MVCC engine) and `extra` as `extra.json` when given.
   * Each file is written to a temporary name and renamed, so a crash leaves the last good save.
   */
  async save(dir: string, extra?: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const state = {
      version: 1,
      clusterId: String(this.clusterId),
      nextId: String(this.ids.peek()),
      tso: String(this.tso.last()),
      gcSafePoint: String(this.gc.gcSafePoint),
      services: this.gc.services().map((s) => ({
        serviceId: s.serviceId,
        safePoint: String(s.safePoint),
        expiresAt: s.expiresAt === Infinity ? null : s.expiresAt,
      })),
      stores: this.regions.stores().map((s) => ({ ...s, id: String(s.id) })),
      regions: this.regions.all().map((r) => ({
        id: String(r.id),
        start: hex(r.startKey),
        end: hex(r.endKey),
        confVer: String(r.epoch.confVer),
        version: String(r.epoch.version),
        peers: r.peers.map((p) => [String(p.id), String(p.storeId)]),
        leader: String(r.leader.id),
      })),
    };
    const snapPath = join(dir, "engine.snap");
    const tmp = `${snapPath}.tmp`;
    const fh = await open(tmp, "w");
    try {
      // Each chunk is framed by its u32 big-endian length so loading can read chunk by chunk.
      const frame = new Uint8Array(4);
      for (const chunk of this.mvcc.snapshot()) {
        new DataView(frame.buffer).setUint32(0, chunk.length);
        await fh.write(frame);
        await fh.write(chunk);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, snapPath);
    if (extra !== undefined) await writeAtomic(join(dir, "extra.json"), extra);
    await writeAtomic(join(dir, "cluster.json"), JSON.stringify(state));
    log("playground").info("saved cluster state to {dir}", { dir, regions: state.regions.length });
  }

  /**
   * Loads a cluster saved with `save` from `dir`; undefined when `dir` holds no save. `o` gives
   * the clock and seed; ids, stores and regions come from the save.
   */
  static async load(
    dir: string,
    o: Pick<ClusterOptions, "clock" | "seed"> = {},
  ): Promise<{ cluster: Cluster; extra?: string } | undefined> {
    let text: string;
    try {
      text = await readFile(join(dir, "cluster.json"), "utf8");
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT") return undefined;
      throw err;
    }
    const st = JSON.parse(text) as SavedState;
    if (st.version !== 1) {
      throw new Error(
        `cluster state in ${dir} has version ${st.version}; this tibr reads version 1`,
      );
    }
    const mvcc = MvccStore.restore(readFramesSync(join(dir, "engine.snap")));
    const c = new Cluster({ ...o, clusterId: BigInt(st.clusterId), stores: 1, mvcc });
    c.regions.loadStores(st.stores.map((s) => ({ ...s, id: BigInt(s.id) })));
    c.regions.load(st.regions.map((r) => {
      const peers = r.peers.map(([id, storeId]) => ({ id: BigInt(id), storeId: BigInt(storeId) }));
      return {
        id: BigInt(r.id),
        startKey: fromHex(r.start),
        endKey: fromHex(r.end),
        epoch: { confVer: BigInt(r.confVer), version: BigInt(r.version) },
        peers,
        leader: peers.find((p) => p.id === BigInt(r.leader)) ?? peers[0]!,
      };
    }));
    c.ids.advancePast(BigInt(st.nextId) - 1n);
    c.tso.advancePast(BigInt(st.tso));
    c.gc.updateGcSafePoint(BigInt(st.gcSafePoint));
    c.gc.restoreServices(st.services.map((s) => ({
      serviceId: s.serviceId,
      safePoint: BigInt(s.safePoint),
      expiresAt: s.expiresAt ?? Infinity,
    })));
    let extra: string | undefined;
    try {
      extra = await readFile(join(dir, "extra.json"), "utf8");
    } catch (err) {
      if ((err as { code?: string }).code !== "ENOENT") throw err;
    }
    log("playground").info("loaded cluster state from {dir}", { dir, regions: c.regions.size });
    return { cluster: c, extra };
  }

  /** A summary for logs and the admin API. */
  describe(): Record<string, unknown> {
    return {
      clusterId: String(this.clusterId),
      stores: this.regions.stores().map((s) => ({
        id: String(s.id),
        address: s.address,
        state: s.state,
      })),
      regions: this.regions.size,
      ...this.mvcc.stats(),
      tso: String(this.tso.last()),
      tsoPhysical: physicalOf(this.tso.last()),
      gcSafePoint: String(this.gc.gcSafePoint),
    };
  }
}

interface SavedState {
  version: number;
  clusterId: string;
  nextId: string;
  tso: string;
  gcSafePoint: string;
  services: { serviceId: string; safePoint: string; expiresAt: number | null }[];
  stores: (Omit<Store, "id"> & { id: string })[];
  regions: {
    id: string;
    start: string;
    end: string;
    confVer: string;
    version: string;
    peers: [string, string][];
    leader: string;
  }[];
}

/** The length-framed chunks of a saved engine snapshot, read one at a time. */
function* readFramesSync(path: string): Generator<Uint8Array> {
  const fd = openSync(path, "r");
  try {
    const head = new Uint8Array(4);
    for (;;) {
      const n = readSync(fd, head, 0, 4, null);
      if (n === 0) return;
      if (n !== 4) throw new Error(`engine snapshot ${path} is truncated; the save was cut short`);
      const len = new DataView(head.buffer).getUint32(0);
      const chunk = new Uint8Array(len);
      let got = 0;
      while (got < len) {
        const m = readSync(fd, chunk, got, len - got, null);
        if (m === 0) {
          throw new Error(`engine snapshot ${path} is truncated; the save was cut short`);
        }
        got += m;
      }
      yield chunk;
    }
  } finally {
    closeSync(fd);
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

function randomClusterId(): bigint {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  // Positive and non-zero, like PD's (time-based) ids.
  return (new DataView(b.buffer).getBigUint64(0) >> 1n) | 1n;
}
