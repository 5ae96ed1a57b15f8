/**
 * Restore benchmarks (issue 18), each in its own part:
 *
 * - `--part files` (client overhead): `tibr restore txn` of a backup of N files against a
 *   playground whose import service answers at once (`instantImport`: Download reads nothing,
 *   MultiIngest applies nothing, every region check kept), against the floor of a bare Connect
 *   client that sends the same Download (every file to every peer) and MultiIngest (one per
 *   region, on the leader) calls with the same concurrency. Each side is its own process under
 *   /usr/bin/time; the playground is a third (bun). Targets: wall <= 1.5x the floor, marginal
 *   cost per file flat (<= 1.2x growth from the first size to the last), peak RSS reported.
 *
 *   The backup is synthetic: its backupmeta and V2 metafiles are written with tibr's own
 *   MetaWriter, listing N files (a write-CF and a default-CF file per key range, as a region of
 *   table data has), and no SST is written, as the instant import never reads one. Building a
 *   real 100k-file backup would take the playground minutes and measure the disk, not the
 *   client; the metadata the client reads (streamed V2 metafiles) is the real format. The
 *   playground is split at every range boundary beforehand, so the restore's split step finds
 *   its keys already boundaries (as a restore into regions split by an earlier run would) and
 *   both sides make the same Download and MultiIngest calls.
 *
 * - `--part e2e` (end to end): the B4 data set (`--gib`, 2 by default; about 400 bytes of KV per
 *   row in 8 tables) in playground A is backed up by `tibr backup full` to local storage, A is
 *   stopped, and the backup is restored by `tibr restore full` into an empty playground B (its
 *   TiDB server creates the schemas). Reports restore wall over the stores' busy window (first
 *   Download to the last MultiIngest) and restore MB/s beside backup MB/s.
 *
 * - `--part tables` (many tables, tidb#38892 and tidb#53529): N small tables (a few rows each,
 *   each table in its own regions, as TiDB splits tables) backed up and restored; peak RSS of
 *   tibr (target <= 512 MiB at 100k on the binary) and the marginal cost per table (flat).
 *   Beside tibr's figures it reports the playground's own CPU per phase (`playgroundCpu`: this
 *   process runs both playgrounds) and the sample's load (`load`: seconds, CPU, regions), and
 *   logs where a long run is every `--progress-secs` seconds (30; 0 = quiet).
 *
 *   deno run -A --v8-flags=--max-old-space-size=16384 scripts/bench-restore.ts --part files \
 *     [--files 10000,100000] [--runs 3] [--runtime deno|bun|binary] [--tibr dist/tibr] [--json]
 *   ... --part e2e [--gib 2] [--runtime ...] [--json]
 *   ... --part tables [--tables 10000,100000] [--rows 2] [--runtime binary] [--json] [--keep]
 *       [--progress-secs 30]
 *   ... --part tables --restore-kept DIR[,DIR...] [--runtime binary] [--tibr dist/tibr]
 *
 * `--keep` (tables) leaves each size's backup and tibr logs in place and prints where;
 * `--restore-kept` restores such kept backups again, alone (`restoreKept`).
 *
 * `--json` prints one JSON object with every figure on the last line (for scripts/bench.ts).
 * @module
 */
import type { SampleSpec } from "../src/playground/sample.ts";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { compareBytes } from "../src/codec/bytes.ts";
import { keepHeapTight } from "../src/heap.ts";
import { ImportSST } from "../src/gen/import_sstpb_pb.ts";
import { SSTMetaSchema } from "../src/gen/import_sstpb_pb.ts";
import { PdClient, type RegionInfo } from "../src/pd/client.ts";
import { createConnection } from "../src/rpc/transport.ts";
import { ensureDebianPackages } from "../tests/_support/debian.ts";
import { arg, median, run } from "./_bench_util.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const MiB = 1024 * 1024;
const role = arg("role", "main");
const part = arg("part", "files");
const CONCURRENCY = Number(arg("concurrency", "16"));
const log = (s: string) => process.stdout.write(s + "\n");

function tool(name: string): string {
  const local = join(ROOT, "node_modules", ".bin", name);
  return existsSync(local) ? local : name;
}

// ------------------------------------------------------------------------ shared: processes

interface Measured {
  wall: number;
  cpu: number;
  rssMiB: number;
  stdout: string;
}

