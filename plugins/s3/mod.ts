/**
 * The `s3://` storage plugin: Amazon S3 and S3-compatible servers (Ceph RGW, MinIO, ...).
 *
 * ```text
 * s3://bucket/prefix?endpoint=http://127.0.0.1:7480&access-key=...&secret-access-key=...
 * ```
 *
 * Options are BR's (`--s3.*` flags or URL query): endpoint, region, access-key,
 * secret-access-key, session-token, force-path-style (default true with an endpoint),
 * use-accelerate-endpoint, storage-class, sse, sse-kms-key-id, acl, role-arn, external-id
 * (AssumeRole through STS), provider, profile, object-lock-enabled. Credentials fall back to
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, AWS_PROFILE, then the AWS SDK's
 * default chain (shared files, SSO, web identity, ECS, EC2 metadata). Opening checks the bucket
 * (HeadBucket), so a missing bucket or bad credentials fail at once.
 *
 * Conditional writes use `If-None-Match: *` and `If-Match`; `create()` is a multipart upload
 * (parts of at least 5 MiB, at most 10000 parts).
 * @module
 */
import { definePlugin } from "../../src/storage/plugin.ts";
import { parseS3Config, S3_PLUGIN_OPTIONS } from "./_config.ts";
import { makeS3Client, S3Storage } from "./storage.ts";

export { S3Storage } from "./storage.ts";

/** The s3 plugin. */
export default definePlugin({
  name: "s3",
  schemes: ["s3"],
  options: S3_PLUGIN_OPTIONS,
  async open(target, ctx) {
    const cfg = parseS3Config(target, ctx.env);
    const storage = new S3Storage(cfg, makeS3Client(cfg));
    try {
      await storage.connect(ctx.signal);
    } catch (err) {
      await storage.close();
      throw err;
    }
    return storage;
  },
});
