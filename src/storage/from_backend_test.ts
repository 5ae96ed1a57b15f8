import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { StorageBackendSchema } from "../gen/brpb_pb.ts";
import { isStorageError } from "./errors.ts";
import { backendKind, storageFromBackend, targetOfBackend } from "./from_backend.ts";

const backend = (b: Parameters<typeof create<typeof StorageBackendSchema>>[1]) =>
  create(StorageBackendSchema, b);

describe("storage from a StorageBackend message", () => {
  test("local writes where the message's path says", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tibr-fb-"));
    try {
      const b = backend({ backend: { case: "local", value: { path: dir } } });
      assert.equal(backendKind(b), "local");
      const s = await storageFromBackend(b);
      await s.writeFile("1/x.sst", new Uint8Array([1, 2]));
      await s.close();
      assert.deepEqual([...readFileSync(join(dir, "1/x.sst"))], [1, 2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("noop discards writes", async () => {
    const s = await storageFromBackend(backend({ backend: { case: "noop", value: {} } }));
    await s.writeFile("a", new Uint8Array([1]));
    assert.equal(await s.fileExists("a"), false);
    await s.close();
  });

  test("s3, gcs and azure fields become the plugins' options", () => {
    const s3 = targetOfBackend(backend({
      backend: {
        case: "s3",
        value: {
          endpoint: "http://127.0.0.1:9000",
          region: "us-east-1",
          bucket: "bkt",
          prefix: "p/q",
          accessKey: "AK",
          secretAccessKey: "SK",
          forcePathStyle: true,
          sse: "aws:kms",
        },
      },
    }));
    assert.deepEqual(s3.target, {
      scheme: "s3",
      bucket: "bkt",
      prefix: "p/q",
      options: {
        endpoint: "http://127.0.0.1:9000",
        region: "us-east-1",
        "access-key": "AK",
        "secret-access-key": "SK",
        "force-path-style": "true",
        sse: "aws:kms",
      },
    });
    const gcs = targetOfBackend(backend({
      backend: { case: "gcs", value: { bucket: "g", prefix: "x", credentialsBlob: "{}" } },
    }));
    assert.equal(gcs.target.scheme, "gcs");
    assert.equal(gcs.gcsCredentialsBlob, "{}");
    const az = targetOfBackend(backend({
      backend: {
        case: "azureBlobStorage",
        value: { bucket: "c", accountName: "acct", sharedKey: "KEY", accessSig: "" },
      },
    }));
    assert.deepEqual(az.target.options, { "account-name": "acct", "account-key": "KEY" });
  });

  test("empty, HDFS and malformed backends are refused with one line", async () => {
    for (
      const [b, code] of [
        [undefined, "ConfigInvalid"],
        [backend({}), "ConfigInvalid"],
        [backend({ backend: { case: "local", value: { path: "" } } }), "ConfigInvalid"],
        [backend({ backend: { case: "hdfs", value: { remote: "hdfs://x" } } }), "Unsupported"],
      ] as const
    ) {
      await assert.rejects(storageFromBackend(b), (err: Error) => {
        assert.ok(isStorageError(err, code), `${err.message}`);
        assert.ok(!err.message.includes("\n"));
        return true;
      });
    }
  });
});
