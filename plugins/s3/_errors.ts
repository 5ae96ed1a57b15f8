/**
 * Maps `@aws-sdk/client-s3` failures to StorageError codes, at the plugin boundary.
 * @module
 */
import type { StorageError } from "../../src/storage/errors.ts";
import { type Mapped, mappedError, networkFailure, vendorCause } from "../_cloud/_errors.ts";

/** What the mapper needs to know about the storage to write a useful message. */
export interface S3ErrorContext {
  /** `s3://bucket/prefix`, no secrets. */
  where: string;
  bucket: string;
  /** The endpoint URL, or "AWS S3". */
  endpointName: string;
  /** Which precondition the call carried, to say what a 412 means. */
  precondition?: "ifNoneMatch" | "ifMatch";
}

const CREDENTIAL_FIX =
  "check access-key and secret-access-key (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, " +
  "profile, role-arn) and the bucket policy";

const GENERIC_NAMES = new Set(["Unknown", "UnknownError", "Error", "S3ServiceException"]);

const THROTTLE_NAMES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "RequestThrottled",
]);

/** Decides code, retryability and message for an S3 SDK failure. */
export function classifyS3(err: unknown, ctx: S3ErrorContext): Mapped {
  const e = (err ?? {}) as {
    name?: string;
    Code?: string;
    $metadata?: { httpStatusCode?: number };
    $fault?: string;
  };
  const status = e.$metadata?.httpStatusCode;
  const name = e.Code ?? e.name ?? "";
  // Bodiless replies (HEAD) leave the SDK to invent a name, often just "Unknown".
  const named = name !== "" && !GENERIC_NAMES.has(name);
  const label = [named ? name : "", status === undefined ? "" : `HTTP ${status}`]
    .filter((x) => x !== "").join(", ") || "no details";
  if (status === undefined) {
    const net = networkFailure(err);
    if (net !== undefined) {
      return {
        code: "Unexpected",
        // A name that does not resolve will not start resolving on a retry.
        temporary: net !== "ENOTFOUND",
        what: `cannot reach ${ctx.endpointName} (${net})`,
        fix: "check the endpoint option, the network, and that the server is running",
      };
    }
    if (name === "CredentialsProviderError" || /credential/i.test(name)) {
      return {
        code: "PermissionDenied",
        temporary: false,
        what: "no AWS credentials found",
        fix: "set access-key and secret-access-key, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, " +
          "or a profile",
      };
    }
  }
  if (name === "AssumeRoleFailed") {
    const sts = (err as { stsCode?: string }).stsCode;
    return {
      code: "PermissionDenied",
      temporary: status !== undefined && status >= 500,
      what: `STS AssumeRole was refused (${
        [sts, status && `HTTP ${status}`].filter(Boolean)
          .join(", ") || "no details"
      })`,
      fix: "check role-arn and external-id, and that the base credentials may assume the role",
    };
  }
  if (name === "NoSuchBucket") {
    return {
      code: "NotFound",
      temporary: false,
      what: `bucket ${JSON.stringify(ctx.bucket)} does not exist at ${ctx.endpointName}`,
      fix: "create the bucket or correct the bucket name in the URL",
    };
  }
  if (name === "NoSuchUpload") {
    return {
      code: "Unexpected",
      temporary: false,
      what: "the multipart upload was aborted or expired",
      fix: "write the object again",
    };
  }
  if (status === 404 || name === "NoSuchKey" || name === "NotFound") {
    return { code: "NotFound", temporary: false, what: "object not found", fix: "" };
  }
  if (status === 412 || name === "PreconditionFailed") {
    return {
      code: "ConditionNotMatch",
      temporary: false,
      what: ctx.precondition === "ifNoneMatch"
        ? "the object already exists"
        : "the object's version no longer matches",
      fix: "",
    };
  }
  if (name === "ConditionalRequestConflict") {
    // S3 returns 409 when another conditional write to the key is in progress: retrying
    // settles it one way or the other.
    return {
      code: "ConditionNotMatch",
      temporary: true,
      what: "a concurrent conditional write to the same key is in progress",
      fix: "retry",
    };
  }
  if (
    name === "AccessDenied" || name === "InvalidAccessKeyId" ||
    name === "SignatureDoesNotMatch" || name === "ExpiredToken" || name === "InvalidToken" ||
    name === "TokenRefreshRequired" || status === 403 || status === 401
  ) {
    return {
      code: "PermissionDenied",
      temporary: false,
      what: `access denied (${label})`,
      fix: CREDENTIAL_FIX,
    };
  }
  if (status === 429 || THROTTLE_NAMES.has(name)) {
    return {
      code: "RateLimited",
      temporary: true,
      what: `the server is throttling requests (${label})`,
      fix: "lower the concurrency or rate limit",
    };
  }
  if (name === "InvalidBucketName") {
    return {
      code: "ConfigInvalid",
      temporary: false,
      what: `${JSON.stringify(ctx.bucket)} is not a valid bucket name`,
      fix: "use 3-63 lowercase letters, digits, '.' and '-'",
    };
  }
  if (
    name === "PermanentRedirect" || name === "AuthorizationHeaderMalformed" ||
    name === "IllegalLocationConstraintException" || status === 301
  ) {
    return {
      code: "ConfigInvalid",
      temporary: false,
      what: `the bucket is in another region than the one configured (${label})`,
      fix: "set the region option (or AWS_REGION) to the bucket's region",
    };
  }
  if (name === "RequestTimeTooSkewed") {
    return {
      code: "ConfigInvalid",
      temporary: false,
      what: "this machine's clock differs too much from the server's",
      fix: "synchronise the clock (NTP)",
    };
  }
  if (status === 501 || name === "NotImplemented") {
    return {
      code: "Unsupported",
      temporary: false,
      what: `the server does not implement this request (${label})`,
      fix: "use an S3 server that supports it",
    };
  }
  if (name === "RequestTimeout" || name === "InternalError" || name === "ServiceUnavailable") {
    return { code: "Unexpected", temporary: true, what: `server error (${label})`, fix: "" };
  }
  if (status !== undefined && status >= 500) {
    return {
      code: "Unexpected",
      temporary: true,
      what: `server error (${label})`,
      fix: "",
    };
  }
  return {
    code: "Unexpected",
    temporary: false,
    what: `unexpected failure (${label})`,
    fix: "",
  };
}

/** The StorageError for an S3 SDK failure; its cause names the S3 code, never the request. */
export function mapS3Error(
  err: unknown,
  ctx: S3ErrorContext,
  operation: string,
  path?: string,
): StorageError {
  const e = (err ?? {}) as {
    name?: string;
    Code?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number; requestId?: string };
  };
  const cause = vendorCause("s3", {
    name: e.Code ?? e.name,
    code: e.code,
    status: e.$metadata?.httpStatusCode,
    requestId: e.$metadata?.requestId,
  });
  return mappedError(ctx.where, operation, path, classifyS3(err, ctx), cause);
}
