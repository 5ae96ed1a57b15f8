/**
 * Maps `@azure/storage-blob` failures (RestError and network errors) to StorageError codes, at
 * the plugin boundary.
 * @module
 */
import type { StorageError } from "../../src/storage/errors.ts";
import { type Mapped, mappedError, networkFailure, vendorCause } from "../_cloud/_errors.ts";

/** What the mapper needs to know about the storage to write a useful message. */
export interface AzureErrorContext {
  /** `azure://container/prefix`, no secrets. */
  where: string;
  container: string;
  /** The service URL (never with a SAS). */
  endpointName: string;
  /** Which precondition the call carried, to say what a 409/412 means. */
  precondition?: "ifNoneMatch" | "ifMatch";
  /** What to check after a 401/403, naming the credential in use. */
  credentialFix: string;
}

interface RestErrorShape {
  statusCode?: number;
  code?: string;
  name?: string;
  details?: { errorCode?: string; requestId?: string };
}

/** Azure's error code of an SDK error (`BlobNotFound`, `ConditionNotMet`, ...). */
export function azureCode(err: unknown): string {
  const e = (err ?? {}) as RestErrorShape;
  return e.details?.errorCode ?? e.code ?? "";
}

/** The HTTP status of an SDK error, if it got a response. */
export function azureStatus(err: unknown): number | undefined {
  const s = (err as RestErrorShape | undefined)?.statusCode;
  return typeof s === "number" ? s : undefined;
}

/** Decides code, retryability and message for an Azure SDK failure. */
export function classifyAzure(err: unknown, ctx: AzureErrorContext): Mapped {
  const status = azureStatus(err);
  const code = azureCode(err);
  if (status === undefined) {
    const net = networkFailure(err);
    if (net !== undefined || code === "REQUEST_SEND_ERROR") {
      return {
        code: "Unexpected",
        temporary: net !== "ENOTFOUND",
        what: `cannot reach ${ctx.endpointName} (${net ?? code})`,
        fix: "check the endpoint or account-name option, the network, and that the server is " +
          "running",
      };
    }
  }
  if (code === "ContainerNotFound") {
    return {
      code: "NotFound",
      temporary: false,
      what: `container ${JSON.stringify(ctx.container)} does not exist at ${ctx.endpointName}`,
      fix: "create the container or correct the container name in the URL",
    };
  }
  if (status === 404) {
    return { code: "NotFound", temporary: false, what: "object not found", fix: "" };
  }
  if (
    status === 412 || code === "ConditionNotMet" ||
    (status === 409 && code === "BlobAlreadyExists" && ctx.precondition !== undefined)
  ) {
    return {
      code: "ConditionNotMatch",
      temporary: false,
      what: ctx.precondition === "ifNoneMatch"
        ? "the object already exists"
        : "the object's ETag no longer matches",
      fix: "",
    };
  }
  if (status === 401 || status === 403) {
    return {
      code: "PermissionDenied",
      temporary: false,
      what: `access denied (${code || `HTTP ${status}`})`,
      fix: ctx.credentialFix,
    };
  }
  if (status === 429 || status === 503 || code === "ServerBusy") {
    return {
      code: "RateLimited",
      temporary: true,
      what: `the server is throttling requests (${code || `HTTP ${status}`})`,
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
  if (status === 408 || code === "OperationTimedOut" || (status !== undefined && status >= 500)) {
    return {
      code: "Unexpected",
      temporary: true,
      what: `server error (${code || "unknown"}, HTTP ${status})`,
      fix: "",
    };
  }
  if (code === "InvalidResourceName" || code === "OutOfRangeInput") {
    return {
      code: "ConfigInvalid",
      temporary: false,
      what: `${JSON.stringify(ctx.container)} or the object name is not valid for Azure (${code})`,
      fix: "use 3-63 lowercase letters, digits and '-' for the container",
    };
  }
  return {
    code: "Unexpected",
    temporary: false,
    what: `unexpected failure (${code || "unknown"}${status ? `, HTTP ${status}` : ""})`,
    fix: "",
  };
}

/** The StorageError for an Azure SDK failure; its cause names the code, never the request. */
export function mapAzureError(
  err: unknown,
  ctx: AzureErrorContext,
  operation: string,
  path?: string,
): StorageError {
  const e = (err ?? {}) as RestErrorShape;
  const cause = vendorCause("azure", {
    name: e.name,
    code: azureCode(err),
    status: azureStatus(err),
    requestId: e.details?.requestId,
  });
  return mappedError(ctx.where, operation, path, classifyAzure(err, ctx), cause);
}
