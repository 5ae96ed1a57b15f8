/**
 * Prometheus metrics of a run (backup or restore), on prom-client, and the `/status` snapshot
 * that `--status-addr` serves beside them (see `status_server.ts`, docs/METRICS.md).
 *
 * One process runs one task, so the metrics live in one registry: the RPC transport, the
 * backoffer, the storage metrics layer and the checkpoint record into it wherever they run,
 * and the task says what it plans and finishes. Recording costs a map lookup; nothing is
 * served unless `--status-addr` is given.
 *
 * @example
 * ```ts
 * import { metrics } from "./metrics.ts";
 * metrics.begin("restore", "Full Restore");
 * metrics.phase("import");
 * metrics.plan({ ranges: 120, files: 240 });
 * metrics.rangeDone();
 * metrics.data({ kvs: 1000n, bytes: 65536n, files: 2 });
 * ```
 * @module
 */
import process from "node:process";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { log } from "./log.ts";

/** What a run reports in `/status`. */
export interface RunStatus {
  /** `backup`, `restore`, or "" before a task starts. */
  task: string;
  /** BR's label of the run (`Full Backup`, `Table Restore`, ...). */
  kind: string;
  /** The current phase (`connect`, `backup`, `checksum`, `write metadata`, `done`, ...). */
  phase: string;
  /** ms since epoch when the task began; 0 before. */
  startedAtMs: number;
  elapsedMs: number;
  ranges: { done: number; total: number };
  regions: { done: number; total: number };
  /** Key-value bytes and pairs handled. */
  bytes: string;
  kvs: string;
  /** SST files written (backup) or ingested (restore); `total` 0 while unknown. */
  files: { done: number; total: number };
  /** Done ranges over planned ranges, 0..100 (one decimal); 0 while nothing is planned. */
  percent: number;
  /** Retries so far by reason (backoff kind). */
  retries: Record<string, number>;
}

const SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Sets a progress counter to the task's total (counters only grow within one task). */
function collectDone(c: Counter<"task">, task: string, total: number): void {
  c.reset();
  if (task !== "") c.inc({ task }, total);
}

/** The run's metrics: one registry, the metric families, and the status snapshot. */
export class Metrics {
  /** The registry `/metrics` serves. */
  readonly registry = new Registry();
  readonly #rangesPlanned: Gauge<"task">;
  readonly #regionsPlanned: Gauge<"task">;
  readonly #filesPlanned: Gauge<"task">;
  readonly #retries: Counter<"reason">;
  readonly #rpc: Histogram<"method" | "code">;
  readonly #storageOp: Histogram<"plugin" | "op">;
  readonly #storageBytes: Counter<"plugin" | "direction">;
  readonly #flushes: Counter;
  readonly #renewals: Counter;
  readonly #phase: Gauge<"task" | "phase">;
  #status: RunStatus = Metrics.#emptyStatus();
  // Kept as bigints and put into the status only when read: data() runs once per range.
  #kvTotal = 0n;
  #byteTotal = 0n;

