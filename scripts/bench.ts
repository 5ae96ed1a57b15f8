/**
 * The benchmark harness: runs the benchmark scripts, each against a floor it measures in the
 * same run (medians of several runs), and writes docs/BENCHMARKS.md, the charts in
 * docs/benchmarks/*.svg and every figure in docs/benchmarks/results.json. Not part of the
 * test suite.
 *
 *   deno run -A scripts/bench.ts [--only B1,B5] [--quick] [--runs 3] [--out docs] [--build]
 *     [--b1-runtimes deno,binary] [--render]
 *
 * Cases: B1 client overhead (scripts/bench-client.ts), B2 checkpoint (bench-checkpoint.ts), B3
 * storage (bench-storage-local.ts vs dd, bench-storage-s3.ts vs lib-storage on Ceph RGW,
 * bench-storage-azure.ts vs the Azure SDK on Azurite), B4 end to end (bench-playground.ts
 * --part backup: 2 GiB to local storage), B5 binary (bench-binary.ts: size and start-up), B6
 * export (bench-export.ts: B4's tables to local CSV against verify and a decode floor; `--b6-gib` sets
 * the size), B7 verify (bench-verify.ts: verify --level data against sst_dump scan over the B4
 * data set; `--b7-gib` sets the size), B8
 * restore (bench-restore.ts: client overhead, end to end, many tables).
 *
 * `--only` runs a subset and keeps the other cases' last results from results.json, so the
 * report stays whole. `--quick` shrinks every case (a smoke test of a few minutes) and writes
 * to a temporary directory unless `--out` is given. `--build` rebuilds dist/tibr first (B1's
 * binary runs and B5 use it; without it they use whatever dist/tibr is there). Scripts whose
 * output is for people are parsed by their figure lines; a case whose script fails or prints
 * something unexpected is reported as such, and the harness exits 1. `--render` runs nothing
 * and rewrites the report and charts from results.json.
 * @module
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { barChart, lineChart } from "./_svg.ts";
import { arg } from "./_bench_util.ts";
import { instructionsSection } from "./_instructions_section.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const QUICK = process.argv.includes("--quick");
const RUNS = Number(arg("runs", QUICK ? "1" : "3"));
const ONLY = process.argv.includes("--render")
  ? []
  : arg("only", "B1,B2,B3,B4,B5,B6,B7,B8").split(",").map((s) => s.trim().toUpperCase());
const OUT = arg("out", QUICK ? mkdtempSync(join(tmpdir(), "tibr-bench-")) : join(ROOT, "docs"));
const CHART_DIR = join(OUT, "benchmarks");
const RESULTS = join(CHART_DIR, "results.json");

/** A tool from node_modules/.bin (the pinned deno and bun), else from PATH. */
function tool(name: string): string {
  const local = join(ROOT, "node_modules", ".bin", name);
  return existsSync(local) ? local : name;
}
const DENO = tool("deno");
const BUN = tool("bun");

// ------------------------------------------------------------------------------ running

interface Ran {
  /** The command as a reader would type it (from the repository root). */
  command: string;
  stdout: string;
  stderr: string;
  code: number | null;
  seconds: number;
}

/** Runs a command from the repository root, echoing its output as it comes. */
function run(cmd: string, args: string[], shown?: string): Promise<Ran> {
  const command = shown ?? [cmd === DENO ? "deno" : cmd === BUN ? "bun" : cmd, ...args].join(" ");
  console.log(`\n$ ${command}`);
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
      process.stdout.write(`  ${String(d).replace(/\n(?=.)/g, "\n  ")}`);
    });
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", (err) => {
      stderr += String(err);
    });
    child.on(
      "close",
      (code) =>
        resolve({ command, stdout, stderr, code, seconds: (performance.now() - t0) / 1000 }),
    );
  });
}

/** The JSON object on the last line of a script's output (its `--json` figures). */
function lastJson(r: Ran): Record<string, unknown> {
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`expected a JSON line at the end of \`${r.command}\`, got: ${line}`);
  }
}

function ensureOk(r: Ran): void {
  if (r.code !== 0) {
    const tail = (r.stderr || r.stdout).trim().split("\n").slice(-6).join(" | ");
    throw new Error(`\`${r.command}\` exited ${r.code}: ${tail}`);
  }
}

/** A number a regexp finds in `text` (its first group), or throws naming what is missing. */
function num(text: string, re: RegExp, what: string): number {
  const m = re.exec(text);
  if (!m) throw new Error(`cannot find ${what} in the output (looked for ${re})`);
  return Number(m[1]);
}

// ------------------------------------------------------------------------------ results

/** One case's outcome, as stored in results.json. */
interface CaseResult {
  /** What a reader should know about how the figures were taken, when not by this harness. */
  note?: string;
  id: string;
  title: string;
  date: string;
  quick: boolean;
  runs: number;
  seconds: number;
  loadBefore: number[];
  loadAfter: number[];
  commands: string[];
  /** Parsed figures (shape per case). */
  data: Record<string, unknown>;
  /** Sub-benchmarks that failed, with the reason. */
  errors: string[];
}

interface Results {
  machine: Record<string, string>;
  cases: Record<string, CaseResult>;
}

function machineInfo(): Record<string, string> {
  const version = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
        .trim().split("\n")[0]!;
    } catch {
      return "not installed";
    }
  };
  let os = `Linux ${release()}`;
  try {
    const pretty = /PRETTY_NAME="([^"]+)"/.exec(readFileSync("/etc/os-release", "utf8"));
    if (pretty) os = `${pretty[1]} (kernel ${release()})`;
  } catch {
    // Not Linux with os-release: the kernel release alone.
  }
  const c = cpus();
  return {
    cpu: `${c[0]?.model ?? "unknown"} (${c.length} cores)`,
    cores: String(c.length),
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os,
    deno: version(DENO, ["--version"]),
    bun: version(tool("bun"), ["--version"]),
    node: version("node", ["--version"]),
    commit: version("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]) +
      (version("git", ["-C", ROOT, "status", "--porcelain", "--", "src", "plugins", "scripts"])
          .length > 0
        ? " with uncommitted changes"
        : ""),
  };
}

// -------------------------------------------------------------------------------- cases

type Case = (res: CaseResult) => Promise<void>;

