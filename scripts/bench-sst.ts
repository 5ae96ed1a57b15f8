/**
 * SST reader throughput against RocksDB's own `sst_dump`, per compression.
 *
 * For each compression it writes one ~256 MiB SST with tibr's writer (TiKV-like keys, values
 * of 32-480 bytes, half random: ZSTD shrinks them ~1.9x, LZ4 and Snappy ~1.25x), then times, on that same file, a full tibr scan
 * (checksums verified, every entry decoded) and `sst_dump --command=scan` (output discarded),
 * median of `--runs` runs each, and prints MB/s of file bytes and the ratio tibr/sst_dump.
 *
 *   deno run -A scripts/bench-sst.ts [--size-mib 256] [--runs 3] [--compression none,zstd]
 *
 * Needs Debian's rocksdb-tools (`apt-get install rocksdb-tools`).
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { SstReader } from "../src/sst/reader.ts";
import { fileSource } from "../src/sst/source.ts";
import { SstWriter } from "../src/sst/writer.ts";
import type { SstCompression } from "../src/sst/_compression.ts";
import { arg, median } from "./_bench_util.ts";

const sizeMiB = Number(arg("size-mib", "256"));
const runs = Number(arg("runs", "3"));
const compressions = arg("compression", "none,snappy,lz4,zstd").split(",") as SstCompression[];

if (spawnSync("sh", ["-c", "command -v sst_dump"]).status !== 0) {
  console.error(
    "sst_dump not found: install Debian's rocksdb-tools (apt-get install rocksdb-tools)",
  );
  process.exit(1);
}

/** Deterministic TiKV-like data: `z` + table/row key + 8-byte ts, half-random values. */
async function build(
  path: string,
  compression: SstCompression,
): Promise<{ secs: number; entries: number; size: number }> {
  const fh = await open(path, "w");
  const w = new SstWriter(
    { write: async (c) => void (await fh.write(c)), close: () => fh.close() },
    { compression, name: path },
  );
  let seed = 12345;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  const t0 = performance.now();
  const key = new Uint8Array(28);
  key.set([0x7a, 0x74, 0x80, 0, 0, 0, 0, 0, 0, 0x2a, 0x5f, 0x72]);
  for (let i = 0; w.bytesWritten < sizeMiB * 1024 * 1024; i++) {
    new DataView(key.buffer).setUint32(16, i, false);
    const vlen = 32 + (rand() % 448);
    const value = new Uint8Array(vlen);
    for (let j = 0; j < vlen; j += 4) {
      const r = rand();
      // Every other word random, the rest a repeating pattern.
      const word = (j & 4) === 0 ? r : 0x01020304;
      value[j] = word & 0xff;
      if (j + 1 < vlen) value[j + 1] = (word >>> 8) & 0xff;
      if (j + 2 < vlen) value[j + 2] = (word >>> 16) & 0xff;
      if (j + 3 < vlen) value[j + 3] = word >>> 24;
    }
    await w.add(key.slice(), value);
  }
  const res = await w.finish();
  return { secs: (performance.now() - t0) / 1000, entries: res.entries, size: res.size };
}

async function tibrScan(path: string): Promise<number> {
  const t0 = performance.now();
  const r = await SstReader.open(await fileSource(path));
  let bytes = 0;
  await r.scan((k, v) => void (bytes += k.length + v.length));
  await r.close();
  if (bytes === 0) throw new Error("empty scan");
  return (performance.now() - t0) / 1000;
}

function sstDumpScan(path: string): number {
  const t0 = performance.now();
  const r = spawnSync("sh", ["-c", `sst_dump --file='${path}' --command=scan >/dev/null 2>&1`]);
  if (r.status !== 0) throw new Error(`sst_dump failed on ${path}`);
  return (performance.now() - t0) / 1000;
}

const dir = mkdtempSync(join(tmpdir(), "tibr-bench-sst-"));
const mb = (bytes: number, secs: number) => (bytes / 1e6 / secs).toFixed(0).padStart(6);
console.log(
  `SST scan throughput, ~${sizeMiB} MiB files, median of ${runs} runs (MB/s of file bytes)`,
);
console.log(
  "compression   file MiB   entries   write MB/s   tibr MB/s   sst_dump MB/s   speed ratio",
);
try {
  for (const c of compressions) {
    const path = join(dir, `bench-${c}.sst`);
    const built = await build(path, c);
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(await tibrScan(path));
      theirs.push(sstDumpScan(path));
    }
    const o = median(ours);
    const t = median(theirs);
    console.log(
      `${c.padEnd(11)} ${(built.size / 1048576).toFixed(0).padStart(10)} ${
        String(built.entries).padStart(9)
      } ` +
        `${mb(built.size, built.secs).padStart(12)} ${mb(built.size, o).padStart(11)} ` +
        `${mb(built.size, t).padStart(15)} ${(t / o).toFixed(2).padStart(15)}`,
    );
    rmSync(path);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