/** Runs `cmd` under /usr/bin/time, so the figures are that process's own. */
async function measure(cmd: string[], dir: string): Promise<Measured> {
  const out = join(dir, `time-${Math.random().toString(36).slice(2)}.txt`);
  const { stdout } = await run("/usr/bin/time", ["-f", "%e %U %S %M", "-o", out, ...cmd]);
  const text = readFileSync(out, "utf8").trim().split("\n").pop() ?? "";
  rmSync(out, { force: true });
  const [e, u, s, m] = text.split(/\s+/).map(Number);
  return { wall: e!, cpu: u! + s!, rssMiB: m! / 1024, stdout };
}

/** The command that runs tibr on the chosen runtime. */
function tibrCmd(): string[] {
  const runtime = arg("runtime", "deno");
  if (runtime === "deno") return [tool("deno"), "run", "-A", join(ROOT, "src/cli/main.ts")];
  if (runtime === "bun") return [tool("bun"), "run", join(ROOT, "src/cli/main.ts")];
  if (runtime !== "binary") throw new Error(`--runtime ${runtime}: use deno, bun or binary`);
  const tibr = arg("tibr", join(ROOT, "dist", "tibr"));
  if (!existsSync(tibr)) throw new Error(`${tibr} does not exist: run 'npm run build'`);
  return [tibr];
}

function lastJson(m: Measured) {
  return JSON.parse(m.stdout.trim().split("\n").pop()!);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(t);
}

/** Samples import counters every 10 ms: first Download to last MultiIngest answered. */
function busyWindow(stats: { downloads: number; ingests: number }) {
  let first = 0;
  let last = 0;
  const d0 = stats.downloads;
  let seen = stats.ingests;
  const timer = setInterval(() => {
    const now = performance.now();
    if (first === 0 && stats.downloads > d0) first = now;
    if (stats.ingests !== seen) {
      seen = stats.ingests;
      last = now;
    }
  }, 10);
  return () => {
    clearInterval(timer);
    return first === 0 ? 0 : (last - first) / 1000;
  };
}

// -------------------------------------------------------------------- part files: layout

/** Keys `rb` + 9 digits: range i is [key(i), key(i+1)). */
function keyOf(i: number): Uint8Array {
  return new TextEncoder().encode(`rb${String(i).padStart(9, "0")}`);
}

/** The files of range i: a write-CF and a default-CF file, as a region of table data has. */
function filesOf(i: number) {
  return (["default", "write"] as const).map((cf) => ({
    name: `1/${i}_${cf}.sst`,
    sha256: new Uint8Array(32),
    startKey: keyOf(i),
    endKey: keyOf(i + 1),
    startVersion: 0n,
    endVersion: 1000n,
    crc64xor: BigInt(i * 2 + (cf === "write" ? 1 : 0)),
    totalKvs: 1n,
    totalBytes: cf === "write" ? 40n : 320n,
    size: cf === "write" ? 1100n : 1400n,
    cf,
  }));
}

async function writeSyntheticBackup(dir: string, ranges: number): Promise<void> {
  const { MetaWriter } = await import("../src/backup/metawriter.ts");
  const { openStorage } = await import("../src/storage/registry.ts");
  const storage = await openStorage(`local://${dir}`);
  const w = new MetaWriter(storage);
  for (let i = 0; i < ranges; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(ranges, i + 1000); j++) batch.push(...filesOf(j));
    await w.appendDataFiles(batch);
  }
  await w.finish({
    clusterId: 1n,
    clusterVersion: "v7.5.0",
    brVersion: "tibr bench",
    startVersion: 0n,
    endVersion: 1000n,
    isTxnKv: true,
  });
  await storage.close();
}