/** B1: client overhead, on deno and (when built) the binary. */
const B1: Case = async (res) => {
  const sizes = QUICK ? "10000,100000" : "10000,100000,1000000";
  const runtimes = arg("b1-runtimes", QUICK ? "deno" : "deno,binary").split(",");
  for (const rt of runtimes) {
    if (rt === "binary" && !existsSync(join(ROOT, "dist", "tibr"))) {
      res.errors.push("binary: dist/tibr is missing (run with --build or `npm run build`)");
      continue;
    }
    const r = await run(DENO, [
      "run",
      "-A",
      "scripts/bench-client.ts",
      "--regions",
      sizes,
      "--runs",
      String(RUNS),
      "--runtime",
      rt,
      "--json",
    ]);
    res.commands.push(r.command);
    try {
      ensureOk(r);
      res.data[rt] = lastJson(r);
    } catch (err) {
      res.errors.push(`${rt}: ${(err as Error).message}`);
    }
  }
};

/** B2: the checkpoint runner and loader (the other helper's script; its human output). */
const B2: Case = async (res) => {
  const args = ["run", "-A", "scripts/bench-checkpoint.ts", "--runs", String(RUNS)];
  if (QUICK) args.push("--ranges", "100000");
  const r = await run(DENO, args);
  res.commands.push(r.command);
  ensureOk(r);
  const out = r.stdout;
  res.data["ranges"] = num(out, /resume load of (\d+) ranges/, "the range count");
  res.data["flushUsPerRange"] = num(
    out,
    /flush cost per range[^:]*: median ([\d.]+) us/,
    "the flush cost",
  );
  const m =
    /floor[^;]*?([\d.]+) s wall, ([\d.]+) s cpu; loader[^;]*?([\d.]+) s wall, ([\d.]+) s cpu/
      .exec(out.slice(out.indexOf("resume load of")));
  if (!m) throw new Error("cannot find the resume medians (floor ... s wall ...; loader ...)");
  res.data["floorWall"] = Number(m[1]);
  res.data["floorCpu"] = Number(m[2]);
  res.data["loaderWall"] = Number(m[3]);
  res.data["loaderCpu"] = Number(m[4]);
  res.data["ratioWall"] = num(out, /ratio loader\/floor: ([\d.]+) wall/, "the wall ratio");
  res.data["ratioCpu"] = num(out, /ratio loader\/floor: [\d.]+ wall, ([\d.]+) cpu/, "cpu ratio");
};

/** The rows of bench-storage-local's output that B3 reports. */
function parseLocal(stdout: string) {
  const row = (name: string) => {
    // Labels are padded to 26 columns; "plugin readFile" must not match "... into".
    const line = stdout.split("\n").find((x) => x.slice(0, 26).trim() === name);
    if (!line) throw new Error(`no '${name}' row in bench-storage-local's output`);
    const mibs = Number(/\s(\d+) MiB\/s/.exec(line)?.[1]);
    const ratio = /ratio ([\d.]+)x of dd/.exec(line)?.[1];
    const fresh = /([\d.]+)x of dd \+ fresh memory/.exec(line)?.[1];
    return {
      mibs,
      ...(ratio ? { ratio: Number(ratio) } : {}),
      ...(fresh ? { freshRatio: Number(fresh) } : {}),
    };
  };
  return {
    ddWrite: row("dd write (conv=fsync)"),
    write: row("plugin writeFile (fsync)"),
    ddRead: row("dd read (bs=4M)"),
    ddRead2: row("dd read, 2nd pass"),
    ddRead3: row("dd read, 3rd pass"),
    read: row("plugin readFile"),
    readInto: row("plugin readFile into"),
    stream: row("plugin open() stream"),
    cold: /page cache dropped/.test(stdout),
  };
}

/** B3: storage plugins against their floors. */
const B3: Case = async (res) => {
  // On Deno, as the tests run, and on Bun, the runtime of the single binary users run.
  for (
    const [key, cmd, args] of [
      ["local", DENO, ["run", "-A"]],
      ["localBun", BUN, []],
    ] as const
  ) {
    const local = [...args, "scripts/bench-storage-local.ts", "--runs", String(RUNS)];
    if (QUICK) local.push("--files", "2");
    const l = await run(cmd, local);
    res.commands.push(l.command);
    try {
      ensureOk(l);
      res.data[key] = parseLocal(l.stdout);
    } catch (err) {
      res.errors.push(`${key}: ${(err as Error).message}`);
    }
  }
  const size = QUICK ? ["--size-mib", "128"] : [];
  const s3 = await run(DENO, [
    "run",
    "-A",
    "scripts/bench-storage-s3.ts",
    "--runs",
    String(RUNS),
    ...size,
  ]);
  res.commands.push(s3.command);
  try {
    ensureOk(s3);
    res.data["s3"] = {
      plugin: num(s3.stdout, /plugin create\(\):\s+(\d+) MiB\/s/, "the plugin's MiB/s"),
      floor: num(s3.stdout, /lib-storage Upload:\s+(\d+) MiB\/s/, "lib-storage's MiB/s"),
      ratio: num(s3.stdout, /ratio plugin\/Upload:\s+([\d.]+)/, "the ratio"),
      sizeMiB: num(s3.stdout, /uploading (\d+) MiB/, "the size"),
    };
  } catch (err) {
    res.errors.push(`s3: ${(err as Error).message}`);
  }
  const az = await run(DENO, [
    "run",
    "-A",
    "scripts/bench-storage-azure.ts",
    "--runs",
    String(RUNS),
    ...size,
    "--json",
  ]);
  res.commands.push(az.command);
  try {
    ensureOk(az);
    res.data["azure"] = lastJson(az);
  } catch (err) {
    res.errors.push(`azure: ${(err as Error).message}`);
  }
};

/** B4: 2 GiB end to end to local storage. */
const B4: Case = async (res) => {
  const r = await run(DENO, [
    "run",
    "-A",
    "--v8-flags=--max-old-space-size=16384",
    "scripts/bench-playground.ts",
    "--part",
    "backup",
    "--gib",
    QUICK ? "0.1" : "2",
    "--runs",
    String(RUNS),
    "--json",
  ]);
  res.commands.push(r.command);
  ensureOk(r);
  res.data = lastJson(r);
};

/** B5: the binary's size and start-up. */
const B5: Case = async (res) => {
  const r = await run(DENO, ["run", "-A", "scripts/bench-binary.ts", QUICK ? "5" : "30"]);
  res.commands.push(r.command);
  ensureOk(r);
  const out = r.stdout;
  res.data = {
    commit: /Git Commit Hash: (\S+)/.exec(out)?.[1] ?? "unknown",
    sizeMiB: num(out, /size: ([\d.]+) MiB/, "the size"),
    runs: num(out, /median of (\d+) runs/, "the run count"),
    trueMs: num(out, /\/bin\/true ([\d.]+) ms/, "/bin/true"),
    bunMs: num(out, /bun -e '' ([\d.]+) ms/, "bun -e ''"),
    versionMs: num(out, /tibr --version ([\d.]+) ms/, "tibr --version"),
    helpMs: num(out, /tibr --help ([\d.]+) ms/, "tibr --help"),
  };
};

