/**
 * The checkpoint lock on Azure Blob (Azurite started for this file): exactly one of 8
 * concurrent runs wins, on a free lock and on an expired one, and fencing after a takeover.
 * @module
 */
import { after, describe } from "node:test";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { openStorage } from "../../src/storage/registry.ts";
import { startAzurite } from "../_support/servers.ts";
import { lockRaceTests } from "./_race.ts";

const azurite = await startAzurite();
after(() => azurite.stop());
const CONTAINER = "tibr-checkpoint-lock";
const key = new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey);
await new BlobServiceClient(azurite.endpoint, key).getContainerClient(CONTAINER).create();

let n = 0;
describe("azure (Azurite)", () => {
  lockRaceTests("azure", {
    open: () =>
      openStorage(
        `azure://${CONTAINER}/lock-${Date.now()}-${n++}?endpoint=${azurite.endpoint}` +
          `&account-name=${azurite.accountName}&account-key=${azurite.accountKey}`,
        { env: {} },
      ),
    runners: 8,
    rounds: 10,
    takeoverRounds: 5,
  });
});
