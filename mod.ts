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
