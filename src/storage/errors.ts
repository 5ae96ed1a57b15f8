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

/** A storage failure with a closed code, the operation and path, and whether to retry. */
export class StorageError extends Error {
  override name = "StorageError";
  readonly code: StorageErrorCode;
  readonly operation: string;
  readonly path: string | undefined;
  readonly temporary: boolean;

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
  return err instanceof StorageError && (code === undefined || err.code === code);
}
