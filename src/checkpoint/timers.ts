/**
 * Time for the checkpoint runner and lock: a monotonic clock, delays and repeating tickers,
 * injectable so tests of flush intervals, lock renewal and TTLs advance virtual time instead of
 * sleeping. Lock expiry itself is judged by PD time (the lock's `now`), never by this clock.
 * @module
 */
import { clearInterval, setInterval } from "node:timers";
import type { Clock } from "../storage/clock.ts";
import { sleep } from "../sleep.ts";

/** A monotonic clock with delays and tickers. */
export interface Timers extends Clock {
  /**
   * Calls `fn` every `ms` milliseconds until the returned function is called. A call that
   * returns a promise is not awaited by real timers: `fn` must handle its own errors.
   */
  every(ms: number, fn: () => void | Promise<void>): () => void;
}

/** Real time: `performance.now()`, `setTimeout` and `setInterval`. */
export const systemTimers: Timers = {
  now: () => performance.now(),
  sleep,

  every(ms, fn) {
    const timer = setInterval(() => void fn(), ms);
    // A ticker alone must not keep the process alive (say, a lock nobody released).
    timer.unref();
    return () => clearInterval(timer);
  },
};

interface Ticker {
  ms: number;
  next: number;
  fn: () => void | Promise<void>;
  stopped: boolean;
}

/**
 * Virtual time for tests. `advance(ms)` moves time forward, firing every ticker that falls due
 * in order and awaiting what each call returns, so after `await timers.advance(30_000)` a
 * 30-second flush has completed. `sleep` advances time the same way.
 */
export class ManualTimers implements Timers {
  #now: number;
  #tickers: Ticker[] = [];
  #advancing = 0;

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  every(ms: number, fn: () => void | Promise<void>): () => void {
    if (!(ms > 0)) throw new RangeError(`ticker interval must be positive, got ${ms}`);
    const t: Ticker = { ms, next: this.#now + ms, fn, stopped: false };
    this.#tickers.push(t);
    return () => {
      t.stopped = true;
      this.#tickers = this.#tickers.filter((x) => x !== t);
    };
  }

  /** Number of running tickers. */
  get tickers(): number {
    return this.#tickers.length;
  }

  /** Moves time forward by `ms`, firing due tickers in time order and awaiting each call. */
  async advance(ms: number): Promise<void> {
    let end = this.#now + Math.max(0, ms);
    this.#advancing++;
    try {
      for (;;) {
        let due: Ticker | undefined;
        for (const t of this.#tickers) {
          if (!t.stopped && t.next <= end && (due === undefined || t.next < due.next)) due = t;
        }
        if (!due) break;
        this.#now = Math.max(this.#now, due.next);
        due.next += due.ms;
        await due.fn();
        // A ticker that slept moved time on; the advance covers that too.
        end = Math.max(end, this.#now);
      }
    } finally {
      this.#advancing--;
    }
    this.#now = end;
    // Let promise chains started by the tickers settle.
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }

  /** Advances time by `ms`; inside a ticker call it only moves the clock (no nested firing). */
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    if (this.#advancing > 0) {
      this.#now += Math.max(0, ms);
      await Promise.resolve();
      return;
    }
    await this.advance(ms);
  }
}
