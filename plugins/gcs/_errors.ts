/**
 * Maps `@google-cloud/storage` failures (ApiError, GaxiosError, auth-library errors, upload
 * stream errors) to StorageError codes, at the plugin boundary.
 * @module
 */
import type { StorageError } from "../../src/storage/errors.ts";
import { type Mapped, mappedError, networkFailure, vendorCause } from "../_cloud/_errors.ts";

/** What the mapper needs to know about the storage to write a useful message. */
export interface GcsErrorContext {
  /** `gcs://bucket/prefix`, no secrets. */
  where: string;
  bucket: string;
  /** The endpoint URL, or "Google Cloud Storage". */
  endpointName: string;
  /** Which precondition the call carried, to say what a 412 means. */
  precondition?: "ifNoneMatch" | "ifMatch";
  /** Where credentials came from, for the fix of a 401/403. */
  credentialsSource?: string;
}

interface GcsErrorShape {
  code?: unknown;
  status?: unknown;
  name?: string;
  message?: string;
  errors?: { reason?: string; message?: string }[];
  response?: { status?: number; data?: unknown };
}

/** The HTTP status of an SDK error, wherever that SDK layer put it. */
export function gcsStatus(err: unknown): number | undefined {
  const e = (err ?? {}) as GcsErrorShape;
  for (const v of [e.code, e.status, e.response?.status]) {
    if (typeof v === "number" && v >= 100 && v < 600) return v;
  }
  return undefined;
}

function reasonOf(err: unknown): string {
  const e = (err ?? {}) as GcsErrorShape;
  const r = e.errors?.find((x) => typeof x.reason === "string")?.reason;
  if (r) return r;
  const data = e.response?.data as { error?: unknown } | undefined;
  if (typeof data?.error === "string") return data.error; // OAuth: invalid_grant, ...
  return "";
}

/** Decides code, retryability and message for a GCS SDK failure. */
export function classifyGcs(err: unknown, ctx: GcsErrorContext): Mapped {
  const status = gcsStatus(err);
  const reason = reasonOf(err);
  const message = (err as GcsErrorShape | undefined)?.message ?? "";
  if (status === undefined) {
    const net = networkFailure(err);
    if (net !== undefined) {
      return {
        code: "Unexpected",
        temporary: net !== "ENOTFOUND",
        what: `cannot reach ${ctx.endpointName} (${net})`,
        fix: "check the endpoint option, the network, and that the server is running",
      };
    }
    if (/default credentials|Could not load|private key|invalid_grant|credential/i.test(message)) {
      return {
        code: "PermissionDenied",
        temporary: false,
        what: "no usable Google credentials",
        fix: "set credentials-file or GOOGLE_APPLICATION_CREDENTIALS to a service-account key",
      };
    }
  }
  if (status === 404) {
    if (/bucket/i.test(message) && !/object/i.test(message)) {
      return {
        code: "NotFound",
        temporary: false,
        what: `bucket ${JSON.stringify(ctx.bucket)} does not exist at ${ctx.endpointName}`,
        fix: "create the bucket or correct the bucket name in the URL",
      };
    }
    return { code: "NotFound", temporary: false, what: "object not found", fix: "" };
  }
  if (status === 412 || (status === 409 && ctx.precondition !== undefined)) {
    return {
      code: "ConditionNotMatch",
      temporary: false,
      what: ctx.precondition === "ifNoneMatch"
        ? "the object already exists"
        : "the object's generation no longer matches",
      fix: "",
    };
  }
  if (status === 401 || status === 403 || reason === "invalid_grant") {
    return {
      code: "PermissionDenied",
      temporary: false,
      what: `access denied (HTTP ${status ?? 400}${reason ? `, ${reason}` : ""})`,
      fix: `check the key named by ${
        ctx.credentialsSource ?? "credentials-file or " +
            "GOOGLE_APPLICATION_CREDENTIALS"
      } and its roles on the bucket`,
    };
  }
  if (status === 429 || reason === "rateLimitExceeded" || reason === "userRateLimitExceeded") {
    return {
      code: "RateLimited",
      temporary: true,
      what: `the server is throttling requests (HTTP ${status ?? 429})`,
      fix: "lower the concurrency or rate limit",
    };
  }
  if (status === 501) {
    return {
      code: "Unsupported",
      temporary: false,
      what: "not implemented by the server",
      fix: "",
    };
  }
  if (status === 408 || (status !== undefined && status >= 500)) {
    return {
      code: "Unexpected",
      temporary: true,
      what: `server error (HTTP ${status}${reason ? `, ${reason}` : ""})`,
      fix: "",
    };
  }
  return {
    code: "Unexpected",
    temporary: false,
    what: `unexpected failure (${status ? `HTTP ${status}` : (reason || "no status")})`,
    fix: "",
  };
}

/** The StorageError for a GCS SDK failure; its cause names status and reason only. */
export function mapGcsError(
  err: unknown,
  ctx: GcsErrorContext,
  operation: string,
  path?: string,
): StorageError {
  const e = (err ?? {}) as GcsErrorShape;
  const cause = vendorCause("gcs", { name: e.name, code: reasonOf(err), status: gcsStatus(err) });
  return mappedError(ctx.where, operation, path, classifyGcs(err, ctx), cause);
}