  constructor() {
    const registers = [this.registry];
    // The progress counters are read from the status when scraped, not counted per call:
    // a backup reports every region, a million times in a big one.
    // deno-lint-ignore no-this-alias
    const m = this;
    this.#rangesPlanned = new Gauge({
      name: "tibr_ranges_planned",
      help: "Key ranges the task will process.",
      labelNames: ["task"],
      registers,
    });
    new Counter({
      name: "tibr_ranges_done_total",
      help: "Key ranges finished.",
      labelNames: ["task"],
      registers,
      collect() {
        collectDone(this, m.#status.task, m.#status.ranges.done);
      },
    });
    this.#regionsPlanned = new Gauge({
      name: "tibr_regions_planned",
      help: "Regions the task will process, when known.",
      labelNames: ["task"],
      registers,
    });
    new Counter({
      name: "tibr_regions_done_total",
      help: "Region responses (backup) or region jobs (restore) finished.",
      labelNames: ["task"],
      registers,
      collect() {
        collectDone(this, m.#status.task, m.#status.regions.done);
      },
    });
    new Counter({
      name: "tibr_kv_bytes_total",
      help: "Key-value bytes backed up or restored (before compression).",
      labelNames: ["task"],
      registers,
      collect() {
        collectDone(this, m.#status.task, Number(m.#byteTotal));
      },
    });
    new Counter({
      name: "tibr_kvs_total",
      help: "Key-value pairs backed up or restored.",
      labelNames: ["task"],
      registers,
      collect() {
        collectDone(this, m.#status.task, Number(m.#kvTotal));
      },
    });
    new Counter({
      name: "tibr_files_total",
      help: "SST files written (backup) or ingested (restore).",
      labelNames: ["task"],
      registers,
      collect() {
        collectDone(this, m.#status.task, m.#status.files.done);
      },
    });
    this.#filesPlanned = new Gauge({
      name: "tibr_files_planned",
      help: "SST files the task will ingest (restore), when known.",
      labelNames: ["task"],
      registers,
    });
    this.#retries = new Counter({
      name: "tibr_retries_total",
      help: "Backoff sleeps before a retry, by reason (the backoff kind).",
      labelNames: ["reason"],
      registers,
    });
    this.#rpc = new Histogram({
      name: "tibr_rpc_duration_seconds",
      help: "gRPC calls to PD and TiKV until the response (a stream: until its first message).",
      labelNames: ["method", "code"],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.#storageOp = new Histogram({
      name: "tibr_storage_op_duration_seconds",
      help: "External storage calls (one logical call, retries included), by plugin and op.",
      labelNames: ["plugin", "op"],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.#storageBytes = new Counter({
      name: "tibr_storage_bytes_total",
      help: "Bytes written to or read from external storage by tibr, by plugin.",
      labelNames: ["plugin", "direction"],
      registers,
    });
    this.#flushes = new Counter({
      name: "tibr_checkpoint_flushes_total",
      help: "Checkpoint flushes written to storage.",
      registers,
    });
    this.#renewals = new Counter({
      name: "tibr_checkpoint_lock_renewals_total",
      help: "Checkpoint lock renewals.",
      registers,
    });
    this.#phase = new Gauge({
      name: "tibr_phase",
      help: "1 for the phase the task is in.",
      labelNames: ["task", "phase"],
      registers,
    });
  }

  static #emptyStatus(): RunStatus {
    return {
      task: "",
      kind: "",
      phase: "idle",
      startedAtMs: 0,
      elapsedMs: 0,
      ranges: { done: 0, total: 0 },
      regions: { done: 0, total: 0 },
      bytes: "0",
      kvs: "0",
      files: { done: 0, total: 0 },
      percent: 0,
      retries: {},
    };
  }

  /** Starts a task: `task` is `backup` or `restore`, `kind` BR's label (`Full Backup`). */
  begin(task: string, kind: string, nowMs = Date.now()): void {
    this.#status = { ...Metrics.#emptyStatus(), task, kind, startedAtMs: nowMs };
    this.#kvTotal = 0n;
    this.#byteTotal = 0n;
    this.phase("start");
  }

  /** Enters `name`; `/status` and `tibr_phase` show it. */
  phase(name: string): void {
    if (name !== this.#status.phase && name !== "start") {
      // Where a run's memory peaks, in its log: RSS as each phase starts, and the peak so far.
      const MiB = 1024 * 1024;
      log("tibr").info("phase {phase}: RSS {rss} MiB, peak so far {peak} MiB", {
        phase: name,
        rss: Math.round(process.memoryUsage.rss() / MiB),
        peak: Math.round(process.resourceUsage().maxRSS / 1024),
      });
    }
    const task = this.#status.task;
    this.#phase.reset();
    this.#phase.set({ task, phase: name }, 1);
    this.#status.phase = name;
  }

  /** Sets (or raises) the planned totals. */
  plan(p: { ranges?: number; regions?: number; files?: number }): void {
    const task = this.#status.task;
    if (p.files !== undefined) {
      this.#status.files.total = p.files;
      this.#filesPlanned.set({ task }, p.files);
    }
    if (p.ranges !== undefined) {
      this.#status.ranges.total = p.ranges;
      this.#rangesPlanned.set({ task }, p.ranges);
    }
    if (p.regions !== undefined) {
      this.#status.regions.total = p.regions;
      this.#regionsPlanned.set({ task }, p.regions);
    }
  }

  /** `n` ranges finished. */
  rangeDone(n = 1): void {
    this.#status.ranges.done += n;
  }

  /** `n` regions finished. */
  regionDone(n = 1): void {
    this.#status.regions.done += n;
  }

  /** Data handled: key-value pairs, their bytes, files. */
  data(d: { kvs?: bigint; bytes?: bigint; files?: number }): void {
    if (d.kvs) this.#kvTotal += d.kvs;
    if (d.bytes) this.#byteTotal += d.bytes;
    if (d.files) this.#status.files.done += d.files;
  }

  /** One backoff sleep before a retry, `reason` being the backoff kind (bounded set). */
  retry(reason: string): void {
    this.#status.retries[reason] = (this.#status.retries[reason] ?? 0) + 1;
    this.#retries.inc({ reason });
  }

  /** One gRPC call of `method` (`Service/Method`) that took `seconds` and ended with `code`. */
  rpc(method: string, seconds: number, code = "OK"): void {
    this.#rpc.observe({ method, code }, seconds);
  }

  /** One storage call of `plugin` (`s3`, `local`, ...). */
  storage(plugin: string, op: string, seconds: number, read = 0, written = 0): void {
    this.#storageOp.observe({ plugin, op }, seconds);
    if (read > 0) this.#storageBytes.inc({ plugin, direction: "read" }, read);
    if (written > 0) this.#storageBytes.inc({ plugin, direction: "write" }, written);
  }

  /** Bytes a streamed write or read moved, counted when the stream ends. */
  storageBytes(plugin: string, read: number, written: number): void {
    if (read > 0) this.#storageBytes.inc({ plugin, direction: "read" }, read);
    if (written > 0) this.#storageBytes.inc({ plugin, direction: "write" }, written);
  }

  /** One checkpoint flush written. */
  checkpointFlush(): void {
    this.#flushes.inc();
  }

  /** One checkpoint lock renewal. */
  lockRenewal(): void {
    this.#renewals.inc();
  }

  /** The `/status` snapshot. */
  status(nowMs = Date.now()): RunStatus {
    const s = this.#status;
    const percent = s.ranges.total > 0
      ? Math.floor((s.ranges.done * 1000) / s.ranges.total) / 10
      : 0;
    return structuredClone({
      ...s,
      kvs: String(this.#kvTotal),
      bytes: String(this.#byteTotal),
      elapsedMs: s.startedAtMs > 0 ? nowMs - s.startedAtMs : 0,
      percent,
    });
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Clears every metric and the status (tests). */
  reset(): void {
    this.registry.resetMetrics();
    this.#status = Metrics.#emptyStatus();
    this.#kvTotal = 0n;
    this.#byteTotal = 0n;
  }
}

/** The process's metrics. */
export const metrics: Metrics = new Metrics();
