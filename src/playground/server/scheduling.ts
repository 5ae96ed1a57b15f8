/**
 * The playground PD's scheduling state: its schedulers (paused with a delay, as
 * `POST /pd/api/v1/schedulers/{name}` does, and resuming by themselves when it passes), the
 * schedule config (`/pd/api/v1/config/schedule`) with PD's TTL'd overrides
 * (`POST /pd/api/v1/config?ttlSecond=N`), key-range label rules, and the scatter operators that
 * `ScatterRegion` creates and `GetOperator` reports.
 *
 * Scatter follows PD's region scatterer: within the request's group it places each region's
 * peers on the stores holding the fewest of the group's peers so far and its leader on the
 * chosen store leading the fewest, skipping stores that are down. A region already placed so
 * gets no operator (GetOperator then answers REGION_NOT_FOUND, which clients read as done);
 * otherwise a `scatter-region` operator runs for `scatterMs` and then moves the peers (conf_ver
 * grows per peer added or removed) and the leader, unless the region split or merged meanwhile
 * (the operator is then CANCEL, as PD cancels a stale one).
 *
 * The playground's schedulers do not move regions by themselves: pausing one changes what the
 * HTTP API and the admin status report, which is what a restore client can observe.
 * @module
 */
import { OperatorStatus } from "../../gen/pdpb_pb.ts";
import { log } from "../../log.ts";
import type { Cluster } from "../cluster.ts";
import type { Region } from "../regions.ts";

/** The schedulers a fresh PD (v8) runs. */
export const DEFAULT_SCHEDULERS: readonly string[] = [
  "balance-hot-region-scheduler",
  "balance-leader-scheduler",
  "balance-region-scheduler",
  "evict-slow-store-scheduler",
];

/** PD v8's schedule config defaults (`GET /pd/api/v1/config/schedule`), as PD renders them. */
export function defaultScheduleConfig(): Record<string, unknown> {
  return {
    "max-snapshot-count": 64,
    "max-pending-peer-count": 64,
    "max-merge-region-size": 54,
    "max-merge-region-keys": 540000,
    "split-merge-interval": "1h0m0s",
    "switch-witness-interval": "1h0m0s",
    "enable-one-way-merge": "false",
    "enable-cross-table-merge": "true",
    "patrol-region-interval": "10ms",
    "max-store-down-time": "30m0s",
    "max-store-preparing-time": "48h0m0s",
    "leader-schedule-limit": 4,
    "leader-schedule-policy": "count",
    "region-schedule-limit": 2048,
    "witness-schedule-limit": 4,
    "replica-schedule-limit": 64,
    "merge-schedule-limit": 8,
    "hot-region-schedule-limit": 4,
    "hot-region-cache-hits-threshold": 3,
    "store-limit": {},
    "tolerant-size-ratio": 0,
    "low-space-ratio": 0.8,
    "high-space-ratio": 0.7,
    "region-score-formula-version": "v2",
    "scheduler-max-waiting-operator": 5,
    "enable-remove-down-replica": "true",
    "enable-replace-offline-replica": "true",
    "enable-make-up-replica": "true",
    "enable-remove-extra-replica": "true",
    "enable-location-replacement": "true",
    "enable-debug-metrics": "false",
    "enable-joint-consensus": "true",
    "enable-tikv-split-region": "true",
    "hot-regions-write-interval": "10m0s",
    "hot-regions-reserved-days": 7,
    "enable-diagnostic": "true",
    "enable-witness": "false",
    "slow-store-evicting-affected-store-ratio-threshold": 0.3,
    "store-limit-version": "v1",
    "enable-heartbeat-breakdown-metrics": "true",
    "enable-heartbeat-concurrent-runner": "true",
  };
}

/** The schedule items PD takes a TTL for (`POST /pd/api/v1/config?ttlSecond=N`). */
export const TTL_SCHEDULE_ITEMS: readonly string[] = [
  "max-snapshot-count",
  "max-merge-region-size",
  "max-pending-peer-count",
  "max-merge-region-keys",
  "scheduler-max-waiting-operator",
  "leader-schedule-limit",
  "region-schedule-limit",
  "replica-schedule-limit",
  "merge-schedule-limit",
  "hot-region-schedule-limit",
  "enable-location-replacement",
];

