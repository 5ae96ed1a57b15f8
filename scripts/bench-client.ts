/**
 * B1: what the backup CLIENT costs, apart from the stores. A playground whose stores answer
 * backups to `noop://` instantly (`instantNoop`: no SST is built, every region still answers
 * with its Files) holds N regions of one key each; in separate processes, alternately:
 *
 * - the floor: a bare Connect client (src/gen + src/rpc/transport.ts, PD through PdClient) that
 *   sends the same BackupRequest to every store and only counts the responses;
 * - the client: `tibr backup txn -s noop://` (push-down, range tree, fine-grained check,
 *   metawriter with every File, summary).
 *
 * Each is measured by `/usr/bin/time` (wall, user+sys CPU, peak RSS of that process alone).
 * Prints medians of `--runs`, the ratios client/floor (target: wall <= 1.5x), the cost per
 * region and its growth from 10k to 1M regions (target: flat), and the client's peak RSS
 * (target: <= 1 GiB at 1M regions).
 *
 *   deno run -A scripts/bench-client.ts [--regions 10000,100000,1000000] [--runs 3]
 *     [--files-per-region 2] [--runtime deno|bun|binary] [--tibr dist/tibr] [--json]
 *
 * `--runtime` runs the client with `deno run` (default), `bun run`, or the compiled binary
 * (`--tibr`, default dist/tibr); the floor runs on deno, or on bun for the other two.
 * `--files-per-region 2` gives every key a value longer than 255 bytes, so each region has a
 * write-CF and a default-CF File, as table data usually does; 1 keeps values inline. `--json`
 * prints one JSON object with every figure on the last line (for scripts/bench.ts).
 * The playground runs in its own process (`--role playground`) on bun, whose HTTP/2 server
 * streams about three times as many responses per second as deno's, so the stores are the
 * fastest available; the floor runs as `--role floor`. Only the client's own process is
 * measured, never the playground.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { Backup, CompressionType } from "../src/gen/brpb_pb.ts";
import { PdClient } from "../src/pd/client.ts";
import { createConnection } from "../src/rpc/transport.ts";
import { ensureDebianPackages } from "../tests/_support/debian.ts";
import { arg, median } from "./_bench_util.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** This script: the floor and the playground run as its `--role floor` and `--role playground`. */
export const SELF: string = fileURLToPath(import.meta.url);
const MiB = 1024 * 1024;
const role = arg("role", "main");
const filesPerRegion = Number(arg("files-per-region", "2"));

/** A tool from node_modules/.bin (the pinned deno and bun), else from PATH. */
export function tool(name: string): string {
  const local = join(ROOT, "node_modules", ".bin", name);
  return existsSync(local) ? local : name;
}

// ------------------------------------------------------------------------- playground role

/** Keys `bc` + 9 digits: short, ordered, one per region. */
function keyOf(i: number): Uint8Array {
  return new TextEncoder().encode(`bc${String(i).padStart(9, "0")}`);
}

