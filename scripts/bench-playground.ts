/**
 * Playground scale and backup throughput.
 *
 * 1. **scale**: a 3-store cluster holding `--keys` keys (10 million by default, written in
 *    committed transactions) cut into `--regions` regions (100k), served over gRPC: reports the
 *    load time, RSS and heap, and times PD look-ups and a full ScanRegions through tibr's PD
 *    client, and a backup of a 1000-region slice, to show the servers work at that size.
 * 2. **backup**: about `--gib` GiB (1) of TiDB table data (rows and indexes from the sample
 *    loader, regions of up to 32 MiB), backed up to local storage by `tibr backup full` in a
 *    separate process, as a user would. Reports the aggregate MB/s (KV bytes / time, BR's
 *    "average speed") and its ratios against floors measured in the same run on the same
 *    machine: the engine's own scan rate and plain sequential writes to the same disk.
 *
 *   deno run -A --v8-flags=--max-old-space-size=16384 scripts/bench-playground.ts \
 *     [--part scale|backup|all] [--keys 10000000] [--regions 100000] [--gib 1] \
 *     [--compression zstd] [--dir /tmp] [--runs 1] [--json]
 *
 * The backup part also reports the stores' busy window (first backup request to last response,
 * from the playground's counters), the client's wall time against it, and the client's share of
 * the CPU (its user+sys from `/usr/bin/time` against the playground process's own). `--runs N`
 * backs the same data up N times (medians reported); `--json` (with `--part backup`) prints
 * the figures as one JSON object on the last line.
 *
 * Each part runs in its own process (this script re-runs itself), so RSS figures are its own.
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Cluster } from "../src/playground/cluster.ts";
import type { Mutation } from "../src/playground/mvcc.ts";
import { loadSample, type SampleSpec } from "../src/playground/sample.ts";
import { startPlayground } from "../src/playground/server/mod.ts";
import { PdClient } from "../src/pd/client.ts";
import { createConnection } from "../src/rpc/transport.ts";
import { createClient } from "@connectrpc/connect";
import { Backup, CompressionType } from "../src/gen/brpb_pb.ts";
import { ensureDebianPackages } from "../tests/_support/debian.ts";
import { arg, median } from "./_bench_util.ts";

const part = arg("part", "all");
const root = fileURLToPath(new URL("..", import.meta.url));
const workDir = arg("dir", "/tmp");
const MiB = 1024 * 1024;

function mem(): string {
  const m = process.memoryUsage();
  return `RSS ${(m.rss / MiB).toFixed(0)} MiB, heap ${(m.heapUsed / MiB).toFixed(0)} MiB`;
}

function secs(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/** Runs a command without blocking the event loop (the servers live in this process). */
function runAsync(
  cmd: string,
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** Re-runs this script for one part, so each part's memory is measured alone. */
function runPart(name: string): void {
  const args = [
    "run",
    "-A",
    "--v8-flags=--max-old-space-size=16384",
    fileURLToPath(import.meta.url),
    ...process.argv.slice(2).filter((_, i, a) => a[i - 1] !== "--part" && a[i] !== "--part"),
    "--part",
    name,
  ];
  const r = spawnSync("deno", args, { stdio: "inherit", env: process.env });
  if (r.status !== 0) throw new Error(`part ${name} failed with exit code ${r.status}`);
}

async function scale(): Promise<void> {
  const keys = Number(arg("keys", "10000000"));
  const regions = Number(arg("regions", "100000"));
  console.log(`== scale: 3 stores, ${keys} keys, ${regions} regions`);
  const base = process.memoryUsage().rss;
  const cluster = new Cluster({ stores: 3 });
  const t0 = performance.now();
  const enc = new TextEncoder();
  const value = new Uint8Array(24).fill(0x61);
  const batch = 8192;
  for (let i = 0; i < keys; i += batch) {
    const muts: Mutation[] = [];
    for (let j = i; j < Math.min(keys, i + batch); j++) {
      muts.push({ op: "put", key: enc.encode(`t_bench_${String(j).padStart(10, "0")}`), value });
    }
    cluster.runTxn(muts);
  }
  const loadSecs = secs(t0);
  const stats = cluster.mvcc.stats();
  const t1 = performance.now();
  cluster.splitBySize(Math.max(1, Math.floor(stats.bytes / regions)));
  cluster.regions.scatterLeaders();
  const splitSecs = secs(t1);
  const rss = process.memoryUsage().rss;
  console.log(
    `loaded ${stats.keys} keys (${(stats.bytes / MiB).toFixed(0)} MiB in the engine) in ` +
      `${loadSecs.toFixed(1)} s (${(stats.keys / loadSecs / 1000).toFixed(0)}k keys/s); ` +
      `${cluster.regions.size} regions after ${splitSecs.toFixed(1)} s of splitting`,
  );
  console.log(
    `memory: ${mem()}; ${((rss - base) / MiB).toFixed(0)} MiB for the data, ` +
      `${((rss - base) / stats.keys).toFixed(0)} bytes per key`,
  );
  const pg = await startPlayground({ cluster, electionMs: 0 });
  const pd = await PdClient.connect({ endpoints: [pg.pdAddress] });
  try {
    const t2 = performance.now();
    const n = 2000;
    for (let i = 0; i < n; i++) {
      const k = Math.floor((i * 7919) % keys);
      await pd.getRegion(enc.encode(`t_bench_${String(k).padStart(10, "0")}`));
    }
    console.log(`PD GetRegion: ${((secs(t2) * 1e6) / n).toFixed(0)} µs per call`);
    const t3 = performance.now();
    let seen = 0;
    let cursor: Uint8Array = new Uint8Array(0);
    for (;;) {
      const page = await pd.scanRegions(cursor, new Uint8Array(0), 10_000);
      seen += page.length;
      const last = page[page.length - 1];
      if (!last || last.endKey.length === 0) break;
      cursor = last.endKey;
    }
    console.log(`PD ScanRegions of all ${seen} regions: ${secs(t3).toFixed(2)} s`);
    const dir = mkdtempSync(join(workDir, "tibr-bench-scale-"));
    try {
      // A backup of 1000 regions in the middle, sent to every store as BR's push-down does.
      const slice = pg.cluster.regions.all().slice(50_000, 51_000);
      const start = pg.cluster.rawRangeOf(slice[0]!).start;
      const end = pg.cluster.rawRangeOf(slice[slice.length - 1]!).end;
      const t4 = performance.now();
      let responses = 0;
      let kvs = 0n;
      const conns = [...pg.storeAddresses().values()].map((a) => createConnection(a));
      try {
        await Promise.all(conns.map(async (conn) => {
          const req = {
            clusterId: pg.cluster.clusterId,
            startKey: start,
            endKey: end,
            endVersion: pg.cluster.ts(),
            storageBackend: { backend: { case: "local" as const, value: { path: dir } } },
            compressionType: CompressionType.ZSTD,
          };
          for await (const r of createClient(Backup, conn.transport).backup(req)) {
            if (r.error) throw new Error(`backup error: ${r.error.msg}`);
            responses++;
            for (const f of r.files) kvs += f.totalKvs;
          }
        }));
      } finally {
        for (const c of conns) c.close();
      }
      console.log(
        `backup stream of a 1000-region slice: ${responses} responses, ${kvs} kvs in ` +
          `${secs(t4).toFixed(2)} s`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(`memory after serving: ${mem()}`);
  } finally {
    pd.close();
    await pg.stop();
  }
}

/** Sequential write speed of the disk under `dir` (MB/s), 4 MiB chunks, fsync at the end. */
async function diskFloor(dir: string, bytes: number): Promise<number> {
  const path = join(dir, "floor.bin");
  const chunk = new Uint8Array(4 * MiB).map((_, i) => (i * 31) & 0xff);
  const t0 = performance.now();
  const fh = await open(path, "w");
  for (let done = 0; done < bytes; done += chunk.length) await fh.write(chunk);
  await fh.sync();
  await fh.close();
  const s = secs(t0);
  rmSync(path);
  return bytes / 1e6 / s;
}

/** One measured `tibr backup full` against the running playground. */
interface BackupRun {
  // deno-lint-ignore no-explicit-any
  summary: any;
  kvBytes: number;
  /** Client process wall time, s. */
  wall: number;
  summarySecs: number;
  mbs: number;
  /** First backup request to last response at the stores, s. */
  busy: number;
  clientCpu: number;
  clientRssMiB: number;
  /** The playground process's CPU during the run (the stores' work), s. */
  playgroundCpu: number;
  /** The check that every listed file is in the storage before backupmeta (from the log), s. */
  fileCheck: number;
}

/** Seconds of the data file check before backupmeta, as the backup logs it. */
function fileCheckSecs(logFile: string): number {
  const m = /checked \d+ data files at .*?\((?:[^,]+), (\d+) ms\)/.exec(
    readFileSync(logFile, "utf8"),
  );
  if (!m) throw new Error(`${logFile} does not log the data file check`);
  return Number(m[1]) / 1000;
}

/**
 * Backs up the whole cluster to `dest` with `tibr backup full` in its own process under
 * /usr/bin/time, watching the stores' counters (every 10 ms) for their busy window.
 */
async function backupOnce(
  pg: Awaited<ReturnType<typeof startPlayground>>,
  dest: string,
  compression: string,
): Promise<BackupRun> {
  let firstRequest = 0;
  let lastResponse = 0;
  const requests0 = pg.stats.backupRequests;
  let responses = pg.stats.backupResponses;
  const sampler = setInterval(() => {
    const now = performance.now();
    if (firstRequest === 0 && pg.stats.backupRequests > requests0) firstRequest = now;
    if (pg.stats.backupResponses !== responses) {
      responses = pg.stats.backupResponses;
      lastResponse = now;
    }
  }, 10);
  const timeFile = `${dest}.time`;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await runAsync("/usr/bin/time", [
    "-f",
    "%e %U %S %M",
    "-o",
    timeFile,
    "deno",
    "run",
    "-A",
    join(root, "src/cli/main.ts"),
    "--log-file",
    `${dest}.log`,
    "backup",
    "full",
    "-u",
    pg.pdAddress,
    "-s",
    `local://${dest}`,
    "--compression",
    compression,
    "--checksum",
    arg("checksum", "false"),
    "--output",
    "json",
    "--progress",
    "quiet",
  ]);
  const wall = secs(t0);
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  if (r.status !== 0) throw new Error(`backup failed: ${r.stderr}`);
  const summary = JSON.parse(r.stdout);
  const [, cu, cs, crss] = readFileSync(timeFile, "utf8").trim().split("\n").pop()!
    .split(/\s+/).map(Number);
  const kvBytes = Number(summary.totalBytes);
  return {
    summary,
    kvBytes,
    wall,
    summarySecs: summary.timeTakenMs / 1000,
    mbs: kvBytes / 1e6 / (summary.timeTakenMs / 1000),
    busy: (lastResponse - firstRequest) / 1000,
    clientCpu: (cu ?? 0) + (cs ?? 0),
    clientRssMiB: (crss ?? 0) / 1024,
    playgroundCpu: (cpu.user + cpu.system) / 1e6,
    fileCheck: fileCheckSecs(`${dest}.log`),
  };
}

async function backup(): Promise<void> {
  const gib = Number(arg("gib", "1"));
  const compression = arg("compression", "zstd");
  console.log(`== backup: ~${gib} GiB of table data to local storage (${compression})`);
  // Rows of ~330 bytes with two index entries: ~400 bytes of KV per row.
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
  const t0 = performance.now();
  const cluster = new Cluster({ stores: 3 });
  const loaded = loadSample(cluster, spec);
  console.log(
    `loaded ${loaded.rows} rows, ${loaded.kvs} kvs, ${(loaded.bytes / MiB).toFixed(0)} MiB of ` +
      `KV in ${secs(t0).toFixed(1)} s; ${cluster.regions.size} regions; ${mem()}`,
  );
  const ts = cluster.ts();
  const t1 = performance.now();
  let scanned = 0;
  for (const b of cluster.mvcc.backupBatches(new Uint8Array(0), new Uint8Array(0), ts)) {
    for (const e of b) scanned += e.key.length + e.value.length;
  }
  const scanMBs = scanned / 1e6 / secs(t1);
  const dir = mkdtempSync(join(workDir, "tibr-bench-backup-"));
  try {
    const diskMBs = await diskFloor(dir, 512 * MiB);
    ensureDebianPackages(["/usr/bin/time"], ["time"]);
    const pg = await startPlayground({ cluster, electionMs: 0 });
    try {
      const runs = Math.max(1, Number(arg("runs", "1")));
      const results: BackupRun[] = [];
      for (let i = 0; i < runs; i++) {
        const r = await backupOnce(pg, join(dir, `b${i}`), compression);
        results.push(r);
        const s = r.summary;
        console.log(
          `run ${i + 1}: ${(r.kvBytes / MiB).toFixed(0)} MiB of KV (${s.totalKvs} kvs, ` +
            `${s.dataFiles} files, ${(Number(s.backupDataSize) / MiB).toFixed(0)} MiB stored) ` +
            `in ${r.summarySecs.toFixed(1)} s (process ${r.wall.toFixed(1)} s), ` +
            `${r.mbs.toFixed(1)} MB/s; stores busy ${r.busy.toFixed(1)} s; cpu client ` +
            `${r.clientCpu.toFixed(1)} s, playground ${r.playgroundCpu.toFixed(1)} s`,
        );
        rmSync(join(dir, `b${i}`), { recursive: true, force: true });
      }
      const med = (f: (r: BackupRun) => number) => median(results.map(f));
      const mbs = med((r) => r.mbs);
      const wall = med((r) => r.wall);
      const busy = med((r) => r.busy);
      const clientCpu = med((r) => r.clientCpu);
      const playgroundCpu = med((r) => r.playgroundCpu);
      const fileCheck = med((r) => r.fileCheck);
      console.log(`aggregate backup speed: ${mbs.toFixed(1)} MB/s (target >= 50 MB/s)`);
      console.log(
        `floors: engine scan ${scanMBs.toFixed(0)} MB/s, disk writes ${diskMBs.toFixed(0)} MB/s; ` +
          `backup/scan ${(mbs / scanMBs).toFixed(2)}, backup/disk ${(mbs / diskMBs).toFixed(2)}`,
      );
      const st = pg.stats;
      console.log(
        `stores answered ${st.backupResponses} responses, ${st.backupFiles} files; ${mem()}`,
      );
      console.log(
        `stores busy ${busy.toFixed(1)} s (first request to last response); client wall ` +
          `${wall.toFixed(1)} s = ${(wall / busy).toFixed(2)}x the stores' busy window`,
      );
      console.log(
        `cpu: client ${clientCpu.toFixed(1)} s (peak RSS ` +
          `${Math.max(...results.map((r) => r.clientRssMiB)).toFixed(0)} MiB), playground ` +
          `${playgroundCpu.toFixed(1)} s; client share ` +
          `${(clientCpu / (clientCpu + playgroundCpu) * 100).toFixed(1)}% (medians of ${runs})`,
      );
      console.log(
        `file check before backupmeta: ${(fileCheck * 1000).toFixed(0)} ms = ` +
          `${(fileCheck / wall * 100).toFixed(2)}% of the client wall (target < 2%)`,
      );
      if (process.argv.includes("--json")) {
        const first = results[0]!;
        console.log(JSON.stringify({
          bench: "e2e",
          gib,
          compression,
          runs,
          kvBytes: first.kvBytes,
          kvs: Number(first.summary.totalKvs),
          files: first.summary.dataFiles,
          storedBytes: Number(first.summary.backupDataSize),
          regions: cluster.regions.size,
          wallSecs: wall,
          summarySecs: med((r) => r.summarySecs),
          storesBusySecs: busy,
          clientCpuSecs: clientCpu,
          clientRssMiB: Math.max(...results.map((r) => r.clientRssMiB)),
          playgroundCpuSecs: playgroundCpu,
          mbs,
          scanMBs,
          diskMBs,
          walls: results.map((r) => r.wall),
          fileCheckSecs: fileCheck,
        }));
      }
    } finally {
      await pg.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (part === "all") {
  runPart("scale");
  runPart("backup");
} else if (part === "scale") {
  await scale();
} else if (part === "backup") {
  await backup();
} else {
  console.error(`unknown --part ${part}: use scale, backup or all`);
  process.exit(2);
}