/**
 * A case that runs one bench script over a B4-sized data set (`--{flag}` sets its GiB) and keeps
 * the JSON line it prints.
 */
function sizedScriptCase(script: string, flag: string): Case {
  return async (res) => {
    const r = await run(DENO, [
      "run",
      "-A",
      "--v8-flags=--max-old-space-size=16384",
      script,
      "--gib",
      arg(flag, QUICK ? "0.1" : "2"),
      "--runs",
      String(RUNS),
      "--json",
    ]);
    res.commands.push(r.command);
    ensureOk(r);
    res.data = lastJson(r);
  };
}

/** B6: export of the B4 tables to local CSV against verify --level data and a decode floor. */
const B6 = sizedScriptCase("scripts/bench-export.ts", "b6-gib");

/** B7: verify --level data against sst_dump over the B4 data set. */
const B7 = sizedScriptCase("scripts/bench-verify.ts", "b7-gib");

/**
 * B8: restore (client overhead against a bare floor, end to end, many tables). `--b8-parts`
 * runs some of the three parts and keeps the others' last results (each part records when and
 * how it ran); `--b8-files`, `--b8-gib`, `--b8-tables` and `--b8-runtime` (the many-tables
 * runtime) set their sizes.
 */
const B8: Case = async (res) => {
  const chosen = arg("b8-parts", "files,e2e,tables").split(",").map((s) => s.trim());
  const parts: [string, string[]][] = [
    [
      "files",
      ["--files", arg("b8-files", QUICK ? "2000,10000" : "10000,100000"), "--runs", String(RUNS)],
    ],
    ["e2e", ["--gib", arg("b8-gib", QUICK ? "0.1" : "2")]],
    [
      "tables",
      [
        "--tables",
        arg("b8-tables", QUICK ? "50,200" : "10000,100000"),
        "--runtime",
        arg("b8-runtime", "binary"),
      ],
    ],
  ];
  const kept = previousCase("B8");
  for (const [part, extra] of parts) {
    if (!chosen.includes(part)) {
      const old = kept?.data[part] as { run?: { command: string } } | undefined;
      if (old) {
        res.data[part] = old;
        if (old.run) res.commands.push(old.run.command);
      }
      continue;
    }
    const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
    const loadBefore = loadavg();
    const r = await run(DENO, [
      "run",
      "-A",
      "--v8-flags=--max-old-space-size=16384",
      "scripts/bench-restore.ts",
      "--part",
      part,
      ...extra,
      "--json",
    ]);
    res.commands.push(r.command);
    try {
      ensureOk(r);
      res.data[part] = {
        ...lastJson(r),
        run: { date, loadBefore, loadAfter: loadavg(), command: r.command },
      };
    } catch (err) {
      res.errors.push(`${part}: ${(err as Error).message}`);
    }
  }
};

/** A case's figures from the last results.json, if any. */
function previousCase(id: string): CaseResult | undefined {
  if (!existsSync(RESULTS)) return undefined;
  try {
    return (JSON.parse(readFileSync(RESULTS, "utf8")) as Results).cases[id];
  } catch {
    return undefined;
  }
}

/** When and under what load one part of a case ran, when it ran apart from the others. */
function partRun(d: unknown): string[] {
  const r = (d as { run?: { date: string; loadBefore: number[]; loadAfter: number[] } }).run;
  if (!r) return [];
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
  const load = r.loadBefore.length > 0
    ? `load average ${la(r.loadBefore)} before, ${la(r.loadAfter)} after`
    : `run by hand, load average ${la(r.loadAfter)} at the end`;
  return [`Run ${r.date}; ${load}.`, ""];
}

const CASES: [string, string, Case][] = [
  ["B1", "Client overhead", B1],
  ["B2", "Checkpoint", B2],
  ["B3", "Storage", B3],
  ["B4", "End to end", B4],
  ["B5", "Binary", B5],
  ["B6", "Export", B6],
  ["B7", "Verify", B7],
  ["B8", "Restore", B8],
];

// ------------------------------------------------------------------------------- report

const f1 = (v: unknown) => (typeof v === "number" ? v.toFixed(1) : "-");
const f2 = (v: unknown) => (typeof v === "number" ? v.toFixed(2) : "-");
const met = (ok: boolean) => (ok ? "met" : "**not met**");

interface Side {
  wall: number;
  cpu: number;
  rssMiB: number;
}
interface ClientSize {
  regions: number;
  files: number;
  floor: Side;
  client: Side;
}
interface ClientRun {
  runtime: string;
  sizes: ClientSize[];
  steps: { from: number; to: number; clientCpuUs: number; clientWallUs: number }[];
}

function b1Section(c: CaseResult, charts: Map<string, string>): string[] {
  const out: string[] = [];
  const runs = Object.values(c.data) as ClientRun[];
  for (const r of runs) {
    out.push(
      `**Client on ${r.runtime === "binary" ? "the compiled binary (dist/tibr)" : r.runtime}**` +
        ` (floor on ${r.runtime === "deno" ? "deno" : "bun"}):`,
      "",
      "| regions | files | floor wall | client wall | ratio wall | floor CPU | client CPU | " +
        "ratio CPU | client µs CPU/region | regions/s | floor RSS | client RSS |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const s of r.sizes) {
      out.push(
        `| ${s.regions.toLocaleString("en")} | ${s.files.toLocaleString("en")} | ` +
          `${f2(s.floor.wall)} s | ${f2(s.client.wall)} s | ${
            f2(s.client.wall / s.floor.wall)
          } | ` +
          `${f2(s.floor.cpu)} s | ${f2(s.client.cpu)} s | ${f2(s.client.cpu / s.floor.cpu)} | ` +
          `${f1((s.client.cpu / s.regions) * 1e6)} | ` +
          `${Math.round(s.regions / s.client.wall).toLocaleString("en")} | ` +
          `${s.floor.rssMiB.toFixed(0)} MiB | ${s.client.rssMiB.toFixed(0)} MiB |`,
      );
    }
    out.push("");
    if (r.steps.length > 0) {
      out.push(
        "Marginal cost of a region between sizes (start-up taken out): " +
          r.steps.map((s) =>
            `${s.from.toLocaleString("en")} → ${s.to.toLocaleString("en")}: ` +
            `${f1(s.clientCpuUs)} µs CPU, ${f1(s.clientWallUs)} µs wall`
          ).join("; ") + ".",
        "",
      );
    }
    const big = r.sizes[r.sizes.length - 1];
    const worstWall = Math.max(...r.sizes.map((s) => s.client.wall / s.floor.wall));
    const growth = r.steps.length >= 2
      ? r.steps[r.steps.length - 1]!.clientCpuUs / r.steps[0]!.clientCpuUs
      : undefined;
    out.push(
      `Targets: client wall ≤ 1.5× the floor: worst ${f2(worstWall)}× — ${
        met(worstWall <= 1.5)
      }. ` +
        (growth !== undefined
          ? `Cost per region flat from 10k to 1M: marginal CPU per region grows ` +
            `${f2(growth)}× — ${met(growth <= 1.25)}. `
          : "") +
        (big && big.regions >= 1_000_000
          ? `Peak RSS at 1M regions ≤ 1 GiB: ${big.client.rssMiB.toFixed(0)} MiB — ${
            met(big.client.rssMiB <= 1024)
          }.`
          : ""),
      "",
    );
  }
  for (const name of ["b1-cost.svg", "b1-rss.svg"]) {
    if (charts.has(name)) out.push(`![${name}](benchmarks/${name})`, "");
  }
  return out;
}

