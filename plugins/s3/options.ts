/**
 * The s3 plugin's options (BR's `S3BackendOptions` JSON names), SDK-free so the URL parser and
 * the CLI flags read them without loading the AWS SDK.
 * @module
 */
import type { PluginOptionSpec } from "../../src/storage/plugin.ts";

/** Options of `s3://` URLs and `--s3.*` flags. */
export const S3_OPTION_SPEC: PluginOptionSpec = {
  schemes: ["s3"],
  group: "s3",
  title: "S3",
  options: [
    "endpoint",
    "region",
    "storage-class",
    "sse",
    "sse-kms-key-id",
    "acl",
    "access-key",
    "secret-access-key",
    "session-token",
    "provider",
    "force-path-style",
    "use-accelerate-endpoint",
    "role-arn",
    "external-id",
    "profile",
    "object-lock-enabled",
  ],
  booleans: ["force-path-style", "use-accelerate-endpoint", "object-lock-enabled"],
  secrets: ["access-key", "secret-access-key", "session-token"],
};
