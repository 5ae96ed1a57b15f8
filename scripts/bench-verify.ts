/**
 * `tibr verify` read rate against RocksDB's `sst_dump --command=scan` over the same files, in
 * the same run, on the B4 data set (8 int tables of ~330-byte rows with two indexes each, about
 * `--gib` GiB of KV, backed up from the playground with ZSTD).
 *
 * Times, median of `--runs`: `tibr verify --level data` (every file read, sha256, decoded,
 * block checksums, crc64xor / kvs / bytes recomputed) in its own process, `sst_dump
 * --command=scan` over every data file (output discarded), and `--level semantic` beside them;
 * MB/s are of stored file bytes; peak RSS of each tibr run from /usr/bin/time.
 *
 *   deno run -A scripts/bench-verify.ts [--gib 2] [--runs 3] [--concurrency 2] [--json]
 *
 * Needs Debian's rocksdb-tools and time (installed when missing).
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { runBackup } from "../src/backup/task.ts";
import { MetaReader } from "../src/backup/metareader.ts";
import { Cluster } from "../src/playground/cluster.ts";
import { loadSample, type SampleSpec } from "../src/playground/sample.ts";
import { startPlayground } from "../src/playground/server/mod.ts";
import { openStorage } from "../src/storage/registry.ts";
import { ensureDebianPackages } from "../tests/_support/debian.ts";
import { tibrCommand } from "../tests/_support/tibr.ts";
import { arg, median } from "./_bench_util.ts";

const MiB = 1024 * 1024;
const gib = Number(arg("gib", "2"));
const runs = Math.max(1, Number(arg("runs", "3")));
const concurrency = Number(arg("concurrency", "2"));
const workDir = arg("dir", "/tmp");
const json = process.argv.includes("--json");

ensureDebianPackages(["/usr/bin/sst_dump", "/usr/bin/time"], ["rocksdb-tools", "time"]);

function timed(cmd: string[]): { secs: number; rssMiB: number; code: number } {
  const t0 = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "%M", ...cmd], {
    stdio: ["ignore", "ignore", "pipe"],
    maxBuffer: 1 << 26,
  });
  const secs = (performance.now() - t0) / 1000;
  const last = String(r.stderr).trim().split("\n").pop() ?? "0";
  return { secs, rssMiB: Number(last) / 1024, code: r.status ?? -1 };
}

const rows = Math.round((gib * 1024 * MiB) / 400 / 8);
const spec: SampleSpec = {
  seed: 1,
  databases: [{
    name: "bench",
    tables: Array.from({ length: 8 }, (_, i) => ({
      name: `t${i}`,
      kind: "int" as const,
      rows,
      payload: 300,
    })),
  }],
  rawKv: null,
  regions: { maxBytes: 32 * MiB, splitTables: true },
};
const dir = mkdtempSync(join(workDir, "tibr-bench-verify-"));
try {
  const cluster = new Cluster({ stores: 3 });
  const loaded = loadSample(cluster, spec);
  console.error(`loaded ${(loaded.bytes / MiB).toFixed(0)} MiB of KV; backing up`);
  const pg = await startPlayground({ cluster, electionMs: 0 });
  const bdir = join(dir, "backup");
  try {
    await runBackup({
      mode: "full",
      pd: [pg.pdAddress],
      storage: `local://${bdir}`,
      sendCredentials: true,
      concurrency: 4,
      checksum: false,
      compression: "zstd",
      progress: "quiet",
    });
  } finally {
    await pg.stop();
  }
  console.error("backed up; verifying");
  const storage = await openStorage(`local://${bdir}`);
  const files: string[] = [];
  let stored = 0;
  for await (const f of (await MetaReader.open(storage)).dataFiles()) {
    files.push(join(bdir, f.name));
    stored += Number(f.size);
  }
  await storage.close();
  const tibr = tibrCommand();
  const verify = (level: string) =>
    timed([
      ...tibr,
      "verify",
      "-s",
      `local://${bdir}`,
      "--level",
      level,
      "--concurrency",
      String(concurrency),
      "--progress",
      "quiet",
      "--output",
      "json",
    ]);
  const dump = () => {
    const t0 = performance.now();
    for (const f of files) {
      // Prime the page cache alike for both sides: both read the files right after each other.
      const r = spawnSync("sh", ["-c", `sst_dump --file='${f}' --command=scan >/dev/null 2>&1`]);
      if (r.status !== 0) throw new Error(`sst_dump failed on ${f}`);
    }
    return (performance.now() - t0) / 1000;
  };
  const data: { secs: number; rssMiB: number }[] = [];
  const sem: { secs: number; rssMiB: number }[] = [];
  const floor: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < runs; i++) {
    const d = verify("data");
    if (d.code !== 0) throw new Error(`verify --level data exited ${d.code}`);
    const s = dump();
    data.push(d);
    floor.push(s);
    ratios.push(s / d.secs);
    const m = verify("semantic");
    if (m.code !== 0) throw new Error(`verify --level semantic exited ${m.code}`);
    sem.push(m);
  }
  const mbs = (secs: number) => stored / 1e6 / secs;
  const result = {
    kvMiB: loaded.bytes / MiB,
    files: files.length,
    storedMiB: stored / MiB,
    concurrency,
    sstDumpSecs: median(floor),
    dataSecs: median(data.map((d) => d.secs)),
    semanticSecs: median(sem.map((d) => d.secs)),
    ratio: median(ratios),
    dataRssMiB: Math.max(...data.map((d) => d.rssMiB)),
    semanticRssMiB: Math.max(...sem.map((d) => d.rssMiB)),
  };
  console.log(
    `${result.files} files, ${result.storedMiB.toFixed(0)} MiB stored (${
      result.kvMiB.toFixed(0)
    } MiB of KV), median of ${runs} runs`,
  );
  console.log(
    `sst_dump --command=scan      ${result.sstDumpSecs.toFixed(1)} s  ${
      mbs(result.sstDumpSecs).toFixed(1)
    } MB/s`,
  );
  console.log(
    `tibr verify --level data     ${result.dataSecs.toFixed(1)} s  ${
      mbs(result.dataSecs).toFixed(1)
    } MB/s  ratio ${result.ratio.toFixed(2)} (target >= 0.7)  peak RSS ${
      result.dataRssMiB.toFixed(0)
    } MiB`,
  );
  console.log(
    `tibr verify --level semantic ${result.semanticSecs.toFixed(1)} s  ${
      mbs(result.semanticSecs).toFixed(1)
    } MB/s  peak RSS ${result.semanticRssMiB.toFixed(0)} MiB`,
  );
  // Last, where scripts/bench.ts reads it.
  if (json) console.log(JSON.stringify(result));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
