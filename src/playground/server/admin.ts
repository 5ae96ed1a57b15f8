/**
 * The playground's admin and fault API: the same operations in-process (`PlaygroundAdmin`) and
 * as HTTP+JSON on its own port (`startAdminServer`), for tests, benchmarks and people.
 *
 * Keys are hex (raw keys, as TiDB and BR see them); ids and timestamps are JSON numbers or
 * strings (u64 values come back as strings). Errors answer 400 (bad input), 404 (no such
 * route or object) or 500 with `{"error": "<one line>"}`.
 *
 * | Method and path                       | Body / query                                   |
 * |---------------------------------------|------------------------------------------------|
 * | GET  /status                          |                                                |
 * | GET  /stores                          |                                                |
 * | GET  /regions                         | ?start=hex&end=hex&limit=N                     |
 * | GET  /tso                             | a fresh timestamp                              |
 * | POST /regions/split                   | {keys: [hex]} or {region: id} (split in half)  |
 * | POST /regions/merge                   | {source: id, target: id}                       |
 * | POST /regions/transfer-leader         | {region: id, store: id}                        |
 * | POST /stores/{id}/stop, /restart      |                                                |
 * | POST /stores/{id}/pause, /resume      |                                                |
 * | POST /stores/{id}/slow                | {delayMs}                                      |
 * | POST /stores/{id}/throttle            | {bytesPerSecond} (backup writes)               |
 * | POST /stores/{id}/cluster-id          | {clusterId}: claims another cluster (0 clears) |
 * | POST /faults/region-errors            | {kind, probability, store?, region?, remaining?,|
 * |                                       |  rpc?: "ingest"} (rpc: only that call)         |
 * | DELETE /faults/region-errors[/{id}]   |                                                |
 * | POST /faults/storage                  | {probability, remaining?, temporary?}          |
 * | POST /faults/download                 | {probability?, delayMs?, store?, remaining?}   |
 * | DELETE /faults/download[/{id}]        |                                                |
 * | DELETE /faults/storage                |                                                |
 * | POST /pd/election                     | {ms, leader?}: no leader for ms, then member   |
 * |                                       | `leader` (default: the same one) leads         |
 * | POST /pd/members/{i}/stop, /restart   | stops or restarts PD member i                  |
 * | POST /gc/safe-point                   | {safePoint}                                    |
 * | POST /workload/start, /workload/stop  | WorkloadOptions (start)                        |
 * | GET  /truth                           | ?start=hex&end=hex&ts=N                        |
 * | GET  /truth/table                     | ?db=NAME&table=NAME&ts=N                       |
 * | GET  /truth/raw                       | ?start=hex&end=hex&cf=default                  |
 * | POST /save                            | saves the state now (with --dir)               |
 *
 * Ground truth is computed from the engine's trees by the cluster, independently of the backup
 * path (see `Cluster.checksum`).
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { concatBytes, fromHex, hex } from "../../codec/bytes.ts";
import { log } from "../../log.ts";
import type { TableInfo } from "../../tidb/model.ts";
import type { Checksum, Cluster, RegionErrorKind } from "../cluster.ts";
import type { RawCf } from "../mvcc.ts";
import { encodeRegionKey, type Region } from "../regions.ts";
import type { Catalog } from "../sample.ts";
import { Workload, type WorkloadOptions, type WorkloadStats } from "../workload.ts";
import type { ServerStats } from "./_flow.ts";
import type { ImportState } from "./import.ts";
import type { PdLeadership } from "./pd.ts";
import type { PdScheduling } from "./scheduling.ts";

/** What the admin needs from the running playground (implemented by `startPlayground`). */
export interface PlaygroundHost {
  readonly cluster: Cluster;
  /** What the stores answered so far. */
  readonly stats: ServerStats;
  /** PD's leadership (for simulated elections). */
  readonly leadership: PdLeadership;
  readonly catalog: Catalog | undefined;
  /** The PD address (`127.0.0.1:2379`): member 0's. */
  pdAddress(): string;
  /** Every PD member's address, by index. */
  pdAddresses(): string[];
  /** Whether PD member `index` is listening. */
  pdMemberUp(index: number): boolean;
  /** Stops PD member `index` (its port closes). */
  stopPdMember(index: number): Promise<void>;
  /** Starts PD member `index` again on its port. */
  restartPdMember(index: number): Promise<void>;
  /** The admin URL, once its server listens. */
  adminUrl(): string;
  /** Stops a store's server (its port closes). */
  stopStore(id: bigint): Promise<void>;
  /** Starts a stopped store's server again on its port. */
  restartStore(id: bigint): Promise<void>;
  /** Saves the state to the playground's directory; false when it has none. */
  save(): Promise<boolean>;
  /** The stores' import service state (absent in hosts without the import service). */
  readonly imports?: ImportState;
  /** PD's schedulers, config and operators (absent in hosts without them). */
  readonly scheduling?: PdScheduling;
}