/** A scatter operator (PD's operator, as GetOperator shows it). */
export interface Operator {
  regionId: bigint;
  desc: string;
  kind: string;
  status: OperatorStatus;
  createdAt: number;
  finishAt: number;
  /** Where the region goes. */
  stores: bigint[];
  leaderStore: bigint;
  /** The region's epoch version when the operator was made (a split cancels it). */
  version: bigint;
}

/** A key-range label rule (`/pd/api/v1/config/region-label/rule`). */
export interface LabelRule {
  id: string;
  labels: { key: string; value: string; ttl?: string }[];
  ruleType: string;
  data: unknown;
  /** ms; the rule lapses then (undefined = never). */
  expiresAt?: number;
}

/** Options of `PdScheduling`. */
export interface SchedulingOptions {
  /** How long a scatter operator runs before it moves the region, ms (50). */
  scatterMs?: number;
  /** ms clock (Date.now by default). */
  now?: () => number;
}

/** The state behind PD's scheduler, config and operator APIs. */
export class PdScheduling {
  readonly scatterMs: number;
  readonly #now: () => number;
  /** Scheduler name → paused until (ms; 0 = running). */
  readonly #schedulers = new Map<string, { pausedAt: number; until: number }>();
  readonly #config = defaultScheduleConfig();
  /** `schedule.*` items set with a TTL: item → value until expiry. */
  readonly #ttl = new Map<string, { value: unknown; until: number }>();
  readonly #operators = new Map<bigint, Operator>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #labelRules = new Map<string, LabelRule>();
  /** Per scatter group: peers and leaders placed on each store so far. */
  readonly #groups = new Map<
    string,
    { peers: Map<bigint, number>; leaders: Map<bigint, number> }
  >();

  constructor(readonly cluster: Cluster, opts: SchedulingOptions = {}) {
    this.scatterMs = opts.scatterMs ?? 50;
    this.#now = opts.now ?? Date.now;
    for (const s of DEFAULT_SCHEDULERS) this.#schedulers.set(s, { pausedAt: 0, until: 0 });
  }

  now(): number {
    return this.#now();
  }

  // ------------------------------------------------------------------ schedulers

