/**
 * B1 and B2 as instruction counts: the instructions (valgrind's Ir) that the backup client and
 * the checkpoint loader execute at a base commit and at this working tree, paired, against one
 * playground and one checkpoint. Wall and CPU time swing by ±30 % between two runs of the same
 * commit on a shared 2-core machine; the number of instructions a run executes does not depend
 * on the machine's load, so "within 10 % of the base" can be told from it.
 *
 * - B1: one playground (bench-client.ts `--role playground`, instant noop stores, N regions);
 *   the floor (bench-client.ts `--role floor`, this tree's), and `tibr backup txn -s noop://`
 *   from the base tree and from this tree, each in its own process under valgrind.
 * - B2: one checkpoint of `--ranges` ranges written by this tree; bench-checkpoint.ts's phases
 *   (`--role write|inputs|loader|start`), this tree's script run on each tree's sources, and the
 *   floor (read + decrypt + JSON.parse, `--role floor`) on this tree. Per range: the flush path
 *   is write - inputs, the loader loader - start, the floor floor - start.
 *
 *   deno run -A scripts/bench-instructions.ts [--case b1,b2] [--base 67946c8]
 *     [--regions 10000,100000] [--ranges 100000] [--runs 2] [--jobs 2] [--slow 10]
 *     [--tool cachegrind|callgrind] [--keep DIR] [--json] [--record]
 *
 * The base tree is a detached `git worktree` of `--base` in the temp dir, with node_modules
 * hard-linked from this tree, removed at the end. Every side runs once natively first, so deno's
 * transpile and V8 code caches are warm in every counted run. `--tool cachegrind` (the default,
 * with `--cache-sim=no`) counts the same Ir as callgrind at about a third of its CPU time;
 * `--tool callgrind` gives a call graph for callgrind_annotate. `--keep DIR` keeps the out
 * files there. `--record` keeps the figures in docs/benchmarks/instructions.json, from which
 * bench.ts renders a subsection under B1 and B2 of docs/BENCHMARKS.md. Under valgrind a process runs 30 to 100 times slower, so the client's 10 s PD
 * deadline would fire: every counted process runs with libfaketime (Debian's faketime) slowing
 * its clocks `--slow` times, which stretches every timeout and timer alike and changes no code
 * path. `--jobs` counted processes run at once (the counts do not depend on it). `--json`
 * prints one JSON object with every figure on the last line. `--from-log FILE` prints the
 * figures of a run from its log instead (one that was stopped before its end, with the logs of
 * the runs that completed it appended; `fromLog: true`);
 * `--sides head` counts only those sides (B1: floor, base, head; B2: floor, baseWrite, headLoader,
 * ...), to complete such a run.
 * @module
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { mapPool } from "../src/pool.ts";
import { ensureDebianPackages } from "../tests/_support/debian.ts";
import { arg, median, positiveArg, run } from "./_bench_util.ts";
import { type InstructionsRecord, recordInstructions } from "./_instructions_section.ts";
import {
  checkClient,
  checkFloor,
  clientArgs,
  SELF as CLIENT_SCRIPT,
  startPlaygroundProcess,
  stopChild,
} from "./bench-client.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The real deno executable (node_modules/.bin/deno is a node wrapper script). */
const DENO = join(ROOT, "node_modules", "@deno", "linux-x64-glibc", "deno");
const FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
const CHECKPOINT_SCRIPT = "scripts/bench-checkpoint.ts";

const cases = arg("case", "b1,b2").split(",").map((s) => s.trim().toLowerCase());
const baseRev = arg("base", "67946c8");
const sizes = arg("regions", "10000,100000").split(",").map(Number);
const ranges = positiveArg("ranges", 100_000);
const runs = positiveArg("runs", 2);
const jobs = positiveArg("jobs", 2);
const slow = positiveArg("slow", 10);
const valgrindTool = arg("tool", "cachegrind");
const keep = arg("keep", "");
const json = process.argv.includes("--json");
const record = process.argv.includes("--record");
/** The sides to count, all by default (to complete a run stopped early: only what is missing). */
const onlySides = arg("sides", "");
const counts = (name: string) => !onlySides || onlySides.split(",").includes(name.split("-")[0]!);
const INSTRUCTIONS_FILE = join(ROOT, "docs", "benchmarks", "instructions.json");
const log = (s: string) => process.stdout.write(s + "\n");

