/**
 * Error helpers the cloud plugins share: telling a cancelled call from a failed one, naming
 * network failures, and building a `cause` that keeps the vendor's code and status but none of
 * the request (SDK errors can carry signed headers, session tokens or SAS query strings).
 * @module
 */
import { StorageError, type StorageErrorCode } from "../../src/storage/errors.ts";

/** Rethrows the signal's reason when the call failed because the caller cancelled it. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

/**
 * The network failure behind `err` (`ECONNREFUSED`, `ENOTFOUND`, `TimeoutError`, ...), looking
 * through `cause` chains and aggregate errors; undefined when it is not a network failure.
 */
export function networkFailure(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (e === null || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const rec = e as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
    if (typeof rec.code === "string" && NETWORK_CODES.has(rec.code)) return rec.code;
    if (rec.name === "TimeoutError") return "TimeoutError";
    const msg = (e as { message?: unknown }).message;
    if (typeof msg === "string") {
      const m = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH)\b/.exec(
        msg,
      );
      if (m) return m[1];
      if (/connection (refused|reset|closed)|socket hang up|network error/i.test(msg)) {
        return "connection failure";
      }
    }
    if (rec.cause !== undefined) queue.push(rec.cause);
    if (Array.isArray(rec.errors)) queue.push(...rec.errors);
  }
  return undefined;
}

/** A plain Error describing a vendor failure by code and status only. */
export function vendorCause(
  vendor: string,
  fields: { name?: unknown; code?: unknown; status?: unknown; requestId?: unknown },
): Error {
  const parts: string[] = [];
  for (const v of [fields.name, fields.code]) {
    if (typeof v === "string" && v !== "" && !parts.includes(v)) parts.push(v);
  }
  if (typeof fields.status === "number") parts.push(`HTTP ${fields.status}`);
  if (typeof fields.requestId === "string" && fields.requestId !== "") {
    parts.push(`request ${fields.requestId}`);
  }
  return new Error(`${vendor}: ${parts.join(", ") || "unknown error"}`);
}

/** What a plugin's error mapper decided. */
export interface Mapped {
  code: StorageErrorCode;
  temporary: boolean;
  /** What went wrong, e.g. `object not found`. */
  what: string;
  /** What to do, e.g. `check the endpoint option`. Empty when there is nothing to suggest. */
  fix: string;
}

/** Builds the StorageError of a mapped failure: `<uri>: <op> <path> failed: <what>; <fix>`. */
export function mappedError(
  where: string,
  operation: string,
  path: string | undefined,
  m: Mapped,
  cause: Error,
): StorageError {
  const subject = path === undefined ? operation : `${operation} ${JSON.stringify(path)}`;
  const msg = `${where}: ${subject} failed: ${m.what}${m.fix === "" ? "" : `; ${m.fix}`}`;
  return new StorageError(msg, { code: m.code, operation, path, temporary: m.temporary, cause });
}
