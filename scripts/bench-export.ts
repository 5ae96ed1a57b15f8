/**
 * Export throughput: `tibr export --format csv` of the B4 data set (8 int tables of ~330-byte
 * rows, the table data of bench-playground.ts --part backup) from a local backup to local CSV,
 * set against two floors over the same files in the same run:
 *
 * - `tibr verify --level data` (the floor issue #20 names): every data file read, sha256,
 *   decoded, block checksums, crc64xor / kvs / bytes recomputed; it reads the index files too,
 *   which export skips, so it is a conservative floor;
 * - a decode floor: every backup file pair that holds records read, decompressed and joined
 *   (write CF with default CF) by the SST reader, the record KVs counted, nothing decoded into
 *   rows or written.
 *
 *   deno run -A scripts/bench-export.ts [--gib 2] [--runs 3] [--dir /tmp] [--json]
 *
 * The backup is made once by `tibr backup full` against a playground, which is then stopped:
 * export and the floors read files only. Each side runs in its own process under /usr/bin/time
 * (wall time, CPU time, peak RSS), alternating; times are medians, ratios are medians of per-run
 * ratios. `--part floor --backup DIR` is the decode floor's process.
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { MetaReader } from "../src/backup/metareader.ts";
import { Cluster } from "../src/playground/cluster.ts";
import { loadSample, type SampleSpec } from "../src/playground/sample.ts";
import { startPlayground } from "../src/playground/server/mod.ts";
import { decodeBackupFile, openBackupSst } from "../src/sst/backup.ts";
import { openStorage } from "../src/storage/registry.ts";
import type { File } from "../src/gen/brpb_pb.ts";
import { compareBytes } from "../src/codec/bytes.ts";
import { physicalTableIds } from "../src/tidb/model.ts";
import { recordRange } from "../src/tidb/tablecodec.ts";
import { ensureDebianPackages } from "../tests/_support/debian.ts";
import { arg, median, positiveArg } from "./_bench_util.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const MiB = 1024 * 1024;

/** The floor: every file pair of the backup decoded, key and value bytes counted. */
async function floorPart(dir: string): Promise<void> {
  const storage = await openStorage(dir);
  const reader = await MetaReader.open(storage);
  let kvs = 0;
  let bytes = 0;
  for await (const t of reader.tables()) {
    const pairs = new Map<string, { write?: File; default?: File }>();
    for (const f of t.files) {
      const stem = f.name.replace(/_(default|write)\.sst$/, "");
      const p = pairs.get(stem) ?? {};
      if (f.cf === "default") p.default = f;
      else p.write = f;
      pairs.set(stem, p);
    }
    if (!t.table) continue;
    // The files export reads: those holding records of the table or its partitions.
    const ranges = physicalTableIds(t.table).map((id) => recordRange(BigInt(id)));
    const inRange = (k: Uint8Array) =>
      ranges.some((r) => compareBytes(k, r.start) >= 0 && compareBytes(k, r.end) < 0);
    for (const p of pairs.values()) {
      const w = p.write!;
      const overlaps = ranges.some((r) =>
        (w.endKey.length === 0 || compareBytes(w.endKey, r.start) > 0) &&
        compareBytes(w.startKey, r.end) < 0
      );
      if (!overlaps) continue;
      const open = (f: File) =>
        openBackupSst(storage, { name: f.name, size: Number(f.size), cipherIv: f.cipherIv });
      const write = await open(w);
      const dflt = p.default ? await open(p.default) : undefined;
      for await (const kv of decodeBackupFile(dflt ? { write, default: dflt } : { write })) {
        if (!inRange(kv.rawKey)) continue;
        kvs++;
        bytes += kv.rawKey.length + kv.value.length;
      }
    }
  }
  await storage.close();
  console.log(JSON.stringify({ kvs, bytes }));
}