// A long run under valgrind: asking for help must not start one.
if (process.argv.includes("--help") || process.argv.includes("-h")) {
  log(
    "deno run -A scripts/bench-instructions.ts [--case b1,b2] [--base 67946c8] " +
      "[--regions 10000,100000] [--ranges 100000] [--runs 2] [--jobs 2] [--slow 10] " +
      "[--tool cachegrind|callgrind] [--keep DIR] [--json] [--record] [--sides ...] " +
      "[--from-log FILE]\n(see the comment at the top of the script)",
  );
  process.exit(0);
}

/** One counted process: its instructions and stdout. */
interface Counted {
  ir: number;
  stdout: string;
  secs: number;
}

/** Runs `deno ARGS` under valgrind with slowed clocks; reads the total Ir from the out file. */
async function counted(name: string, args: string[], dir: string): Promise<Counted> {
  const out = join(dir, `${name}.${valgrindTool}.out`);
  const toolArgs = valgrindTool === "callgrind"
    ? ["--tool=callgrind", `--callgrind-out-file=${out}`]
    : ["--tool=cachegrind", "--cache-sim=no", `--cachegrind-out-file=${out}`];
  const t0 = performance.now();
  const { stdout } = await run("valgrind", [...toolArgs, DENO, ...args], {
    LD_PRELOAD: FAKETIME,
    FAKETIME: `+0 x${1 / slow}`,
  });
  const secs = (performance.now() - t0) / 1000;
  const m = /^(?:summary|totals):\s+(\d+)/m.exec(readFileSync(out, "utf8"));
  if (!m) throw new Error(`no instruction total in ${out}`);
  if (!keep) rmSync(out, { force: true });
  return { ir: Number(m[1]), stdout, secs };
}

/** A side's counts: the runs, their median, and their spread (max - min) / min. */
interface Side {
  irs: number[];
  median: number;
  spread: number;
  secs: number[];
}

function sideOf(cs: Counted[]): Side {
  const irs = cs.map((c) => c.ir);
  return {
    irs,
    median: median(irs),
    spread: (Math.max(...irs) - Math.min(...irs)) / Math.min(...irs),
    secs: cs.map((c) => Math.round(c.secs)),
  };
}

const g = (ir: number) => `${(ir / 1e9).toFixed(3)} G`;
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

/** Counts `tasks` (name, args) with `jobs` at once, logging each; returns them by name. */
async function countAll(
  tasks: Array<[string, string[]]>,
  dir: string,
  check: (name: string, stdout: string) => void,
): Promise<Map<string, Counted>> {
  const got = await mapPool(tasks, { concurrency: jobs }, async ([name, args]) => {
    const c = await counted(name, args, dir);
    check(name, c.stdout);
    log(`  ${name}: ${c.ir.toLocaleString("en")} Ir (${c.secs.toFixed(0)} s under valgrind)`);
    return [name, c] as const;
  });
  return new Map(got);
}

/** The sides' runs `${side}-${run}` from `countAll`'s result. */
function sides(got: Map<string, Counted>, names: string[]): Record<string, Side> {
  const out: Record<string, Side> = {};
  for (const s of names) {
    const cs = [...got].filter(([k]) => k.startsWith(`${s}-`)).map(([, c]) => c);
    if (cs.length > 0) out[s] = sideOf(cs);
  }
  return out;
}

// ----------------------------------------------------------------------------------- B1

async function b1(baseTree: string, dir: string) {
  const clientCmd = (tree: string, name: string, pd: string) => [
    "run",
    "-A",
    join(tree, "src/cli/main.ts"),
    ...clientArgs(pd, join(dir, `${name}.log`)),
  ];
  const floorCmd = (pd: string) => ["run", "-A", CLIENT_SCRIPT, "--role", "floor", "--pd", pd];
  const results = [];
  for (const n of sizes) {
    const pg = await startPlaygroundProcess(n);
    try {
      log(`== B1, ${n} regions (playground up in ${pg.loadSecs} s, PD ${pg.pd})`);
      // Natively once each: the caches every counted run then finds warm, and the file count.
      const files = checkFloor((await run(DENO, floorCmd(pg.pd))).stdout, n);
      for (const tree of [baseTree, ROOT]) {
        checkClient((await run(DENO, clientCmd(tree, "warm", pg.pd))).stdout, n, files);
      }
      const tasks: Array<[string, string[]]> = [];
      for (let r = 0; r < runs; r++) {
        const all: Array<[string, string[]]> = [
          [`floor-${r}`, floorCmd(pg.pd)],
          [`base-${r}`, clientCmd(baseTree, `base-${r}`, pg.pd)],
          [`head-${r}`, clientCmd(ROOT, `head-${r}`, pg.pd)],
        ];
        tasks.push(...all.filter(([name]) => counts(name)));
      }
      const got = await countAll(tasks, dir, (name, stdout) => {
        if (name.startsWith("floor")) checkFloor(stdout, n);
        else checkClient(stdout, n, files);
      });
      results.push({ regions: n, got });
    } finally {
      await stopChild(pg.child);
    }
  }
  return summariseB1(results);
}

