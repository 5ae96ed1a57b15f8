import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isStorageError } from "../../src/storage/errors.ts";
import type { StorageTarget } from "../../src/storage/plugin.ts";
import { parseS3Config } from "./_config.ts";
import { s3ForcePathStyle } from "../../src/storage/url.ts";
import { classifyS3 } from "./_errors.ts";
import { makeS3Client } from "./storage.ts";

function target(options: Record<string, string>, bucket = "bkt", prefix = "p/q"): StorageTarget {
  return { scheme: "s3", bucket, prefix, options };
}

function invalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e) => isStorageError(e, "ConfigInvalid") && pattern.test(e.message));
}

describe("s3 options", () => {
  test("keys from options win over the environment, which wins over profiles", () => {
    const env = {
      AWS_ACCESS_KEY_ID: "ENVID",
      AWS_SECRET_ACCESS_KEY: "env+secret/x",
      AWS_SESSION_TOKEN: "envtoken",
      AWS_PROFILE: "envprofile",
    };
    const fromOpts = parseS3Config(
      target({ "access-key": "ID", "secret-access-key": "s+e/c", "session-token": "t" }),
      env,
    );
    assert.deepEqual(fromOpts.credentials, {
      kind: "static",
      accessKeyId: "ID",
      secretAccessKey: "s+e/c",
      sessionToken: "t",
    });
    assert.deepEqual(parseS3Config(target({}), env).credentials, {
      kind: "static",
      accessKeyId: "ENVID",
      secretAccessKey: "env+secret/x",
      sessionToken: "envtoken",
    });
    assert.deepEqual(parseS3Config(target({ profile: "p1" }), env).credentials, {
      kind: "profile",
      profile: "p1",
    });
    assert.deepEqual(parseS3Config(target({}), { AWS_PROFILE: "envprofile" }).credentials, {
      kind: "profile",
      profile: "envprofile",
    });
    assert.deepEqual(parseS3Config(target({}), {}).credentials, { kind: "chain" });
  });

  test("region: the option as given (BR leaves it empty); the SDK's falls back to the env", () => {
    const given = parseS3Config(target({ region: "eu-west-1" }), { AWS_REGION: "x" });
    assert.deepEqual([given.region, given.sdkRegion], ["eu-west-1", "eu-west-1"]);
    const env = parseS3Config(target({}), { AWS_REGION: "ap-south-1" });
    assert.deepEqual([env.region, env.sdkRegion], ["", "ap-south-1"]);
    assert.equal(
      parseS3Config(target({}), { AWS_DEFAULT_REGION: "us-west-2" }).sdkRegion,
      "us-west-2",
    );
    assert.deepEqual(
      [parseS3Config(target({}), {}).region, parseS3Config(target({}), {}).sdkRegion],
      ["", "us-east-1"],
    );
  });

  test("force-path-style defaults to false as BR's ParseBackend; the CLI default is BR's", () => {
    assert.equal(parseS3Config(target({}), {}).forcePathStyle, false);
    const withEndpoint = parseS3Config(target({ endpoint: "http://127.0.0.1:9000/" }), {});
    assert.equal(withEndpoint.forcePathStyle, false);
    assert.equal(withEndpoint.endpoint, "http://127.0.0.1:9000");
    assert.equal(parseS3Config(target({ "force-path-style": "1" }), {}).forcePathStyle, true);
    assert.equal(s3ForcePathStyle("s3://b/p", {}), true);
    assert.equal(s3ForcePathStyle("s3://b/p", { endpoint: "http://127.0.0.1:7480" }), true);
    assert.equal(s3ForcePathStyle("s3://b/p", { provider: "aws" }), false);
    assert.equal(
      s3ForcePathStyle("s3://b/p", { endpoint: "https://s3.us-west-2.amazonaws.com" }),
      false,
    );
    assert.equal(
      s3ForcePathStyle("s3://b/p", { "role-arn": "arn:aws:iam::1:role/r" }),
      false,
    );
    assert.equal(s3ForcePathStyle("s3://b/p", { provider: "alibaba" }), false);
    assert.equal(s3ForcePathStyle("s3://b/p", { "use-accelerate-endpoint": "true" }), false);
  });

  test("values BR passes through are kept; the endpoint and the key pair are checked", () => {
    const c = parseS3Config(
      target({ sse: "rot13", acl: "everyone", "sse-kms-key-id": "k", "external-id": "e" }),
      {},
    );
    assert.deepEqual([c.sse, c.acl, c.sseKmsKeyId, c.externalId], ["rot13", "everyone", "k", "e"]);
    invalid(() => parseS3Config(target({}, ""), {}), /missing bucket/);
    invalid(() => parseS3Config(target({ endpoint: "minio:9000" }), {}), /'endpoint'/);
    invalid(() => parseS3Config(target({ endpoint: "ftp://x" }), {}), /http:\/\/ or https/);
    invalid(() => parseS3Config(target({ "access-key": "a" }), {}), /secret_access_key not found/);
    invalid(() => parseS3Config(target({ "secret-access-key": "a" }), {}), /access_key not found/);
    // With a profile the pair may be partial (BR's TestS3ProfileCredentialsValidation).
    const p = parseS3Config(target({ profile: "dev", "access-key": "override-key" }), {});
    assert.equal(p.profile, "dev");
  });
});

