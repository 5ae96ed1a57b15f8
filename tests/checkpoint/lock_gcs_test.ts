/**
 * The checkpoint lock on GCS (the fake GCS server of `tests/gcs_server/`, which honours
 * generation preconditions, started for this file): exactly one of 8 concurrent runs wins, on a
 * free lock and on an expired one, and fencing after a takeover.
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe } from "node:test";
import { openStorage } from "../../src/storage/registry.ts";
import { gcsServiceAccount, startFakeGcsServer } from "../_support/servers.ts";
import { lockRaceTests } from "./_race.ts";

const BUCKET = "tibr-checkpoint-lock";
const dir = mkdtempSync(join(tmpdir(), "tibr-gcs-lock-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const { email, pubFile, credFile } = gcsServiceAccount(
  dir,
  "tibr-lock@tibr-test.iam.gserviceaccount.com",
);
const server = await startFakeGcsServer({ buckets: [BUCKET], accounts: { [email]: pubFile } });
after(() => server.stop());

let n = 0;
describe("gcs (fake GCS server)", () => {
  lockRaceTests("gcs", {
    open: () =>
      openStorage(
        `gcs://${BUCKET}/lock-${Date.now()}-${n++}?endpoint=${server.endpoint}` +
          `&credentials-file=${credFile}`,
        { env: {} },
      ),
    runners: 8,
    rounds: 10,
    takeoverRounds: 5,
  });
});