/** B1's figures from the counted processes at each size. */
function summariseB1(counts: Array<{ regions: number; got: Map<string, Counted> }>) {
  const results = counts.map(({ regions, got }) => {
    const s = sides(got, ["floor", "base", "head"]);
    return { regions, floor: s["floor"]!, base: s["base"]!, head: s["head"]! };
  });
  log("B1 instructions per region (medians; spread = (max - min) / min of the runs):");
  for (const r of results) {
    log(
      `  ${r.regions}: floor ${(r.floor.median / r.regions).toFixed(0)}, base ` +
        `${(r.base.median / r.regions).toFixed(0)}, head ${
          (r.head.median / r.regions).toFixed(0)
        }; head/base ${(r.head.median / r.base.median).toFixed(3)}, head/floor ` +
        `${(r.head.median / r.floor.median).toFixed(3)}; spread floor ${pct(r.floor.spread)}, ` +
        `base ${pct(r.base.spread)}, head ${pct(r.head.spread)}`,
    );
  }
  // Between two sizes the fixed start-up (module loading, compiling) cancels out.
  const steps = [];
  for (let i = 1; i < results.length; i++) {
    const a = results[i - 1]!;
    const b = results[i]!;
    const per = (k: "floor" | "base" | "head") =>
      (b[k].median - a[k].median) / (b.regions - a.regions);
    const step = {
      from: a.regions,
      to: b.regions,
      floor: per("floor"),
      base: per("base"),
      head: per("head"),
    };
    steps.push(step);
    log(
      `  marginal ${step.from} -> ${step.to}: floor ${step.floor.toFixed(0)}, base ` +
        `${step.base.toFixed(0)}, head ${step.head.toFixed(0)} Ir/region; head/base ` +
        `${(step.head / step.base).toFixed(3)}, head/floor ${(step.head / step.floor).toFixed(3)}`,
    );
  }
  return { sizes: results, steps };
}

// ----------------------------------------------------------------------------------- B2

/**
 * Puts this tree's bench-checkpoint.ts (and _bench_util.ts) into the base tree, so both trees
 * run the same benchmark code on their own sources. A source file the script imports that the
 * base lacks is copied too when it imports nothing itself (a pure helper such as a ts codec);
 * returns what was copied.
 */
function installCheckpointScript(baseTree: string): string[] {
  const copied = [];
  for (const f of [CHECKPOINT_SCRIPT, "scripts/_bench_util.ts"]) {
    copyFileSync(join(ROOT, f), join(baseTree, f));
    const text = readFileSync(join(ROOT, f), "utf8");
    for (const m of text.matchAll(/from "(\.\.\/src\/[^"]+)"/g)) {
      const rel = join("scripts", m[1]!);
      if (existsSync(join(baseTree, rel))) continue;
      const dep = readFileSync(join(ROOT, rel), "utf8");
      if (/^import .* from "\./m.test(dep)) {
        throw new Error(`${f} imports ${rel}, which the base lacks and which has imports`);
      }
      mkdirSync(dirname(join(baseTree, rel)), { recursive: true });
      copyFileSync(join(ROOT, rel), join(baseTree, rel));
      copied.push(rel);
    }
  }
  return copied;
}

