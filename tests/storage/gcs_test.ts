/**
 * The gcs plugin against `tests/gcs_server/` (a fake of the GCS JSON API; no offline emulator
 * honours generation preconditions), run as a child process with service-account auth: every
 * request carries a JWT signed with the key from the credentials file. Runs the conformance
 * suite through the registry, then wrong keys, a missing bucket, an unreachable endpoint and
 * throttling.
 * @module
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { runStorageConformance } from "../../src/storage/conformance.ts";
import { isStorageError } from "../../src/storage/errors.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { startFakeGcs } from "../gcs_server/server.ts";
import { backendValue, empty, openError } from "./_cloud.ts";
import { freePort, startFakeGcsServer } from "../_support/servers.ts";

const EMAIL = "tibr-test@tibr-test.iam.gserviceaccount.com";
const BUCKET = "tibr-conformance";

function keyPair(): { pub: string; priv: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    pub: publicKey.export({ type: "spki", format: "pem" }) as string,
    priv: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  };
}

/** A service-account key file as Google issues them, outside the default universe. */
function credentials(priv: string): string {
  return JSON.stringify({
    type: "service_account",
    project_id: "tibr-test",
    private_key_id: "0123456789abcdef",
    private_key: priv,
    client_email: EMAIL,
    client_id: "100000000000000000001",
    // Not googleapis.com: google-auth-library then signs its own JWTs instead of calling
    // Google's token endpoint, which this offline test cannot reach.
    universe_domain: "tibr-fake-gcs.test",
  });
}

