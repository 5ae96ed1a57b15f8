import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { isStorageError } from "../../src/storage/errors.ts";
import type { StorageTarget } from "../../src/storage/plugin.ts";
import { gcsCredentials, parseGcsConfig } from "./_config.ts";
import { classifyGcs } from "./_errors.ts";

const dir = mkdtempSync(join(tmpdir(), "tibr-gcs-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function target(options: Record<string, string>, bucket = "bkt"): StorageTarget {
  return { scheme: "gcs", bucket, prefix: "/a/b/", options };
}

async function invalid(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e) => isStorageError(e, "ConfigInvalid") && pattern.test(e.message));
}

describe("gcs options", () => {
  test("credentials-file wins over GOOGLE_APPLICATION_CREDENTIALS; the blob is kept", async () => {
    const a = join(dir, "a.json");
    const b = join(dir, "b.json");
    writeFileSync(a, JSON.stringify({ type: "service_account", client_email: "a@x" }));
    writeFileSync(b, JSON.stringify({ type: "service_account", client_email: "b@x" }));
    const env = { GOOGLE_APPLICATION_CREDENTIALS: b };
    const fromOpt = await parseGcsConfig(target({ "credentials-file": a }), env);
    assert.equal(gcsCredentials(fromOpt)?.["client_email"], "a@x");
    assert.equal(fromOpt.credentialsSource, "gcs option 'credentials-file'");
    const fromEnv = await parseGcsConfig(target({}), env);
    assert.equal(gcsCredentials(fromEnv)?.["client_email"], "b@x");
    assert.equal(JSON.parse(fromEnv.credentialsBlob!).client_email, "b@x");
    const none = await parseGcsConfig(target({}), {});
    assert.equal(gcsCredentials(none), undefined);
    assert.equal(none.prefix, "a/b");
  });

  test("storage class and predefined ACL pass through unchecked, as BR", async () => {
    const c = await parseGcsConfig(
      target({ "storage-class": "nearline", "predefined-acl": "1234" }),
      {},
    );
    assert.equal(c.storageClass, "nearline");
    assert.equal(c.predefinedAcl, "1234");
  });

  test("bad input is ConfigInvalid naming what to fix", async () => {
    await invalid(parseGcsConfig(target({}, ""), {}), /missing bucket/);
    await invalid(parseGcsConfig(target({ endpoint: "localhost:4443" }), {}), /'endpoint'/);
    await invalid(
      parseGcsConfig(target({}), { GOOGLE_APPLICATION_CREDENTIALS: join(dir, "none.json") }),
      /cannot read the credentials file .* GOOGLE_APPLICATION_CREDENTIALS \(ENOENT\)/,
    );
  });

  test("a credentials file that is not JSON is kept as the blob; using it says it is not JSON", async () => {
    const notJson = join(dir, "bad.json");
    writeFileSync(notJson, "not json");
    const c = await parseGcsConfig(target({ "credentials-file": notJson }), {});
    assert.equal(c.credentialsBlob, "not json");
    assert.throws(
      () => gcsCredentials(c),
      (e) => isStorageError(e, "ConfigInvalid") && /is not JSON/.test(e.message),
    );
  });
});

describe("gcs error mapping", () => {
  const ctx = { where: "gcs://bkt", bucket: "bkt", endpointName: "http://x" };
  test("statuses map to codes; 429 and 5xx are temporary", () => {
    const cases: [unknown, string, boolean][] = [
      [{ code: 404, message: "No such object: bkt/x" }, "NotFound", false],
      [{ code: 412 }, "ConditionNotMatch", false],
      [{ code: 401 }, "PermissionDenied", false],
      [{ code: 403 }, "PermissionDenied", false],
      [{ code: 429 }, "RateLimited", true],
      [{ code: 503 }, "Unexpected", true],
      [{ code: 400, errors: [{ reason: "invalid" }] }, "Unexpected", false],
      [{ response: { status: 400, data: { error: "invalid_grant" } } }, "PermissionDenied", false],
      [Object.assign(new Error("reset"), { code: "ECONNRESET" }), "Unexpected", true],
    ];
    for (const [e, code, temporary] of cases) {
      const m = classifyGcs(e, ctx);
      assert.deepEqual([m.code, m.temporary], [code, temporary], JSON.stringify(e));
    }
    const bucket = classifyGcs({ code: 404, message: "The specified bucket does not exist." }, ctx);
    assert.match(bucket.what, /bucket "bkt" does not exist/);
  });
});
