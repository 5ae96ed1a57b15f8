import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { StorageError } from "../storage/errors.ts";
import type { ExternalStorage } from "../storage/types.ts";
import {
  checkFiles,
  type ListedFile,
  ListedFiles,
  orphanFiles,
  StoredFiles,
} from "./files_check.ts";

/** Objects in memory; `canList: false` answers walkDir as a plugin that cannot list. */
function fakeStorage(objects: Map<string, Uint8Array>, canList: boolean) {
  const calls = { walkDir: 0, stat: 0, open: 0 };
  const notFound = (name: string, operation: string) =>
    new StorageError(`fake://${name} does not exist`, { code: "NotFound", operation, path: name });
  const storage = {
    uri: () => "fake://bucket",
    walkDir(_opts: unknown, fn: (name: string, size: number) => void | Promise<void>) {
      calls.walkDir++;
      if (!canList) {
        return Promise.reject(
          new StorageError("fake storage cannot list", {
            code: "Unsupported",
            operation: "walkDir",
          }),
        );
      }
      for (const [name, data] of objects) fn(name, data.length);
      return Promise.resolve();
    },
    stat(name: string) {
      calls.stat++;
      const d = objects.get(name);
      return d ? Promise.resolve({ size: d.length }) : Promise.reject(notFound(name, "stat"));
    },
    open(name: string) {
      calls.open++;
      const d = objects.get(name);
      if (!d) return Promise.reject(notFound(name, "open"));
      return Promise.resolve({
        stream: (async function* () {
          yield d;
        })(),
        close: () => Promise.resolve(),
      });
    },
  };
  return { storage: storage as unknown as ExternalStorage, calls };
}

const sha = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

function scenario() {
  const good = bytes(100, 1);
  const shortened = bytes(40, 2);
  const altered = bytes(60, 3);
  const objects = new Map<string, Uint8Array>([
    ["1/1_2_3_aa_1000_default.sst", good],
    ["1/1_4_3_bb_1000_write.sst", shortened],
    ["2/2_5_3_cc_1000_write.sst", altered],
    // Written by this backup's run (ms 2000 >= start 1500) but listed by no range: an orphan.
    ["2/2_6_3_dd_2000_write.sst", bytes(10, 4)],
    // Older than this backup's first run: not ours, never an orphan.
    ["2/2_7_3_ee_1000_write.sst", bytes(10, 5)],
    ["checkpoints/backup/checkpoint.meta", bytes(5, 6)],
  ]);
  const listed: ListedFile[] = [
    { name: "1/1_2_3_aa_1000_default.sst", size: 100n, sha256: sha(good) },
    { name: "1/1_4_3_bb_1000_write.sst", size: 80n, sha256: sha(bytes(80, 2)) },
    { name: "2/2_5_3_cc_1000_write.sst", size: 60n, sha256: sha(bytes(60, 9)) },
    { name: "3/3_8_3_ff_1000_write.sst", size: 7n },
  ];
  return { objects, listed };
}

describe("the data-file check before backupmeta", () => {
  for (const canList of [true, false]) {
    const how = canList ? "one listing" : "a stat per file (the plugin cannot list)";
    test(`finds missing and short files with ${how}`, async () => {
      const { objects, listed } = scenario();
      const { storage, calls } = fakeStorage(objects, canList);
      const stored = await StoredFiles.list(storage);
      assert.equal(stored.listed, canList);
      const problems = await checkFiles(storage, stored, listed, false);
      assert.deepEqual(problems, [
        { name: "1/1_4_3_bb_1000_write.sst", problem: "40 bytes, the store wrote 80" },
        { name: "3/3_8_3_ff_1000_write.sst", problem: "missing" },
      ]);
      assert.equal(calls.walkDir, 1);
      assert.equal(calls.stat, canList ? 0 : listed.length, "stat only without a listing");
      assert.equal(calls.open, 0, "no reads without --verify-files");
    });

    test(`--verify-files also finds bytes altered at the same size, with ${how}`, async () => {
      const { objects, listed } = scenario();
      const { storage } = fakeStorage(objects, canList);
      const problems = await checkFiles(storage, await StoredFiles.list(storage), listed, true);
      assert.deepEqual(problems.map((p) => [p.name, p.problem]), [
        ["1/1_4_3_bb_1000_write.sst", "40 bytes, the store wrote 80"],
        ["2/2_5_3_cc_1000_write.sst", "sha256 differs from what the store wrote"],
        ["3/3_8_3_ff_1000_write.sst", "missing"],
      ]);
    });
  }

  test("orphans are this backup's TiKV-named files that no range lists", async () => {
    const { objects, listed } = scenario();
    const { storage } = fakeStorage(objects, true);
    const stored = await StoredFiles.list(storage);
    const names = new Set(listed.map((f) => f.name));
    assert.deepEqual(orphanFiles(stored, names, 1500), ["2/2_6_3_dd_2000_write.sst"]);
  });

  test("ListedFiles holds a size a file (a sha256 only when given) and finds the same problems", async () => {
    const { objects, listed } = scenario();
    const packed = new ListedFiles();
    packed.set("1/1_2_3_aa_1000_default.sst", 1n); // replaced by the next line
    for (const f of listed) packed.set(f.name, f.size, f.sha256);
    assert.equal(packed.size, listed.length);
    assert.deepEqual(
      [...packed.values()],
      listed.map((f) => ({ ...f, size: Number(f.size) })),
    );
    assert.ok(packed.has("3/3_8_3_ff_1000_write.sst") && !packed.has("2/2_6_3_dd_2000_write.sst"));
    const { storage } = fakeStorage(objects, true);
    const stored = await StoredFiles.list(storage);
    const want = await checkFiles(storage, stored, listed, true);
    assert.deepEqual(await checkFiles(storage, stored, packed.values(), true), want);
    assert.deepEqual(orphanFiles(stored, packed, 1500), ["2/2_6_3_dd_2000_write.sst"]);
    // Listed with the backup's files: their sizes go there, only the other names stay here,
    // and the check and the orphans come out the same.
    const lean = await StoredFiles.list(storage, undefined, packed);
    assert.deepEqual(await checkFiles(storage, lean, packed.values(), true), want);
    assert.deepEqual(await checkFiles(storage, lean, packed.values(), false), [
      ...(await checkFiles(storage, stored, listed, false)),
    ]);
    assert.deepEqual(orphanFiles(lean, packed, 1500), ["2/2_6_3_dd_2000_write.sst"]);
    assert.deepEqual([...lean.names()].filter((n) => packed.has(n)), []);
    assert.ok([...lean.names()].includes("2/2_7_3_ee_1000_write.sst"));
  });
});