/** A region as the admin API reports it. */
export interface RegionView {
  id: string;
  /** Raw start key in hex (empty = -inf). */
  start: string;
  /** Raw end key in hex (empty = +inf). */
  end: string;
  version: string;
  confVer: string;
  leaderStore: string;
  peers: string[];
}

/** A checksum triple with u64s as strings (JSON-safe). */
export interface ChecksumView {
  crc64xor: string;
  totalKvs: string;
  totalBytes: string;
}

/** A failure of an admin call caused by its input (HTTP 400; 404 with `notFound`). */
export class AdminError extends Error {
  override name = "AdminError";
  constructor(message: string, readonly notFound = false) {
    super(message);
  }
}

const REGION_ERROR_KINDS: readonly RegionErrorKind[] = [
  "notLeader",
  "epochNotMatch",
  "regionNotFound",
  "keyNotInRegion",
  "serverIsBusy",
  "staleCommand",
];

/** Messages of injected storage failures: BR retries the temporary one, not the other. */
export const STORAGE_FAULT_MESSAGES = {
  temporary: "I/O error: connection reset by peer (injected by the playground)",
  permanent: "I/O error: permission denied (injected by the playground)",
} as const;

function checksumView(c: Checksum): ChecksumView {
  return {
    crc64xor: String(c.crc64xor),
    totalKvs: String(c.totalKvs),
    totalBytes: String(c.totalBytes),
  };
}

/** Reads an id or ts given as a number or a decimal string. */
export function toBig(v: unknown, what: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === "string" && /^\d+$/.test(v)) return BigInt(v);
  throw new AdminError(`${what} must be a non-negative integer (number or decimal string)`);
}

function toKey(v: unknown, what: string): Uint8Array {
  if (v === undefined || v === null || v === "") return new Uint8Array(0);
  if (v instanceof Uint8Array) return v;
  if (typeof v !== "string") throw new AdminError(`${what} must be a hex string`);
  try {
    return fromHex(v);
  } catch {
    throw new AdminError(`${what} '${v}' is not valid hex`);
  }
}

function toProbability(v: unknown): number {
  const p = typeof v === "string" ? Number(v) : v;
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
    throw new AdminError("probability must be a number between 0 and 1");
  }
  return p;
}

/** RPCs a region-error rule can be limited to. */
const FAULT_RPCS = ["ingest"] as const;

function toRpc(v: unknown): string {
  if (!FAULT_RPCS.includes(v as (typeof FAULT_RPCS)[number])) {
    throw new AdminError(`rpc must be one of ${FAULT_RPCS.join(", ")}`);
  }
  return v as string;
}

/** The admin operations, in-process. Each says in one line what is wrong when it refuses. */
export class PlaygroundAdmin {
  #workload: Workload | undefined;

  constructor(readonly host: PlaygroundHost) {}