async function playgroundRole(): Promise<void> {
  const n = Number(arg("regions", "10000"));
  const { Cluster } = await import("../src/playground/cluster.ts");
  const { encodeRegionKey } = await import("../src/playground/regions.ts");
  const { startPlayground } = await import("../src/playground/server/mod.ts");
  const t0 = performance.now();
  const cluster = new Cluster({ stores: 3 });
  // Longer than 255 bytes: the value goes to the default CF, so the region has two files.
  const value = new Uint8Array(filesPerRegion === 2 ? 300 : 24).fill(0x61);
  const batch = 8192;
  for (let i = 0; i < n; i += batch) {
    const muts = [];
    for (let j = i; j < Math.min(n, i + batch); j++) {
      muts.push({ op: "put" as const, key: keyOf(j), value });
    }
    cluster.runTxn(muts);
  }
  const first = cluster.regions.all()[0]!;
  const splits = [];
  for (let i = 1; i < n; i++) splits.push(encodeRegionKey(keyOf(i)));
  cluster.regions.splitRegion(first.id, splits);
  cluster.regions.scatterLeaders();
  const pg = await startPlayground({
    cluster,
    electionMs: 0,
    adminPort: -1,
    sstWorkers: 0,
    instantNoop: true,
  });
  const loadSecs = (performance.now() - t0) / 1000;
  process.stdout.write(
    `READY ${pg.pdAddress} ${cluster.regions.size} ${loadSecs.toFixed(1)} ` +
      `${Math.round(process.memoryUsage().rss / MiB)}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
  });
  await pg.stop();
  process.exit(0);
}

// ------------------------------------------------------------------------------ floor role

/** What any client must do: PD for a ts and the stores, then one stream per store, counted. */
async function floorRole(): Promise<void> {
  const pd = await PdClient.connect({ endpoints: [arg("pd", "")] });
  try {
    const ts = await pd.getTS();
    const stores = await pd.getAllStores();
    let responses = 0;
    let files = 0;
    let errors = 0;
    await Promise.all(stores.map(async (s) => {
      const conn = createConnection(s.address);
      try {
        const req = {
          clusterId: pd.clusterId,
          startKey: new Uint8Array(),
          endKey: new Uint8Array(),
          startVersion: 0n,
          endVersion: ts,
          concurrency: 4,
          storageBackend: { backend: { case: "noop" as const, value: {} } },
          compressionType: CompressionType.ZSTD,
        };
        for await (const r of createClient(Backup, conn.transport).backup(req)) {
          responses++;
          files += r.files.length;
          if (r.error) errors++;
        }
      } finally {
        conn.close();
      }
    }));
    process.stdout.write(JSON.stringify({ responses, files, errors }) + "\n");
  } finally {
    pd.close();
  }
  // As the CLI does: leave at once rather than wait for idle HTTP/2 sessions to time out.
  process.exit(0);
}

// ------------------------------------------------------------------------------- main role

/** The client's arguments after the program: a txn backup of everything to `noop://`. */
export function clientArgs(pd: string, logFile: string): string[] {
  return [
    "--log-file",
    logFile,
    "backup",
    "txn",
    "-u",
    pd,
    "-s",
    "noop://",
    "--progress",
    "quiet",
    "--output",
    "json",
  ];
}

/** Checks the floor's last line (`n` responses, no error); returns the files it counted. */
export function checkFloor(stdout: string, n: number): number {
  const got = JSON.parse(stdout.trim().split("\n").pop()!);
  if (got.responses !== n || got.errors !== 0) {
    throw new Error(`the floor got ${got.responses} responses (${got.errors} errors), not ${n}`);
  }
  return got.files;
}

/** Checks the client's JSON summary: `n` regions and the floor's `files`. */
export function checkClient(stdout: string, n: number, files: number): void {
  const summary = JSON.parse(stdout.trim().split("\n").pop()!);
  if (summary.totalRegions !== n || summary.dataFiles !== files) {
    throw new Error(
      `the client saw ${summary.totalRegions} regions and ${summary.dataFiles} files, ` +
        `the floor ${n} and ${files}`,
    );
  }
}

/** One measured process: wall s, user+sys CPU s, peak RSS MiB, and its stdout. */
interface Measured {
  wall: number;
  cpu: number;
  rssMiB: number;
  stdout: string;
}

/** Runs `cmd` under /usr/bin/time, so the figures are that process's own. */
function measure(cmd: string, args: string[], dir: string): Promise<Measured> {
  const out = join(dir, `time-${Math.random().toString(36).slice(2)}.txt`);
  return new Promise((resolve, reject) => {
    const child = spawn("/usr/bin/time", ["-f", "%e %U %S %M", "-o", out, cmd, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) {
        reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr.trim().slice(-2000)}`));
        return;
      }
      const text = readFileSync(out, "utf8").trim().split("\n").pop() ?? "";
      rmSync(out, { force: true });
      const [e, u, s, m] = text.split(/\s+/).map(Number);
      if (e === undefined || u === undefined || s === undefined || m === undefined) {
        reject(new Error(`cannot read /usr/bin/time's output: ${text}`));
        return;
      }
      resolve({ wall: e, cpu: u + s, rssMiB: m / 1024, stdout });
    });
  });
}

