/**
 * tibr: backup and restore for TiKV/TiDB clusters.
 *
 * This module is the public surface for embedding tibr and for writing storage plugins.
 *
 * @example Check which release is loaded
 * ```ts
 * import { VERSION } from "./mod.ts";
 * console.log(VERSION);
 * ```
 * @module
 */
export { VERSION } from "./src/version.ts";
export type * from "./src/storage/types.ts";
export { isStorageError, StorageError } from "./src/storage/errors.ts";
export type { StorageErrorCode, StorageErrorInit } from "./src/storage/errors.ts";
export { definePlugin } from "./src/storage/plugin.ts";
export { alignedBuffer } from "./src/storage/buffer.ts";
export type {
  PluginContext,
  PluginOptionSpec,
  StoragePlugin,
  StorageTarget,
} from "./src/storage/plugin.ts";
export { STORAGE_ERROR_CODES } from "./src/storage/errors.ts";
export { checkName, compareNames, joinKey, walkPrefix } from "./src/storage/names.ts";
export {
  AZBLOB_OPTIONS,
  boolOption,
  GCS_OPTIONS,
  parseLocation,
  redactUri,
  S3_OPTIONS,
  targetUri,
} from "./src/storage/url.ts";
export {
  BUILTIN_PLUGINS,
  loadPluginFile,
  openStorage,
  PLUGINS_ENV,
  resolvePlugin,
} from "./src/storage/registry.ts";
export type { OpenStorageOptions, ResolveOptions } from "./src/storage/registry.ts";
export { toStorageBackend } from "./src/storage/backend.ts";
export { composeLayers } from "./src/storage/layers.ts";
export type { LayerOptions } from "./src/storage/layers.ts";
export { withRetry } from "./src/storage/retry.ts";
export type { RetryOptions } from "./src/storage/retry.ts";
export { TokenBucket, withRateLimit } from "./src/storage/rate_limit.ts";
export type { RateLimitOptions } from "./src/storage/rate_limit.ts";
export { Semaphore, withConcurrencyLimit } from "./src/storage/concurrency.ts";
export { StorageMetrics, withMetrics } from "./src/storage/metrics.ts";
export type { OpMetrics } from "./src/storage/metrics.ts";
export { FaultInjector, withFaults } from "./src/storage/faults.ts";
export type { FaultOptions, FaultRule } from "./src/storage/faults.ts";
export { ManualClock, seededRandom, systemClock } from "./src/storage/clock.ts";
export type { Clock } from "./src/storage/clock.ts";
export { CASES, runStorageConformance } from "./src/storage/conformance.ts";
export type { ConformanceCase, ConformanceOptions } from "./src/storage/conformance.ts";
export { checkStorage } from "./src/storage/check.ts";
export type { CheckReport, ProbeResult } from "./src/storage/check.ts";
