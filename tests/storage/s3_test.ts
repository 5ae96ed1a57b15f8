/**
 * The s3 plugin against a real S3 server: Ceph RADOS Gateway started for this file (Debian
 * packages installed when missing). Runs the conformance suite through the registry (so URL
 * parsing is covered, with a secret holding '+' and '/'), then the failures a user meets:
 * wrong keys, a missing bucket, an unreachable endpoint, throttling.
 * @module
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { CreateBucketCommand, ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { runStorageConformance } from "../../src/storage/conformance.ts";
import { isStorageError } from "../../src/storage/errors.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { assertOneLine, backendValue, empty, openError } from "./_cloud.ts";
import { freePort, startCephRgw } from "../_support/servers.ts";

const rgw = await startCephRgw();
after(() => rgw.stop());

const BUCKET = "tibr-conformance";
const admin = new S3Client({
  endpoint: rgw.endpoint,
  region: rgw.region,
  forcePathStyle: true,
  credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
});
await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
after(() => admin.destroy());

/** A URL as a user writes it: the secret raw, '+' and '/' included. */
function url(prefix: string, extra = "", secret = rgw.secretKey, bucket = BUCKET): string {
  return `s3://${bucket}/${prefix}?endpoint=${rgw.endpoint}&access-key=${rgw.accessKey}` +
    `&secret-access-key=${secret}${extra}`;
}

/** Removes everything under a storage so RGW's in-memory OSD does not fill up. */

let run = 0;
runStorageConformance({
  name: "s3 (Ceph RGW)",
  create: () => openStorage(url(`conformance/${Date.now()}-${run++}`), { env: {} }),
  cleanup: empty,
});

