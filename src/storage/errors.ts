/**
 * The one error type every storage plugin throws. Plugins map their SDK's errors to it at their
 * boundary, so the retry layer, the lock and the CLI decide on `code` and `temporary` alone.
 * @module
 */

/** The closed set of storage failure kinds. */
export type StorageErrorCode =
  | "NotFound"
  | "AlreadyExists"
  | "ConditionNotMatch"
  | "PermissionDenied"
  | "RateLimited"
  | "Unsupported"
  | "ConfigInvalid"
  | "Unexpected";

/** What a StorageError is built from. */
export interface StorageErrorInit {
  /** The failure kind. */
  code: StorageErrorCode;
  /** The contract method that failed (`writeFile`, `walkDir`, ...). */
  operation: string;
  /** The object name relative to the storage root, when the failure concerns one. */
  path?: string;
  /** Whether the same call may succeed if repeated (throttling, 5xx, a reset connection). */
  temporary?: boolean;
  /** The SDK's or runtime's original error. Must not carry secrets into messages. */
  cause?: unknown;
}

/**
 * Marks StorageErrors across module copies: a custom plugin loaded from disk by the compiled
 * binary may bring its own copy of this file, whose class is not the host's, so identity is
 * checked by this registry-wide symbol instead of `instanceof`.
 */
const BRAND = Symbol.for("tibr.StorageError");

/** Every code, for validating errors that come from plugins. */
export const STORAGE_ERROR_CODES: readonly StorageErrorCode[] = [
  "NotFound",
  "AlreadyExists",
  "ConditionNotMatch",
  "PermissionDenied",
  "RateLimited",
  "Unsupported",
  "ConfigInvalid",
  "Unexpected",
];

/** A storage failure with a closed code, the operation and path, and whether to retry. */
export class StorageError extends Error {
  /** Always `StorageError`. */
  override name = "StorageError";
  /** Brand recognised by `isStorageError` across module copies. */
  readonly [BRAND] = true;
  /** The failure kind. */
  readonly code: StorageErrorCode;
  /** The contract method that failed. */
  readonly operation: string;
  /** The object name concerned, if any. */
  readonly path: string | undefined;
  /** Whether repeating the call may succeed; the retry layer retries only these. */
  readonly temporary: boolean;

  /** A one-line `message` saying what failed and what to do, and the details. */
  constructor(message: string, init: StorageErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.operation = init.operation;
    this.path = init.path;
    this.temporary = init.temporary ?? (init.code === "RateLimited");
  }
}

/** True when `err` is a StorageError, optionally of the given code. */
export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  if (typeof err !== "object" || err === null) return false;
  if (!(err instanceof StorageError) && (err as Record<symbol, unknown>)[BRAND] !== true) {
    return false;
  }
  return code === undefined || (err as StorageError).code === code;
}

/**
 * `fileExists` for plugins that answer it with `stat`: true when `stat` resolves, false on
 * `NotFound`; any other error is rethrown.
 */
export async function existsByStat(stat: () => Promise<unknown>): Promise<boolean> {
  try {
    await stat();
    return true;
  } catch (err) {
    if (isStorageError(err, "NotFound")) return false;
    throw err;
  }
}
