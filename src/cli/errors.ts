/**
 * How the CLI reports failures: one line naming the problem and the fix, and an exit code that
 * tells usage errors (2) from runtime failures (1).
 * @module
 */
import { redactText } from "../log.ts";
import { isStorageError } from "../storage/errors.ts";

/** Exit code for bad flags, arguments or URLs. */
export const EXIT_USAGE = 2;
/** Exit code for failures while running. */
export const EXIT_FAILURE = 1;

/** An error that is the user's to fix; printed as one line and exits with EXIT_USAGE. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The one line printed for `err`, secrets masked. */
export function oneLine(err: unknown): string {
  let msg = err instanceof Error ? err.message : String(err);
  msg = msg.split("\n")[0] ?? msg;
  // Plugins word a refusal their own way (EACCES, AccessDenied, 403); say it plainly too.
  if (isStorageError(err, "PermissionDenied") && !/permission denied/i.test(msg)) {
    msg = `permission denied: ${msg}`;
  }
  return redactText(msg);
}
