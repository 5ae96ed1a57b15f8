/**
 * The reverse of `backend.ts`: opens the storage a `backup.StorageBackend` message names, as a
 * TiKV store does with the backend of a BackupRequest. The message's fields become the options
 * of the matching built-in plugin (local, noop, s3, gcs, azure), so a store writes exactly where
 * the BR client pointed it, with the credentials the client chose to send.
 * @module
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { StorageBackend } from "../gen/brpb_pb.ts";
import { StorageError } from "./errors.ts";
import { composeLayers, type LayerOptions } from "./layers.ts";
import { checkName } from "./names.ts";
import type { StorageTarget } from "./plugin.ts";
import { resolvePlugin } from "./registry.ts";
import type { ExternalStorage } from "./types.ts";

/** Options of `storageFromBackend`. */
export interface FromBackendOptions {
  /** Environment for credential fallbacks (default: the process's, as a store uses its own). */
  env?: Record<string, string | undefined>;
  /** Cancels opening. */
  signal?: AbortSignal;
  /** Layer settings (default: the standard layers, retries on). */
  layers?: LayerOptions;
}

function unsupported(what: string): StorageError {
  return new StorageError(
    `the store cannot write to a ${what} storage backend; back up to local, noop, s3, gcs or azure`,
    { code: "Unsupported", operation: "open" },
  );
}

/** Puts `value` under `key` when it is a non-empty string (or true). */
function setOpt(o: Record<string, string>, key: string, value: string | boolean | undefined): void {
  if (typeof value === "boolean") {
    if (value) o[key] = "true";
  } else if (value !== undefined && value !== "") {
    o[key] = value;
  }
}

/** A short name of the backend kind, for logs and file naming (`local`, `s3`, ...). */
export function backendKind(backend: StorageBackend | undefined): string {
  switch (backend?.backend.case) {
    case "local":
      return "local";
    case "noop":
      return "noop";
    case "s3":
      return "s3";
    case "gcs":
      return "gcs";
    case "azureBlobStorage":
      return "azure";
    case "hdfs":
      return "hdfs";
    case "cloudDynamic":
      return "cloud_dynamic";
    default:
      return "none";
  }
}

/**
 * The plugin target a backend names, with the message's fields as the plugin's options. A GCS
 * credentials blob is returned apart: the plugin reads credentials from a file.
 */
export function targetOfBackend(
  backend: StorageBackend | undefined,
): { target: StorageTarget; gcsCredentialsBlob?: string } {
  const b = backend?.backend;
  const options: Record<string, string> = {};
  switch (b?.case) {
    case "local":
      if (b.value.path === "") {
        throw new StorageError("the local storage backend has no path; set Local.path", {
          code: "ConfigInvalid",
          operation: "open",
        });
      }
      return { target: { scheme: "local", bucket: "", prefix: b.value.path, options } };
    case "noop":
      return { target: { scheme: "noop", bucket: "", prefix: "", options } };
    case "s3": {
      const s = b.value;
      setOpt(options, "endpoint", s.endpoint);
      setOpt(options, "region", s.region);
      setOpt(options, "storage-class", s.storageClass);
      setOpt(options, "sse", s.sse);
      setOpt(options, "sse-kms-key-id", s.sseKmsKeyId);
      setOpt(options, "acl", s.acl);
      setOpt(options, "access-key", s.accessKey);
      setOpt(options, "secret-access-key", s.secretAccessKey);
      setOpt(options, "session-token", s.sessionToken);
      setOpt(options, "provider", s.provider);
      setOpt(options, "force-path-style", s.forcePathStyle);
      setOpt(options, "role-arn", s.roleArn);
      setOpt(options, "external-id", s.externalId);
      setOpt(options, "profile", s.profile);
      setOpt(options, "object-lock-enabled", s.objectLockEnabled);
      return { target: { scheme: "s3", bucket: s.bucket, prefix: s.prefix, options } };
    }
    case "gcs": {
      const g = b.value;
      setOpt(options, "endpoint", g.endpoint);
      setOpt(options, "storage-class", g.storageClass);
      setOpt(options, "predefined-acl", g.predefinedAcl);
      return {
        target: { scheme: "gcs", bucket: g.bucket, prefix: g.prefix, options },
        ...(g.credentialsBlob !== "" ? { gcsCredentialsBlob: g.credentialsBlob } : {}),
      };
    }
    case "azureBlobStorage": {
      const a = b.value;
      setOpt(options, "endpoint", a.endpoint);
      setOpt(options, "account-name", a.accountName);
      setOpt(options, "account-key", a.sharedKey);
      setOpt(options, "sas-token", a.accessSig);
      setOpt(options, "access-tier", a.storageClass);
      setOpt(options, "encryption-scope", a.encryptionScope);
      setOpt(options, "encryption-key", a.encryptionKey?.encryptionKey);
      return { target: { scheme: "azure", bucket: a.bucket, prefix: a.prefix, options } };
    }
    case "hdfs":
      throw unsupported("HDFS");
    case "cloudDynamic":
      throw unsupported("dynamic cloud");
    default:
      throw new StorageError(
        "the backup request has no storage backend; the client must set storage_backend",
        { code: "ConfigInvalid", operation: "open" },
      );
  }
}

/**
 * Opens the storage `backend` names. Throws `StorageError`: `ConfigInvalid` when the message
 * is empty or malformed, `Unsupported` for HDFS and dynamic cloud backends.
 */
export async function storageFromBackend(
  backend: StorageBackend | undefined,
  opts: FromBackendOptions = {},
): Promise<ExternalStorage> {
  const { target, gcsCredentialsBlob } = targetOfBackend(backend);
  // GCS credentials arrive as a JSON blob, the plugin reads them from a file: one that lives
  // only while the plugin opens.
  let tempDir: string | undefined;
  try {
    if (gcsCredentialsBlob !== undefined) {
      tempDir = await mkdtemp(join(tmpdir(), "tibr-gcs-"));
      const file = join(tempDir, "credentials.json");
      await writeFile(file, gcsCredentialsBlob, { mode: 0o600 });
      target.options["credentials-file"] = file;
    }
    const plugin = await resolvePlugin(target.scheme, { pluginObjects: [] });
    const storage = await plugin.open(target, {
      env: opts.env ?? process.env,
      ...(opts.signal ? { signal: opts.signal } : {}),
      StorageError,
      checkName,
    });
    return composeLayers(storage, opts.layers);
  } finally {
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  }
}
