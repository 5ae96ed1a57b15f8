/**
 * The azure plugin's options (BR's `AzblobBackendOptions`), SDK-free so the URL parser and the
 * CLI flags read them without loading the Azure SDK.
 * @module
 */
import type { PluginOptionSpec } from "../../src/storage/plugin.ts";

/** Options of `azure://` and `azblob://` URLs and `--azblob.*` flags. */
export const AZURE_OPTION_SPEC: PluginOptionSpec = {
  schemes: ["azure", "azblob"],
  group: "azblob",
  title: "Azure Blob",
  options: [
    "endpoint",
    "account-name",
    "account-key",
    "sas-token",
    "access-tier",
    "encryption-scope",
    "encryption-key",
  ],
  booleans: [],
  secrets: ["account-key", "sas-token", "encryption-key"],
};
