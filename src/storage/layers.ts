/**
 * The one place where storage layers are composed. From the caller inwards:
 *
 * 1. metrics and logging: one count and one log line per logical call;
 * 2. retry: temporary failures only, full-jitter exponential backoff, bounded total time;
 * 3. rate limit: data-lane bytes per second;
 * 4. concurrency limit: data-lane requests at once;
 * 5. fault injection (tests only): sits where the backend is, so its failures are retried
 *    and its latency holds a concurrency slot, like a slow server's would;
 * 6. guard: argument checks (names, preconditions vs capabilities), right above the plugin.
 *
 * Limits sit inside retry so a backoff sleep holds no slot and no tokens; metrics sit outside
 * so a call that needed three attempts counts once. Lock and checkpoint calls (the `control`
 * lane: `lane: "control"`, asked for through `controlLane`, see lane.ts) pass the
 * rate and concurrency limits without waiting.
 * @module
 */
import type { Clock } from "./clock.ts";
import { withConcurrencyLimit } from "./concurrency.ts";
import { type FaultInjector, withFaults } from "./faults.ts";
import { withGuard } from "./guard.ts";
import { StorageMetrics, withMetrics } from "./metrics.ts";
import { type RateLimitOptions, withRateLimit } from "./rate_limit.ts";
import { type RetryOptions, withRetry } from "./retry.ts";
import type { ExternalStorage } from "./types.ts";

/** Which layers to add around a plugin's storage, and their settings. */
export interface LayerOptions {
  /** Retry settings, or `false` for none (default: on, with RetryOptions' defaults). */
  retry?: RetryOptions | false;
  /** Data-lane bytes per second (unset or 0: unlimited). */
  rateLimit?: number | RateLimitOptions;
  /** Data-lane requests at once (unset or 0: unlimited). */
  concurrency?: number;
  /** Counters to update (default: a fresh StorageMetrics). */
  metrics?: StorageMetrics;
  /** Fault rules for tests. */
  faults?: FaultInjector;
  /** Time source for retry and rate limit (tests). */
  clock?: Clock;
}

/** Wraps a plugin's storage in the layers, in the documented order. */
export function composeLayers(
  plugin: ExternalStorage,
  opts: LayerOptions = {},
): ExternalStorage {
  let s = withGuard(plugin);
  if (opts.faults) s = withFaults(s, opts.faults);
  if (opts.concurrency) s = withConcurrencyLimit(s, opts.concurrency);
  if (opts.rateLimit) {
    const rl = typeof opts.rateLimit === "number"
      ? { bytesPerSecond: opts.rateLimit }
      : opts.rateLimit;
    s = withRateLimit(s, { ...rl, clock: rl.clock ?? opts.clock });
  }
  if (opts.retry !== false) {
    s = withRetry(s, { ...opts.retry, clock: opts.retry?.clock ?? opts.clock });
  }
  return withMetrics(s, opts.metrics ?? new StorageMetrics());
}