describe("s3 plugin failures and options", () => {
  test("wrong credentials fail with PermissionDenied in one line that hides the secret", async () => {
    const secret = "Wr0ng+secret/with+plus/and+slash";
    const err = await openError(url("x", "", secret));
    assert.equal(err.code, "PermissionDenied", err.message);
    assert.match(err.message, /access denied.*check access-key and secret-access-key/);
    assertOneLine(err, secret, rgw.secretKey);
  });

  test("a missing bucket fails with NotFound naming the bucket", async () => {
    const err = await openError(url("x", "", rgw.secretKey, "no-such-bucket"));
    assert.equal(err.code, "NotFound");
    assert.match(err.message, /bucket "no-such-bucket" does not exist/);
    assertOneLine(err, rgw.secretKey);
  });

  test("an unreachable endpoint fails fast saying so", async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await openError(
      `s3://${BUCKET}/x?endpoint=http://127.0.0.1:${port}&access-key=a&secret-access-key=b+c/d`,
    );
    assert.equal(err.code, "Unexpected");
    assert.match(err.message, /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    assert.ok(Date.now() - started < 10_000, "no long retry loop while opening");
    assertOneLine(err, "b+c/d");
  });

  test("an endpoint without a scheme is ConfigInvalid", async () => {
    const e1 = await openError(`s3://${BUCKET}/x?endpoint=127.0.0.1:9000`);
    assert.equal(e1.code, "ConfigInvalid");
    assert.match(e1.message, /s3 option 'endpoint'.*http\(s\):\/\/host:port/);
  });

  test("uri() and storageBackend(false) carry no secret; storageBackend(true) does", async () => {
    const s = await openStorage(url("backend", "&storage-class=STANDARD&sse=AES256"), {
      env: {},
    });
    try {
      assert.equal(s.uri(), `s3://${BUCKET}/backend?endpoint=${rgw.endpoint}`);
      const hidden = s.storageBackend(false);
      const v = backendValue(hidden, "s3");
      assert.equal(v["bucket"], BUCKET);
      assert.equal(v["prefix"], "backend");
      assert.equal(v["endpoint"], rgw.endpoint);
      assert.equal(v["forcePathStyle"], true);
      assert.equal(v["storageClass"], "STANDARD");
      assert.equal(v["sse"], "AES256");
      assert.equal(JSON.stringify(hidden).includes(rgw.secretKey), false);
      assert.equal(v["secretAccessKey"], undefined);
      const shown = backendValue(s.storageBackend(true), "s3");
      assert.equal(shown["accessKey"], rgw.accessKey);
      assert.equal(shown["secretAccessKey"], rgw.secretKey);
    } finally {
      await s.close();
    }
  });

  test("credentials fall back to AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY", async () => {
    const s = await openStorage(`s3://${BUCKET}/envcreds?endpoint=${rgw.endpoint}`, {
      env: { AWS_ACCESS_KEY_ID: rgw.accessKey, AWS_SECRET_ACCESS_KEY: rgw.secretKey },
    });
    try {
      await s.writeFile("k", new Uint8Array([1, 2, 3]));
      assert.deepEqual([...await s.readFile("k")], [1, 2, 3]);
      const b = backendValue(s.storageBackend(true), "s3");
      assert.equal(b["secretAccessKey"], rgw.secretKey, "resolved keys are forwarded");
      await s.deleteFile("k");
    } finally {
      await s.close();
    }
  });

  test("a profile from AWS_PROFILE and AWS_SHARED_CREDENTIALS_FILE supplies the keys", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tibr-aws-"));
    try {
      const file = join(dir, "credentials");
      writeFileSync(
        file,
        `[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n` +
          `[tibr]\naws_access_key_id = ${rgw.accessKey}\naws_secret_access_key = ${rgw.secretKey}\n`,
      );
      const s = await openStorage(`s3://${BUCKET}/profile?endpoint=${rgw.endpoint}`, {
        env: { AWS_PROFILE: "tibr", AWS_SHARED_CREDENTIALS_FILE: file },
      });
      await s.writeFile("k", new Uint8Array([5]));
      assert.equal(backendValue(s.storageBackend(false), "s3")["profile"], "tibr");
      await s.deleteFile("k");
      await s.close();
      const err = await openError(
        `s3://${BUCKET}/profile?endpoint=${rgw.endpoint}&profile=default`,
        {
          AWS_SHARED_CREDENTIALS_FILE: file,
        },
      );
      assert.equal(err.code, "PermissionDenied");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("role-arn assumes the role through STS and writes with its temporary keys", async () => {
    const s = await openStorage(url("role", `&role-arn=${rgw.roleArn}&external-id=tibr`), {
      env: {},
    });
    try {
      await s.writeFile("k", new Uint8Array([4, 2]));
      assert.deepEqual([...await s.readFile("k")], [4, 2]);
      const b = backendValue(s.storageBackend(true), "s3");
      assert.equal(b["roleArn"], rgw.roleArn);
      assert.equal(b["externalId"], "tibr");
      assert.notEqual(b["accessKey"], rgw.accessKey, "the role's temporary key is forwarded");
      assert.ok(String(b["sessionToken"]).length > 0, "with its session token");
      await s.deleteFile("k");
    } finally {
      await s.close();
    }
    const err = await openError(url("role", "&role-arn=arn:aws:iam:::role/no-such-role"));
    assert.equal(err.code, "PermissionDenied", err.message);
    assert.match(err.message, /STS AssumeRole was refused .*check role-arn/);
  });

  test("aborting a multipart writer aborts the upload on the server", async () => {
    const prefix = `abort-mp/${Date.now()}`;
    const s = await openStorage(url(prefix), { env: {} });
    const listUploads = async () =>
      (await admin.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix })))
        .Uploads ?? [];
    const chunk = new Uint8Array(1 << 20).fill(1);
    try {
      // Aborted while parts are in flight, once the upload surely exists.
      const w = await s.create("a.bin", { partSize: 5 << 20, concurrency: 2 });
      for (let i = 0; i < 12; i++) await w.write(chunk); // two parts sent, one buffered
      for (let i = 0; i < 50 && (await listUploads()).length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal((await listUploads()).length, 1, "the multipart upload is in progress");
      await w.abort(new Error("test"));
      assert.deepEqual(await listUploads(), [], "no multipart upload is left");
      assert.equal(await s.fileExists("a.bin"), false);

      // Aborted at once, while the upload may still be being created.
      const w2 = await s.create("b.bin", { partSize: 5 << 20, concurrency: 2 });
      for (let i = 0; i < 6; i++) await w2.write(chunk);
      await w2.abort(new Error("test"));
      assert.deepEqual(await listUploads(), [], "an upload created during the abort is aborted");
    } finally {
      await s.close();
    }
  });
});

describe("s3 plugin against a throttling server", () => {
  test("503 SlowDown is RateLimited, retried once by the retry layer, not by the SDK", async () => {
    let puts = 0;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on("end", () => {
        if (req.method === "PUT") {
          puts++;
          if (puts === 1) {
            res.writeHead(503, { "content-type": "application/xml" });
            res.end(
              '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>' +
                "<Message>Please reduce your request rate.</Message></Error>",
            );
            return;
          }
          res.writeHead(200, { etag: '"abc123"' });
          res.end();
          return;
        }
        res.writeHead(200); // HeadBucket
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const base = `s3://bkt/p?endpoint=http://127.0.0.1:${port}&access-key=a&secret-access-key=b`;
    try {
      const bare = await openStorage(base, { env: {}, layers: false });
      const err = await bare.writeFile("x", new Uint8Array(1)).then(
        () => assert.fail("the first PUT should be throttled"),
        (e: unknown) => e,
      );
      assert.ok(isStorageError(err, "RateLimited"), String(err));
      assert.equal(err.temporary, true);
      assert.equal(puts, 1, "the SDK did not retry on its own");
      await bare.close();

      puts = 0;
      const layered = await openStorage(base, { env: {} });
      const st = await layered.writeFile("x", new Uint8Array(1));
      assert.equal(st.version, "abc123");
      assert.equal(puts, 2, "one throttled attempt, one retry");
      await layered.close();
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
