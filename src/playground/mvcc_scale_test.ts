/**
 * Scale smoke test: a million TiDB-shaped keys through prewrite + commit, then a full backup
 * scan. Prints time and memory per key (the basis of the 10M-key estimate) and fails when memory
 * per key is far off what 10 million keys on this machine need. Speed is printed, not asserted:
 * the playground's backup speed shows in B4 (scripts/bench.ts), and a wall-clock limit in a unit
 * test fails on a loaded machine.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { encodeRecordKey } from "../tidb/tablecodec.ts";
import { type Mutation, MvccStore } from "./mvcc.ts";

const N = 1_000_000;
const BATCH = 4096;

function heapBytes(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

test("1M keys: insert speed, memory per key and backup-scan speed", () => {
  const values = Array.from(
    { length: 64 },
    (_, i) => new Uint8Array(100 + i).fill(0x41 + (i % 26)),
  );
  const store = new MvccStore();
  const before = heapBytes();
  const t0 = performance.now();
  let ts = 1n << 20n;
  let bytes = 0;
  for (let start = 0; start < N; start += BATCH) {
    const muts: Mutation[] = [];
    for (let i = start; i < Math.min(N, start + BATCH); i++) {
      // Ten tables, handles interleaved so inserts do not all land at the tree's end.
      const key = encodeRecordKey(BigInt(100 + (i % 10)), BigInt(Math.floor(i / 10)));
      const value = values[i % values.length]!;
      bytes += key.length + value.length;
      muts.push({ op: "put", key, value });
    }
    const startTs = ts++;
    const pw = store.prewrite({ mutations: muts, primary: muts[0]!.key, startTs, lockTtl: 3000n });
    assert.deepEqual(pw.errors, []);
    assert.deepEqual(store.commit(muts.map((m) => m.key), startTs, ts++), {});
  }
  const insertMs = performance.now() - t0;
  const perKey = (heapBytes() - before) / N;
  const stats = store.stats();
  assert.equal(stats.keys, N);

  const t1 = performance.now();
  let scanned = 0;
  let scannedBytes = 0;
  for (const batch of store.backupBatches(new Uint8Array(0), new Uint8Array(0), ts)) {
    scanned += batch.length;
    for (const e of batch) scannedBytes += e.key.length + e.value.length;
  }
  const scanMs = performance.now() - t1;
  assert.equal(scanned, N);
  assert.equal(scannedBytes, bytes);
  const scanMBps = scannedBytes / 1e6 / (scanMs / 1000);

  console.log(
    `scale: ${N} keys (${(bytes / 1e6).toFixed(0)} MB of keys+values) inserted in ` +
      `${(insertMs / 1000).toFixed(1)} s (${((insertMs * 1000) / N).toFixed(2)} µs/key); ` +
      `${perKey.toFixed(0)} bytes/key of heap (data ${(bytes / N).toFixed(0)} bytes/key) -> ` +
      `~${((perKey * 10_000_000) / 2 ** 30).toFixed(1)} GiB for 10M such keys; backup scan ` +
      `${(scanMs / 1000).toFixed(1)} s = ${scanMBps.toFixed(0)} MB/s`,
  );
  // 10M keys must fit comfortably in 24 GiB.
  assert.ok(perKey < 600, `${perKey.toFixed(0)} bytes per key`);
});