function measureCmd(cmd: string[], dir: string): Promise<Measured> {
  return measure(cmd[0]!, cmd.slice(1), dir);
}

/** Starts the playground process and waits for its READY line. */
export function startPlaygroundProcess(
  n: number,
): Promise<{ child: ChildProcess; pd: string; loadSecs: number; rssMiB: number }> {
  const child = spawn(tool("bun"), [
    "run",
    SELF,
    "--role",
    "playground",
    "--regions",
    String(n),
    "--files-per-region",
    String(filesPerRegion),
  ], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let seen = "";
    let err = "";
    child.stderr!.on("data", (d) => (err = (err + d).slice(-4000)));
    child.stdout!.on("data", (d) => {
      seen += d;
      const m = /READY (\S+) (\d+) ([\d.]+) (\d+)\n/.exec(seen);
      if (m) {
        resolve({ child, pd: m[1]!, loadSecs: Number(m[3]), rssMiB: Number(m[4]) });
      }
    });
    child.once("exit", (code) => reject(new Error(`the playground exited (${code}): ${err}`)));
  });
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the child has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(t);
}

/** The medians of one side at one size. */
interface Side {
  wall: number;
  cpu: number;
  rssMiB: number;
  walls: number[];
}

function sideOf(ms: Measured[]): Side {
  return {
    wall: median(ms.map((m) => m.wall)),
    cpu: median(ms.map((m) => m.cpu)),
    rssMiB: Math.max(...ms.map((m) => m.rssMiB)),
    walls: ms.map((m) => m.wall),
  };
}

/** Figures at one region count. */
interface SizeResult {
  regions: number;
  files: number;
  playgroundLoadSecs: number;
  floor: Side;
  client: Side;
}