/** Playground process: 3 stores, split at every range boundary, instant import. */
async function playgroundFilesRole(): Promise<void> {
  const ranges = Number(arg("ranges", "5000"));
  const { Cluster } = await import("../src/playground/cluster.ts");
  const { encodeRegionKey } = await import("../src/playground/regions.ts");
  const { startPlayground } = await import("../src/playground/server/mod.ts");
  const cluster = new Cluster({ stores: 3 });
  const splits = [];
  for (let i = 0; i <= ranges; i++) splits.push(encodeRegionKey(keyOf(i)));
  cluster.regions.splitRegion(cluster.regions.all()[0]!.id, splits);
  cluster.regions.scatterLeaders();
  const pg = await startPlayground({
    cluster,
    electionMs: 0,
    adminPort: -1,
    sstWorkers: 0,
    instantImport: true,
    scatterMs: 1,
  });
  process.stdout.write(`READY ${pg.pdAddress} ${cluster.regions.size}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
  });
  await pg.stop();
  process.exit(0);
}

/** A tiny counting semaphore per store, as the client's per-store limit. */
class Slots {
  #free: number;
  #wait: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#wait.push(r));
    try {
      return await fn();
    } finally {
      const next = this.#wait.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/**
 * The floor: what any restore client must send. Regions from one ScanRegions walk, then per
 * range (region) every file downloaded to every peer and one MultiIngest on the leader, with
 * `--concurrency` calls in flight per store.
 */
async function floorRole(): Promise<void> {
  const ranges = Number(arg("ranges", "5000"));
  const pd = await PdClient.connect({ endpoints: [arg("pd", "")] });
  const stores = new Map((await pd.getAllStores()).map((s) => [s.id, s.address]));
  const clients = new Map(
    [...stores].map((
      [id, addr],
    ) => [id, createClient(ImportSST, createConnection(addr).transport)]),
  );
  const slots = new Map([...stores.keys()].map((id) => [id, new Slots(CONCURRENCY)]));
  const regions: RegionInfo[] = [];
  let cursor = keyOf(0);
  const end = keyOf(ranges);
  for (;;) {
    const page = await pd.scanRegions(cursor, end, 10_000);
    regions.push(...page);
    const last = page[page.length - 1];
    if (!last || last.endKey.length === 0 || compareBytes(last.endKey, end) >= 0) break;
    cursor = last.endKey;
  }
  if (regions.length !== ranges) throw new Error(`${regions.length} regions for ${ranges} ranges`);
  const backend = { backend: { case: "local" as const, value: { path: arg("dir", "") } } };
  let downloads = 0;
  let ingests = 0;
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= ranges) return;
      const region = regions[i]!;
      const metas = await Promise.all(
        filesOf(i).map(async (f) => {
          const meta = create(SSTMetaSchema, {
            uuid: crypto.getRandomValues(new Uint8Array(16)),
            range: { start: region.region.startKey, end: region.region.endKey },
            length: f.size,
            cfName: f.cf,
            regionId: region.region.id,
            ...(region.region.regionEpoch ? { regionEpoch: region.region.regionEpoch } : {}),
          });
          const got = await Promise.all(
            region.region.peers.map((p) =>
              slots.get(p.storeId)!.run(async () => {
                const r = await clients.get(p.storeId)!.download({
                  sst: meta,
                  storageBackend: backend,
                  name: f.name,
                  isRawKv: false,
                });
                if (r.error) throw new Error(`download: ${r.error.message}`);
                downloads++;
                return r;
              })
            ),
          );
          // Ingested with the range the leader's Download answered, without its keys' ts.
          const lead = region.region.peers.findIndex((p) => p.storeId === region.leader!.storeId);
          const range = got[lead]!.range!;
          const cut = (k: Uint8Array) => k.subarray(0, Math.max(0, k.length - 8));
          return create(SSTMetaSchema, {
            uuid: meta.uuid,
            length: meta.length,
            cfName: meta.cfName,
            regionId: meta.regionId,
            ...(meta.regionEpoch ? { regionEpoch: meta.regionEpoch } : {}),
            range: { start: cut(range.start), end: cut(range.end) },
          });
        }),
      );
      const leader = region.leader!;
      await slots.get(leader.storeId)!.run(async () => {
        const r = await clients.get(leader.storeId)!.multiIngest({
          context: {
            regionId: region.region.id,
            ...(region.region.regionEpoch ? { regionEpoch: region.region.regionEpoch } : {}),
            peer: leader,
          },
          ssts: metas,
        });
        if (r.error) throw new Error(`ingest: ${r.error.message}`);
        ingests++;
      });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY * stores.size }, worker));
  process.stdout.write(JSON.stringify({ downloads, ingests }) + "\n");
  process.exit(0);
}

function startFilesPlayground(ranges: number): Promise<{ child: ChildProcess; pd: string }> {
  const child = spawn(tool("bun"), [
    "run",
    SELF,
    "--role",
    "playground",
    "--ranges",
    String(ranges),
  ], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let seen = "";
    let err = "";
    child.stderr!.on("data", (d) => (err = (err + d).slice(-4000)));
    child.stdout!.on("data", (d) => {
      seen += d;
      const m = /READY (\S+) (\d+)\n/.exec(seen);
      if (m) resolve({ child, pd: m[1]! });
    });
    child.once("exit", (code) => reject(new Error(`the playground exited (${code}): ${err}`)));
  });
}

interface SideFig {
  wall: number;
  cpu: number;
  rssMiB: number;
  walls: number[];
  /** CPU seconds the playground process spent serving this side (median). */
  playgroundCpu: number;
}

function sideOf(ms: Measured[], pgCpu: number[]): SideFig {
  return {
    wall: median(ms.map((m) => m.wall)),
    cpu: median(ms.map((m) => m.cpu)),
    rssMiB: Math.max(...ms.map((m) => m.rssMiB)),
    walls: ms.map((m) => m.wall),
    playgroundCpu: median(pgCpu),
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

async function filesPart(): Promise<void> {
  const sizes = arg("files", "10000,100000").split(",").map(Number);
  const runs = Number(arg("runs", "3"));
  const runtime = arg("runtime", "deno");
  ensureDebianPackages(["/usr/bin/time"], ["time"]);
  const tmp = mkdtempSync(join(tmpdir(), "tibr-bench-restore-"));
  const floorRt = runtime === "deno" ? [tool("deno"), "run", "-A"] : [tool("bun"), "run"];
  log(
    `restore client overhead: instant import, ${runs} run(s) per side, client on ${runtime}, ` +
      `concurrency ${CONCURRENCY} per store, load average ${loadavg()[0]!.toFixed(2)}`,
  );
  const results = [];
  try {
    for (const files of sizes) {
      const ranges = Math.ceil(files / 2);
      const dir = join(tmp, `b${files}`);
      const t0 = performance.now();
      await writeSyntheticBackup(dir, ranges);
      const pg = await startFilesPlayground(ranges);
      try {
        log(
          `== ${ranges * 2} files in ${ranges} ranges (backup written in ` +
            `${((performance.now() - t0) / 1000).toFixed(1)} s, PD ${pg.pd})`,
        );
        const floorCmd = [
          ...floorRt,
          SELF,
          "--role",
          "floor",
          "--pd",
          pg.pd,
          "--ranges",
          String(ranges),
          "--dir",
          dir,
          "--concurrency",
          String(CONCURRENCY),
        ];
        const clientCmd = [
          ...tibrCmd(),
          "--log-file",
          join(tmp, "client.log"),
          "restore",
          "txn",
          "-u",
          pg.pd,
          "-s",
          `local://${dir}`,
          "--concurrency",
          String(CONCURRENCY),
          "--progress",
          "quiet",
          "--output",
          "json",
        ];
        if (arg("warmup", "1") !== "0") await measure(floorCmd, tmp); // warms the playground
        const floors: Measured[] = [];
        const clients: Measured[] = [];
        const pgFloor: number[] = [];
        const pgClient: number[] = [];
        for (let r = 0; r < runs; r++) {
          let pg0 = cpuSecondsOf(pg.child.pid);
          const f = await measure(floorCmd, tmp);
          pgFloor.push(cpuSecondsOf(pg.child.pid) - pg0);
          const got = lastJson(f);
          if (got.downloads !== ranges * 2 * 3 || got.ingests !== ranges) {
            throw new Error(`the floor made ${got.downloads} downloads, ${got.ingests} ingests`);
          }
          floors.push(f);
          pg0 = cpuSecondsOf(pg.child.pid);
          const c = await measure(clientCmd, tmp);
          pgClient.push(cpuSecondsOf(pg.child.pid) - pg0);
          const s = lastJson(c);
          if (s.dataFiles !== ranges * 2) {
            throw new Error(`the client restored ${s.dataFiles} files, not ${ranges * 2}`);
          }
          clients.push(c);
          log(
            `  run ${r + 1}: floor ${f.wall.toFixed(2)} s (cpu ${f.cpu.toFixed(2)} s, ` +
              `${f.rssMiB.toFixed(0)} MiB); client ${c.wall.toFixed(2)} s (cpu ` +
              `${c.cpu.toFixed(2)} s, ${c.rssMiB.toFixed(0)} MiB); playground cpu ` +
              `${pgFloor.at(-1)!.toFixed(2)} s / ${pgClient.at(-1)!.toFixed(2)} s`,
          );
        }
        const res = {
          files: ranges * 2,
          ranges,
          floor: sideOf(floors, pgFloor),
          client: sideOf(clients, pgClient),
        };
        results.push(res);
        log(
          `  medians: floor ${res.floor.wall.toFixed(2)} s, client ${
            res.client.wall.toFixed(2)
          } s` +
            ` = ${(res.client.wall / res.floor.wall).toFixed(2)}x (target <= 1.5); client ` +
            `${(res.client.cpu / res.files * 1e6).toFixed(1)} us cpu per file, peak RSS ` +
            `${res.client.rssMiB.toFixed(0)} MiB`,
        );
      } finally {
        await stopChild(pg.child);
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const steps = marginal(
    results.map((r) => ({ n: r.files, wall: r.client.wall, cpu: r.client.cpu })),
  );
  report("file", steps);
  log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  if (process.argv.includes("--json")) {
    log(JSON.stringify({
      bench: "restore-files",
      runtime,
      runs,
      concurrency: CONCURRENCY,
      loadavg: loadavg(),
      sizes: results,
      steps,
    }));
  }
}