async function b2(baseTree: string, dir: string) {
  const copied = installCheckpointScript(baseTree);
  if (copied.length > 0) log(`copied into the base tree for the benchmark script: ${copied}`);
  const data = join(dir, "checkpoint");
  const cmd = (tree: string, role: string, into = data) => [
    "run",
    "-A",
    join(tree, CHECKPOINT_SCRIPT),
    "--role",
    role,
    "--data",
    into,
    "--ranges",
    String(ranges),
  ];
  log(`== B2, ${ranges} ranges`);
  await run(DENO, cmd(ROOT, "write"));
  for (const [side, tree] of [["base", baseTree], ["head", ROOT]] as const) {
    await run(DENO, cmd(tree, "write", join(dir, `warm-${side}`)));
    for (const role of ["inputs", "start", "loader", "floor"]) await run(DENO, cmd(tree, role));
  }
  const tasks: Array<[string, string[]]> = [];
  for (let r = 0; r < runs; r++) {
    for (const [side, tree] of [["base", baseTree], ["head", ROOT]] as const) {
      tasks.push([`${side}Write-${r}`, cmd(tree, "write", join(dir, `${side}-w${r}`))]);
      tasks.push([`${side}Loader-${r}`, cmd(tree, "loader")]);
      // The baselines are subtracted; they are counted once (their spread is that of start-up).
      if (r === 0) {
        tasks.push([`${side}Inputs-${r}`, cmd(tree, "inputs")]);
        tasks.push([`${side}Start-${r}`, cmd(tree, "start")]);
      }
    }
    tasks.push([`floor-${r}`, cmd(ROOT, "floor")]);
  }
  const got = await countAll(tasks.filter(([name]) => counts(name)), dir, (_name, stdout) => {
    const last = JSON.parse(stdout.trim().split("\n").pop()!);
    if (last.ranges !== ranges) throw new Error(`${_name}: ${last.ranges} ranges, not ${ranges}`);
  });
  return summariseB2(ranges, copied, got);
}

/** B2's figures from the counted processes. */
function summariseB2(ranges: number, copied: string[], got: Map<string, Counted>) {
  const s = sides(got, [
    "floor",
    ...["base", "head"].flatMap((x) => ["Write", "Loader", "Inputs", "Start"].map((p) => x + p)),
  ]);
  const per = (a: string, b: string) => s[a] && s[b] ? (s[a].median - s[b].median) / ranges : NaN;
  const fig = {
    ranges,
    copiedIntoBase: copied,
    sides: s,
    perRange: {
      baseFlush: per("baseWrite", "baseInputs"),
      headFlush: per("headWrite", "headInputs"),
      baseLoader: per("baseLoader", "baseStart"),
      headLoader: per("headLoader", "headStart"),
      floor: per("floor", "headStart"),
    },
  };
  const p = fig.perRange;
  log(
    `B2 instructions per range (medians, start-up and inputs taken out): flush base ` +
      `${p.baseFlush.toFixed(0)}, head ${p.headFlush.toFixed(0)} (head/base ` +
      `${(p.headFlush / p.baseFlush).toFixed(3)}); loader base ${p.baseLoader.toFixed(0)}, head ` +
      `${p.headLoader.toFixed(0)} (head/base ${(p.headLoader / p.baseLoader).toFixed(3)}); ` +
      `floor ${p.floor.toFixed(0)} (loader/floor: base ${(p.baseLoader / p.floor).toFixed(3)}, ` +
      `head ${(p.headLoader / p.floor).toFixed(3)})`,
  );
  for (const [k, v] of Object.entries(s)) {
    log(`  ${k}: median ${g(v.median)}, spread ${pct(v.spread)} over ${v.irs.length} run(s)`);
  }
  return fig;
}

// --------------------------------------------------------------------------------- main

/**
 * The figures of a run that was stopped before its end (say at a deadline), from the lines its
 * log has: the header, each case's `==` line and one line per counted process.
 */
