/**
 * An optional background workload on the sample tables, so backups run against a cluster that
 * is changing: single-row inserts, updates and deletes in short transactions, and long
 * transactions that leave locks behind:
 *
 * - **crashed**: prewritten with a short TTL and never committed nor heart-beaten, like a TiDB
 *   that died mid-commit. Once the TTL has passed (on the TSO's physical clock) a reader may roll
 *   them back with check_txn_status.
 * - **alive**: prewritten and kept alive by heartbeats that extend the TTL, then committed after
 *   `aliveHoldMs`; a reader must wait for them.
 *
 * Everything is bounded (`maxOps`, `durationMs`, the number of long transactions) and `stop()`
 * ends it; `step()` runs operations synchronously for deterministic tests.
 * @module
 */
import { clearTimeout, setTimeout } from "node:timers";
import { log } from "../log.ts";
import { type Cluster, TxnError } from "./cluster.ts";
import { mulberry32 } from "../random.ts";
import type { Mutation } from "./mvcc.ts";
import type { Catalog, CatalogTable } from "./sample.ts";
import { physicalOf } from "./tso.ts";

/** Options of the workload. */
export interface WorkloadOptions {
  /** ms between ticks (20 by default). */
  intervalMs?: number;
  /** Operations per tick (5 by default). */
  opsPerTick?: number;
  /** Stop after this many short operations (unlimited by default). */
  maxOps?: number;
  /** Stop after this long, ms (unlimited by default). */
  durationMs?: number;
  /** Relative weights of inserts, updates and deletes (2:2:1 by default). */
  mix?: { insert: number; update: number; delete: number };
  /** Long transactions to open at start (none by default). */
  longTxns?: {
    crashed?: number;
    alive?: number;
    /** TTL of each long txn's locks, ms (3000 by default, TiDB's minimum). */
    ttlMs?: number;
    /** How long an alive txn holds its locks before committing, ms (10 s by default). */
    aliveHoldMs?: number;
    /** Rows each long txn updates (2 by default). */
    rows?: number;
  };
  /** Tables to work on (every table with rows by default). */
  tables?: CatalogTable[];
  seed?: number;
}

/** What the workload did. */
export interface WorkloadStats {
  inserts: number;
  updates: number;
  deletes: number;
  /** Short transactions that hit a lock or conflict and gave up. */
  conflicts: number;
  crashedTxns: number;
  aliveTxns: number;
  /** Alive long transactions committed so far. */
  longCommitted: number;
}

/** A long transaction the workload opened. */
export interface LongTxn {
  kind: "crashed" | "alive";
  startTs: bigint;
  primary: Uint8Array;
  keys: Uint8Array[];
  /** ms on the cluster clock when it was opened. */
  openedAt: number;
  /** Catalog updates to apply once committed. */
  apply: () => void;
  done: boolean;
}

/** A bounded, stoppable write workload over the catalog's tables. */
export class Workload {
  readonly stats: WorkloadStats = {
    inserts: 0,
    updates: 0,
    deletes: 0,
    conflicts: 0,
    crashedTxns: 0,
    aliveTxns: 0,
    longCommitted: 0,
  };
  readonly longTxns: LongTxn[] = [];
  #rand: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #startedAt = 0;
  #ops = 0;
  #tables: CatalogTable[];

  /** Works on `catalog`'s tables in `cluster`. */
  constructor(
    readonly cluster: Cluster,
    readonly catalog: Catalog,
    readonly opts: WorkloadOptions = {},
  ) {
    this.#rand = mulberry32(opts.seed ?? 7);
    this.#tables = opts.tables ?? catalog.tables.filter((t) => catalog.liveRows(t) > 0);
  }

  /** True between `start()` and `stop()` (or until a bound is reached). */
  get running(): boolean {
    return this.#running;
  }

