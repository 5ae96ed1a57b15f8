/**
 * Private flow-control pieces of the store servers: a token-bucket rate limiter (TiKV's backup
 * `rate_limit` and the playground's per-store throttle), an async queue for streaming responses
 * in completion order, and the per-store gate that holds requests of a paused or slowed store.
 * @module
 */
import type { Faults } from "../cluster.ts";
import { sleep } from "../../sleep.ts";
export { sleep };

/**
 * A token bucket of `rate()` bytes per second (0 or less = unlimited), holding at most one
 * second's worth. The rate is read on every call, so it can change while transfers run.
 */
export class RateLimiter {
  #rate: () => number;
  #tokens = 0;
  #last = Date.now();
  #tail: Promise<void> = Promise.resolve();

  constructor(rate: number | (() => number)) {
    this.#rate = typeof rate === "number" ? () => rate : rate;
  }

  /** Whether a rate is set now. */
  get limited(): boolean {
    return this.#rate() > 0;
  }

  /** Waits until `n` bytes may pass. Callers are served in order. */
  take(n: number, signal?: AbortSignal): Promise<void> {
    if (this.#rate() <= 0) return Promise.resolve();
    const turn = this.#tail.then(() => this.#wait(n, signal));
    this.#tail = turn.catch(() => {});
    return turn;
  }

  async #wait(n: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const rate = this.#rate();
      if (rate <= 0) return;
      const now = Date.now();
      this.#tokens = Math.min(rate, this.#tokens + ((now - this.#last) / 1000) * rate);
      this.#last = now;
      // A chunk larger than the bucket passes once the bucket is full, leaving a debt.
      const need = Math.min(n, rate);
      if (this.#tokens >= need) {
        this.#tokens -= n;
        return;
      }
      await sleep(Math.max(1, Math.ceil(((need - this.#tokens) / rate) * 1000)), signal);
    }
  }
}

/** An unbounded async queue: producers `push`, one consumer iterates until `close`. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #waiter: (() => void) | undefined;
  #closed = false;
  #error: unknown;

  /** Adds an item. */
  push(item: T): void {
    this.#items.push(item);
    this.#wake();
  }

  /** Ends the iteration after the queued items; with `err`, the iteration throws it. */
  close(err?: unknown): void {
    this.#closed = true;
    this.#error = err;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.#items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.#closed) {
        if (this.#error !== undefined) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }
}

/**
 * Holds a store's requests while it is paused and delays them while it is slow, following the
 * store's fault state in `Faults`.
 */
export class StoreGate {
  #waiters = new Set<() => void>();

  constructor(readonly faults: Faults, readonly storeId: bigint) {}

  /** Call when the store's fault state changed: wakes requests held by a pause. */
  notify(): void {
    for (const w of this.#waiters) w();
    this.#waiters.clear();
  }

  /** Waits out the store's delay and any pause: what each request meets on arrival. */
  async pass(signal?: AbortSignal): Promise<void> {
    const f = this.faults.store(this.storeId);
    if (f.delayMs > 0) await sleep(f.delayMs, signal);
    await this.whilePaused(signal);
  }

  /** Waits while the store is paused (long work checks this between steps). */
  async whilePaused(signal?: AbortSignal): Promise<void> {
    while (this.faults.store(this.storeId).paused) {
      await new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          this.#waiters.delete(wake);
          reject(signal!.reason);
        };
        this.#waiters.add(wake);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
  }
}

/** Counters of what the stores answered, for the admin status and tests. */
export class ServerStats {
  /** Region errors answered, by errorpb field (`notLeader`, `epochNotMatch`, ...). */
  readonly regionErrors: Record<string, number> = {};
  /** Backup requests received. */
  backupRequests = 0;
  /** Backup responses streamed, and how many of them carried an error. */
  backupResponses = 0;
  backupErrors = 0;
  /** Backup files written and their stored bytes. */
  backupFiles = 0;
  backupBytes = 0;
  /** Coprocessor requests received (a restore's checksum phase, for tests to wait on). */
  coprocessorRequests = 0;

  /** Counts a region error by its kind (the first field other than `message`). */
  regionError(e: object): void {
    const kind = Object.keys(e).find((k) => k !== "message" && k !== "$typeName") ?? "other";
    this.regionErrors[kind] = (this.regionErrors[kind] ?? 0) + 1;
  }

  /** Total region errors answered. */
  get totalRegionErrors(): number {
    return Object.values(this.regionErrors).reduce((a, b) => a + b, 0);
  }
}
