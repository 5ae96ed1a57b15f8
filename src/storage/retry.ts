/**
 * The retry layer: repeats calls that failed with a temporary StorageError (throttling, 5xx,
 * reset connections), with exponential backoff and full jitter, within a bounded total time.
 *
 * What is replayed: `writeFile` bodies are bytes, so they are resent whole; `walkDir` resumes
 * after the last name it delivered (each name still reaches `fn` once); a ranged reader that
 * fails mid-stream reopens at the next undelivered byte. A `create()` writer is not retried
 * mid-stream (its bytes are gone); only opening it is.
 *
 * A conditional write that fails ambiguously (a temporary error: the request may have been
 * applied) and then meets `ConditionNotMatch` on a later attempt is settled by reading the
 * object back: if it holds exactly our bytes, the earlier attempt won and the write succeeds.
 * @module
 */
import { isStorageError } from "./errors.ts";
import { type Clock, systemClock } from "./clock.ts";
import { ForwardingStorage, mapReader } from "./_forward.ts";
import { log } from "../log.ts";
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

/** How the retry layer backs off. */
export interface RetryOptions {
  /** Attempts per call including the first (default 8). */
  maxAttempts?: number;
  /** Upper bound of the first backoff, in ms (default 100). Doubles per attempt. */
  baseDelayMs?: number;
  /** Cap of any one backoff, in ms (default 10 000). */
  maxDelayMs?: number;
  /**
   * Total time budget of a call across attempts, in ms (default 120 000): no retry is started
   * whose backoff would end past it.
   */
  totalTimeMs?: number;
  /** Time source (tests inject a ManualClock). */
  clock?: Clock;
  /** Uniform [0, 1) source for jitter (tests inject a seeded one). */
  random?: () => number;
}

/** What a retry decision needs to know. */
interface Policy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  totalTimeMs: number;
  clock: Clock;
  random: () => number;
}

/** Whether `err` is worth repeating the same call for. */
export function isRetryable(err: unknown): boolean {
  return isStorageError(err) && err.temporary;
}

/**
 * The backoff before attempt `attempt + 1` (attempt counts from 1): "full jitter", a uniform
 * draw from [0, min(cap, base * 2^(attempt-1))), which spreads out clients that failed together.
 */
export function backoffDelay(
  attempt: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(random() * ceiling);
}

/** Wraps `inner` so temporary failures are retried. */
export function withRetry(inner: ExternalStorage, opts: RetryOptions = {}): ExternalStorage {
  return new RetryingStorage(inner, {
    maxAttempts: Math.max(1, opts.maxAttempts ?? 8),
    baseDelayMs: opts.baseDelayMs ?? 100,
    maxDelayMs: opts.maxDelayMs ?? 10_000,
    totalTimeMs: opts.totalTimeMs ?? 120_000,
    clock: opts.clock ?? systemClock,
    random: opts.random ?? Math.random,
  });
}

const logger = log("storage", "retry");

class RetryingStorage extends ForwardingStorage {
  constructor(inner: ExternalStorage, private readonly policy: Policy) {
    super(inner);
  }

