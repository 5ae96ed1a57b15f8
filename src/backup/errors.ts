/**
 * The backup's own error for bad input.
 * @module
 */

/** A configuration error: printed as one line, exit code 2. */
export class BackupConfigError extends Error {
  override name = "BackupConfigError";
}
