/**
 * The fault-injection layer, for tests: makes chosen calls fail or slow down, as a flaky
 * backend would. Rules pick calls by operation, name and call count (the Nth call, every call
 * after N, a seeded probability) and inject latency, a StorageError of a given code, or any
 * error. A fault can strike before the call reaches the backend or after it (the operation
 * happened but the caller sees a failure: the ambiguous case retries must handle).
 * @module
 */
import { StorageError, type StorageErrorCode } from "./errors.ts";
import { type Clock, seededRandom, systemClock } from "./clock.ts";
import { ForwardingStorage, mapReader, pullThrough, type StorageOp } from "./_forward.ts";
import type {
  CallOptions,
  CreateOptions,
  ExternalStorage,
  ObjectStat,
  ReadFileOptions,
  ReadOptions,
  StorageReader,
  StorageWriter,
  WalkFn,
  WalkOptions,
  WriteOptions,
} from "./types.ts";

/** One fault: which calls it hits and what it does to them. */
export interface FaultRule {
  /** Operations it applies to (default: all). */
  ops?: StorageOp[];
  /** Only calls whose name starts with this (or passes this test). */
  name?: string | ((name: string) => boolean);
  /** Strike only the Nth matching call (1-based). */
  nth?: number;
  /** Strike matching calls after the first `after` ones. */
  after?: number;
  /** Strike each matching call with this probability (seeded, reproducible). */
  probability?: number;
  /** Strike at most this many times (default unlimited; 1 with `nth`). */
  times?: number;
  /** Delay each struck call by this many ms (through the clock). */
  latencyMs?: number;
  /** Fail struck calls with a StorageError of this code, or with this error. */
  error?: StorageErrorCode | Error | (() => Error);
  /** With a code: whether the error is temporary (default: true, unless the code says). */
  temporary?: boolean;
  /** `before` (default): the backend never sees the call. `after`: it does, then we fail. */
  when?: "before" | "after";
}

/** Options for a FaultInjector. */
export interface FaultOptions {
  /** Seed of the probability draws (default 1). */
  seed?: number;
  /** Clock for latency. */
  clock?: Clock;
}

interface LiveRule {
  rule: FaultRule;
  seen: number;
  struck: number;
}

/** A set of fault rules plus counters; shared by the storages wrapped with it. */
export class FaultInjector {
  readonly #rules: LiveRule[] = [];
  readonly #random: () => number;
  readonly #clock: Clock;
  /** How many calls of each operation passed through, struck or not. */
  readonly calls: Map<StorageOp, number> = new Map();
  /** How many faults struck, in total. */
  injected = 0;

  /** Starts with `rules`; more can be added while running. */
  constructor(rules: FaultRule[] = [], opts: FaultOptions = {}) {
    this.#random = seededRandom(opts.seed ?? 1);
    this.#clock = opts.clock ?? systemClock;
    for (const r of rules) this.add(r);
  }

  /** Adds a rule; returns a function that removes it. */
  add(rule: FaultRule): () => void {
    const live = { rule, seen: 0, struck: 0 };
    this.#rules.push(live);
    return () => {
      const i = this.#rules.indexOf(live);
      if (i >= 0) this.#rules.splice(i, 1);
    };
  }

  /** Removes every rule. */
  clear(): void {
    this.#rules.length = 0;
  }

  /**
   * Runs `call` for `op` on `name` under the rules: counts it, applies latency, and throws
   * the configured error before or after the call.
   */
  async apply<T>(
    op: StorageOp,
    name: string,
    signal: AbortSignal | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    const hits: FaultRule[] = [];
    for (const live of this.#rules) {
      const { rule } = live;
      if (rule.ops && !rule.ops.includes(op)) continue;
      if (rule.name !== undefined) {
        const ok = typeof rule.name === "string" ? name.startsWith(rule.name) : rule.name(name);
        if (!ok) continue;
      }
      live.seen++;
      const limit = rule.times ?? (rule.nth !== undefined ? 1 : Infinity);
      if (live.struck >= limit) continue;
      if (rule.nth !== undefined && live.seen !== rule.nth) continue;
      if (rule.after !== undefined && live.seen <= rule.after) continue;
      if (rule.probability !== undefined && this.#random() >= rule.probability) continue;
      live.struck++;
      this.injected++;
      hits.push(rule);
    }
    for (const rule of hits) {
      if (rule.latencyMs) await this.#clock.sleep(rule.latencyMs, signal);
    }
    const before = hits.find((r) => r.error !== undefined && r.when !== "after");
    if (before) throw makeError(before, op, name);
    const result = await call();
    const after = hits.find((r) => r.error !== undefined && r.when === "after");
    if (after) throw makeError(after, op, name);
    return result;
  }
}

function makeError(rule: FaultRule, op: StorageOp, name: string): Error {
  const e = rule.error!;
  if (e instanceof Error) return e;
  if (typeof e === "function") return e();
  return new StorageError(`injected ${e} fault in ${op} of ${name}`, {
    code: e,
    operation: op,
    path: name,
    temporary: rule.temporary ?? (e === "RateLimited" || e === "Unexpected"),
  });
}

/** Wraps `inner` so `faults` decides which of its calls fail or slow down. */
export function withFaults(inner: ExternalStorage, faults: FaultInjector): ExternalStorage {
  return new FaultyStorage(inner, faults);
}

class FaultyStorage extends ForwardingStorage {
  constructor(inner: ExternalStorage, private readonly faults: FaultInjector) {
    super(inner);
  }

  override writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    return this.faults.apply(
      "writeFile",
      name,
      opts?.signal,
      () => this.inner.writeFile(name, data, opts),
    );
  }
  override readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    return this.faults.apply("readFile", name, opts?.signal, () => this.inner.readFile(name, opts));
  }
  override fileExists(name: string, opts?: CallOptions): Promise<boolean> {
    return this.faults.apply(
      "fileExists",
      name,
      opts?.signal,
      () => this.inner.fileExists(name, opts),
    );
  }
  override stat(name: string, opts?: CallOptions): Promise<ObjectStat> {
    return this.faults.apply("stat", name, opts?.signal, () => this.inner.stat(name, opts));
  }
  override deleteFile(name: string, opts?: CallOptions): Promise<void> {
    return this.faults.apply(
      "deleteFile",
      name,
      opts?.signal,
      () => this.inner.deleteFile(name, opts),
    );
  }
  override deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    return this.faults.apply(
      "deleteFiles",
      names[0] ?? "",
      opts?.signal,
      () => this.inner.deleteFiles(names, opts),
    );
  }
  override walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
    return this.faults.apply(
      "walkDir",
      opts.subDir ?? "",
      opts.signal,
      () => this.inner.walkDir(opts, fn),
    );
  }
  override rename(from: string, to: string, opts?: CallOptions): Promise<void> {
    return this.faults.apply("rename", from, opts?.signal, () => this.inner.rename(from, to, opts));
  }
  override async open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    const reader = await this.faults.apply(
      "open",
      name,
      opts?.signal,
      () => this.inner.open(name, opts),
    );
    const stream = pullThrough(
      reader.stream,
      (read) => this.faults.apply("reader.read", name, opts?.signal, read),
    );
    return mapReader(reader, stream);
  }
  override async create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    const writer = await this.faults.apply(
      "create",
      name,
      opts?.signal,
      () => this.inner.create(name, opts),
    );
    return {
      write: (chunk) =>
        this.faults.apply("writer.write", name, opts?.signal, () => writer.write(chunk)),
      close: () => this.faults.apply("writer.close", name, opts?.signal, () => writer.close()),
      abort: (reason) => writer.abort(reason),
    };
  }
}
