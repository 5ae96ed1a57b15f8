/**
 * Time for the storage layers, injectable so tests of backoff and rate limits control time
 * instead of sleeping.
 * @module
 */
import { mulberry32 } from "../random.ts";
import { sleep } from "../sleep.ts";

/** A source of time and delays. */
export interface Clock {
  /** Milliseconds since an arbitrary origin; only differences matter. */
  now(): number;
  /** Resolves after `ms` milliseconds; rejects with the signal's reason when it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Real time: `performance.now()` and `setTimeout`. */
export const systemClock: Clock = {
  now: () => performance.now(),
  sleep,
};

/**
 * Virtual time for tests: `sleep` advances `now` at once and records the delay, so a test of
 * a 30-second backoff schedule runs in microseconds and can assert the delays.
 */
export class ManualClock implements Clock {
  /** Every delay requested, in order (ms). */
  readonly sleeps: number[] = [];
  #now: number;

  /** Starts the clock at `start` ms. */
  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Moves time forward without a sleep. */
  advance(ms: number): void {
    this.#now += ms;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.sleeps.push(ms);
    this.#now += Math.max(0, ms);
    await Promise.resolve();
  }
}

/** A seeded pseudo-random generator returning floats in [0, 1) (mulberry32). */
export const seededRandom: (seed: number) => () => number = mulberry32;