  /** Scheduler names (PD lists them in no promised order; sorted here). */
  schedulers(): string[] {
    return [...this.#schedulers.keys()].sort();
  }

  /** Whether `name` is paused now (a pause lapses after its delay). */
  isPaused(name: string): boolean {
    const s = this.#schedulers.get(name);
    return s !== undefined && s.until > this.#now();
  }

  /** When `name`'s pause began and ends (seconds since epoch; 0 when running). */
  pauseTimes(name: string): { pausedAt: number; resumeAt: number } {
    const s = this.#schedulers.get(name);
    if (!s || !this.isPaused(name)) return { pausedAt: 0, resumeAt: 0 };
    return { pausedAt: Math.floor(s.pausedAt / 1000), resumeAt: Math.floor(s.until / 1000) };
  }

  /**
   * Pauses `name` (or `all`) for `delaySeconds`, or resumes it with 0, as PD's
   * PauseOrResumeScheduler. Throws PD's message for an unknown scheduler.
   */
  pauseOrResume(name: string, delaySeconds: number): void {
    const names = name === "all" ? [...this.#schedulers.keys()] : [name];
    if (!this.#schedulers.has(names[0] ?? "")) {
      throw new Error("[PD:scheduler:ErrSchedulerNotFound]scheduler not found");
    }
    const now = this.#now();
    for (const n of names) {
      const s = this.#schedulers.get(n)!;
      if (delaySeconds > 0) {
        s.pausedAt = now;
        s.until = now + delaySeconds * 1000;
      } else {
        s.pausedAt = 0;
        s.until = 0;
      }
    }
    log("playground", "pd").info("scheduler {name}: {what}", {
      name,
      what: delaySeconds > 0 ? `paused for ${delaySeconds} s` : "resumed",
    });
  }

  // ------------------------------------------------------------------ config

  /** The persisted schedule config (TTL'd items are not in it, as PD's GET shows). */
  scheduleConfig(): Record<string, unknown> {
    return structuredClone(this.#config);
  }

  /** The effective value of a schedule item: a live TTL override, else the persisted one. */
  effective(item: string): unknown {
    const t = this.#ttl.get(item);
    if (t && t.until > this.#now()) return t.value;
    return this.#config[item];
  }

  /** Live TTL overrides: item → { value, seconds left }. */
  ttlOverrides(): Record<string, { value: unknown; secondsLeft: number }> {
    const out: Record<string, { value: unknown; secondsLeft: number }> = {};
    const now = this.#now();
    for (const [k, t] of this.#ttl) {
      if (t.until <= now) {
        this.#ttl.delete(k);
        continue;
      }
      out[k] = { value: t.value, secondsLeft: Math.ceil((t.until - now) / 1000) };
    }
    return out;
  }

  /** Whether `item` has a live TTL'd override. */
  hasTtl(item: string): boolean {
    const t = this.#ttl.get(item);
    return t !== undefined && t.until > this.#now();
  }

  /**
   * Sets persisted schedule items. An item with a live TTL'd override is refused, as PD does;
   * an unknown item is refused, or skipped with `ignoreUnknown` (PD's POST /config/schedule
   * decodes the body into its config struct, which drops unknown fields).
   */
  setSchedule(items: Record<string, unknown>, opts: { ignoreUnknown?: boolean } = {}): void {
    for (const k of Object.keys(items)) {
      if (this.hasTtl(k)) throw new Error(`need to clean up TTL first for schedule.${k}`);
      if (!(k in this.#config) && !opts.ignoreUnknown) {
        throw new Error(`config item ${k} not found`);
      }
    }
    for (const [k, v] of Object.entries(items)) if (k in this.#config) this.#config[k] = v;
  }

  /**
   * Sets schedule items for `ttlSeconds` (0 or less removes the overrides of these items); only
   * the items PD accepts a TTL for (`TTL_SCHEDULE_ITEMS`).
   */
  setScheduleTtl(items: Record<string, unknown>, ttlSeconds: number): void {
    for (const k of Object.keys(items)) {
      if (!TTL_SCHEDULE_ITEMS.includes(k)) throw new Error(`unsupported ttl config schedule.${k}`);
    }
    const until = this.#now() + ttlSeconds * 1000;
    for (const [k, v] of Object.entries(items)) {
      if (ttlSeconds <= 0) this.#ttl.delete(k);
      else this.#ttl.set(k, { value: v, until });
    }
  }

  // ------------------------------------------------------------------ label rules

  /** Creates or replaces a region label rule; a label's `ttl` (Go duration) makes it lapse. */
  setLabelRule(rule: LabelRule): void {
    const ttl = rule.labels.map((l) => l.ttl).find((t) => t !== undefined && t !== "");
    const ms = ttl === undefined ? undefined : parseGoDuration(ttl);
    this.#labelRules.set(rule.id, {
      ...rule,
      ...(ms !== undefined ? { expiresAt: this.#now() + ms } : {}),
    });
  }

  /** Deletes a label rule; false when there is none. */
  deleteLabelRule(id: string): boolean {
    return this.#labelRules.delete(id);
  }

  /** Live label rules. */
  labelRules(): LabelRule[] {
    const now = this.#now();
    for (const [id, r] of this.#labelRules) {
      if (r.expiresAt !== undefined && r.expiresAt <= now) this.#labelRules.delete(id);
    }
    return [...this.#labelRules.values()];
  }

  // ------------------------------------------------------------------ scatter

  #group(name: string) {
    let g = this.#groups.get(name);
    if (!g) {
      g = { peers: new Map(), leaders: new Map() };
      this.#groups.set(name, g);
    }
    return g;
  }

  /**
   * Scatters regions; returns the ids that could not be scattered (unknown, busy with another
   * operator, or not enough live stores).
   */
  scatter(ids: readonly bigint[], group = ""): bigint[] {
    const failed: bigint[] = [];
    const g = this.#group(group);
    const live = this.cluster.regions.stores().filter((s) =>
      s.state === "Up" && !this.cluster.faults.store(s.id).stopped
    ).map((s) => s.id);
    for (const id of ids) {
      const r = this.cluster.regions.getRegionById(id);
      const running = this.operator(id);
      if (!r || (running && running.status === OperatorStatus.RUNNING)) {
        failed.push(id);
        continue;
      }
      const n = r.peers.length;
      if (live.length < n) {
        failed.push(id);
        continue;
      }
      const count = (m: Map<bigint, number>, s: bigint) => m.get(s) ?? 0;
      const has = (s: bigint) => r.peers.some((p) => p.storeId === s);
      const stores = [...live].sort((a, b) =>
        count(g.peers, a) - count(g.peers, b) || Number(has(b)) - Number(has(a)) ||
        (a < b ? -1 : a > b ? 1 : 0)
      ).slice(0, n);
      const leader = [...stores].sort((a, b) =>
        count(g.leaders, a) - count(g.leaders, b) ||
        Number(b === r.leader.storeId) - Number(a === r.leader.storeId) ||
        (a < b ? -1 : a > b ? 1 : 0)
      )[0]!;
      for (const s of stores) g.peers.set(s, count(g.peers, s) + 1);
      g.leaders.set(leader, count(g.leaders, leader) + 1);
      const same = stores.every(has) && leader === r.leader.storeId;
      if (same) {
        this.#operators.delete(id);
        continue;
      }
      this.#start(r, stores, leader);
    }
    return failed;
  }

  #start(r: Region, stores: bigint[], leaderStore: bigint): void {
    const now = this.#now();
    const movesPeers = !stores.every((s) => r.peers.some((p) => p.storeId === s));
    const op: Operator = {
      regionId: r.id,
      desc: "scatter-region",
      kind: movesPeers ? "leader,region,admin" : "leader,admin",
      status: OperatorStatus.RUNNING,
      createdAt: now,
      finishAt: now + this.scatterMs,
      stores: [...stores].sort((a, b) => (a < b ? -1 : 1)),
      leaderStore,
      version: r.epoch.version,
    };
    this.#operators.set(r.id, op);
    if (this.scatterMs <= 0) {
      this.#finish(op);
      return;
    }
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.#finish(op);
    }, this.scatterMs);
    this.#timers.add(t);
  }

  #finish(op: Operator): void {
    if (op.status !== OperatorStatus.RUNNING) return;
    const r = this.cluster.regions.getRegionById(op.regionId);
    const down = op.stores.some((s) => this.cluster.faults.store(s).stopped);
    if (!r || r.epoch.version !== op.version || down) {
      op.status = OperatorStatus.CANCEL;
      return;
    }
    this.cluster.regions.movePeers(op.regionId, op.stores, op.leaderStore);
    op.status = OperatorStatus.SUCCESS;
  }

  /** The region's latest operator (running or finished), finishing a due one first. */
  operator(regionId: bigint): Operator | undefined {
    const op = this.#operators.get(regionId);
    if (op && op.status === OperatorStatus.RUNNING && this.#now() >= op.finishAt) this.#finish(op);
    return op;
  }

  /** Running and finished operators. */
  operators(): Operator[] {
    return [...this.#operators.keys()].map((id) => this.operator(id)!);
  }

  /** Schedulers, config overrides, label rules and operators, for the admin status. */
  status(): Record<string, unknown> {
    const ops = this.operators();
    return {
      schedulers: this.schedulers().map((name) => ({
        name,
        paused: this.isPaused(name),
        ...this.pauseTimes(name),
      })),
      scheduleTtl: this.ttlOverrides(),
      labelRules: this.labelRules().map((r) => r.id),
      operators: {
        running: ops.filter((o) => o.status === OperatorStatus.RUNNING).length,
        succeeded: ops.filter((o) => o.status === OperatorStatus.SUCCESS).length,
        canceled: ops.filter((o) => o.status === OperatorStatus.CANCEL).length,
      },
    };
  }

  /** Stops the operator timers (the playground is stopping). */
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}

/** Parses a Go duration (`5m0s`, `300s`, `1h`, `1.5s`, `0s`) to ms. */
export function parseGoDuration(s: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  const unit: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    "µs": 1e-3,
    ms: 1,
    s: 1000,
    m: 60000,
    h: 3600000,
  };
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]!]!;
    consumed += m[0].length;
  }
  if (s === "0") return 0;
  if (consumed !== s.length || s.length === 0) {
    throw new Error(`time: invalid duration ${JSON.stringify(s)}`);
  }
  return total;
}