function b1Charts(c: CaseResult, charts: Map<string, string>): void {
  const runs = Object.values(c.data) as ClientRun[];
  if (runs.length === 0) return;
  const cost = runs.flatMap((r) => [
    {
      label: `client CPU (${r.runtime})`,
      points: r.sizes.map((s) => [s.regions, (s.client.cpu / s.regions) * 1e6] as [number, number]),
    },
    {
      label: `floor CPU (${r.runtime === "deno" ? "deno" : "bun"})`,
      dashed: true,
      points: r.sizes.map((s) => [s.regions, (s.floor.cpu / s.regions) * 1e6] as [number, number]),
    },
  ]);
  charts.set(
    "b1-cost.svg",
    lineChart({
      title: "B1: CPU per region (µs), client vs bare Connect floor",
      xLabel: "regions (log scale)",
      yLabel: "µs of CPU per region",
      logX: true,
      series: cost,
    }),
  );
  const rss = runs.flatMap((r) => [
    {
      label: `client (${r.runtime})`,
      points: r.sizes.map((s) => [s.regions, s.client.rssMiB] as [number, number]),
    },
    {
      label: `floor (${r.runtime === "deno" ? "deno" : "bun"})`,
      dashed: true,
      points: r.sizes.map((s) => [s.regions, s.floor.rssMiB] as [number, number]),
    },
  ]);
  charts.set(
    "b1-rss.svg",
    lineChart({
      title: "B1: peak RSS (MiB) by region count",
      xLabel: "regions (log scale)",
      yLabel: "peak RSS, MiB",
      logX: true,
      series: rss,
      references: [{ value: 1024, label: "target: 1 GiB at 1M regions" }],
    }),
  );
}

function b2Section(c: CaseResult, charts: Map<string, string>): string[] {
  const d = c.data;
  if (!("ratioWall" in d)) return [];
  charts.set(
    "b2-checkpoint.svg",
    barChart({
      title: `B2: loading ${Number(d["ranges"]).toLocaleString("en")} checkpointed ranges`,
      unit: "seconds",
      groups: [
        {
          label: "wall",
          bars: [{ label: "floor", value: Number(d["floorWall"]) }, {
            label: "loader",
            value: Number(d["loaderWall"]),
          }],
        },
        {
          label: "CPU",
          bars: [{ label: "floor", value: Number(d["floorCpu"]) }, {
            label: "loader",
            value: Number(d["loaderCpu"]),
          }],
        },
      ],
    }),
  );
  return [
    "| ranges | flush cost per range | floor (read+decrypt+parse) | loader | ratio wall | " +
    "ratio CPU |",
    "| ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${Number(d["ranges"]).toLocaleString("en")} | ${f1(d["flushUsPerRange"])} µs | ` +
    `${f2(d["floorWall"])} s wall, ${f2(d["floorCpu"])} s CPU | ${f2(d["loaderWall"])} s wall, ` +
    `${f2(d["loaderCpu"])} s CPU | ${f2(d["ratioWall"])} | ${f2(d["ratioCpu"])} |`,
    "",
    `Target: loader ≤ 1.3× the floor: ${f2(d["ratioWall"])}× — ${
      met(Number(d["ratioWall"]) <= 1.3)
    }.`,
    "",
    "![b2](benchmarks/b2-checkpoint.svg)",
    "",
  ];
}

