/**
 * Benchmark of the playground engine: bulk load through prewrite + commit, the backup scan,
 * region lookups over many regions, and the default sample load. Prints figures and each speed
 * as a ratio to a floor measured in the same run (plain iteration over the same data), so results
 * compare across machines and runtimes.
 *
 *   deno run -A --v8-flags=--expose-gc,--max-old-space-size=16384 scripts/bench-engine.ts [--keys N] [--regions N]
 *   bun run scripts/bench-engine.ts [--keys N] [--regions N]
 *
 * Defaults: 2,000,000 keys, 100,000 regions.
 */
import process from "node:process";
import { encodeRecordKey } from "../src/tidb/tablecodec.ts";
import { Cluster } from "../src/playground/cluster.ts";
import { type Mutation, MvccStore } from "../src/playground/mvcc.ts";
import { encodeRegionKey, RegionMap } from "../src/playground/regions.ts";
import { DEFAULT_SAMPLE, loadSample } from "../src/playground/sample.ts";
import { runtimeVersion } from "../src/runtime.ts";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

function heap(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

const KEYS = arg("keys", 2_000_000);
const REGIONS = arg("regions", 100_000);
const BATCH = 4096;
console.log(`bench-engine on ${runtimeVersion()}: ${KEYS} keys, ${REGIONS} regions`);

// --- bulk load -------------------------------------------------------------------------------
const values = Array.from(
  { length: 64 },
  (_, i) => new Uint8Array(120 + 2 * i).fill(0x61 + (i % 26)),
);
const store = new MvccStore();
const h0 = heap();
let ts = 1n << 20n;
let dataBytes = 0;
const tLoad = performance.now();
for (let start = 0; start < KEYS; start += BATCH) {
  const muts: Mutation[] = [];
  for (let i = start; i < Math.min(KEYS, start + BATCH); i++) {
    const key = encodeRecordKey(BigInt(100 + (i % 20)), BigInt(Math.floor(i / 20)));
    const value = values[i % values.length]!;
    dataBytes += key.length + value.length;
    muts.push({ op: "put", key, value });
  }
  const startTs = ts++;
  store.prewrite({ mutations: muts, primary: muts[0]!.key, startTs, lockTtl: 3000n });
  store.commit(muts.map((m) => m.key), startTs, ts++);
}
const loadS = (performance.now() - tLoad) / 1000;
const perKey = (heap() - h0) / KEYS;
console.log(
  `load: ${loadS.toFixed(1)} s, ${((loadS * 1e6) / KEYS).toFixed(2)} µs/key, ` +
    `${(dataBytes / 1e6).toFixed(0)} MB data, ${perKey.toFixed(0)} heap bytes/key ` +
    `(${(dataBytes / KEYS).toFixed(0)} data) -> ~${
      ((perKey * 10_000_000) / 2 ** 30).toFixed(1)
    } GiB per 10M keys`,
);

// --- backup scan vs floor ----------------------------------------------------------------------
// Floor: copying the same number of bytes out of flat arrays, the least any scan must do.
const flat = values.map((v) => v.slice());
const sink = new Uint8Array(4096);
const tFloor = performance.now();
let floorBytes = 0;
for (let i = 0; i < KEYS; i++) {
  const v = flat[i % flat.length]!;
  sink.set(v.subarray(0, Math.min(v.length, 4096)));
  floorBytes += v.length + 19;
}
const floorS = (performance.now() - tFloor) / 1000;
const tScan = performance.now();
let scanned = 0;
let scanBytes = 0;
for (const batch of store.backupBatches(new Uint8Array(0), new Uint8Array(0), ts)) {
  scanned += batch.length;
  for (const e of batch) scanBytes += e.key.length + e.value.length;
}
const scanS = (performance.now() - tScan) / 1000;
const scanMBps = scanBytes / 1e6 / scanS;
const floorMBps = floorBytes / 1e6 / floorS;
console.log(
  `backup scan: ${scanned} entries, ${scanMBps.toFixed(0)} MB/s ` +
    `(floor ${floorMBps.toFixed(0)} MB/s, ratio ${
      (scanMBps / floorMBps).toFixed(3)
    }); target 50 MB/s`,
);
const tSum = performance.now();
const sum = store.checksum(new Uint8Array(0), new Uint8Array(0), ts);
const sumS = (performance.now() - tSum) / 1000;
console.log(
  `ground-truth checksum: ${sum.totalKvs} kvs, ${
    (Number(sum.totalBytes) / 1e6 / sumS).toFixed(0)
  } MB/s`,
);

// --- regions ------------------------------------------------------------------------------------
const rm = new RegionMap();
for (let i = 0; i < 3; i++) rm.addStore({ address: `127.0.0.1:${20160 + i}` });
rm.bootstrap();
const splitKeys = [];
for (let i = 1; i < REGIONS; i++) {
  splitKeys.push(encodeRegionKey(encodeRecordKey(BigInt(100 + (i % 20)), BigInt(i * 1000))));
}
const hRegions = heap();
const tSplit = performance.now();
rm.splitAt(splitKeys);
const splitS = (performance.now() - tSplit) / 1000;
const perRegion = (heap() - hRegions) / REGIONS;
const probes = splitKeys.map((k) => {
  const c = k.slice();
  c[c.length - 2] = c[c.length - 2]! ^ 1;
  return c;
});
const tLook = performance.now();
let found = 0;
for (let r = 0; r < 5; r++) for (const p of probes) if (rm.getRegion(p)) found++;
const lookUs = ((performance.now() - tLook) * 1000) / found;
const tMap = performance.now();
const m = new Map<number, number>();
for (let r = 0; r < 5; r++) for (let i = 0; i < probes.length; i++) m.set(i, r);
const mapUs = ((performance.now() - tMap) * 1000) / (5 * probes.length);
console.log(
  `regions: ${rm.size} after split in ${splitS.toFixed(1)} s, ~${perRegion.toFixed(0)} heap ` +
    `bytes/region; lookup ${lookUs.toFixed(2)} µs ` +
    `(floor Map.set ${mapUs.toFixed(3)} µs, ratio ${(lookUs / mapUs).toFixed(0)})`,
);

// --- default sample -----------------------------------------------------------------------------
const c = new Cluster();
const r = loadSample(c, DEFAULT_SAMPLE);
console.log(
  `default sample: ${r.tables} tables, ${r.rows} rows, ${(r.bytes / 1e6).toFixed(1)} MB, ` +
    `${r.regions} regions in ${(r.ms / 1000).toFixed(1)} s`,
);
console.log(`rss ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB`);