/** The host and path the client would send a GetObject to, without sending it. */
async function requestTarget(options: Record<string, string>): Promise<string> {
  const cfg = parseS3Config(
    target({ "access-key": "a", "secret-access-key": "b", ...options }),
    {},
  );
  const client = makeS3Client(cfg);
  let seen = "";
  client.middlewareStack.add(
    () => (args) => {
      const req = args.request as { hostname: string; path: string; port?: number };
      seen = `${req.hostname}${req.port ? `:${req.port}` : ""}${req.path}`;
      return Promise.reject(new Error("captured"));
    },
    { step: "finalizeRequest", priority: "low" },
  );
  const { GetObjectCommand } = await import("@aws-sdk/client-s3");
  await assert.rejects(client.send(new GetObjectCommand({ Bucket: "bkt", Key: "p/q/k" })));
  client.destroy();
  return seen;
}

describe("s3 addressing", () => {
  test("path-style puts the bucket in the path, virtual-host style in the host name", async () => {
    assert.equal(
      await requestTarget({ endpoint: "http://s3.example.com:9000", "force-path-style": "true" }),
      "s3.example.com:9000/bkt/p/q/k",
    );
    assert.equal(
      await requestTarget({ endpoint: "http://s3.example.com:9000", "force-path-style": "false" }),
      "bkt.s3.example.com:9000/p/q/k",
    );
    assert.equal(
      await requestTarget({ region: "eu-west-1" }),
      "bkt.s3.eu-west-1.amazonaws.com/p/q/k",
    );
  });
});

describe("s3 error mapping", () => {
  const ctx = { where: "s3://bkt/p", bucket: "bkt", endpointName: "http://x" };
  const err = (name: string, status?: number, extra: Record<string, unknown> = {}) => ({
    name,
    ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }),
    ...extra,
  });

  test("throttling is RateLimited and temporary", () => {
    for (const e of [err("SlowDown", 503), err("TooManyRequests", 429), err("Throttling", 400)]) {
      const m = classifyS3(e, ctx);
      assert.equal(m.code, "RateLimited", JSON.stringify(e));
      assert.equal(m.temporary, true);
    }
  });

  test("server errors and resets are temporary; client errors are not", () => {
    assert.deepEqual(
      [classifyS3(err("InternalError", 500), ctx).code, classifyS3(err("x", 502), ctx).temporary],
      ["Unexpected", true],
    );
    const reset = classifyS3(
      Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }),
      ctx,
    );
    assert.deepEqual([reset.code, reset.temporary], ["Unexpected", true]);
    const dns = classifyS3(Object.assign(new Error("getaddrinfo"), { code: "ENOTFOUND" }), ctx);
    assert.equal(dns.temporary, false, "a name that does not resolve is not retried");
    assert.equal(classifyS3(err("MalformedXML", 400), ctx).temporary, false);
  });

  test("each S3 code maps to its StorageError code", () => {
    const cases: [unknown, string][] = [
      [err("NoSuchKey", 404), "NotFound"],
      [err("NotFound", 404), "NotFound"],
      [err("NoSuchBucket", 404), "NotFound"],
      [err("PreconditionFailed", 412), "ConditionNotMatch"],
      [err("ConditionalRequestConflict", 409), "ConditionNotMatch"],
      [err("AccessDenied", 403), "PermissionDenied"],
      [err("InvalidAccessKeyId", 403), "PermissionDenied"],
      [err("SignatureDoesNotMatch", 403), "PermissionDenied"],
      [err("ExpiredToken", 400), "PermissionDenied"],
      [err("InvalidBucketName", 400), "ConfigInvalid"],
      [err("PermanentRedirect", 301), "ConfigInvalid"],
      [err("NotImplemented", 501), "Unsupported"],
    ];
    for (const [e, code] of cases) assert.equal(classifyS3(e, ctx).code, code, JSON.stringify(e));
    assert.match(classifyS3(err("NoSuchBucket", 404), ctx).what, /bucket "bkt" does not exist/);
  });
});
