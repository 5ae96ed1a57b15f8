/**
 * The azure plugin against Azurite (the npm devDependency) started for this file, with an
 * account whose key holds '+' and '/'. Runs the conformance suite through the registry, then
 * SAS tokens, environment credentials, wrong keys, a missing container and an unreachable
 * endpoint.
 * @module
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import { runStorageConformance } from "../../src/storage/conformance.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { assertOneLine, backendValue, empty, openError } from "./_cloud.ts";
import { freePort, startAzurite } from "../_support/servers.ts";

const azurite = await startAzurite();
after(() => azurite.stop());

const CONTAINER = "tibr-conformance";
const sharedKey = new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey);
await new BlobServiceClient(azurite.endpoint, sharedKey).getContainerClient(CONTAINER).create();

function url(prefix: string, key = azurite.accountKey, container = CONTAINER): string {
  return `azure://${container}/${prefix}?endpoint=${azurite.endpoint}` +
    `&account-name=${azurite.accountName}&account-key=${key}`;
}

let run = 0;
runStorageConformance({
  name: "azure (Azurite)",
  create: () => openStorage(url(`conformance/${Date.now()}-${run++}`), { env: {} }),
  cleanup: empty,
});

/** A read-write SAS for the container, valid for an hour. */
function containerSas(): string {
  return generateBlobSASQueryParameters({
    containerName: CONTAINER,
    permissions: ContainerSASPermissions.parse("racwdl"),
    expiresOn: new Date(Date.now() + 3600_000),
  }, sharedKey).toString();
}

describe("azure plugin failures and options", () => {
  test("a wrong account key fails with PermissionDenied in one line hiding the key", async () => {
    const wrong = "V3JvbmcrS2V5L3dpdGgrcGx1cy9zbGFzaA+/+/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
    const err = await openError(url("x", wrong));
    assert.equal(err.code, "PermissionDenied", err.message);
    assert.match(err.message, /access denied .*check account-name and account-key/);
    assertOneLine(err, wrong, azurite.accountKey);
  });

  test("a SAS token works, and a bad one is PermissionDenied without its signature", async () => {
    const sas = containerSas();
    const loc = `azblob://${CONTAINER}/sas?endpoint=${azurite.endpoint}&sas-token=` +
      encodeURIComponent(sas);
    const s = await openStorage(loc, { env: {} });
    try {
      await s.writeFile("k", new Uint8Array([1, 2]));
      assert.deepEqual([...await s.readFile("k")], [1, 2]);
      assert.equal(s.uri().includes("sig="), false, s.uri());
      assert.equal(backendValue(s.storageBackend(true), "azureBlobStorage")["accessSig"], sas);
      assert.equal(
        backendValue(s.storageBackend(false), "azureBlobStorage")["accessSig"],
        undefined,
      );
      await s.deleteFile("k");
    } finally {
      await s.close();
    }
    const sig = new URLSearchParams(sas).get("sig")!;
    const forged = sas.replace(
      /sig=[^&]+/,
      `sig=${encodeURIComponent("Zm9yZ2VkK3NpZy9uYXR1cmU=")}`,
    );
    const err = await openError(
      `azblob://${CONTAINER}/sas?endpoint=${azurite.endpoint}&sas-token=${
        encodeURIComponent(forged)
      }`,
    );
    assert.equal(err.code, "PermissionDenied", err.message);
    assert.match(err.message, /check the sas-token/);
    assertOneLine(err, sig, "Zm9yZ2VkK3NpZy9uYXR1cmU=");
  });

  test("AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY are the fallback credentials", async () => {
    const s = await openStorage(`azure://${CONTAINER}/env?endpoint=${azurite.endpoint}`, {
      env: { AZURE_STORAGE_ACCOUNT: azurite.accountName, AZURE_STORAGE_KEY: azurite.accountKey },
    });
    try {
      const st = await s.writeFile("k", new Uint8Array([9]));
      assert.match(st.version, /^"0x[0-9A-F]+"$/, "the version is the ETag");
      await s.deleteFile("k");
    } finally {
      await s.close();
    }
  });

  test("no credentials at all is ConfigInvalid saying what to set", async () => {
    const err = await openError(`azure://${CONTAINER}/x?account-name=acct`);
    assert.equal(err.code, "ConfigInvalid");
    assert.match(err.message, /no Azure credentials: set account-key or sas-token/);
  });

  test("a missing container fails with NotFound naming it", async () => {
    const err = await openError(url("x", azurite.accountKey, "no-such-container"));
    assert.equal(err.code, "NotFound");
    assert.match(err.message, /container "no-such-container" does not exist/);
    assertOneLine(err, azurite.accountKey);
  });

  test("an unreachable endpoint fails saying so", async () => {
    const port = await freePort();
    const err = await openError(
      `azure://${CONTAINER}/x?endpoint=http://127.0.0.1:${port}/acct&account-name=acct` +
        `&account-key=${azurite.accountKey}`,
    );
    assert.equal(err.code, "Unexpected");
    assert.match(err.message, /cannot reach http:\/\/127\.0\.0\.1:\d+\/acct \(ECONNREFUSED\)/);
    assertOneLine(err, azurite.accountKey);
  });

  test("uri() hides the key; storageBackend sends it only when asked", async () => {
    const s = await openStorage(url("backend") + "&access-tier=Cool", { env: {} });
    try {
      assert.equal(s.uri(), `azure://${CONTAINER}/backend?endpoint=${azurite.endpoint}`);
      const hidden = backendValue(s.storageBackend(false), "azureBlobStorage");
      assert.equal(hidden["bucket"], CONTAINER);
      assert.equal(hidden["prefix"], "backend");
      assert.equal(hidden["accountName"], azurite.accountName);
      assert.equal(hidden["storageClass"], "Cool");
      assert.equal(hidden["sharedKey"], undefined);
      assert.equal(JSON.stringify(hidden).includes(azurite.accountKey), false);
      const shown = backendValue(s.storageBackend(true), "azureBlobStorage");
      assert.equal(shown["sharedKey"], azurite.accountKey);
      // The tier applies to what is written.
      await s.writeFile("tiered", new Uint8Array([1]));
      const props = await new BlobServiceClient(azurite.endpoint, sharedKey)
        .getContainerClient(CONTAINER).getBlobClient("backend/tiered").getProperties();
      assert.equal(props.accessTier, "Cool");
      await s.deleteFile("tiered");
    } finally {
      await s.close();
    }
  });

  test("a large create() stages blocks and commits them as one blob", async () => {
    const prefix = `blocks/${Date.now()}`;
    const s = await openStorage(url(prefix), { env: {} });
    try {
      const w = await s.create("big", { partSize: 1 << 20, concurrency: 3 });
      const chunk = new Uint8Array(300_000);
      for (let i = 0; i < 10; i++) await w.write(chunk.fill(i));
      const st = await w.close();
      assert.equal(st.size, 3_000_000);
      const blocks = await new BlobServiceClient(azurite.endpoint, sharedKey)
        .getContainerClient(CONTAINER).getBlockBlobClient(`${prefix}/big`)
        .getBlockList("committed");
      assert.equal(blocks.committedBlocks?.length, 3, "three 1 MiB blocks");
      const back = await s.readFile("big");
      for (let i = 0; i < 10; i++) assert.equal(back[i * 300_000], i);
    } finally {
      await s.close();
    }
  });
});
