/**
 * The gcs plugin's options (BR's `GCSBackendOptions`), SDK-free so the URL parser and the CLI
 * flags read them without loading the Google Cloud SDK.
 * @module
 */
import type { PluginOptionSpec } from "../../src/storage/plugin.ts";

/** Options of `gcs://` and `gs://` URLs and `--gcs.*` flags. */
export const GCS_OPTION_SPEC: PluginOptionSpec = {
  schemes: ["gcs", "gs"],
  group: "gcs",
  title: "GCS",
  options: ["endpoint", "storage-class", "predefined-acl", "credentials-file"],
  booleans: [],
  // BR's `credentials_blob` (the key file's content in the URL) is masked wherever it appears.
  secrets: ["credentials-blob"],
};