async function mainRole(): Promise<void> {
  const sizes = arg("regions", "10000,100000,1000000").split(",").map(Number);
  const runs = Number(arg("runs", "3"));
  const runtime = arg("runtime", "deno");
  if (!["deno", "bun", "binary"].includes(runtime)) {
    throw new Error(`--runtime ${runtime}: use deno, bun or binary`);
  }
  const tibr = arg("tibr", join(ROOT, "dist", "tibr"));
  if (runtime === "binary" && !existsSync(tibr)) {
    throw new Error(`${tibr} does not exist: run 'npm run build' or pass --tibr PATH`);
  }
  const json = process.argv.includes("--json");
  if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !(runs >= 1)) {
    throw new Error("--regions takes positive integers separated by commas; --runs >= 1");
  }
  ensureDebianPackages(["/usr/bin/time"], ["time"]);
  const dir = mkdtempSync(join(tmpdir(), "tibr-bench-client-"));
  const deno = [tool("deno"), "run", "-A"];
  const bun = [tool("bun"), "run"];
  const floorCmd = (pd: string) => [
    ...(runtime === "deno" ? deno : bun),
    SELF,
    "--role",
    "floor",
    "--pd",
    pd,
  ];
  const clientCmd = (pd: string) => [
    ...(runtime === "deno"
      ? [...deno, join(ROOT, "src/cli/main.ts")]
      : runtime === "bun"
      ? [...bun, join(ROOT, "src/cli/main.ts")]
      : [tibr]),
    ...clientArgs(pd, join(dir, "client.log")),
  ];
  const log = (s: string) => process.stdout.write(s + "\n");
  log(
    `client overhead: playground with instant noop stores, ${filesPerRegion} file(s) per ` +
      `region, ${runs} run(s) per side, client on ${runtime === "binary" ? tibr : runtime}, ` +
      `load average ${loadavg()[0]!.toFixed(2)}`,
  );
  const results: SizeResult[] = [];
  try {
    for (const n of sizes) {
      const pg = await startPlaygroundProcess(n);
      try {
        log(
          `== ${n} regions (playground up in ${pg.loadSecs} s, RSS ${pg.rssMiB} MiB, PD ${pg.pd})`,
        );
        // Warm the playground's JIT and caches so the first measured side is not penalised.
        await measureCmd(floorCmd(pg.pd), dir);
        const floors: Measured[] = [];
        const clients: Measured[] = [];
        let files = 0;
        for (let r = 0; r < runs; r++) {
          const f = await measureCmd(floorCmd(pg.pd), dir);
          const floorFiles = checkFloor(f.stdout, n);
          floors.push(f);
          const c = await measureCmd(clientCmd(pg.pd), dir);
          checkClient(c.stdout, n, floorFiles);
          files = floorFiles;
          clients.push(c);
          log(
            `  run ${r + 1}: floor ${f.wall.toFixed(2)} s (cpu ${f.cpu.toFixed(2)} s, ` +
              `${f.rssMiB.toFixed(0)} MiB); client ${c.wall.toFixed(2)} s (cpu ` +
              `${c.cpu.toFixed(2)} s, ${c.rssMiB.toFixed(0)} MiB)`,
          );
        }
        const res: SizeResult = {
          regions: n,
          files,
          playgroundLoadSecs: pg.loadSecs,
          floor: sideOf(floors),
          client: sideOf(clients),
        };
        results.push(res);
        const { floor, client } = res;
        log(
          `  medians: floor ${floor.wall.toFixed(2)} s wall, ${floor.cpu.toFixed(2)} s cpu, ` +
            `${floor.rssMiB.toFixed(0)} MiB; client ${client.wall.toFixed(2)} s wall, ` +
            `${client.cpu.toFixed(2)} s cpu, ${client.rssMiB.toFixed(0)} MiB peak RSS`,
        );
        log(
          `  client ${(n / client.wall / 1000).toFixed(1)}k regions/s, ` +
            `${(client.wall / n * 1e6).toFixed(1)} us wall and ${
              (client.cpu / n * 1e6).toFixed(1)
            }` +
            ` us cpu per region; ratio client/floor ${(client.wall / floor.wall).toFixed(2)} ` +
            `wall, ${(client.cpu / floor.cpu).toFixed(2)} cpu (target wall <= 1.5)`,
        );
      } finally {
        await stopChild(pg.child);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The marginal cost of a region between consecutive sizes takes the fixed start-up cost out:
  // flat means each step costs per region what the previous one did.
  const steps = [];
  for (let i = 1; i < results.length; i++) {
    const a = results[i - 1]!;
    const b = results[i]!;
    const dn = b.regions - a.regions;
    steps.push({
      from: a.regions,
      to: b.regions,
      clientWallUs: ((b.client.wall - a.client.wall) / dn) * 1e6,
      clientCpuUs: ((b.client.cpu - a.client.cpu) / dn) * 1e6,
      floorWallUs: ((b.floor.wall - a.floor.wall) / dn) * 1e6,
    });
  }
  if (steps.length > 0) {
    log("marginal cost per region (between sizes):");
    for (const s of steps) {
      log(
        `  ${s.from} -> ${s.to}: client ${s.clientWallUs.toFixed(1)} us wall, ` +
          `${s.clientCpuUs.toFixed(1)} us cpu; floor ${s.floorWallUs.toFixed(1)} us wall`,
      );
    }
    const first = steps[0]!;
    const last = steps[steps.length - 1]!;
    log(
      `  growth of the client's marginal cost: ${
        (last.clientCpuUs / first.clientCpuUs).toFixed(2)
      }x` +
        ` cpu, ${
          (last.clientWallUs / first.clientWallUs).toFixed(2)
        }x wall (target: flat, <= 1.25)`,
    );
  }
  const biggest = results[results.length - 1];
  if (biggest) {
    log(
      `client peak RSS at ${biggest.regions} regions: ${biggest.client.rssMiB.toFixed(0)} MiB ` +
        `(target <= 1024 MiB at 1M)`,
    );
  }
  log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  if (json) {
    log(JSON.stringify({
      bench: "client",
      runtime,
      runs,
      filesPerRegion,
      loadavg: loadavg(),
      sizes: results,
      steps,
    }));
  }
}

// Imported by bench-instructions.ts for its pieces: only run as the entry point.
if (import.meta.main) {
  if (role === "playground") await playgroundRole();
  else if (role === "floor") await floorRole();
  else await mainRole();
}