function run(
  cmd: string,
  args: string[],
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

/** Runs `deno run -A args` under /usr/bin/time: stdout, wall s, peak RSS MiB. */
async function timed(args: string[], timeFile: string) {
  const t0 = performance.now();
  const r = await run("/usr/bin/time", [
    "-f",
    "%e %M %U %S",
    "-o",
    timeFile,
    "deno",
    "run",
    "-A",
    ...args,
  ]);
  const wall = (performance.now() - t0) / 1000;
  if (r.code !== 0) throw new Error(`${args.join(" ")} failed: ${r.err.slice(-600)}`);
  const [, rss, user, sys] = readFileSync(timeFile, "utf8").trim().split("\n").pop()!
    .split(/\s+/).map(Number);
  return { out: r.out, wall, rssMiB: (rss ?? 0) / 1024, cpu: (user ?? 0) + (sys ?? 0) };
}

async function main(): Promise<void> {
  if (arg("part", "") === "floor") return await floorPart(arg("backup", ""));
  const gib = positiveArg("gib", 2);
  const runs = positiveArg("runs", 1);
  ensureDebianPackages(["/usr/bin/time"], ["time"]);
  const work = mkdtempSync(join(arg("dir", "/tmp"), "tibr-bench-export-"));
  try {
    // The B4 data set (scripts/bench-playground.ts --part backup).
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
    console.log(`== export: ~${gib} GiB of table data (B4's tables), backup to local CSV`);
    const cluster = new Cluster({ stores: 3 });
    const loaded = loadSample(cluster, spec);
    const backup = join(work, "backup");
    const pg = await startPlayground({ cluster, electionMs: 0 });
    try {
      const b = await run("deno", [
        "run",
        "-A",
        "src/cli/main.ts",
        "--log-file",
        join(work, "backup.log"),
        "backup",
        "full",
        "-u",
        pg.pdAddress,
        "-s",
        `local://${backup}`,
        "--checksum",
        "false",
        "--progress",
        "quiet",
        "--output",
        "json",
      ]);
      if (b.code !== 0) throw new Error(`backup failed: ${b.err.slice(-600)}`);
    } finally {
      await pg.stop();
    }
    const stored = Number(
      spawnSync("du", ["-sb", backup], { encoding: "utf8" }).stdout.split("\t")[0],
    );
    console.log(
      `backed up ${loaded.rows} rows (${
        (loaded.bytes / MiB).toFixed(0)
      } MiB of KV with indexes), ` +
        `${(stored / MiB).toFixed(0)} MiB stored`,
    );
    const floor: { wall: number; rssMiB: number; cpu: number }[] = [];
    const verify: { wall: number; rssMiB: number; cpu: number }[] = [];
    const exp: { wall: number; rssMiB: number; cpu: number; rows: number; bytes: number }[] = [];
    let kvBytes = 0;
    for (let i = 0; i < runs; i++) {
      const f = await timed(
        ["scripts/bench-export.ts", "--part", "floor", "--backup", backup],
        join(work, "floor.time"),
      );
      kvBytes = JSON.parse(f.out.trim().split("\n").pop()!).bytes;
      floor.push(f);
      console.log(
        `  run ${i + 1} floor  ${f.wall.toFixed(2)} s  CPU ${f.cpu.toFixed(2)} s  ` +
          `RSS ${f.rssMiB.toFixed(0)} MiB`,
      );
      const v = await timed([
        "src/cli/main.ts",
        "--log-file",
        join(work, "verify.log"),
        "verify",
        "-s",
        `local://${backup}`,
        "--level",
        "data",
        "--progress",
        "quiet",
        "--output",
        "json",
      ], join(work, "verify.time"));
      if (!JSON.parse(v.out).ok) throw new Error("verify --level data found problems");
      verify.push(v);
      console.log(
        `  run ${i + 1} verify ${v.wall.toFixed(2)} s  CPU ${v.cpu.toFixed(2)} s  ` +
          `RSS ${v.rssMiB.toFixed(0)} MiB`,
      );
      const out = join(work, `csv-${i}`);
      const e = await timed([
        "src/cli/main.ts",
        "--log-file",
        join(work, "export.log"),
        "export",
        "-s",
        backup,
        "-o",
        out,
        "--format",
        "csv",
        "--progress",
        "quiet",
        "--output",
        "json",
      ], join(work, "export.time"));
      const s = JSON.parse(e.out);
      exp.push({ ...e, rows: s.rows, bytes: s.bytes });
      console.log(
        `  run ${i + 1} export ${e.wall.toFixed(2)} s  CPU ${e.cpu.toFixed(2)} s  ` +
          `RSS ${e.rssMiB.toFixed(0)} MiB  ` +
          `${s.rows} rows, ${(s.bytes / MiB).toFixed(0)} MiB CSV`,
      );
      rmSync(out, { recursive: true, force: true });
    }
    const ew = median(exp.map((e) => e.wall));
    const fw = median(floor.map((f) => f.wall));
    const vw = median(verify.map((v) => v.wall));
    const rowsN = exp[0]!.rows;
    const result = {
      gib,
      rows: rowsN,
      kvBytes,
      storedBytes: stored,
      csvBytes: exp[0]!.bytes,
      exportSecs: ew,
      floorSecs: fw,
      rowsPerSec: rowsN / ew,
      kvMBs: kvBytes / 1e6 / ew,
      csvMBs: exp[0]!.bytes / 1e6 / ew,
      floorMBs: kvBytes / 1e6 / fw,
      // Median of the per-run ratios: each export is paired with the floor run just before it,
      // so load that comes and goes on a shared machine falls on both sides of a pair.
      ratio: median(exp.map((e, i) => e.wall / floor[i]!.wall)),
      // CPU seconds are far less sensitive than wall time to other jobs on the machine.
      exportCpuSecs: median(exp.map((e) => e.cpu)),
      floorCpuSecs: median(floor.map((f) => f.cpu)),
      cpuRatio: median(exp.map((e, i) => e.cpu / floor[i]!.cpu)),
      exportRssMiB: Math.max(...exp.map((e) => e.rssMiB)),
      floorRssMiB: Math.max(...floor.map((f) => f.rssMiB)),
      // The floor issue #20 names: `tibr verify --level data` over the same backup, each run
      // paired with the export after it. Ratios are export / verify (1 = export as fast).
      verifySecs: vw,
      verifyCpuSecs: median(verify.map((v) => v.cpu)),
      verifyMBs: stored / 1e6 / vw,
      verifyRssMiB: Math.max(...verify.map((v) => v.rssMiB)),
      verifyRatio: median(exp.map((e, i) => e.wall / verify[i]!.wall)),
      verifyCpuRatio: median(exp.map((e, i) => e.cpu / verify[i]!.cpu)),
      runs,
    };
    console.log(
      `export: ${Math.round(result.rowsPerSec)} rows/s, ${
        result.kvMBs.toFixed(1)
      } MB/s of KV read, ` +
        `${result.csvMBs.toFixed(1)} MB/s of CSV written; floor (decode only) ` +
        `${result.floorMBs.toFixed(1)} MB/s; export/floor ${result.ratio.toFixed(2)} wall, ` +
        `${result.cpuRatio.toFixed(2)} CPU; peak RSS ` +
        `export ${result.exportRssMiB.toFixed(0)} MiB, floor ${result.floorRssMiB.toFixed(0)} MiB`,
    );
    console.log(
      `verify --level data (same files): ${result.verifySecs.toFixed(2)} s, ` +
        `${result.verifyMBs.toFixed(1)} MB/s stored; export/verify ` +
        `${result.verifyRatio.toFixed(2)} wall, ${result.verifyCpuRatio.toFixed(2)} CPU; ` +
        `peak RSS ${result.verifyRssMiB.toFixed(0)} MiB`,
    );
    if (process.argv.includes("--json")) console.log(JSON.stringify(result));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