function fromLog(file: string): Record<string, unknown> {
  const text = readFileSync(file, "utf8");
  const head =
    /^instruction counts \((\w+)\): base (\w+) vs this tree \((\w+)( \+ uncommitted changes)?\), (\d+) run\(s\) per side, \d+ at once, clocks slowed ([\d.]+)x/m
      .exec(text);
  if (!head) throw new Error(`${file} has no header line of bench-instructions.ts`);
  const out: Record<string, unknown> = {
    bench: "instructions",
    tool: head[1],
    base: head[2],
    head: head[3],
    dirty: head[4] !== undefined,
    runs: Number(head[5]),
    slow: Number(head[6]),
    fromLog: true,
  };
  const b1: Array<{ regions: number; got: Map<string, Counted> }> = [];
  let b2: { ranges: number; got: Map<string, Counted> } | undefined;
  let copied: string[] = [];
  let current: Map<string, Counted> | undefined;
  for (const line of text.split("\n")) {
    const c = /^copied into the base tree for the benchmark script: (.*)$/.exec(line);
    if (c) copied = c[1]!.split(",");
    const sec = /^== (B1|B2), (\d+) (regions|ranges)/.exec(line);
    if (sec) {
      // Logs joined one after another (a run and the one that completed it) merge by size.
      const size = Number(sec[2]);
      if (sec[1] === "B1") {
        current = b1.find((x) => x.regions === size)?.got;
        if (!current) b1.push({ regions: size, got: current = new Map() });
      } else {
        if (b2 && b2.ranges !== size) throw new Error(`${file}: B2 at ${b2.ranges} and ${size}`);
        b2 ??= { ranges: size, got: new Map() };
        current = b2.got;
      }
    }
    const m = /^ {2}(\w+-\d+): ([\d,]+) Ir \((\d+) s under valgrind\)$/.exec(line);
    if (m && current) {
      current.set(m[1]!, { ir: Number(m[2]!.replaceAll(",", "")), stdout: "", secs: +m[3]! });
    }
  }
  // A size whose three sides were not all counted has no figures.
  const complete = b1.filter(({ got }) =>
    ["floor", "base", "head"].every((k) => [...got.keys()].some((n) => n.startsWith(`${k}-`)))
  );
  if (complete.length > 0) out["b1"] = summariseB1(complete);
  if (b2) out["b2"] = summariseB2(b2.ranges, copied, b2.got);
  return out;
}

async function main(): Promise<void> {
  const logFile = arg("from-log", "");
  if (logFile) {
    const out = fromLog(logFile);
    if (json) log(JSON.stringify(out));
    return;
  }
  if (!existsSync(DENO)) throw new Error(`${DENO} is missing: the pinned deno package`);
  if (!["cachegrind", "callgrind"].includes(valgrindTool)) {
    throw new Error(`--tool ${valgrindTool}: use cachegrind or callgrind`);
  }
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error("--regions takes positive integers separated by commas");
  }
  ensureDebianPackages(["valgrind"], ["valgrind"]);
  if (!existsSync(FAKETIME)) ensureDebianPackages(["faketime"], ["faketime"]);
  const sha = (await run("git", ["-C", ROOT, "rev-parse", "--short", baseRev])).stdout.trim();
  const head = (await run("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"])).stdout.trim();
  const dirty = (await run("git", ["-C", ROOT, "status", "--porcelain", "--", "src", "scripts"]))
    .stdout.trim() !== "";
  const dir = keep ? keep : mkdtempSync(join(tmpdir(), "tibr-bench-instr-"));
  mkdirSync(dir, { recursive: true });
  const baseTree = join(tmpdir(), `tibr-base-${sha}-${process.pid}`);
  log(
    `instruction counts (${valgrindTool}): base ${sha} vs this tree (${head}${
      dirty ? " + uncommitted changes" : ""
    }), ${runs} run(s) per side, ${jobs} at once, clocks slowed ${slow}x, load average ` +
      `${loadavg()[0]!.toFixed(2)}`,
  );
  const t0 = performance.now();
  const out: Record<string, unknown> = {
    bench: "instructions",
    tool: valgrindTool,
    base: sha,
    head,
    dirty,
    runs,
    slow,
  };
  if (existsSync(baseTree)) {
    await run("git", ["-C", ROOT, "worktree", "remove", "--force", baseTree]);
  }
  await run("git", ["-C", ROOT, "worktree", "add", "--detach", baseTree, sha]);
  try {
    await run("cp", ["-al", join(ROOT, "node_modules"), join(baseTree, "node_modules")]);
    if (cases.includes("b1")) out["b1"] = await b1(baseTree, dir);
    if (cases.includes("b2")) out["b2"] = await b2(baseTree, dir);
  } finally {
    await run("git", ["-C", ROOT, "worktree", "remove", "--force", baseTree]);
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  out["seconds"] = Math.round((performance.now() - t0) / 1000);
  out["loadavg"] = loadavg();
  log(`done in ${out["seconds"]} s; load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  if (json) log(JSON.stringify(out));
  if (record) {
    const rec = {
      date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
      commands: [`deno run -A scripts/bench-instructions.ts ${process.argv.slice(2).join(" ")}`],
      result: out as unknown as InstructionsRecord["result"],
    };
    for (const c of cases) recordInstructions(INSTRUCTIONS_FILE, c.toUpperCase(), rec);
    log(`recorded in ${INSTRUCTIONS_FILE}: run 'deno run -A scripts/bench.ts --render'`);
  }
}

await main();