/** Per-unit cost between consecutive sizes (start-up taken out), and the per-unit average. */
function marginal(xs: { n: number; wall: number; cpu: number }[]) {
  return xs.slice(1).map((b, i) => {
    const a = xs[i]!;
    const dn = b.n - a.n;
    return {
      from: a.n,
      to: b.n,
      wallUs: ((b.wall - a.wall) / dn) * 1e6,
      cpuUs: ((b.cpu - a.cpu) / dn) * 1e6,
      // Growth of the average cost per unit (wall and cpu over n) from a to b.
      wallGrowth: (b.wall / b.n) / (a.wall / a.n),
      cpuGrowth: (b.cpu / b.n) / (a.cpu / a.n),
    };
  });
}

function report(unit: string, steps: ReturnType<typeof marginal>): void {
  for (const s of steps) {
    log(
      `  ${s.from} -> ${s.to}: marginal ${s.wallUs.toFixed(1)} us wall, ${s.cpuUs.toFixed(1)} us ` +
        `cpu per ${unit}; cost per ${unit} grows ${s.wallGrowth.toFixed(2)}x wall, ` +
        `${s.cpuGrowth.toFixed(2)}x cpu (target <= 1.2)`,
    );
  }
}

// ------------------------------------------------------------------------------ part e2e

