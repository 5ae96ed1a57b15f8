import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { StorageBackendSchema } from "../../gen/brpb_pb.ts";
import type { ExternalStorage } from "../../storage/types.ts";
import { SharedStorages } from "./_storage_cache.ts";

function local(path: string) {
  return create(StorageBackendSchema, { backend: { case: "local", value: { path } } });
}

describe("storages shared by backup requests", () => {
  test("requests at once share one open; the last release closes it", async () => {
    let opens = 0;
    let closes = 0;
    const fake = { close: () => Promise.resolve(void closes++) } as unknown as ExternalStorage;
    const shared = new SharedStorages(() => Promise.resolve(void opens++).then(() => fake));
    const [a, b] = await Promise.all([
      shared.acquire(local("/backup/a")),
      shared.acquire(local("/backup/a")),
    ]);
    const other = await shared.acquire(local("/backup/b"));
    assert.equal(opens, 2);
    assert.equal(shared.size, 2);
    await a.release();
    await a.release(); // a second release of the same lease counts once
    assert.equal(closes, 0);
    await b.release();
    assert.equal(closes, 1);
    await other.release();
    assert.equal(closes, 2);
    assert.equal(shared.size, 0);
    // Once closed, the next request opens it again.
    await (await shared.acquire(local("/backup/a"))).release();
    assert.equal(opens, 3);
  });

  test("a failed open is not kept: the next request tries again", async () => {
    let opens = 0;
    const fake = { close: () => Promise.resolve() } as unknown as ExternalStorage;
    const shared = new SharedStorages(() =>
      ++opens === 1 ? Promise.reject(new Error("disk gone")) : Promise.resolve(fake)
    );
    await assert.rejects(shared.acquire(local("/backup/a")), /disk gone/);
    assert.equal(shared.size, 0);
    const lease = await shared.acquire(local("/backup/a"));
    assert.equal(lease.storage, fake);
    await lease.release();
    assert.equal(opens, 2);
  });

  test("a request cancelled during the open gets its reason; the open serves the others", async () => {
    let closes = 0;
    let opened!: (s: ExternalStorage) => void;
    const fake = { close: () => Promise.resolve(void closes++) } as unknown as ExternalStorage;
    const shared = new SharedStorages(() => new Promise((r) => (opened = r)));
    const ac = new AbortController();
    const cancelled = shared.acquire(local("/backup/a"), ac.signal);
    const other = shared.acquire(local("/backup/a"));
    ac.abort(new Error("client went away"));
    await assert.rejects(cancelled, /client went away/);
    opened(fake);
    const lease = await other;
    assert.equal(lease.storage, fake);
    await lease.release();
    assert.equal(closes, 1);
    assert.equal(shared.size, 0);
  });

  test("a local root keeps no staging directory once its last request releases it", async () => {
    const root = mkdtempSync(join(tmpdir(), "tibr-shared-storage-"));
    try {
      const shared = new SharedStorages();
      const a = await shared.acquire(local(root));
      const b = await shared.acquire(local(root));
      await a.storage.writeFile("x.sst", new Uint8Array([1, 2, 3]));
      await b.storage.writeFile("y.sst", new Uint8Array([4]));
      await a.release();
      await b.release();
      assert.deepEqual(readdirSync(root).sort(), ["x.sst", "y.sst"]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
