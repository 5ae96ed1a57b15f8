/**
 * The one error type of the checkpoint package, with a closed set of codes the backup command
 * and the CLI decide on.
 * @module
 */

/** What went wrong with a checkpoint. */
export type CheckpointErrorCode =
  /** Another live run holds `checkpoint.lock`. */
  | "LockHeld"
  /** This run's lock was taken over or removed: it must stop writing. */
  | "LockLost"
  /** `checkpoint.meta` was written with other backup options. */
  | "ConfigMismatch"
  /** The crypter key (or method) differs from the one the checkpoint was written with. */
  | "WrongKey"
  /** A checkpoint file cannot be parsed or fails its checksum. */
  | "Corrupt"
  /** The runner was already stopped. */
  | "Closed";

/** A checkpoint failure: one line saying what is wrong and what to do. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
  readonly code: CheckpointErrorCode;

  constructor(code: CheckpointErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `err` is a CheckpointError, optionally of the given code. */
export function isCheckpointError(
  err: unknown,
  code?: CheckpointErrorCode,
): err is CheckpointError {
  return err instanceof CheckpointError && (code === undefined || err.code === code);
}
