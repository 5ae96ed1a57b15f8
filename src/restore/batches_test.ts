import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { File } from "../gen/brpb_pb.ts";
import { dataFile, MapStorage } from "../backup/_meta_test_util.ts";
import { MetaReader } from "../backup/metareader.ts";
import { MetaWriter } from "../backup/metawriter.ts";
import { batchSpan, importBatches, rangeBatches } from "./batches.ts";
import { regionsOf } from "./importer.ts";
import type { RegionInfo } from "../pd/client.ts";

const TABLE = 70n;
const RANGES = 5000;

/** A range's write-CF and default-CF files, as a region of table data is backed up. */
function pair(i: number): File[] {
  const from = BigInt(i * 10);
  return (["write", "default"] as const).map((cf) =>
    dataFile(`${i}_${cf}.sst`, TABLE, from, from + 10n, { crc: 1n, kvs: 1n, bytes: 100n, cf })
  );
}

/** A V2 backup of RANGES ranges, written in small metafiles so reading takes many of them. */
async function backup(): Promise<MapStorage> {
  const store = new MapStorage();
  const w = new MetaWriter(store.storage, { metafileSizeLimit: 64 * 1024 });
  for (let i = 0; i < RANGES; i += 100) {
    const files: File[] = [];
    for (let j = i; j < i + 100; j++) files.push(...pair(j));
    await w.appendDataFiles(files);
  }
  await w.finish({
    clusterId: 1n,
    clusterVersion: "v7.5.0",
    brVersion: "tibr test",
    startVersion: 0n,
    endVersion: 1000n,
    isTxnKv: true,
  });
  return store;
}

describe("batched import", () => {
  test("files stream from the metadata: the import never holds more than about two batches", async () => {
    const store = await backup();
    const reader = await MetaReader.open(store.storage, { prefetch: 1 });
    assert.ok(reader.meta.fileIndex!.metaFiles.length > 10, "the files span many metafiles");
    const batchFiles = 500;
    const concurrency = 8;
    let read = 0;
    let imported = 0;
    let held = 0;
    async function* counted(): AsyncGenerator<File> {
      for await (const f of reader.dataFiles()) {
        read++;
        held = Math.max(held, read - imported);
        yield f;
      }
    }
    const seen = new Set<string>();
    const totals = await importBatches(
      rangeBatches(counted(), undefined, { batchFiles, keyCount: 1 }),
      {
        split: () => Promise.resolve(),
        importRange: async (r) => {
          await new Promise((resolve) => setTimeout(resolve, 0));
          for (const f of r.files) seen.add(f.name);
          imported += r.files.length;
        },
      },
      { concurrency },
    );
    assert.equal(totals.files, RANGES * 2);
    assert.equal(seen.size, RANGES * 2, "every file imported once");
    assert.equal(imported, RANGES * 2);
    // Collecting every file first would hold all 10,000 at once.
    assert.ok(
      held <= 2 * batchFiles + 2 * concurrency * 2,
      `${held} files held at once (batch ${batchFiles})`,
    );
  });

  test("a batch never ends between a range's default-CF and write-CF files", async () => {
    const files = Array.from({ length: 51 }, (_, i) => pair(i)).flat();
    const batches = [];
    for await (const b of rangeBatches(files, undefined, { batchFiles: 7 })) batches.push(b);
    assert.ok(batches.length > 1);
    for (const b of batches) {
      assert.equal(b.files % 2, 0, "whole ranges only");
      for (const r of b.ranges) {
        assert.equal(r.files.length % 2, 0);
        assert.ok(b.keys.length >= 2);
      }
    }
    assert.equal(batches.reduce((n, b) => n + b.files, 0), files.length);
  });

  test("the first failing range stops the import and its error comes out", async () => {
    const files = Array.from({ length: 200 }, (_, i) => pair(i)).flat();
    let started = 0;
    await assert.rejects(
      importBatches(rangeBatches(files, undefined, { batchFiles: 20, keyCount: 1 }), {
        split: () => Promise.resolve(),
        importRange: (r) => {
          started++;
          return r.startKey[18] === 50
            ? Promise.reject(new Error("store 1 is gone"))
            : Promise.resolve();
        },
      }, { concurrency: 2 }),
      /store 1 is gone/,
    );
    assert.ok(started < 200, `${started} ranges started after the failure`);
  });

  test("a range's regions are cut from the batch's one walk; a gap sends it to PD", async () => {
    const k = (s: string) => new TextEncoder().encode(s);
    const region = (id: number, a: string, b: string) =>
      ({
        region: { id: BigInt(id) },
        leader: undefined,
        startKey: k(a),
        endKey: k(b),
      }) as unknown as RegionInfo;
    const walk = [region(1, "a", "c"), region(2, "c", "f"), region(3, "f", "")];
    assert.deepEqual(regionsOf(walk, k("b"), k("d"))?.map((r) => r.region.id), [1n, 2n]);
    assert.deepEqual(regionsOf(walk, k("c"), k("f"))?.map((r) => r.region.id), [2n]);
    assert.deepEqual(regionsOf(walk, k("g"), k(""))?.map((r) => r.region.id), [3n]);
    assert.equal(regionsOf(walk, k("0"), k("b")), undefined, "before the walk");
    assert.equal(regionsOf([walk[0]!, walk[2]!], k("b"), k("g")), undefined, "a gap");
    const [batch] = await Array.fromAsync(rangeBatches(pair(3).concat(pair(1)), undefined, {
      keyCount: 1,
    }));
    const span = batchSpan(batch!);
    assert.deepEqual(span.start, batch!.ranges[0]!.newStartKey);
    assert.deepEqual(span.end, batch!.ranges[1]!.newEndKey);
  });
});
