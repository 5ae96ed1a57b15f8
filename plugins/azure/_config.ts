/**
 * Reads BR's Azure Blob options (URL query and `--azblob.*` flags) and AZURE_STORAGE_* into
 * one validated config. No SDK here, so it is cheap to unit-test.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { StorageTarget } from "../../src/storage/plugin.ts";
import { AZURE_OPTION_SPEC } from "./options.ts";
import { invalid, nonEmpty, parseEndpoint } from "../_cloud/_config.ts";

/** Every option the plugin accepts (owned by its SDK-free options.ts). */
export const AZURE_PLUGIN_OPTIONS: string[] = [...AZURE_OPTION_SPEC.options];

/** Blob access tiers (`access-tier`, BR's `storage_class`). */
export const AZURE_ACCESS_TIERS = ["Hot", "Cool", "Cold", "Archive"];

/** How requests are authorised, in BR's order of precedence. */
export type AzureCredentials =
  | { kind: "sas"; token: string }
  | { kind: "sharedKey"; accountName: string; accountKey: string; fromEnv: boolean };

/** A validated Azure Blob location. */
export interface AzureConfig {
  /** The container. */
  bucket: string;
  /** No leading or trailing `/`; "" for the container root. */
  prefix: string;
  /** The blob service URL, `https://<account>.blob.core.windows.net` unless given. */
  endpoint: string;
  /** Whether `endpoint` was given (it is then forwarded to TiKV as is). */
  endpointGiven: boolean;
  accountName: string;
  credentials: AzureCredentials;
  accessTier?: string;
  encryptionScope?: string;
  /** Customer-provided key (base64 AES-256) and its SHA-256, sent with every data request. */
  customerKey?: { encryptionKey: string; encryptionKeySha256: string };
}

/**
 * Builds the config. Credentials: `sas-token`, else `account-key`, else AZURE_STORAGE_KEY
 * (with `account-name` or AZURE_STORAGE_ACCOUNT). Azure AD (AZURE_CLIENT_ID/TENANT_ID/
 * CLIENT_SECRET) is not supported yet and is said so when it is all that is set.
 */
export function parseAzureConfig(
  target: StorageTarget,
  env: Record<string, string | undefined>,
): AzureConfig {
  const o = target.options;
  if (target.bucket === "") {
    throw invalid(
      `missing container in the ${target.scheme} URL; write azure://<container>/<prefix>`,
    );
  }
  const accountName = nonEmpty(o["account-name"]) ?? nonEmpty(env["AZURE_STORAGE_ACCOUNT"]);
  const endpointRaw = nonEmpty(o["endpoint"]);
  if (accountName === undefined && endpointRaw === undefined) {
    throw invalid(
      "no Azure storage account: set account-name (or AZURE_STORAGE_ACCOUNT) or endpoint",
    );
  }
  const endpoint = endpointRaw !== undefined
    ? parseEndpoint(endpointRaw, "azblob")
    : `https://${accountName}.blob.core.windows.net`;

  const sas = nonEmpty(o["sas-token"]);
  const key = nonEmpty(o["account-key"]);
  const envKey = nonEmpty(env["AZURE_STORAGE_KEY"]);
  let credentials: AzureCredentials;
  if (sas !== undefined) {
    credentials = { kind: "sas", token: sas.replace(/^\?/, "") };
  } else if (key !== undefined || envKey !== undefined) {
    if (accountName === undefined) {
      throw invalid(
        "an Azure account key needs the account name: set account-name or AZURE_STORAGE_ACCOUNT",
      );
    }
    credentials = {
      kind: "sharedKey",
      accountName,
      accountKey: (key ?? envKey)!,
      fromEnv: key === undefined,
    };
  } else if (env["AZURE_CLIENT_ID"] && env["AZURE_TENANT_ID"]) {
    throw invalid(
      "Azure AD credentials (AZURE_CLIENT_ID/AZURE_TENANT_ID) are not supported yet; " +
        "set account-key or sas-token (or AZURE_STORAGE_KEY)",
    );
  } else {
    throw invalid(
      "no Azure credentials: set account-key or sas-token (or AZURE_STORAGE_KEY with " +
        "AZURE_STORAGE_ACCOUNT)",
    );
  }

  const cfg: AzureConfig = {
    bucket: target.bucket,
    prefix: target.prefix.replace(/^\/+|\/+$/g, ""),
    endpoint,
    endpointGiven: endpointRaw !== undefined,
    accountName: accountName ?? "",
    credentials,
  };
  const tier = nonEmpty(o["access-tier"]);
  // Passed through as BR does (the service judges it), in the service's spelling when known.
  if (tier !== undefined) {
    cfg.accessTier = AZURE_ACCESS_TIERS.find((t) => t.toLowerCase() === tier.toLowerCase()) ??
      tier;
  }
  const scope = nonEmpty(o["encryption-scope"]);
  if (scope !== undefined) cfg.encryptionScope = scope;
  const ek = nonEmpty(o["encryption-key"]);
  if (ek !== undefined) {
    if (scope !== undefined) {
      throw invalid("azblob options 'encryption-scope' and 'encryption-key' exclude each other");
    }
    const raw = Buffer.from(ek, "base64");
    if (raw.length !== 32) {
      throw invalid("azblob option 'encryption-key' must be a base64 AES-256 key (32 bytes)");
    }
    cfg.customerKey = {
      encryptionKey: ek,
      encryptionKeySha256: createHash("sha256").update(raw).digest("base64"),
    };
  }
  return cfg;
}