function b3Section(c: CaseResult, charts: Map<string, string>): string[] {
  const out: string[] = [];
  const groups = [];
  type LocalRow = { mibs: number; ratio?: number; freshRatio?: number };
  type Local = Record<string, LocalRow> & { cold: boolean };
  // Deno's run, and (from session 4 on) Bun's, the runtime of the single binary.
  const runs = [["deno", c.data["local"]], ["bun", c.data["localBun"]]]
    .filter((r): r is [string, Local] => r[1] !== undefined);
  if (runs.length > 0) {
    // Each row's floor is the dd pass it was paired with; results from before the dd rows of
    // the second and third read passes were kept show what the ratio implies instead.
    const floorOf = (r: { mibs: number; ratio?: number }, dd: { mibs: number } | undefined) =>
      dd ? dd.mibs : r.ratio ? Math.round(r.mibs / r.ratio) : 0;
    const target = (r: { ratio?: number }) =>
      r.ratio === undefined ? "≥ 0.9" : `≥ 0.9: ${met(r.ratio >= 0.9)}`;
    const noTarget = (r: { freshRatio?: number }) =>
      r.freshRatio === undefined
        ? "none (fresh memory per read)"
        : `none; ${f2(r.freshRatio)}× of dd + fresh memory`;
    out.push(
      "| local storage | runtime | MiB/s | floor (dd) MiB/s | ratio | target |",
      "| --- | --- | ---: | ---: | ---: | --- |",
    );
    for (const [rt, local] of runs) {
      const w = local["write"]!;
      const rd = local["read"]!;
      const st = local["stream"]!;
      // Results from before the readFile-into pass have none.
      const ri = local["readInto"];
      const dd = local["ddRead"];
      out.push(
        `| writeFile (fsync) | ${rt} | ${w.mibs} | ${floorOf(w, local["ddWrite"]!)} | ` +
          `${f2(w.ratio)} | ${target(w)} |`,
        ...(ri
          ? [
            `| readFile into one reused buffer (as dd reads) | ${rt} | ${ri.mibs} | ` +
            `${floorOf(ri, local["ddRead2"])} | ${f2(ri.ratio)} | ${target(ri)} |`,
          ]
          : []),
        `| readFile, a fresh buffer per file | ${rt} | ${rd.mibs} | ${floorOf(rd, dd)} | ` +
          `${f2(rd.ratio)} | ${ri ? noTarget(rd) : target(rd)} |`,
        `| open() stream, fresh chunks | ${rt} | ${st.mibs} | ${floorOf(st, local["ddRead3"])} | ` +
          `${f2(st.ratio)} | ${ri ? noTarget(st) : target(st)} |`,
      );
    }
    out.push(
      "",
      runs[0]![1].cold
        ? "Reads start from a dropped page cache. dd reads into one page-aligned 4 MiB buffer it " +
          "reuses; `readFile(name, { into })` reads into one page-aligned buffer " +
          "(`alignedBuffer`) the caller reuses, which is the like-for-like comparison. Reads " +
          "that return fresh memory also pay for the pages of that memory, which on this VM " +
          "costs about as much as reading them from disk: the target column sets those against " +
          "dd plus that cost, measured in the same run."
        : "Reads are served from the page cache (it could not be dropped).",
      "",
      "Each write and read pass of the plugin has its own dd pass, run file by file side by " +
        "side; a ratio is the median over runs of each run's ratio, as a shared disk's speed " +
        "drifts between runs (its floor column is dd's median).",
      "",
    );
    for (const [rt, local] of runs) {
      const w = local["write"]!;
      const rd = local["read"]!;
      const ri = local["readInto"];
      const sfx = runs.length > 1 ? ` (${rt})` : "";
      groups.push(
        {
          label: `local write${sfx}`,
          bars: [{ label: "tibr", value: w.mibs }, {
            label: "floor",
            value: floorOf(w, local["ddWrite"]!),
          }],
        },
        {
          label: `${ri ? "local read (into)" : "local read"}${sfx}`,
          bars: [{ label: "tibr", value: (ri ?? rd).mibs }, {
            label: "floor",
            value: ri ? floorOf(ri, local["ddRead2"]) : floorOf(rd, local["ddRead"]),
          }],
        },
      );
    }
  }
  const s3 = c.data["s3"] as Record<string, number> | undefined;
  const az = c.data["azure"] as Record<string, number> | undefined;
  if (s3 || az) {
    out.push(
      "| cloud upload | MiB/s | floor MiB/s | ratio | target |",
      "| --- | ---: | ---: | ---: | --- |",
    );
    if (s3) {
      out.push(
        `| S3 on Ceph RGW, ${s3["sizeMiB"]} MiB | ${s3["plugin"]} | ${s3["floor"]} ` +
          `(lib-storage Upload) | ${f2(s3["ratio"])} | ≥ 0.95: ${met(s3["ratio"]! >= 0.95)} |`,
      );
      groups.push({
        label: "S3 (RGW)",
        bars: [{ label: "tibr", value: s3["plugin"]! }, { label: "floor", value: s3["floor"]! }],
      });
    }
    if (az) {
      out.push(
        `| Azure on Azurite, ${az["sizeMiB"]} MiB | ${az["pluginMiBs"]!.toFixed(0)} | ` +
          `${az["sdkMiBs"]!.toFixed(0)} (SDK uploadStream) | ${f2(az["ratio"])} | ≥ 0.95: ` +
          `${met(az["ratio"]! >= 0.95)} |`,
      );
      groups.push({
        label: "Azure (Azurite)",
        bars: [{ label: "tibr", value: az["pluginMiBs"]! }, {
          label: "floor",
          value: az["sdkMiBs"]!,
        }],
      });
    }
    out.push("");
  }
  if (groups.length > 0) {
    charts.set(
      "b3-storage.svg",
      barChart({ title: "B3: storage throughput, tibr vs floor", unit: "MiB/s", groups }),
    );
    out.push("![b3](benchmarks/b3-storage.svg)", "");
  }
  return out;
}

function b4Section(c: CaseResult, charts: Map<string, string>): string[] {
  const d = c.data as Record<string, number>;
  if (!("wallSecs" in d)) return [];
  const share = d["clientCpuSecs"]! / (d["clientCpuSecs"]! + d["playgroundCpuSecs"]!);
  charts.set(
    "b4-e2e.svg",
    barChart({
      title: `B4: ${(d["kvBytes"]! / 2 ** 30).toFixed(2)} GiB backed up to local storage`,
      unit: "seconds",
      groups: [
        {
          label: "wall: stores' busy window vs client process",
          bars: [{ label: "stores", value: d["storesBusySecs"]! }, {
            label: "client",
            value: d["wallSecs"]!,
          }],
        },
        {
          label: "CPU: playground process vs client process",
          bars: [{ label: "stores", value: d["playgroundCpuSecs"]! }, {
            label: "client",
            value: d["clientCpuSecs"]!,
          }],
        },
      ],
    }),
  );
  return [
    "| KV data | files | stored | stores busy | client wall | wall / busy | MB/s | playground CPU " +
    "| client CPU | client share | client RSS |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${(d["kvBytes"]! / 2 ** 20).toFixed(0)} MiB | ${d["files"]} | ` +
    `${(d["storedBytes"]! / 2 ** 20).toFixed(0)} MiB | ${f1(d["storesBusySecs"])} s | ` +
    `${f1(d["wallSecs"])} s | ${f2(d["wallSecs"]! / d["storesBusySecs"]!)} | ${f1(d["mbs"])} | ` +
    `${f1(d["playgroundCpuSecs"])} s | ${f1(d["clientCpuSecs"])} s | ` +
    `${(share * 100).toFixed(1)}% | ${d["clientRssMiB"]!.toFixed(0)} MiB |`,
    "",
    ...fileCheckLines(c),
    `The stores' busy window runs from the first backup request to the last response (the ` +
    `playground's counters); the wall time beyond it is the client's own (start-up, PD, ` +
    `metadata). Floors in the same run: the engine scans ${f1(d["scanMBs"])} MB/s, the disk ` +
    `writes ${f1(d["diskMBs"])} MB/s. All stores share one process and its cores with the ` +
    `client, so the aggregate MB/s says more about the playground than about tibr.`,
    "",
    "![b4](benchmarks/b4-e2e.svg)",
    "",
  ];
}

/**
 * The file check before backupmeta (issue #14) as a share of the client wall: from this run when
 * its script reported it, else from the separate small run kept in `data.fileCheck`.
 */
function fileCheckLines(c: CaseResult): string[] {
  const d = c.data as Record<string, unknown>;
  const kept = d["fileCheck"] as
    | { secs: number; wallSecs: number; files: number; gib: number; load: string; command: string }
    | undefined;
  const fc = typeof d["fileCheckSecs"] === "number"
    ? { secs: d["fileCheckSecs"] as number, wallSecs: d["wallSecs"] as number, files: d["files"] }
    : kept;
  if (!fc) return [];
  const share = fc.secs / fc.wallSecs * 100;
  const head = `**File check before \`backupmeta\`** (issue #14: every listed file confirmed ` +
    `present with its size, one listing): ${(fc.secs * 1000).toFixed(0)} ms of a ` +
    `${f1(fc.wallSecs)} s wall, **${share.toFixed(2)} %** (target < 2 %: ${met(share < 2)}), ` +
    `${fc.files} files, median of the runs`;
  if (fc === kept && kept) {
    return [
      `${head}, from a separate ${kept.gib} GiB run (load average ${kept.load}; ` +
      `\`bench-playground.ts\` reads the check's time from the backup's log):`,
      "",
      "```sh",
      kept.command,
      "```",
      "",
    ];
  }
  return [`${head}.`, ""];
}