  /** Runs `call` until it succeeds, fails for good, or the budget is spent. */
  async #run<T>(
    op: string,
    name: string | undefined,
    signal: AbortSignal | undefined,
    call: (attempt: number) => Promise<T>,
  ): Promise<T> {
    const { clock } = this.policy;
    const started = clock.now();
    for (let attempt = 1;; attempt++) {
      if (signal?.aborted) throw signal.reason;
      try {
        return await call(attempt);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (!isRetryable(err) || attempt >= this.policy.maxAttempts) throw err;
        const delay = backoffDelay(
          attempt,
          this.policy.baseDelayMs,
          this.policy.maxDelayMs,
          this.policy.random,
        );
        if (clock.now() - started + delay > this.policy.totalTimeMs) throw err;
        logger.debug("retrying {op} {name} after {delay} ms (attempt {attempt}): {error}", {
          op,
          name: name ?? "",
          delay,
          attempt,
          error: (err as Error).message,
        });
        await clock.sleep(delay, signal);
      }
    }
  }

  override writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    const conditional = opts?.ifNoneMatch !== undefined || opts?.ifMatch !== undefined;
    let ambiguous = false;
    return this.#run("writeFile", name, opts?.signal, async () => {
      try {
        return await this.inner.writeFile(name, data, opts);
      } catch (err) {
        if (conditional && ambiguous && isStorageError(err, "ConditionNotMatch")) {
          const won = await this.#holds(name, data, opts?.signal);
          if (won) return won;
        }
        if (isRetryable(err)) ambiguous = true;
        throw err;
      }
    });
  }

  /** The object's stat if it holds exactly `data` (an earlier attempt of ours landed). */
  async #holds(
    name: string,
    data: Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<ObjectStat | undefined> {
    try {
      const stat = await this.inner.stat(name, { signal });
      if (stat.size !== data.length) return undefined;
      const current = await this.inner.readFile(name, { signal });
      if (current.length !== data.length) return undefined;
      for (let i = 0; i < data.length; i++) if (current[i] !== data[i]) return undefined;
      return stat;
    } catch {
      return undefined;
    }
  }

  override readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    return this.#run("readFile", name, opts?.signal, () => this.inner.readFile(name, opts));
  }
  override fileExists(name: string, opts?: CallOptions): Promise<boolean> {
    return this.#run("fileExists", name, opts?.signal, () => this.inner.fileExists(name, opts));
  }
  override stat(name: string, opts?: CallOptions): Promise<ObjectStat> {
    return this.#run("stat", name, opts?.signal, () => this.inner.stat(name, opts));
  }
  override deleteFile(name: string, opts?: CallOptions): Promise<void> {
    return this.#run("deleteFile", name, opts?.signal, () => this.inner.deleteFile(name, opts));
  }
  override deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    return this.#run(
      "deleteFiles",
      undefined,
      opts?.signal,
      () => this.inner.deleteFiles(names, opts),
    );
  }
  override create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    return this.#run("create", name, opts?.signal, () => this.inner.create(name, opts));
  }
  override rename(from: string, to: string, opts?: CallOptions): Promise<void> {
    let ambiguous = false;
    return this.#run("rename", from, opts?.signal, async () => {
      try {
        await this.inner.rename(from, to, opts);
      } catch (err) {
        // A rename that failed ambiguously may have happened: `from` gone and `to` present.
        if (ambiguous && isStorageError(err, "NotFound") && await this.#exists(to, opts)) return;
        if (isRetryable(err)) ambiguous = true;
        throw err;
      }
    });
  }

  async #exists(name: string, opts?: CallOptions): Promise<boolean> {
    try {
      return await this.inner.fileExists(name, opts);
    } catch {
      return false;
    }
  }

  override async walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
    let last: string | undefined;
    await this.#run("walkDir", opts.subDir, opts.signal, () => {
      // Resume after the last name delivered so no name reaches `fn` twice.
      const resume = last === undefined ? opts : { ...opts, startAfter: last };
      return this.inner.walkDir(resume, async (name, size) => {
        await fn(name, size);
        last = name;
      });
    });
  }

  override async open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    const first = await this.#run("open", name, opts?.signal, () => this.inner.open(name, opts));
    const start = opts?.start ?? 0;
    const end = Math.min(opts?.end ?? first.size, first.size);
    let delivered = 0;
    let current = first;
    let reader = first.stream.getReader();
    const stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const r = await this.#run("reader.read", name, opts?.signal, async (attempt) => {
          if (attempt > 1) {
            // Reopen at the first byte the consumer has not seen yet.
            reader.releaseLock();
            await current.close().catch(() => {});
            current = await this.inner.open(name, { ...opts, start: start + delivered, end });
            reader = current.stream.getReader();
          }
          return await reader.read();
        });
        if (r.done) {
          controller.close();
          if (current !== first) await current.close().catch(() => {});
          return;
        }
        delivered += r.value.length;
        controller.enqueue(r.value);
      },
      cancel: async (reason) => {
        await reader.cancel(reason).catch(() => {});
        await current.close().catch(() => {});
      },
    }, { highWaterMark: 0 });
    return mapReader(first, stream);
  }
}
