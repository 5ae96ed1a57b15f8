/**
 * The one backoff: client-go's Backoffer (config/retry), which BR uses for every retry loop.
 *
 * A `Backoffer` belongs to one operation (a PD call, a region request, a lock wait, the
 * fine-grained phase of one range). Each retry names its kind (`BO.regionMiss`, `BO.pdRPC`...),
 * and each kind has its own exponential curve (base, cap, jitter) that grows with that kind's
 * attempts only; all kinds share one total budget. Time comes from an injectable `Clock`, so a
 * test of an 80 s budget runs in microseconds on a `ManualClock`.
 *
 * One difference from client-go: client-go refuses to sleep once the total has reached the
 * budget, so its last sleep may overrun it; here a sleep that would pass the budget is refused,
 * so the budget bounds the time spent waiting.
 * @module
 */
import { type Clock, systemClock } from "./storage/clock.ts";
import { metrics } from "./metrics.ts";

/** How a kind randomizes its delays (client-go's jitter modes). */
export type Jitter = "none" | "full" | "equal" | "decorrelated";

/** One kind of backoff: client-go's `retry.Config`. */
export interface BackoffKind {
  /** client-go's name of the kind (`regionMiss`, `pdRPC`...), used in messages. */
  readonly name: string;
  /** First delay, ms. */
  readonly baseMs: number;
  /** Largest delay, ms. */
  readonly capMs: number;
  readonly jitter: Jitter;
}

const kind = (name: string, baseMs: number, capMs: number, jitter: Jitter): BackoffKind => ({
  name,
  baseMs,
  capMs,
  jitter,
});

/**
 * client-go's kinds (config/retry/config.go), with its base and cap in ms. `txnLockFast` has
 * client-go's default `BackoffLockFast` (10 ms) as its base.
 */
export const BO = {
  tikvRPC: kind("tikvRPC", 100, 2000, "equal"),
  txnLock: kind("txnLock", 100, 3000, "equal"),
  txnLockFast: kind("txnLockFast", 10, 3000, "equal"),
  pdRPC: kind("pdRPC", 500, 3000, "equal"),
  regionMiss: kind("regionMiss", 2, 500, "none"),
  regionScheduling: kind("regionScheduling", 2, 500, "none"),
  tikvServerBusy: kind("tikvServerBusy", 2000, 10000, "equal"),
  tikvDiskFull: kind("tikvDiskFull", 500, 5000, "none"),
  regionRecoveryInProgress: kind("regionRecoveryInProgress", 100, 10000, "equal"),
  txnNotFound: kind("txnNotFound", 2, 500, "none"),
  staleCmd: kind("staleCommand", 2, 1000, "none"),
  maxTsNotSynced: kind("maxTsNotSynced", 2, 500, "none"),
  dataNotReady: kind("dataNotReady", 2, 2000, "none"),
  regionNotInitialized: kind("regionNotInitialized", 2, 1000, "none"),
  isWitness: kind("isWitness", 1000, 10000, "equal"),
} as const;

/** The budget is spent: the operation gives up. `cause` is the last error retried. */
export class BackoffExhaustedError extends Error {
  override name = "BackoffExhaustedError";
  constructor(
    message: string,
    /** Total time slept, ms. */
    readonly sleptMs: number,
    /** The last reason given to `backoff`. */
    readonly lastReason: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Options of a `Backoffer`. */
export interface BackofferOptions {
  /** Total sleep allowed, ms; 0 or less: unlimited. */
  budgetMs: number;
  /** Time source; the system clock by default. */
  clock?: Clock;
  /** Uniform [0, 1) numbers for jitter; Math.random by default. */
  random?: () => number;
  /** Aborts a sleep under way, and makes the next `backoff` throw the signal's reason. */
  signal?: AbortSignal;
}

interface KindState {
  attempts: number;
  lastSleep: number;
}

/** Retry state of one operation: per-kind attempt counts and the shared budget. */
export class Backoffer {
  readonly #budget: number;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #signal: AbortSignal | undefined;
  readonly #kinds = new Map<string, KindState>();
  #total = 0;
  #lastReason = "";

  constructor(opts: BackofferOptions) {
    this.#budget = opts.budgetMs;
    this.#clock = opts.clock ?? systemClock;
    this.#random = opts.random ?? Math.random;
    this.#signal = opts.signal;
  }

  /** Total time slept so far, ms. */
  get sleptMs(): number {
    return this.#total;
  }

  /** The budget, ms (0 or less: unlimited). */
  get budgetMs(): number {
    return this.#budget;
  }

  /** The signal sleeps honour. */
  get signal(): AbortSignal | undefined {
    return this.#signal;
  }

  /** The clock sleeps use. */
  get clock(): Clock {
    return this.#clock;
  }

  /**
   * The next delay of `kind` (client-go's backoffFn), at most `maxSleepMs` when given; counts
   * an attempt of that kind.
   */
  nextDelay(k: BackoffKind, maxSleepMs?: number): number {
    const base = Math.max(2, k.baseMs);
    let st = this.#kinds.get(k.name);
    if (!st) this.#kinds.set(k.name, st = { attempts: 0, lastSleep: base });
    const expo = Math.min(k.capMs, base * 2 ** st.attempts);
    let sleep: number;
    switch (k.jitter) {
      case "none":
        sleep = expo;
        break;
      case "full":
        sleep = Math.floor(this.#random() * expo);
        break;
      case "equal":
        sleep = Math.floor(expo / 2) + Math.floor(this.#random() * Math.floor(expo / 2));
        break;
      case "decorrelated":
        sleep = Math.min(k.capMs, base + Math.floor(this.#random() * (st.lastSleep * 3 - base)));
        break;
    }
    st.attempts++;
    st.lastSleep = sleep;
    return maxSleepMs !== undefined && maxSleepMs >= 0 ? Math.min(sleep, maxSleepMs) : sleep;
  }

  /**
   * Sleeps the next delay of `kind` after a retryable failure described by `reason`. Throws
   * `BackoffExhaustedError` instead when that sleep would pass the budget, and the signal's
   * reason when it is aborted.
   */
  async backoff(k: BackoffKind, reason: string, opts: { maxSleepMs?: number } = {}) {
    this.#checkSignal();
    await this.sleepFor(this.nextDelay(k, opts.maxSleepMs), reason, k.name);
  }

  /**
   * Sleeps exactly `ms` within the budget (BR's fine-grained phase sleeps the longest delay its
   * responses asked for). Throws like `backoff`.
   */
  async sleepFor(ms: number, reason: string, kindName = "fixed"): Promise<void> {
    this.#checkSignal();
    this.#lastReason = reason;
    if (this.#budget > 0 && this.#total + ms > this.#budget) {
      throw new BackoffExhaustedError(
        `gave up after ${Math.round(this.#total / 1000)} s of its ` +
          `${Math.round(this.#budget / 1000)} s retry budget (${kindName}): ${reason}`,
        this.#total,
        reason,
      );
    }
    this.#total += ms;
    metrics.retry(kindName);
    await this.#clock.sleep(ms, this.#signal);
  }

  /** The last reason given, for the caller's own message. */
  get lastReason(): string {
    return this.#lastReason;
  }

  #checkSignal(): void {
    if (this.#signal?.aborted) throw this.#signal.reason;
  }
}