function b7Section(c: CaseResult): string[] {
  const d = c.data as Record<string, number>;
  if (!("ratio" in d)) return [];
  const mbs = (secs: number) => (d["storedMiB"]! * 2 ** 20 / 1e6 / secs).toFixed(1);
  return [
    "| data | files | stored | sst_dump scan | verify --level data | ratio | target | RSS " +
    "| verify --level semantic | RSS |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    `| ${d["kvMiB"]!.toFixed(0)} MiB of KV | ${d["files"]} | ${d["storedMiB"]!.toFixed(0)} MiB | ` +
    `${f1(d["sstDumpSecs"])} s, ${mbs(d["sstDumpSecs"]!)} MB/s | ` +
    `${f1(d["dataSecs"])} s, ${mbs(d["dataSecs"]!)} MB/s | ${f2(d["ratio"])} | ` +
    `≥ 0.7: ${met(d["ratio"]! >= 0.7)} | ${d["dataRssMiB"]!.toFixed(0)} MiB | ` +
    `${f1(d["semanticSecs"])} s, ${mbs(d["semanticSecs"]!)} MB/s | ` +
    `${d["semanticRssMiB"]!.toFixed(0)} MiB |`,
    "",
    `The ratio is the median over runs of each run's sst_dump time over verify's (verify with ` +
    `--concurrency ${d["concurrency"]}: decode workers on as many cores); sst_dump scans the ` +
    "files one after another right after verify read them, so both find them in the page cache. " +
    "verify does more than sst_dump: sha256 of every file, crc64xor of every KV, the " +
    "write/default CF join. The semantic level decodes every row and index entry on one thread.",
    "",
  ];
}

function b5Section(c: CaseResult, charts: Map<string, string>): string[] {
  const d = c.data as Record<string, number | string>;
  if (!("versionMs" in d)) return [];
  charts.set(
    "b5-startup.svg",
    barChart({
      title: `B5: start-up, median of ${d["runs"]} runs`,
      unit: "ms",
      groups: [
        { label: "/bin/true", bars: [{ label: "ms", value: Number(d["trueMs"]) }] },
        { label: "bun -e ''", bars: [{ label: "ms", value: Number(d["bunMs"]) }] },
        { label: "tibr --version", bars: [{ label: "ms", value: Number(d["versionMs"]) }] },
        { label: "tibr --help", bars: [{ label: "ms", value: Number(d["helpMs"]) }] },
      ],
      references: [{ value: 100, label: "target: 100 ms" }],
    }),
  );
  return [
    "| binary size | /bin/true | bun -e '' | tibr --version | tibr --help |",
    "| ---: | ---: | ---: | ---: | ---: |",
    `| ${d["sizeMiB"]} MiB | ${d["trueMs"]} ms | ${d["bunMs"]} ms | ${d["versionMs"]} ms | ` +
    `${d["helpMs"]} ms |`,
    "",
    `dist/tibr built from the working tree at commit ${String(d["commit"]).slice(0, 12)}. ` +
    `Target: start-up under ` +
    `100 ms — ${met(Number(d["versionMs"]) < 100 && Number(d["helpMs"]) < 100)}.`,
    "",
    "![b5](benchmarks/b5-startup.svg)",
    "",
  ];
}

function b6Section(c: CaseResult): string[] {
  const d = c.data as Record<string, number>;
  if (!("exportSecs" in d)) return [];
  return [
    "| data set | rows | record KV | CSV | export | rows/s | MB/s (KV read) | MB/s (CSV) | " +
    "decode floor | export/floor wall (median of per-run ratios) | CPU export / floor | " +
    "export RSS | floor RSS |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${d["gib"]} GiB | ${d["rows"]!.toLocaleString("en")} | ` +
    `${(d["kvBytes"]! / 2 ** 20).toFixed(0)} MiB | ${
      (d["csvBytes"]! / 2 ** 20).toFixed(0)
    } MiB | ` +
    `${f1(d["exportSecs"])} s | ${Math.round(d["rowsPerSec"]!).toLocaleString("en")} | ` +
    `${f1(d["kvMBs"])} | ${f1(d["csvMBs"])} | ${f1(d["floorSecs"])} s | ${f2(d["ratio"])} | ` +
    `${f1(d["exportCpuSecs"])} s / ${f1(d["floorCpuSecs"])} s = ${f2(d["cpuRatio"])} | ` +
    `${d["exportRssMiB"]!.toFixed(0)} MiB | ${d["floorRssMiB"]!.toFixed(0)} MiB |`,
    "",
    ...("verifySecs" in d
      ? [
        "**Against `tibr verify --level data`** over the same backup in the same run (the floor " +
        "issue #20 names: every data file read, hashed, decoded and its checksums recomputed, " +
        "index files included, which export skips):",
        "",
        "| verify --level data | MB/s (stored) | export / verify wall | export / verify CPU | " +
        "verify RSS |",
        "| ---: | ---: | ---: | ---: | ---: |",
        `| ${f1(d["verifySecs"])} s | ${f1(d["verifyMBs"])} | ${f2(d["verifyRatio"])} | ` +
        `${f1(d["exportCpuSecs"])} s / ${f1(d["verifyCpuSecs"])} s = ${
          f2(d["verifyCpuRatio"])
        } | ` +
        `${d["verifyRssMiB"]!.toFixed(0)} MiB |`,
        "",
      ]
      : []),
    "The decode floor reads the same record-holding backup files through the same SST reader " +
    "(decompression, default-CF join) and only counts the record KVs; export adds the " +
    "visibility check, the row decoding, CSV formatting and the writes." +
    ("verifySecs" in d
      ? ""
      : " This run predates the verify floor: the decode-only floor stands in for it."),
    "",
  ];
}

interface RestoreSide {
  wall: number;
  cpu: number;
  rssMiB: number;
}
interface RestoreStep {
  from: number;
  to: number;
  wallGrowth: number;
  cpuGrowth: number;
}