const dir = mkdtempSync(join(tmpdir(), "tibr-gcs-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const good = keyPair();
const pubFile = join(dir, "sa.pub.pem");
const credFile = join(dir, "sa.json");
writeFileSync(pubFile, good.pub);
writeFileSync(credFile, credentials(good.priv));

const server = await startFakeGcsServer({ buckets: [BUCKET], accounts: { [EMAIL]: pubFile } });
after(() => server.stop());

function url(prefix: string, scheme = "gcs", cred = credFile, bucket = BUCKET): string {
  return `${scheme}://${bucket}/${prefix}?endpoint=${server.endpoint}&credentials-file=${cred}`;
}

let run = 0;
runStorageConformance({
  name: "gcs (fake GCS JSON API server)",
  create: () => openStorage(url(`conformance/${Date.now()}-${run++}`), { env: {} }),
  cleanup: empty,
});

/** The base64 body of a PEM key: what must never show up in messages. */
function keyBody(pem: string): string {
  return pem.split("\n").slice(1, 3).join("");
}

describe("gcs plugin failures and options", () => {
  test("a key the server does not know fails with PermissionDenied and no key material", async () => {
    const other = keyPair();
    const badFile = join(dir, "wrong.json");
    writeFileSync(badFile, credentials(other.priv));
    const err = await openError(url("x", "gcs", badFile));
    assert.equal(err.code, "PermissionDenied", err.message);
    assert.match(
      err.message,
      /access denied .*check the key named by gcs option 'credentials-file'/,
    );
    assert.equal(err.message.includes("\n"), false);
    for (const t of [err.message, String(err.cause), JSON.stringify(err), err.stack ?? ""]) {
      assert.equal(t.includes(keyBody(other.priv)), false, `key material leaked: ${t}`);
    }
  });

  test("no credentials against an authenticating server is PermissionDenied", async () => {
    const err = await openError(`gcs://${BUCKET}/x?endpoint=${server.endpoint}`);
    assert.equal(err.code, "PermissionDenied");
  });

  test("GOOGLE_APPLICATION_CREDENTIALS is the fallback credentials file", async () => {
    const s = await openStorage(`gs://${BUCKET}/env?endpoint=${server.endpoint}`, {
      env: { GOOGLE_APPLICATION_CREDENTIALS: credFile },
    });
    try {
      const st = await s.writeFile("k", new Uint8Array([7]));
      assert.match(st.version, /^\d+$/, "the version is the generation");
      await s.deleteFile("k");
    } finally {
      await s.close();
    }
  });

  test("an unreadable credentials file is ConfigInvalid naming the file", async () => {
    const err = await openError(url("x", "gcs", join(dir, "missing.json")));
    assert.equal(err.code, "ConfigInvalid");
    assert.match(err.message, /cannot read the credentials file .*missing\.json.*ENOENT/);
  });

  test("a missing bucket fails with NotFound naming the bucket", async () => {
    const err = await openError(url("x", "gcs", credFile, "no-such-bucket"));
    assert.equal(err.code, "NotFound");
    assert.match(err.message, /bucket "no-such-bucket" does not exist/);
  });

  test("an unreachable endpoint fails saying so", async () => {
    const port = await freePort();
    const err = await openError(`gcs://${BUCKET}/x?endpoint=http://127.0.0.1:${port}`);
    assert.equal(err.code, "Unexpected");
    assert.match(err.message, /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  test("uri() has no secret; storageBackend sends the key only when asked", async () => {
    const s = await openStorage(url("backend") + "&storage-class=NEARLINE", { env: {} });
    try {
      assert.equal(s.uri(), `gcs://${BUCKET}/backend?endpoint=${server.endpoint}`);
      const hidden = backendValue(s.storageBackend(false), "gcs");
      assert.equal(hidden["bucket"], BUCKET);
      assert.equal(hidden["prefix"], "backend");
      assert.equal(hidden["storageClass"], "NEARLINE");
      assert.equal(hidden["credentialsBlob"], undefined);
      assert.equal(JSON.stringify(hidden).includes(keyBody(good.priv)), false);
      const shown = backendValue(s.storageBackend(true), "gcs");
      assert.equal(typeof shown["credentialsBlob"], "string");
      assert.equal(JSON.parse(shown["credentialsBlob"] as string).client_email, EMAIL);
    } finally {
      await s.close();
    }
  });

  test("a failed chunk is resent from the server's offset; abort cancels the session", async () => {
    let puts = 0;
    const fake = await startFakeGcs({
      buckets: ["b"],
      fault: ({ method }) => method === "PUT" && ++puts === 2 ? 503 : undefined,
    });
    try {
      const s = await openStorage(`gcs://b/p?endpoint=${fake.endpoint}`, { env: {} });
      const w = await s.create("obj", { partSize: 256 * 1024 });
      const data = new Uint8Array(1_000_000).map((_, i) => (i * 7) % 256);
      for (let off = 0; off < data.length; off += 100_000) {
        await w.write(data.subarray(off, off + 100_000));
      }
      const st = await w.close();
      assert.equal(st.size, data.length);
      assert.ok(puts > 5, `chunks were sent (${puts} PUTs, one failed)`);
      assert.deepEqual(await s.readFile("obj"), data);

      const w2 = await s.create("dropped", { partSize: 256 * 1024 });
      await w2.write(new Uint8Array(600_000));
      assert.equal(fake.openSessions(), 1);
      await w2.abort();
      assert.equal(fake.openSessions(), 0, "the session was cancelled");
      assert.equal(await s.fileExists("dropped"), false);
      await s.close();
    } finally {
      await fake.close();
    }
  });

  test("throttling (429) is RateLimited and temporary; the retry layer gets through", async () => {
    let uploads = 0;
    const fake = await startFakeGcs({
      buckets: ["b"],
      fault: ({ method, path }) => {
        if (method === "POST" && path.startsWith("/upload/") && uploads++ === 0) return 429;
        return undefined;
      },
    });
    try {
      const loc = `gcs://b/p?endpoint=${fake.endpoint}`;
      const bare = await openStorage(loc, { env: {}, layers: false });
      const err = await bare.writeFile("x", new Uint8Array(1)).then(
        () => assert.fail("the first upload should be throttled"),
        (e: unknown) => e,
      );
      assert.ok(isStorageError(err, "RateLimited"), String(err));
      assert.equal(err.temporary, true);
      assert.equal(uploads, 1, "the SDK did not retry on its own");
      await bare.close();
      uploads = 0;
      const layered = await openStorage(loc, { env: {} });
      await layered.writeFile("x", new Uint8Array(1));
      assert.equal(uploads, 2, "one throttled attempt, one retry");
      await layered.close();
    } finally {
      await fake.close();
    }
  });
});
