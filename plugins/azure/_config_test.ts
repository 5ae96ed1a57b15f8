import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, test } from "node:test";
import { isStorageError } from "../../src/storage/errors.ts";
import type { StorageTarget } from "../../src/storage/plugin.ts";
import { parseAzureConfig } from "./_config.ts";
import { classifyAzure } from "./_errors.ts";

function target(options: Record<string, string>, bucket = "ctr"): StorageTarget {
  return { scheme: "azure", bucket, prefix: "p", options };
}

function invalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e) => isStorageError(e, "ConfigInvalid") && pattern.test(e.message));
}

describe("azure options", () => {
  test("a SAS wins over a key, which wins over AZURE_STORAGE_KEY", () => {
    const env = { AZURE_STORAGE_ACCOUNT: "envacct", AZURE_STORAGE_KEY: "ZW52+a2V5/" };
    const sas = parseAzureConfig(target({ "sas-token": "?sv=1&sig=abc", "account-key": "k" }), env);
    assert.deepEqual(sas.credentials, { kind: "sas", token: "sv=1&sig=abc" });
    assert.equal(sas.endpoint, "https://envacct.blob.core.windows.net");
    const key = parseAzureConfig(target({ "account-name": "a", "account-key": "a2V5+/" }), env);
    assert.deepEqual(key.credentials, {
      kind: "sharedKey",
      accountName: "a",
      accountKey: "a2V5+/",
      fromEnv: false,
    });
    const fromEnv = parseAzureConfig(target({}), env);
    assert.deepEqual(fromEnv.credentials, {
      kind: "sharedKey",
      accountName: "envacct",
      accountKey: "ZW52+a2V5/",
      fromEnv: true,
    });
  });

  test("endpoint, access tier and encryption options are checked", () => {
    const c = parseAzureConfig(
      target({
        endpoint: "http://127.0.0.1:10000/devstoreaccount1/",
        "account-name": "devstoreaccount1",
        "account-key": "a2V5",
        "access-tier": "cool",
        "encryption-scope": "scope1",
      }),
      {},
    );
    assert.equal(c.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
    assert.equal(c.endpointGiven, true);
    assert.equal(c.accessTier, "Cool");
    assert.equal(c.encryptionScope, "scope1");
    const key = Buffer.alloc(32, 7).toString("base64");
    const cpk = parseAzureConfig(
      target({ "account-name": "a", "account-key": "k", "encryption-key": key }),
      {},
    );
    assert.equal(cpk.customerKey?.encryptionKey, key);
    assert.equal(cpk.customerKey?.encryptionKeySha256.length, 44);
    const warm = target({ "account-name": "a", "sas-token": "s", "access-tier": "Warm" });
    assert.equal(parseAzureConfig(warm, {}).accessTier, "Warm", "passed through as BR");
  });

  test("bad input is ConfigInvalid naming what to set", () => {
    invalid(() => parseAzureConfig(target({}, ""), {}), /missing container/);
    invalid(() => parseAzureConfig(target({ "account-key": "k" }), {}), /no Azure storage account/);
    invalid(() => parseAzureConfig(target({ "account-name": "a" }), {}), /no Azure credentials/);
    invalid(
      () =>
        parseAzureConfig(target({ "account-name": "a" }), {
          AZURE_CLIENT_ID: "c",
          AZURE_TENANT_ID: "t",
        }),
      /Azure AD .* not supported yet/,
    );
    invalid(
      () => parseAzureConfig(target({ endpoint: "http://x", "account-key": "k" }), {}),
      /needs the account name/,
    );
    invalid(
      () =>
        parseAzureConfig(
          target({ "account-name": "a", "sas-token": "s", "encryption-key": "c2hvcnQ=" }),
          {},
        ),
      /AES-256 key/,
    );
  });
});

describe("azure error mapping", () => {
  const ctx = {
    where: "azure://ctr",
    container: "ctr",
    endpointName: "http://x",
    credentialFix: "check the key",
  };
  test("codes and statuses map to StorageError codes", () => {
    const cases: [unknown, string, boolean][] = [
      [{ statusCode: 404, code: "BlobNotFound" }, "NotFound", false],
      [{ statusCode: 404, code: "ContainerNotFound" }, "NotFound", false],
      [{ statusCode: 412, code: "ConditionNotMet" }, "ConditionNotMatch", false],
      [{ statusCode: 403, code: "AuthenticationFailed" }, "PermissionDenied", false],
      [{ statusCode: 503, code: "ServerBusy" }, "RateLimited", true],
      [{ statusCode: 500, code: "InternalError" }, "Unexpected", true],
      [{ code: "REQUEST_SEND_ERROR" }, "Unexpected", true],
      [{ statusCode: 400, code: "InvalidHeaderValue" }, "Unexpected", false],
    ];
    for (const [e, code, temporary] of cases) {
      const m = classifyAzure(e, ctx);
      assert.deepEqual([m.code, m.temporary], [code, temporary], JSON.stringify(e));
    }
    const exists = classifyAzure({ statusCode: 409, code: "BlobAlreadyExists" }, {
      ...ctx,
      precondition: "ifNoneMatch",
    });
    assert.deepEqual([exists.code, exists.what], [
      "ConditionNotMatch",
      "the object already exists",
    ]);
  });
});