function b8Section(c: CaseResult): string[] {
  const out: string[] = [];
  const files = c.data["files"] as
    | { runtime: string; sizes: { files: number; floor: RestoreSide; client: RestoreSide }[] }
      & { steps: RestoreStep[] }
    | undefined;
  if (files) {
    out.push(
      ...partRun(files),
      `**Client overhead** (\`tibr restore txn\` on ${files.runtime}, instant import):`,
      "",
      "| files | floor wall | client wall | ratio wall | floor CPU | client CPU | client µs CPU/file | client RSS |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const z of files.sizes) {
      out.push(
        `| ${z.files.toLocaleString("en")} | ${f2(z.floor.wall)} s | ${f2(z.client.wall)} s | ` +
          `${f2(z.client.wall / z.floor.wall)} | ${f2(z.floor.cpu)} s | ${f2(z.client.cpu)} s | ` +
          `${f1(z.client.cpu / z.files * 1e6)} | ${z.client.rssMiB.toFixed(0)} MiB |`,
      );
    }
    const worst = Math.max(...files.sizes.map((z) => z.client.wall / z.floor.wall));
    const growth = files.steps.at(-1)?.wallGrowth;
    out.push(
      "",
      `Targets: client wall ≤ 1.5× the floor: worst ${f2(worst)}× — ${met(worst <= 1.5)}. ` +
        `Cost per file flat (≤ 1.2× growth): ${f2(growth)}× wall — ` +
        `${growth === undefined ? "one size only" : met(growth <= 1.2)}.`,
      "",
    );
  }
  const e2e = c.data["e2e"] as
    | {
      gib: number;
      kvBytes: number;
      files: number;
      ranges: number;
      checksum: string;
      backup: RestoreSide & { busySecs: number; mbs: number };
      restore: RestoreSide & { busySecs: number; mbs: number };
    }
    | undefined;
  if (e2e) {
    out.push(
      ...partRun(e2e),
      `**End to end** (the B4 data set at ${e2e.gib} GiB, backed up then restored into an empty playground):`,
      "",
      "| KV data | files | ranges | | wall | stores busy | wall / busy | MB/s | CPU | RSS |",
      "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const [name, s] of [["backup", e2e.backup], ["restore", e2e.restore]] as const) {
      out.push(
        `| ${(e2e.kvBytes / 2 ** 20).toFixed(0)} MiB | ${e2e.files} | ${e2e.ranges} | ${name} | ` +
          `${f1(s.wall)} s | ${f1(s.busySecs)} s | ${f2(s.wall / s.busySecs)} | ${f1(s.mbs)} | ` +
          `${f1(s.cpu)} s | ${s.rssMiB.toFixed(0)} MiB |`,
      );
    }
    out.push("", `Restore checksum: ${e2e.checksum}.`, "");
  }
  const tables = c.data["tables"] as
    | {
      runtime: string;
      rowsPerTable: number;
      sizes: { tables: number; files: number; backup: RestoreSide; restore: RestoreSide }[];
      backupSteps: RestoreStep[];
      restoreSteps: RestoreStep[];
    }
    | undefined;
  if (tables) {
    out.push(
      ...partRun(tables),
      `**Many tables** (${tables.rowsPerTable} rows each, tibr on ${tables.runtime}):`,
      "",
      "| tables | files | backup wall | backup CPU | backup RSS | restore wall | restore CPU | restore RSS | restore ms/table |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const z of tables.sizes) {
      out.push(
        `| ${z.tables.toLocaleString("en")} | ${z.files} | ${f1(z.backup.wall)} s | ` +
          `${f1(z.backup.cpu)} s | ${z.backup.rssMiB.toFixed(0)} MiB | ${f1(z.restore.wall)} s | ` +
          `${f1(z.restore.cpu)} s | ${z.restore.rssMiB.toFixed(0)} MiB | ` +
          `${f1(z.restore.wall / z.tables * 1000)} |`,
      );
    }
    const big = tables.sizes.at(-1)!;
    const g = tables.restoreSteps.at(-1);
    const gb = tables.backupSteps.at(-1);
    out.push(
      "",
      `Targets (100k tables on the binary): peak RSS ≤ 512 MiB: ${
        big.tables >= 100_000 && tables.runtime === "binary"
          ? met(Math.max(big.backup.rssMiB, big.restore.rssMiB) <= 512)
          : `not measured at 100k (largest run: ${big.tables} tables, ${
            Math.max(big.backup.rssMiB, big.restore.rssMiB).toFixed(0)
          } MiB)`
      }. Cost per table flat (≤ 1.2× growth, ${tables.sizes.at(-2)?.tables ?? "-"} → ` +
        `${big.tables} tables): backup ${f2(gb?.wallGrowth)}× wall, ${f2(gb?.cpuGrowth)}× CPU; ` +
        `restore ${f2(g?.wallGrowth)}× wall, ${f2(g?.cpuGrowth)}× CPU.`,
      "",
    );
  }
  return out;
}

const ABOUT: Record<string, string> = {
  B1: "What the backup client costs apart from the stores: `tibr backup txn -s noop://` " +
    "against a playground whose stores answer every region at once (`--instant-noop`: no SST " +
    "is built; each region of one key still answers with a write-CF and a default-CF File), " +
    "against the floor of a bare Connect client (the same generated clients and transport) " +
    "that sends the same requests and only counts the responses. Each side runs in its own " +
    "process, measured by /usr/bin/time; the playground runs in a third process (on bun, whose " +
    "HTTP/2 server streams fastest). The client hands each region's files to the metadata " +
    "writer in key order as soon as every region before it has answered, so its memory holds " +
    "the regions past the first unanswered one and the metafile being filled (up to 128 MiB, " +
    "BR's limit, when these figures were taken; 16 MiB since), not every file of the backup. " +
    "The peak RSS shown is the largest of the runs; how much garbage is still uncollected at " +
    "the peak varies from run to run, and more on the binary (JavaScriptCore collects later " +
    "than V8).",
  B2: "The checkpoint runner's flush cost, and resuming from 1 million checkpointed ranges " +
    "against the floor of reading, decrypting and JSON-parsing the same files.",
  B3: "The storage plugins against the plainest way to move the same bytes: `dd` for local " +
    "files, `@aws-sdk/lib-storage`'s Upload on Ceph RGW for S3, the Azure SDK's uploadStream on " +
    "Azurite for Azure (same part size and concurrency).",
  B4: "A full backup of 2 GiB of table data from the playground to local storage by " +
    "`tibr backup full` in its own process: wall time against the stores' own busy time, and " +
    "the client's share of the CPU.",
  B5: "Size and start-up time of the single-file binary against starting a do-nothing process.",
  B6: "`tibr export --format csv` of B4's tables (8 int tables of ~330-byte rows) from a local " +
    "backup to local CSV, with no cluster, against `tibr verify --level data` and a decode-only " +
    "floor over the same files in the same run.",
  B7: "`tibr verify --level data` over a ZSTD backup of the B4 data set's tables (2 GiB of " +
    "table data by default, `--b7-gib` sets it; the size run is in the table) " +
    "against `sst_dump --command=scan` (Debian rocksdb-tools) over the same files in the same " +
    "run, with `--level semantic` beside it and the peak RSS of each.",
  B8: "Restore (scripts/bench-restore.ts). Client overhead: `tibr restore txn` of a synthetic " +
    "backup (real backupmeta and V2 metafiles written by tibr's MetaWriter, a write-CF and a " +
    "default-CF file per range, no SST bytes: the instant import never reads them) against a " +
    "playground whose import service answers at once (`instantImport`) and is split at every " +
    "range already, against the floor of a bare Connect client sending the same Download " +
    "(every file to every peer) and MultiIngest (one per region, on the leader) calls with the " +
    "same concurrency; each side its own process under /usr/bin/time. End to end: the B4 data " +
    "set backed up by `tibr backup full`, then restored by `tibr restore full` into an empty " +
    "playground (schemas through its TiDB server, checksums on); the stores' busy window is the " +
    "first Download to the last MultiIngest. Many tables: N small tables, each in its own " +
    "regions, backed up and restored the same way. The playground serves every side in " +
    "one process on the same cores as the client, so on a shared 2-core machine the absolute " +
    "times are the playground's; the ratios against the floor are what carries over.",
};

