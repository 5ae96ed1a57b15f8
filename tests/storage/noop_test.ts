/**
 * The noop plugin: the conformance cases that make sense for a storage that keeps nothing, and
 * its own behaviour (writes succeed, reads find nothing, stores are sent `noop`).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runStorageConformance } from "../../src/storage/conformance.ts";
import { CASES } from "../../src/storage/conformance.ts";
import { toStorageBackend } from "../../src/storage/backend.ts";
import { isStorageError } from "../../src/storage/errors.ts";
import { openStorage } from "../../src/storage/registry.ts";

runStorageConformance({
  name: "noop",
  create: () => openStorage("noop://", { env: {}, layers: false }),
  skip: [{
    reason: "noop discards every write by design, so nothing can be read, listed or renamed back",
    tests: [
      CASES.emptyRoundTrip,
      CASES.oneByteRoundTrip,
      CASES.tenMiBRoundTrip,
      CASES.overwrite,
      CASES.readInto,
      CASES.missing,
      CASES.stat,
      CASES.streamedWrite,
      CASES.writerAbort,
      CASES.rangedRead,
      CASES.walkMany,
      CASES.walkFilter,
      CASES.walkStartAfter,
      CASES.specialNames,
      CASES.deleteMany,
      CASES.rename,
      CASES.abort,
      CASES.badNames,
    ],
  }],
});

test("noop accepts writes, finds nothing, and sends stores the noop backend", async () => {
  const s = await openStorage("noop://", { env: {} });
  assert.equal((await s.writeFile("a/b", new Uint8Array(5))).size, 5);
  const w = await s.create("big");
  await w.write(new Uint8Array(1 << 20));
  assert.equal((await w.close()).size, 1 << 20);
  assert.equal(await s.fileExists("a/b"), false);
  await assert.rejects(s.readFile("a/b"), (e: unknown) => isStorageError(e, "NotFound"));
  await assert.rejects(s.open("a/b"), (e: unknown) => isStorageError(e, "NotFound"));
  const seen: string[] = [];
  await s.walkDir({}, (n) => {
    seen.push(n);
  });
  assert.deepEqual(seen, []);
  await assert.rejects(
    s.writeFile("lock", new Uint8Array(1), { ifNoneMatch: "*" }),
    (e: unknown) => isStorageError(e, "Unsupported"),
  );
  for (const bad of ["../x", "/abs", ""]) {
    await assert.rejects(
      s.writeFile(bad, new Uint8Array(1)),
      (e: unknown) => isStorageError(e, "ConfigInvalid"),
    );
  }
  assert.equal(toStorageBackend(s, true).backend.case, "noop");
  assert.equal(s.uri(), "noop:///");
  // Declared, through the layers, so callers need not recognise the URL.
  assert.equal(s.capabilities().discardsWrites, true);
  assert.notEqual(
    (await openStorage("memory://caps", { env: {} })).capabilities().discardsWrites,
    true,
  );
});
