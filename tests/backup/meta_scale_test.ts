/**
 * The metadata writer's memory stays bounded by one metafile per kind, however many data files
 * a backup has; the reader streams them back.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStorage } from "../../src/storage/registry.ts";
import { MetaWriter } from "../../src/backup/metawriter.ts";
import { MetaReader } from "../../src/backup/metareader.ts";
import { dataFile } from "../../src/backup/_meta_test_util.ts";

let dir = "";
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("100k data files are written with bounded memory and all read back", async () => {
  dir = await mkdtemp(join(tmpdir(), "tibr-meta-scale-"));
  const storage = await openStorage(join(dir, "bk"), { env: {} });
  const limit = 1 << 20;
  const w = new MetaWriter(storage, { metafileSizeLimit: limit });
  const n = 100_000;
  const name = (i: number) =>
    `1_${i}_7_${i.toString(16).padStart(64, "0")}_1700000000000_write.sst`;
  const base = process.memoryUsage().heapUsed;
  let peakHeap = 0;
  let peakBuffered = 0;
  const expected = new Map<bigint, bigint>();
  for (let i = 0; i < n; i++) {
    const table = BigInt(100 + (i % 50));
    const crc = BigInt(i) * 0x9e3779b97f4a7c15n % (1n << 64n);
    expected.set(table, (expected.get(table) ?? 0n) ^ crc);
    await w.appendDataFiles([
      dataFile(name(i), table, BigInt(i) * 10n, BigInt(i) * 10n + 10n, {
        crc,
        kvs: 10n,
        bytes: 400n,
      }),
    ]);
    peakBuffered = Math.max(peakBuffered, w.stats.bufferedBytes);
    if (i % 5000 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - base);
  }
  await w.finish({
    clusterId: 1n,
    clusterVersion: "v8.1.0",
    brVersion: "tibr test",
    startVersion: 0n,
    endVersion: 2n,
  });
  assert.ok(peakBuffered <= limit, `buffered ${peakBuffered} bytes, limit ${limit}`);
  // Keeping 100k File messages alive costs 60-100 MiB; the writer keeps one metafile's bytes.
  assert.ok(peakHeap < 40 * 1024 * 1024, `heap grew ${(peakHeap / 1048576).toFixed(1)} MiB`);
  assert.ok(w.stats.metaFiles >= 15, `${w.stats.metaFiles} metafiles`);
  for (const [table, crc] of expected) assert.equal(w.tableChecksum(table).crc64xor, crc);

  const reader = await MetaReader.open(storage);
  let count = 0;
  let kvs = 0n;
  for await (const f of reader.dataFiles()) {
    assert.equal(f.name, name(count));
    count++;
    kvs += f.totalKvs;
  }
  assert.equal(count, n);
  assert.equal(kvs, BigInt(n) * 10n);
});