  /** Opens the long transactions and starts ticking. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#startedAt = this.cluster.now();
    this.openLongTxns();
    log("playground", "workload").info("workload started", {
      ...this.opts,
      tables: this.#tables.length,
    });
    this.#schedule();
  }

  #schedule(): void {
    const t = setTimeout(() => this.#tick(), this.opts.intervalMs ?? 20);
    t.unref?.();
    this.#timer = t;
  }

  #tick(): void {
    if (!this.#running) return;
    this.step(this.opts.opsPerTick ?? 5);
    this.heartbeat();
    if (this.#boundReached()) {
      this.#running = false;
      log("playground", "workload").info("workload reached its bound", { ...this.stats });
      return;
    }
    this.#schedule();
  }

  #boundReached(): boolean {
    if (this.opts.maxOps !== undefined && this.#ops >= this.opts.maxOps) return true;
    const d = this.opts.durationMs;
    return d !== undefined && this.cluster.now() - this.#startedAt >= d;
  }

  /**
   * Stops ticking. Alive long transactions are committed (or rolled back with
   * `{ commitAlive: false }`); crashed ones stay, as a dead client leaves them.
   */
  stop(o: { commitAlive?: boolean } = {}): void {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const t of this.longTxns) {
      if (t.kind !== "alive" || t.done) continue;
      if (o.commitAlive ?? true) this.#commitLong(t);
      else {
        this.cluster.mvcc.rollback(t.keys, t.startTs);
        t.done = true;
      }
    }
    log("playground", "workload").info("workload stopped", { ...this.stats });
  }

  #pickTable(): CatalogTable | undefined {
    if (this.#tables.length === 0) return undefined;
    return this.#tables[Math.floor(this.#rand() * this.#tables.length)];
  }

  #pickLiveId(t: CatalogTable): bigint | undefined {
    for (let i = 0; i < 8; i++) {
      const id = 1n + BigInt(Math.floor(this.#rand() * Number(t.maxId)));
      if (this.catalog.rowOf(t, id) !== undefined) return id;
    }
    return undefined;
  }

  #tryTxn(mutations: Mutation[]): boolean {
    try {
      this.cluster.runTxn(mutations);
      return true;
    } catch (err) {
      if (err instanceof TxnError) {
        this.stats.conflicts++;
        return false;
      }
      throw err;
    }
  }

  /** Runs `n` short operations now; returns how many committed. */
  step(n = 1): number {
    const mix = this.opts.mix ?? { insert: 2, update: 2, delete: 1 };
    const total = mix.insert + mix.update + mix.delete;
    let committed = 0;
    for (let i = 0; i < n; i++) {
      const t = this.#pickTable();
      if (t === undefined) return committed;
      this.#ops++;
      const r = this.#rand() * total;
      if (r < mix.insert || t.maxId === 0n) {
        const ins = this.catalog.insertMutations(t);
        if (this.#tryTxn(ins.mutations)) {
          this.catalog.applyInsert(t, ins.id);
          this.stats.inserts++;
          committed++;
        }
        continue;
      }
      const id = this.#pickLiveId(t);
      if (id === undefined) continue;
      if (r < mix.insert + mix.update) {
        const up = this.catalog.updateMutations(t, id);
        if (up && this.#tryTxn(up.mutations)) {
          this.catalog.applyUpdate(t, id, up.version);
          this.stats.updates++;
          committed++;
        }
      } else {
        const del = this.catalog.deleteMutations(t, id);
        if (del && this.#tryTxn(del)) {
          this.catalog.applyDelete(t, id);
          this.stats.deletes++;
          committed++;
        }
      }
    }
    return committed;
  }

  /** Opens the configured crashed and alive long transactions now. */
  openLongTxns(): LongTxn[] {
    const lt = this.opts.longTxns ?? {};
    const out: LongTxn[] = [];
    for (let i = 0; i < (lt.crashed ?? 0); i++) {
      const t = this.openLongTxn("crashed");
      if (t) out.push(t);
    }
    for (let i = 0; i < (lt.alive ?? 0); i++) {
      const t = this.openLongTxn("alive");
      if (t) out.push(t);
    }
    return out;
  }

  /** Prewrites updates of a few rows and leaves the locks (see the module doc). */
  openLongTxn(kind: "crashed" | "alive"): LongTxn | undefined {
    const lt = this.opts.longTxns ?? {};
    const rows = lt.rows ?? 2;
    const mutations: Mutation[] = [];
    const applies: (() => void)[] = [];
    const used = new Set<string>();
    for (let tries = 0; applies.length < rows && tries < rows * 8; tries++) {
      const t = this.#pickTable();
      if (t === undefined) break;
      const id = this.#pickLiveId(t);
      if (id === undefined || used.has(`${t.info.id}/${id}`)) continue;
      const up = this.catalog.updateMutations(t, id);
      if (!up) continue;
      used.add(`${t.info.id}/${id}`);
      mutations.push(...up.mutations);
      applies.push(() => this.catalog.applyUpdate(t, id, up.version));
    }
    if (mutations.length === 0) return undefined;
    const startTs = this.cluster.ts();
    const primary = mutations[0]!.key;
    const pw = this.cluster.mvcc.prewrite({
      mutations,
      primary,
      startTs,
      lockTtl: BigInt(lt.ttlMs ?? 3000),
      txnSize: BigInt(mutations.length),
    });
    if (pw.errors.length > 0) {
      this.stats.conflicts++;
      return undefined;
    }
    const txn: LongTxn = {
      kind,
      startTs,
      primary,
      keys: mutations.map((m) => m.key),
      openedAt: this.cluster.now(),
      apply: () => applies.forEach((a) => a()),
      done: false,
    };
    this.longTxns.push(txn);
    if (kind === "crashed") this.stats.crashedTxns++;
    else this.stats.aliveTxns++;
    log("playground", "workload").debug("opened a {kind} long transaction at {startTs}", {
      kind,
      startTs: String(startTs),
      keys: txn.keys.length,
    });
    return txn;
  }

  /**
   * Keeps alive transactions alive (TTL = time since start + ttlMs, as TiDB's heartbeat sets it)
   * and commits those held for `aliveHoldMs`.
   */
  heartbeat(): void {
    const lt = this.opts.longTxns ?? {};
    const ttl = lt.ttlMs ?? 3000;
    const now = this.cluster.now();
    for (const t of this.longTxns) {
      if (t.kind !== "alive" || t.done) continue;
      if (now - t.openedAt >= (lt.aliveHoldMs ?? 10_000)) {
        this.#commitLong(t);
        continue;
      }
      const sinceStart = Math.max(0, now - physicalOf(t.startTs));
      const hb = this.cluster.mvcc.txnHeartBeat(t.primary, t.startTs, BigInt(sinceStart + ttl));
      if (hb.error) t.done = true; // someone resolved it
    }
  }

  #commitLong(t: LongTxn): void {
    t.done = true;
    const commitTs = this.cluster.ts();
    const c = this.cluster.mvcc.commit(t.keys, t.startTs, commitTs);
    if (c.error) return; // rolled back by a resolver meanwhile
    t.apply();
    this.stats.longCommitted++;
  }
}