function render(results: Results): { md: string; charts: Map<string, string> } {
  const charts = new Map<string, string>();
  const m = results.machine;
  const lines: string[] = [
    "# Benchmarks",
    "",
    "Written by `scripts/bench.ts`; do not edit by hand. Every figure is set against a floor " +
    "measured in the same run on the same machine, as medians of several runs; the ratios are " +
    "what to compare across machines. Absolute times drift on shared machines (other jobs, " +
    "CPU frequency, page cache): the load average before and after each case is recorded.",
    "",
    "```sh",
    "deno run -A scripts/bench.ts                 # everything (about an hour)",
    "deno run -A scripts/bench.ts --only B1,B5    # a subset; other cases keep their last results",
    "deno run -A scripts/bench.ts --quick         # smaller sizes, one run, to a temp dir",
    "```",
    "",
    "## Machine",
    "",
    "| | |",
    "| --- | --- |",
    `| CPU | ${m["cpu"]} |`,
    `| memory | ${m["memory"]} |`,
    `| OS | ${m["os"]} |`,
    `| deno | ${m["deno"]} |`,
    `| bun | ${m["bun"]} |`,
    `| node (Azurite) | ${m["node"]} |`,
    `| tibr commit | ${m["commit"]} |`,
    "",
  ];
  for (const [id, title] of CASES) {
    const c = results.cases[id];
    lines.push(`## ${id}: ${title}`, "", ABOUT[id]!, "");
    if (!c) {
      lines.push("Not run yet.", "");
      continue;
    }
    const runs = id === "B5" ? `${c.data["runs"] ?? "?"} runs each` : `${c.runs} run(s) per side`;
    // A figure run by hand outside the harness has no duration or load recorded.
    const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
    const load = c.loadBefore.length > 0
      ? `; load average ${la(c.loadBefore)} before, ${la(c.loadAfter)} after.`
      : `; run by hand outside this harness, load average not recorded${
        c.note ? ` (${c.note})` : ""
      }.`;
    lines.push(
      `Run ${c.date}${c.quick ? " (quick mode)" : ""}, ${runs}` +
        `${c.seconds > 0 ? `, ${c.seconds.toFixed(0)} s` : ""}${load}`,
      "",
      "```sh",
      ...c.commands,
      "```",
      "",
    );
    const section = id === "B1"
      ? (b1Charts(c, charts), b1Section(c, charts))
      : id === "B2"
      ? b2Section(c, charts)
      : id === "B3"
      ? b3Section(c, charts)
      : id === "B4"
      ? b4Section(c, charts)
      : id === "B6"
      ? b6Section(c)
      : id === "B7"
      ? b7Section(c)
      : id === "B8"
      ? b8Section(c)
      : b5Section(c, charts);
    lines.push(...section);
    for (const e of c.errors) lines.push(`- **failed**: ${e}`);
    if (c.errors.length > 0) lines.push("");
    // Recorded apart by bench-instructions.ts, so a rerun of the case keeps it.
    lines.push(...instructionsSection(id, join(CHART_DIR, "instructions.json")));
  }
  return { md: lines.join("\n"), charts };
}

// --------------------------------------------------------------------------------- main

async function main(): Promise<number> {
  mkdirSync(CHART_DIR, { recursive: true });
  const rerender = process.argv.includes("--render");
  let results: Results = { machine: machineInfo(), cases: {} };
  if (existsSync(RESULTS)) {
    try {
      const old = JSON.parse(readFileSync(RESULTS, "utf8")) as Results;
      // A re-render describes the machine and tree the figures came from.
      results = { machine: rerender ? old.machine : results.machine, cases: old.cases ?? {} };
    } catch {
      console.log(`${RESULTS} is not readable JSON: starting afresh`);
    }
  }
  if (process.argv.includes("--build")) {
    const b = await run(DENO, ["run", "-A", "scripts/build.ts"]);
    ensureOk(b);
  }
  let failed = 0;
  for (const [id, title, fn] of CASES) {
    if (!ONLY.includes(id)) continue;
    console.log(`\n===== ${id}: ${title}`);
    const res: CaseResult = {
      id,
      title,
      date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
      quick: QUICK,
      runs: RUNS,
      seconds: 0,
      loadBefore: loadavg(),
      loadAfter: [],
      commands: [],
      data: {},
      errors: [],
    };
    const t0 = performance.now();
    try {
      await fn(res);
    } catch (err) {
      res.errors.push((err as Error).message);
    }
    res.seconds = (performance.now() - t0) / 1000;
    res.loadAfter = loadavg();
    if (res.errors.length > 0) failed++;
    results.cases[id] = res;
    // Written after every case, so an interrupted run keeps what it measured.
    writeFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
  }
  const { md, charts } = render(results);
  writeFileSync(join(OUT, "BENCHMARKS.md"), md);
  for (const [name, svg] of charts) writeFileSync(join(CHART_DIR, name), svg);
  console.log(
    `\nwrote ${join(OUT, "BENCHMARKS.md")}, ${charts.size} chart(s) and results.json in ` +
      `${CHART_DIR}`,
  );
  for (const [id] of CASES) {
    const c = results.cases[id];
    if (c && ONLY.includes(id)) {
      console.log(`${id}: ${c.errors.length === 0 ? "ok" : c.errors.join("; ")}`);
    }
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
