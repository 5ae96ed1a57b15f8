/**
 * The checkpoint lock on GCS (the fake GCS server of `tests/gcs_server/`, which honours
 * generation preconditions, started for this file): exactly one of 8 concurrent runs wins, on a
 * free lock and on an expired one, and fencing after a takeover.
 * @module
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe } from "node:test";
import { openStorage } from "../../src/storage/registry.ts";
import { startFakeGcsServer } from "../_support/servers.ts";
import { lockRaceTests } from "./_race.ts";

const EMAIL = "tibr-lock@tibr-test.iam.gserviceaccount.com";
const BUCKET = "tibr-checkpoint-lock";
const dir = mkdtempSync(join(tmpdir(), "tibr-gcs-lock-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const pubFile = join(dir, "sa.pub.pem");
const credFile = join(dir, "sa.json");
writeFileSync(pubFile, publicKey.export({ type: "spki", format: "pem" }) as string);
writeFileSync(
  credFile,
  JSON.stringify({
    type: "service_account",
    project_id: "tibr-test",
    private_key_id: "0123456789abcdef",
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
    client_email: EMAIL,
    client_id: "100000000000000000002",
    // Not googleapis.com: the auth library then signs its own JWTs (this test is offline).
    universe_domain: "tibr-fake-gcs.test",
  }),
);
const server = await startFakeGcsServer({ buckets: [BUCKET], accounts: { [EMAIL]: pubFile } });
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