  get #cluster(): Cluster {
    return this.host.cluster;
  }

  #store(id: unknown): bigint {
    const sid = toBig(id, "store id");
    if (!this.#cluster.regions.getStore(sid)) {
      throw new AdminError(`store ${sid} does not exist; GET /stores lists them`, true);
    }
    return sid;
  }

  #region(id: unknown): Region {
    const rid = toBig(id, "region id");
    const r = this.#cluster.regions.getRegionById(rid);
    if (!r) throw new AdminError(`region ${rid} does not exist; it may have been merged`, true);
    return r;
  }

  /** A region with raw bounds in hex. */
  regionView(r: Region): RegionView {
    const raw = this.#cluster.rawRangeOf(r);
    return {
      id: String(r.id),
      start: hex(raw.start),
      end: hex(raw.end),
      version: String(r.epoch.version),
      confVer: String(r.epoch.confVer),
      leaderStore: String(r.leader.storeId),
      peers: r.peers.map((p) => String(p.storeId)),
    };
  }

  /** Addresses, sizes, TSO, GC and fault state. */
  status(): Record<string, unknown> {
    const c = this.#cluster;
    return {
      ...c.describe(),
      pd: this.host.pdAddress(),
      pdMembers: this.pdMembers(),
      admin: this.host.adminUrl(),
      stores: this.stores(),
      regionErrorRules: c.faults.regionErrorRules().map((r) => ({
        ...r,
        storeId: r.storeId === undefined ? undefined : String(r.storeId),
        regionId: r.regionId === undefined ? undefined : String(r.regionId),
      })),
      workload: this.#workload
        ? { running: this.#workload.running, ...this.#workload.stats }
        : undefined,
      served: {
        regionErrors: this.host.stats.regionErrors,
        backupRequests: this.host.stats.backupRequests,
        backupResponses: this.host.stats.backupResponses,
        backupErrors: this.host.stats.backupErrors,
        backupFiles: this.host.stats.backupFiles,
        backupBytes: this.host.stats.backupBytes,
      },
      import: this.host.imports?.status(),
      scheduling: this.host.scheduling?.status(),
    };
  }

  /** Stores with their addresses, states and fault settings. */
  stores(): Record<string, unknown>[] {
    return this.#cluster.regions.stores().map((s) => {
      const { clusterId, ...fault } = this.#cluster.faults.store(s.id);
      return {
        id: String(s.id),
        address: s.address,
        state: s.state,
        labels: s.labels,
        leaders: this.#cluster.regions.all().filter((r) => r.leader.storeId === s.id).length,
        ...fault,
        ...(clusterId !== 0n ? { clusterId: String(clusterId) } : {}),
      };
    });
  }

  /** PD members: address, whether it leads, whether it is up. */
  pdMembers(): { index: number; address: string; leader: boolean; up: boolean }[] {
    const leader = this.host.leadership.leader;
    return this.host.pdAddresses().map((address, index) => ({
      index,
      address,
      leader: leader === index,
      up: this.host.pdMemberUp(index),
    }));
  }

  /** Regions intersecting the raw range `[start, end)`, at most `limit` (0 = all). */
  regions(start?: Uint8Array, end?: Uint8Array, limit = 0): RegionView[] {
    const s = start && start.length > 0 ? encodeRegionKey(start) : new Uint8Array(0);
    const e = end && end.length > 0 ? encodeRegionKey(end) : new Uint8Array(0);
    return this.#cluster.regions.scanRegions(s, e, limit).map((r) => this.regionView(r));
  }

  /** A fresh TSO. */
  ts(): bigint {
    return this.#cluster.ts();
  }

  /** Splits the regions holding raw `keys` at those keys; returns the new regions. */
  split(keys: Uint8Array[]): RegionView[] {
    if (keys.length === 0) throw new AdminError("give at least one key to split at");
    const made = this.#cluster.regions.splitAt(keys.map((k) => encodeRegionKey(k)));
    log("playground", "admin").info("split at {n} keys: {regions} new regions", {
      n: keys.length,
      regions: made.length,
    });
    return made.map((r) => this.regionView(r));
  }

  /** Splits a region in two at the middle of its data; returns both halves. */
  splitRegion(regionId: unknown): RegionView[] {
    const r = this.#region(regionId);
    const raw = this.#cluster.rawRangeOf(r);
    const stats = this.#cluster.mvcc.rangeStats(raw.start, raw.end);
    const keys = this.#cluster.mvcc.splitKeys(raw.start, raw.end, Math.max(1, stats.bytes / 2));
    const mid = keys[0];
    if (!mid) throw new AdminError(`region ${r.id} holds too little data to split in half`);
    return this.#cluster.regions.splitRegion(r.id, [encodeRegionKey(mid)]).map((x) =>
      this.regionView(x)
    );
  }

  /** Merges region `source` into its neighbour `target`. */
  merge(source: unknown, target: unknown): RegionView {
    const s = this.#region(source);
    const t = this.#region(target);
    try {
      return this.regionView(this.#cluster.regions.merge(s.id, t.id));
    } catch (err) {
      throw new AdminError((err as Error).message);
    }
  }

  /** Moves a region's leader to its peer on `store`. */
  transferLeader(region: unknown, store: unknown): RegionView {
    const r = this.#region(region);
    const sid = this.#store(store);
    try {
      return this.regionView(this.#cluster.regions.transferLeader(r.id, sid));
    } catch (err) {
      throw new AdminError((err as Error).message);
    }
  }

  /**
   * Makes PD lose its leadership for `ms` milliseconds, as during an election: RPCs answer
   * Unavailable `not leader` and GetMembers names no leader until it is over.
   */
  pdElection(ms: unknown, leader?: unknown): void {
    const n = Number(ms);
    if (!(n > 0 && n <= 600_000)) throw new AdminError("ms must be a number from 1 to 600000");
    if (leader === undefined) {
      this.host.leadership.loseFor(n);
      return;
    }
    this.host.leadership.loseFor(n, this.#pdMember(leader));
  }

  #pdMember(index: unknown): number {
    const i = Number(index);
    const count = this.host.leadership.members;
    if (!(Number.isInteger(i) && i >= 0 && i < count)) {
      throw new AdminError(
        `PD member ${String(index)} does not exist: members are 0..${count - 1}`,
      );
    }
    return i;
  }

  /** Stops PD member `index`: its port closes, as when the process dies. */
  async stopPdMember(index: unknown): Promise<void> {
    await this.host.stopPdMember(this.#pdMember(index));
  }

  /** Restarts PD member `index` on the same port. */
  async restartPdMember(index: unknown): Promise<void> {
    await this.host.restartPdMember(this.#pdMember(index));
  }

  /**
   * Makes a store claim to belong to cluster `clusterId` (0 = its own again): its Backup
   * service then answers requests of this cluster with `cluster_id_error`, as a store of
   * another cluster would.
   */
  setStoreClusterId(id: unknown, clusterId: unknown): void {
    this.#cluster.faults.setStore(this.#store(id), { clusterId: toBig(clusterId, "clusterId") });
  }

  /** Stops a store: its port closes, in-flight calls fail. */
  async stopStore(id: unknown): Promise<void> {
    await this.host.stopStore(this.#store(id));
  }

  /** Restarts a stopped store on the same port. */
  async restartStore(id: unknown): Promise<void> {
    await this.host.restartStore(this.#store(id));
  }

  /** Holds (true) or releases (false) every request to a store. */
  pauseStore(id: unknown, paused = true): void {
    this.#cluster.faults.setStore(this.#store(id), { paused });
  }

  /** Adds `delayMs` to every request of a store (0 clears it). */
  slowStore(id: unknown, delayMs: unknown): void {
    const ms = Number(delayMs);
    if (!(ms >= 0)) throw new AdminError("delayMs must be a number >= 0");
    this.#cluster.faults.setStore(this.#store(id), { delayMs: ms });
  }

  /** Caps a store's backup writes at `bytesPerSecond` (0 clears it). */
  throttleStore(id: unknown, bytesPerSecond: unknown): void {
    const b = Number(bytesPerSecond);
    if (!(b >= 0)) throw new AdminError("bytesPerSecond must be a number >= 0");
    this.#cluster.faults.setStore(this.#store(id), { bytesPerSecond: b });
  }

  /** Injects a region error with a probability; returns the rule id. */
  injectRegionError(rule: {
    kind: unknown;
    probability: unknown;
    store?: unknown;
    region?: unknown;
    remaining?: unknown;
    rpc?: unknown;
  }): number {
    if (!REGION_ERROR_KINDS.includes(rule.kind as RegionErrorKind)) {
      throw new AdminError(`kind must be one of ${REGION_ERROR_KINDS.join(", ")}`);
    }
    const remaining = rule.remaining === undefined ? undefined : Number(rule.remaining);
    if (remaining !== undefined && !(Number.isInteger(remaining) && remaining > 0)) {
      throw new AdminError("remaining must be a positive integer");
    }
    return this.#cluster.faults.injectRegionError({
      kind: rule.kind as RegionErrorKind,
      probability: toProbability(rule.probability),
      ...(rule.store !== undefined ? { storeId: this.#store(rule.store) } : {}),
      ...(rule.region !== undefined ? { regionId: toBig(rule.region, "region id") } : {}),
      ...(remaining !== undefined ? { remaining } : {}),
      ...(rule.rpc !== undefined ? { rpc: toRpc(rule.rpc) } : {}),
    });
  }

  /**
   * Makes Downloads of the import service fail with `probability` and/or take `delayMs` longer,
   * on one store or all (at most `remaining` failures); returns the rule id.
   */
  injectDownloadFault(f: {
    store?: unknown;
    probability?: unknown;
    delayMs?: unknown;
    remaining?: unknown;
  }): number {
    const imports = this.host.imports;
    if (!imports) throw new AdminError("this playground has no import service", true);
    const remaining = f.remaining === undefined ? undefined : Number(f.remaining);
    if (remaining !== undefined && !(Number.isInteger(remaining) && remaining > 0)) {
      throw new AdminError("remaining must be a positive integer");
    }
    const delayMs = Number(f.delayMs ?? 0);
    if (!(delayMs >= 0)) throw new AdminError("delayMs must be a number >= 0");
    return imports.injectDownloadFault({
      probability: f.probability === undefined ? 0 : toProbability(f.probability),
      delayMs,
      ...(f.store !== undefined ? { storeId: this.#store(f.store) } : {}),
      ...(remaining !== undefined ? { remaining } : {}),
    });
  }

  /** Removes one region-error rule, or all of them. */
  clearRegionErrors(id?: unknown): void {
    this.#cluster.faults.clearRegionErrors(id === undefined ? undefined : Number(id));
  }

  /**
   * Makes backup file writes fail with `probability` (at most `remaining` times). A temporary
   * failure (the default) reads like a reset connection, which BR retries; a permanent one
   * like a permission error, which fails the backup.
   */
  failStorageWrites(f: { probability: unknown; remaining?: unknown; temporary?: unknown }): void {
    const remaining = f.remaining === undefined ? undefined : Number(f.remaining);
    if (remaining !== undefined && !(Number.isInteger(remaining) && remaining > 0)) {
      throw new AdminError("remaining must be a positive integer");
    }
    const temporary = f.temporary === undefined
      ? true
      : f.temporary === true || f.temporary === "true";
    this.#cluster.faults.failStorageWrites({
      probability: toProbability(f.probability),
      ...(remaining !== undefined ? { remaining } : {}),
      message: temporary ? STORAGE_FAULT_MESSAGES.temporary : STORAGE_FAULT_MESSAGES.permanent,
    });
  }

  /** Stops failing storage writes. */
  clearStorageFaults(): void {
    this.#cluster.faults.clearStorageFaults();
  }

  /** Advances the GC safe point (as TiDB's GC worker would) and runs GC; returns it. */
  setGcSafePoint(safePoint: unknown): { gcSafePoint: bigint; removedVersions: number } {
    const sp = this.#cluster.gc.updateGcSafePoint(toBig(safePoint, "safePoint"));
    return { gcSafePoint: sp, removedVersions: this.#cluster.runGc() };
  }

  /** Starts the background workload (stopping a previous one). */
  startWorkload(opts: WorkloadOptions = {}): void {
    const catalog = this.host.catalog;
    if (!catalog) {
      throw new AdminError(
        "the workload needs the sample catalog; start the playground with sample data",
      );
    }
    this.#workload?.stop();
    this.#workload = new Workload(this.#cluster, catalog, opts);
    this.#workload.start();
  }

  /** Stops the workload; returns what it did. */
  stopWorkload(o: { commitAlive?: boolean } = {}): WorkloadStats | undefined {
    this.#workload?.stop(o);
    return this.#workload?.stats;
  }

  /** The running workload, if any. */
  get workload(): Workload | undefined {
    return this.#workload;
  }

  /** Ground truth of the raw-key range `[start, end)` at `ts`. */
  groundTruth(start: Uint8Array, end: Uint8Array, ts: bigint): Checksum {
    return this.#cluster.checksum(start, end, ts);
  }

  /** Ground truth of a table (records and public indexes of every partition) at `ts`. */
  async tableGroundTruth(db: string, table: string, ts: bigint): Promise<Checksum> {
    return this.#cluster.tableChecksum(await this.tableInfo(db, table, ts), ts);
  }

  /** A table's schema at `ts`, read from TiDB's meta in the engine (names case-insensitive). */
  async tableInfo(db: string, table: string, ts: bigint): Promise<TableInfo> {
    const reader = this.#cluster.schemaReader(ts);
    const dbs = await reader.listDatabases();
    const d = dbs.find((x) => x.info.db_name.L === db.toLowerCase());
    if (!d) throw new AdminError(`database ${db} does not exist at ts ${ts}`, true);
    const tables = await reader.listTables(d.info.id);
    const t = tables.find((x) => x.info.name.L === table.toLowerCase());
    if (!t) throw new AdminError(`table ${db}.${table} does not exist at ts ${ts}`, true);
    return t.info;
  }

  /** Ground truth of raw KV in `[start, end)` of a column family. */
  rawGroundTruth(start: Uint8Array, end: Uint8Array, cf: RawCf = "default"): Checksum {
    if (!["default", "write", "lock"].includes(cf)) {
      throw new AdminError("cf must be default, write or lock");
    }
    return this.#cluster.rawChecksum(start, end, cf);
  }

  /** Saves the state now; false when the playground has no directory. */
  save(): Promise<boolean> {
    return this.host.save();
  }

  /** Serves one HTTP API call: method, path and query/body to a JSON-able result. */
  async dispatch(
    method: string,
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown>,
  ): Promise<unknown> {
    const parts = path.split("/").filter((p) => p !== "");
    const route = `${method} /${parts.join("/")}`;
    const key = (name: string) => toKey(query.get(name) ?? undefined, name);
    const tsOf = (v: unknown) => (v === undefined || v === null ? this.ts() : toBig(v, "ts"));
    if (parts[0] === "stores" && parts.length === 3 && method === "POST") {
      const id = parts[1];
      switch (parts[2]) {
        case "stop":
          await this.stopStore(id);
          return { stopped: id };
        case "restart":
          await this.restartStore(id);
          return { restarted: id };
        case "pause":
          this.pauseStore(id, true);
          return { paused: id };
        case "resume":
          this.pauseStore(id, false);
          return { resumed: id };
        case "slow":
          this.slowStore(id, body.delayMs ?? 0);
          return { store: id, delayMs: Number(body.delayMs ?? 0) };
        case "throttle":
          this.throttleStore(id, body.bytesPerSecond ?? 0);
          return { store: id, bytesPerSecond: Number(body.bytesPerSecond ?? 0) };
        case "cluster-id":
          this.setStoreClusterId(id, body.clusterId ?? 0);
          return { store: id, clusterId: String(body.clusterId ?? 0) };
      }
    }
    if (parts[0] === "pd" && parts[1] === "members" && parts.length === 4 && method === "POST") {
      switch (parts[3]) {
        case "stop":
          await this.stopPdMember(parts[2]);
          return { stopped: Number(parts[2]) };
        case "restart":
          await this.restartPdMember(parts[2]);
          return { restarted: Number(parts[2]) };
      }
    }
    if (parts[0] === "faults" && parts[1] === "download" && method === "DELETE") {
      this.host.imports?.clearDownloadFaults(parts[2] === undefined ? undefined : Number(parts[2]));
      return { cleared: parts[2] ?? "all" };
    }
    if (route === "POST /faults/download") {
      return {
        id: this.injectDownloadFault(body as Parameters<PlaygroundAdmin["injectDownloadFault"]>[0]),
      };
    }
    if (parts[0] === "faults" && parts[1] === "region-errors" && method === "DELETE") {
      this.clearRegionErrors(parts[2]);
      return { cleared: parts[2] ?? "all" };
    }
    switch (route) {
      case "GET /status":
        return this.status();
      case "GET /stores":
        return this.stores();
      case "GET /regions":
        return this.regions(key("start"), key("end"), Number(query.get("limit") ?? 0));
      case "GET /tso":
        return { ts: this.ts() };
      case "POST /regions/split":
        if (body.region !== undefined) return this.splitRegion(body.region);
        if (!Array.isArray(body.keys)) throw new AdminError("give keys: [hex...] or region: id");
        return this.split(body.keys.map((k, i) => toKey(k, `keys[${i}]`)));
      case "POST /regions/merge":
        return this.merge(body.source, body.target);
      case "POST /regions/transfer-leader":
        return this.transferLeader(body.region, body.store);
      case "POST /faults/region-errors":
        return {
          id: this.injectRegionError(body as Parameters<PlaygroundAdmin["injectRegionError"]>[0]),
        };
      case "POST /faults/storage":
        this.failStorageWrites(body as Parameters<PlaygroundAdmin["failStorageWrites"]>[0]);
        return { failing: true };
      case "DELETE /faults/storage":
        this.clearStorageFaults();
        return { failing: false };
      case "POST /pd/election":
        this.pdElection(body.ms, body.leader);
        return {
          leaderless: Number(body.ms),
          ...(body.leader !== undefined ? { leader: Number(body.leader) } : {}),
        };
      case "POST /gc/safe-point":
        return this.setGcSafePoint(body.safePoint);
      case "POST /workload/start":
        this.startWorkload(body as WorkloadOptions);
        return { running: true };
      case "POST /workload/stop":
        return { stats: this.stopWorkload({ commitAlive: body.commitAlive === true }) };
      case "GET /truth": {
        const ts = tsOf(query.get("ts") ?? undefined);
        return { ts, ...checksumView(this.groundTruth(key("start"), key("end"), ts)) };
      }
      case "GET /truth/table": {
        const db = query.get("db");
        const table = query.get("table");
        if (!db || !table) throw new AdminError("give db and table");
        const ts = tsOf(query.get("ts") ?? undefined);
        return { ts, ...checksumView(await this.tableGroundTruth(db, table, ts)) };
      }
      case "GET /truth/raw":
        return checksumView(
          this.rawGroundTruth(key("start"), key("end"), (query.get("cf") ?? "default") as RawCf),
        );
      case "POST /save":
        return { saved: await this.save() };
    }
    throw new AdminError(
      `no admin route ${route}; see the table in src/playground/server/admin.ts`,
      true,
    );
  }
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? String(v) : v));
  res.writeHead(status, { "content-type": "application/json" });
  res.end(text + "\n");
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Uint8Array[] = [];
  for await (const c of req) chunks.push(c as Uint8Array);
  const text = new TextDecoder().decode(concatBytes(...chunks)).trim();
  if (text === "") return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new AdminError("the request body is not JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new AdminError("the request body must be a JSON object");
  }
  return v as Record<string, unknown>;
}

/** A listening admin HTTP server. */
export interface AdminServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `admin` over HTTP+JSON on `host:port` (port 0 = any free port). */
export async function startAdminServer(
  admin: PlaygroundAdmin,
  port: number,
  host = "127.0.0.1",
): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://admin");
    readBody(req)
      .then((body) => admin.dispatch(req.method ?? "GET", url.pathname, url.searchParams, body))
      .then(
        (result) => json(res, 200, result ?? {}),
        (err) => {
          const status = err instanceof AdminError ? (err.notFound ? 404 : 400) : 500;
          const msg = (err as Error).message?.split("\n")[0] ?? String(err);
          if (status === 500) log("playground", "admin").warn("admin call failed: {msg}", { msg });
          json(res, status, { error: msg });
        },
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: Error & { code?: string }) =>
      reject(
        new Error(
          err.code === "EADDRINUSE"
            ? `cannot start the admin server: port ${port} is in use; pass another --admin-port`
            : `cannot start the admin server: ${err.message}`,
        ),
      ));
    server.listen(port, host, () => resolve());
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