async function backupOf(pd: string, dest: string, tmp: string) {
  return await measure([
    ...tibrCmd(),
    "--log-file",
    join(tmp, "backup.log"),
    "backup",
    "full",
    "-u",
    pd,
    "-s",
    `local://${dest}`,
    "--output",
    "json",
    "--progress",
    "quiet",
  ], tmp);
}

function hostPort(addr: string): [string, string] {
  const i = addr.lastIndexOf(":");
  return [addr.slice(0, i), addr.slice(i + 1)];
}

async function restoreOf(
  pg: { pdAddress: string; tidbAddress: string; tidbStatusAddress: string },
  src: string,
  tmp: string,
  extra: string[] = [],
) {
  const [host, port] = hostPort(pg.tidbAddress);
  return await measure([
    ...tibrCmd(),
    "--log-file",
    join(tmp, "restore.log"),
    "restore",
    "full",
    "-u",
    pg.pdAddress,
    "-s",
    `local://${src}`,
    "--tidb-host",
    host,
    "--tidb-port",
    port,
    "--tidb-status-port",
    hostPort(pg.tidbStatusAddress)[1],
    "--output",
    "json",
    "--progress",
    "quiet",
    ...extra,
  ], tmp);
}

/** CPU seconds (user + system) this process (the playgrounds and the bench) used since `from`. */
function ownCpu(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

/**
 * Logs `line()` every `--progress-secs` seconds (30; 0 = never) while a long phase runs, so a
 * run of many tables shows where it is. Returns the stopper.
 */
function progress(line: () => string): () => void {
  const secs = Number(arg("progress-secs", "30"));
  if (!(secs > 0)) return () => {};
  const t0 = performance.now();
  const timer = setInterval(() => {
    const mem = process.memoryUsage();
    log(
      `    ${((performance.now() - t0) / 1000).toFixed(0)} s: ${line()}; bench RSS ` +
        `${(mem.rss / MiB).toFixed(0)} MiB, heap ${(mem.heapUsed / MiB).toFixed(0)} MiB`,
    );
  }, secs * 1000);
  return () => clearInterval(timer);
}

/** The empty playground a restore goes into: a TiDB server, scatter operators done in 5 ms. */
const TARGET_PLAYGROUND = {
  data: "empty",
  electionMs: 0,
  adminPort: -1,
  scatterMs: 5,
  tidbPort: 0,
} as const;

/** Backs up playground A (`spec`), stops it, restores into an empty playground B. */
async function roundTrip(spec: SampleSpec, tmp: string) {
  const { startPlayground } = await import("../src/playground/server/mod.ts");
  const dest = join(tmp, "backup");
  // A's data is unreachable once its backup is done, so B's restore does not run beside it in
  // the heap (the playgrounds share this process).
  const { backup, backupBusy, backupPlaygroundCpu, load } = await backupOfSample(
    spec,
    dest,
    tmp,
  );
  const cpu0 = process.cpuUsage();
  const b = await startPlayground(TARGET_PLAYGROUND);
  let restore: Measured;
  let restoreBusy: number;
  let restorePlaygroundCpu: number;
  const s = b.imports.stats;
  const stopProgress = progress(() =>
    `restore: ${b.tidb?.engine.schema().dbs.reduce((n, d) => n + d.tables.length, 0)} tables ` +
    `in TiDB, ${b.cluster.regions.size} regions, ${s.downloads} downloads, ${s.ingests} ` +
    `ingests, playground cpu ${ownCpu(cpu0).toFixed(1)} s`
  );
  try {
    const stop = busyWindow(b.imports.stats);
    restore = await restoreOf(b, dest, tmp).finally(() => (restoreBusy = stop()));
    restoreBusy = stop();
  } finally {
    stopProgress();
    restorePlaygroundCpu = ownCpu(cpu0);
    await b.stop();
  }
  const bs = lastJson(backup);
  const rs = lastJson(restore);
  return {
    backup,
    backupBusy,
    backupPlaygroundCpu,
    bs,
    restore,
    restoreBusy,
    restorePlaygroundCpu,
    rs,
    load,
  };
}

/** Loads `spec` into playground A, backs it up to `dest` and stops A. */
async function backupOfSample(spec: SampleSpec, dest: string, tmp: string) {
  const { Cluster } = await import("../src/playground/cluster.ts");
  const { loadSample } = await import("../src/playground/sample.ts");
  const { startPlayground } = await import("../src/playground/server/mod.ts");
  const t0 = performance.now();
  const loadCpu0 = process.cpuUsage();
  const cluster = new Cluster({ stores: 3 });
  const loaded = loadSample(cluster, spec);
  const load = {
    secs: (performance.now() - t0) / 1000,
    cpu: ownCpu(loadCpu0),
    regions: cluster.regions.size,
  };
  log(
    `  loaded ${loaded.rows} rows, ${loaded.kvs} kvs, ${(loaded.bytes / MiB).toFixed(0)} MiB in ` +
      `${load.secs.toFixed(1)} s (cpu ${load.cpu.toFixed(1)} s); ${load.regions} regions`,
  );
  const cpu0 = process.cpuUsage();
  const a = await startPlayground({ cluster, electionMs: 0, adminPort: -1 });
  let backup: Measured;
  let backupBusy: number;
  let backupPlaygroundCpu: number;
  const stopProgress = progress(() =>
    `backup: ${a.stats.backupResponses} region responses, ${a.stats.backupFiles} files, ` +
    `playground cpu ${ownCpu(cpu0).toFixed(1)} s`
  );
  try {
    let first = 0;
    let last = 0;
    const q0 = a.stats.backupRequests;
    let seen = a.stats.backupResponses;
    const timer = setInterval(() => {
      const now = performance.now();
      if (first === 0 && a.stats.backupRequests > q0) first = now;
      if (a.stats.backupResponses !== seen) {
        seen = a.stats.backupResponses;
        last = now;
      }
    }, 10);
    backup = await backupOf(a.pdAddress, dest, tmp).finally(() => clearInterval(timer));
    backupBusy = (last - first) / 1000;
  } finally {
    stopProgress();
    backupPlaygroundCpu = ownCpu(cpu0);
    await a.stop();
  }
  return { backup, backupBusy, backupPlaygroundCpu, load };
}

async function e2ePart(): Promise<void> {
  const gib = Number(arg("gib", "2"));
  ensureDebianPackages(["/usr/bin/time"], ["time"]);
  const tmp = mkdtempSync(join(arg("dir", "/tmp"), "tibr-bench-restore-e2e-"));
  const rows = Math.round((gib * 1024 * MiB) / 400 / 8);
  const spec: SampleSpec = {
    seed: 1,
    databases: [{
      name: "bench",
      tables: Array.from({ length: 8 }, (_, i) => ({
        name: `t${i}`,
        kind: "int",
        rows,
        payload: 300,
      })),
    }],
    rawKv: null,
    regions: { maxBytes: 32 * MiB, splitTables: true },
  };
  log(`restore end to end: ~${gib} GiB (the B4 data set), tibr on ${arg("runtime", "deno")}`);
  try {
    const r = await roundTrip(spec, tmp);
    const kvBytes = Number(r.rs.totalBytes);
    const backupMBs = Number(r.bs.totalBytes) / 1e6 / (r.bs.timeTakenMs / 1000);
    const restoreMBs = kvBytes / 1e6 / (r.rs.timeTakenMs / 1000);
    log(
      `backup: ${r.bs.dataFiles} files, ${
        (Number(r.bs.totalBytes) / MiB).toFixed(0)
      } MiB of KV in ` +
        `${r.backup.wall.toFixed(1)} s (stores busy ${r.backupBusy.toFixed(1)} s), ` +
        `${backupMBs.toFixed(1)} MB/s, RSS ${r.backup.rssMiB.toFixed(0)} MiB`,
    );
    log(
      `restore: ${r.rs.dataFiles} files, ${r.rs.ranges} ranges, ${r.rs.newRegions} new regions, ` +
        `checksum ${r.rs.checksum}, ${(kvBytes / MiB).toFixed(0)} MiB of KV in ` +
        `${r.restore.wall.toFixed(1)} s (stores busy ${r.restoreBusy.toFixed(1)} s: wall/busy ` +
        `${(r.restore.wall / r.restoreBusy).toFixed(2)}), ${restoreMBs.toFixed(1)} MB/s, ` +
        `cpu ${r.restore.cpu.toFixed(1)} s, RSS ${r.restore.rssMiB.toFixed(0)} MiB`,
    );
    if (process.argv.includes("--json")) {
      log(JSON.stringify({
        bench: "restore-e2e",
        gib,
        runtime: arg("runtime", "deno"),
        kvBytes,
        files: r.rs.dataFiles,
        ranges: r.rs.ranges,
        checksum: r.rs.checksum,
        backup: { ...r.backup, stdout: undefined, busySecs: r.backupBusy, mbs: backupMBs },
        restore: { ...r.restore, stdout: undefined, busySecs: r.restoreBusy, mbs: restoreMBs },
        loadavg: loadavg(),
      }));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// --------------------------------------------------------------------------- part tables

/**
 * `--restore-kept DIR[,DIR...]`: restores backups an earlier `--keep` run left (each DIR the
 * printed `kept` directory, holding `backup/`) into fresh empty playgrounds, without loading
 * or backing up again: the restore's figures alone, for a change to the restore (a 100k round
 * trip is most of an hour more). Checkpoints off, so a run stopped earlier is not resumed.
 */
async function restoreKept(dirs: string[]): Promise<void> {
  const { startPlayground } = await import("../src/playground/server/mod.ts");
  const results: { n: number; wall: number; cpu: number }[] = [];
  for (const dir of dirs) {
    const tmp = mkdtempSync(join(arg("dir", "/tmp"), "tibr-bench-restore-kept-"));
    const b = await startPlayground(TARGET_PLAYGROUND);
    try {
      const m = await restoreOf(b, join(dir, "backup"), tmp, ["--use-checkpoint=false"]);
      const rs = lastJson(m);
      results.push({ n: rs.tables, wall: m.wall, cpu: m.cpu });
      log(
        `${rs.tables} tables from ${dir}: restore ${m.wall.toFixed(1)} s (cpu ` +
          `${m.cpu.toFixed(1)} s, RSS ${m.rssMiB.toFixed(0)} MiB, ${rs.dataFiles} files, ` +
          `checksum ${rs.checksum}); ${(m.cpu / rs.tables * 1000).toFixed(2)} ms cpu per table`,
      );
    } finally {
      await b.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  report("table", marginal(results));
}

async function tablesPart(): Promise<void> {
  const kept = arg("restore-kept", "");
  if (kept) {
    ensureDebianPackages(["/usr/bin/time"], ["time"]);
    return await restoreKept(kept.split(","));
  }
  const sizes = arg("tables", "10000,100000").split(",").map(Number);
  const rowsPer = Number(arg("rows", "2"));
  ensureDebianPackages(["/usr/bin/time"], ["time"]);
  log(
    `many tables: ${rowsPer} rows each, tibr on ${arg("runtime", "deno")}, load average ` +
      `${loadavg()[0]!.toFixed(2)}`,
  );
  const results = [];
  for (const n of sizes) {
    const tmp = mkdtempSync(join(arg("dir", "/tmp"), "tibr-bench-restore-tables-"));
    try {
      log(`== ${n} tables`);
      const spec: SampleSpec = {
        seed: 1,
        databases: Array.from({ length: Math.ceil(n / 1000) }, (_, d) => ({
          name: `db${d}`,
          tables: Array.from({ length: Math.min(1000, n - d * 1000) }, (_, i) => ({
            name: `t${i}`,
            kind: "int",
            rows: rowsPer,
            payload: 16,
          })),
        })),
        rawKv: null,
        regions: { maxBytes: 96 * MiB, splitTables: true },
      };
      const r = await roundTrip(spec, tmp);
      if (r.rs.tables !== n) throw new Error(`restored ${r.rs.tables} tables, not ${n}`);
      const res = {
        tables: n,
        files: r.rs.dataFiles,
        backup: {
          wall: r.backup.wall,
          cpu: r.backup.cpu,
          rssMiB: r.backup.rssMiB,
          playgroundCpu: r.backupPlaygroundCpu,
        },
        restore: {
          wall: r.restore.wall,
          cpu: r.restore.cpu,
          rssMiB: r.restore.rssMiB,
          playgroundCpu: r.restorePlaygroundCpu,
        },
        load: r.load,
        restoreBusySecs: r.restoreBusy,
        checksum: r.rs.checksum,
      };
      results.push(res);
      log(
        `  backup ${res.backup.wall.toFixed(1)} s (cpu ${res.backup.cpu.toFixed(1)} s, RSS ` +
          `${res.backup.rssMiB.toFixed(0)} MiB, playground cpu ` +
          `${res.backup.playgroundCpu.toFixed(1)} s); restore ${res.restore.wall.toFixed(1)} s ` +
          `(cpu ${res.restore.cpu.toFixed(1)} s, RSS ${res.restore.rssMiB.toFixed(0)} MiB, ` +
          `playground cpu ${res.restore.playgroundCpu.toFixed(1)} s, stores ` +
          `busy ${r.restoreBusy.toFixed(1)} s, ${res.files} files, checksum ${res.checksum}); ` +
          `${(res.restore.wall / n * 1000).toFixed(2)} ms per table`,
      );
    } finally {
      // `--keep`: the backup and the tibr logs stay for a look at the phases.
      if (process.argv.includes("--keep")) log(`  kept ${tmp}`);
      else rmSync(tmp, { recursive: true, force: true });
    }
  }
  log("backup:");
  const backupSteps = marginal(
    results.map((r) => ({ n: r.tables, wall: r.backup.wall, cpu: r.backup.cpu })),
  );
  report("table", backupSteps);
  log("restore:");
  const restoreSteps = marginal(
    results.map((r) => ({ n: r.tables, wall: r.restore.wall, cpu: r.restore.cpu })),
  );
  report("table", restoreSteps);
  const big = results[results.length - 1]!;
  log(
    `peak RSS at ${big.tables} tables: backup ${big.backup.rssMiB.toFixed(0)} MiB, restore ` +
      `${big.restore.rssMiB.toFixed(0)} MiB (target <= 512 MiB at 100k on the binary)`,
  );
  if (process.argv.includes("--json")) {
    log(JSON.stringify({
      bench: "restore-tables",
      runtime: arg("runtime", "deno"),
      rowsPerTable: rowsPer,
      sizes: results,
      backupSteps,
      restoreSteps,
      loadavg: loadavg(),
    }));
  }
}

// The playgrounds run in this process, on bun for most runs: their heap is kept near its live
// size as tibr's own is (`src/heap.ts`), so a long run does not end for the machine's memory.
keepHeapTight();
if (role === "playground") await playgroundFilesRole();
else if (role === "backup") {
  await writeSyntheticBackup(arg("dir", ""), Number(arg("ranges", "5000")));
} else if (role === "floor") await floorRole();
else if (part === "files") await filesPart();
else if (part === "e2e") await e2ePart();
else if (part === "tables") await tablesPart();
else {
  console.error(`unknown --part ${part}: use files, e2e or tables`);
  process.exit(2);
}
