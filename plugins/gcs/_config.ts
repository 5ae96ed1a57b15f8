/**
 * Reads BR's GCS options (URL query and `--gcs.*` flags) and GOOGLE_APPLICATION_CREDENTIALS
 * into one validated config. No SDK here, so it is cheap to unit-test.
 * @module
 */
import { readFile } from "node:fs/promises";
import type { StorageTarget } from "../../src/storage/plugin.ts";
import { GCS_OPTION_SPEC } from "./options.ts";
import { invalid, nonEmpty, parseEndpoint } from "../_cloud/_config.ts";

/** Every option the plugin accepts (owned by its SDK-free options.ts). */
export const GCS_PLUGIN_OPTIONS: string[] = [...GCS_OPTION_SPEC.options];

/** GCS storage classes (`storage-class`). */
export const GCS_STORAGE_CLASSES = [
  "STANDARD",
  "NEARLINE",
  "COLDLINE",
  "ARCHIVE",
  "MULTI_REGIONAL",
  "REGIONAL",
  "DURABLE_REDUCED_AVAILABILITY",
];

/** GCS predefined object ACLs (`predefined-acl`), as BR accepts them. */
export const GCS_PREDEFINED_ACLS = [
  "authenticatedRead",
  "bucketOwnerFullControl",
  "bucketOwnerRead",
  "private",
  "projectPrivate",
  "publicRead",
];

/** A validated GCS location. */
export interface GcsConfig {
  bucket: string;
  /** No leading or trailing `/`; "" for the bucket root. */
  prefix: string;
  /** `http(s)://host[:port]`; undefined for Google itself. */
  endpoint?: string;
  storageClass?: string;
  predefinedAcl?: string;
  /** Its text, forwarded to TiKV as `credentials_blob` when credentials are sent. */
  credentialsBlob?: string;
  /** Where the credentials came from, for messages: the option or the variable. */
  credentialsSource?: string;
}

/**
 * Builds the config. Credentials: the `credentials-file` option, else the file named by
 * GOOGLE_APPLICATION_CREDENTIALS, else Google's application-default lookup (gcloud, metadata
 * server) done by the SDK; with a custom `endpoint` and no file, requests are unauthenticated
 * (emulators).
 */
export async function parseGcsConfig(
  target: StorageTarget,
  env: Record<string, string | undefined>,
): Promise<GcsConfig> {
  const o = target.options;
  if (target.bucket === "") {
    throw invalid(`missing bucket in the ${target.scheme} URL; write gcs://<bucket>/<prefix>`);
  }
  const cfg: GcsConfig = { bucket: target.bucket, prefix: target.prefix.replace(/^\/+|\/+$/g, "") };
  const endpoint = nonEmpty(o["endpoint"]);
  // BR keeps the endpoint as written (a trailing `/` included) and passes storage class and
  // ACL through unchecked; GCS itself judges them.
  if (endpoint !== undefined) cfg.endpoint = parseEndpoint(endpoint, "gcs", true);
  const sc = nonEmpty(o["storage-class"]);
  if (sc !== undefined) cfg.storageClass = sc;
  const acl = nonEmpty(o["predefined-acl"]);
  if (acl !== undefined) cfg.predefinedAcl = acl;
  const fromOption = nonEmpty(o["credentials-file"]);
  const fromEnv = nonEmpty(env["GOOGLE_APPLICATION_CREDENTIALS"]);
  const file = fromOption ?? fromEnv;
  if (file !== undefined) {
    const source = fromOption !== undefined
      ? "gcs option 'credentials-file'"
      : "GOOGLE_APPLICATION_CREDENTIALS";
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      const code = (err as { code?: string }).code ?? "unreadable";
      throw invalid(
        `cannot read the credentials file ${JSON.stringify(file)} named by ${source} (${code}); ` +
          "give the path of a service-account JSON key",
      );
    }
    // As BR, the file is read into the credentials blob as it is; only the SDK needs JSON,
    // and `gcsCredentials` says so when the storage is used.
    cfg.credentialsBlob = text;
    cfg.credentialsSource = source;
  }
  return cfg;
}

/**
 * The credentials JSON of a config's blob (service account, authorized user, ...), or undefined
 * when no file was named. Throws ConfigInvalid when the file is not such JSON.
 */
export function gcsCredentials(cfg: GcsConfig): Record<string, unknown> | undefined {
  if (cfg.credentialsBlob === undefined) return undefined;
  const source = cfg.credentialsSource ?? "the gcs credentials";
  let json: unknown;
  try {
    json = JSON.parse(cfg.credentialsBlob);
  } catch {
    throw invalid(
      `the credentials file named by ${source} is not JSON; give the path of a service-account ` +
        "JSON key",
    );
  }
  if (!json || typeof json !== "object" || typeof (json as { type?: unknown }).type !== "string") {
    throw invalid(
      `the credentials file named by ${source} has no "type"; give the path of a ` +
        "service-account JSON key",
    );
  }
  return json as Record<string, unknown>;
}
