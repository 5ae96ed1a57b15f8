/**
 * Benchmark: the checkpoint runner's flush cost per range, and the time to load 1 million
 * checkpointed ranges on resume against a floor measured in the same run: reading the same data
 * files, base64-decoding and decrypting every group and JSON-parsing it (what any loader must
 * do). The loader also checks each group's sha256 and builds `File` messages (bigints, byte
 * arrays). Prints medians of `--runs` alternating runs and the ratio loader/floor (target
 * <= 1.3), by wall and by CPU time (the latter less disturbed by other processes).
 *
 * Usage: deno run -A scripts/bench-checkpoint.ts [--ranges 1000000] [--per-flush 10000]
 *   [--files-per-range 2] [--runs 5] [--dir DIR]     (or: bun scripts/bench-checkpoint.ts ...)
 * Data files go to a local storage under DIR (default: the temp dir) and are removed at the end;
 * reads are served from the page cache.
 *
 * `--role write|inputs|floor|loader|start --data DIR` does one phase alone against the local
 * storage DIR and prints `{"role", "ranges"}` (for scripts/bench-instructions.ts, which counts
 * each phase's instructions in its own process): `write` writes the checkpoint (the runner,
 * with its inputs), `inputs` only builds the same inputs, `floor` and `loader` read DIR, and
 * `start` only loads the modules and opens the storage.
 * @module
 */
import { Buffer } from "node:buffer";
import { createDecipheriv } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { create } from "@bufbuild/protobuf";
import { composeTs } from "../src/codec/tso.ts";
import { EncryptionMethod } from "../src/crypto/cipher.ts";
import { FileSchema } from "../src/gen/brpb_pb.ts";
import { DATA_DIR } from "../src/checkpoint/files.ts";
import { walkCheckpointData } from "../src/checkpoint/loader.ts";
import { CheckpointLock } from "../src/checkpoint/lock.ts";
import { CheckpointRunner } from "../src/checkpoint/runner.ts";
import { ManualTimers } from "../src/checkpoint/timers.ts";
import { openStorage } from "../src/storage/registry.ts";
import type { ExternalStorage } from "../src/storage/types.ts";
import { arg, median } from "./_bench_util.ts";

const RANGES = Number(arg("ranges", "1000000"));
const PER_FLUSH = Number(arg("per-flush", "10000"));
const FILES_PER_RANGE = Number(arg("files-per-range", "2"));
const RUNS = Number(arg("runs", "5"));
const ROLE = arg("role", "main");
const cipher = { method: EncryptionMethod.AES256_CTR, key: new Uint8Array(32).fill(0x3c) };
const ENC = new TextEncoder();

/** A range key like TiDB's record keys: t{id}_r{handle}, memcomparable-ish length. */
function rangeKey(n: number): Uint8Array {
  return ENC.encode(
    `t\x80\x00\x00\x00\x00\x00\x00${String(n % 1000)}_r${String(n).padStart(12, "0")}`,
  );
}

/** The files TiKV reports for one range: write and default CF, realistic values. */
function filesOf(n: number) {
  const out = [];
  for (let i = 0; i < FILES_PER_RANGE; i++) {
    const cf = i === 0 ? "write" : "default";
    out.push(create(FileSchema, {
      name: `${1 + (n % 5)}/${1000 + n}_${470000000000000000n + BigInt(n)}_${cf}.sst`,
      sha256: new Uint8Array(32).map((_, j) => (j * 31 + n + i) & 255),
      startKey: rangeKey(n),
      endKey: rangeKey(n + 1),
      endVersion: 470000000000000000n + BigInt(n),
      crc64xor: 0x9e3779b97f4a7c15n ^ BigInt(n * 7 + i),
      totalKvs: BigInt(1000 + (n % 977)),
      totalBytes: BigInt(100_000 + (n % 9973)),
      cf,
      size: BigInt(50_000 + (n % 7919)),
    }));
  }
  return out;
}

/** The ranges the backup loop hands the runner, `PER_FLUSH` at a time. */
function* batches() {
  for (let n = 0; n < RANGES;) {
    const batch = [];
    for (let i = 0; i < PER_FLUSH && n < RANGES; i++, n++) {
      batch.push({ group: `g${Math.floor(n / 1000)}`, n, files: filesOf(n) });
    }
    yield batch;
  }
}

async function writeCheckpoint(storage: ExternalStorage): Promise<{ flushMs: number[] }> {
  let physical = Date.now();
  let logical = 0n;
  const now = () => Promise.resolve(composeTs(physical++, logical++));
  const lock = await CheckpointLock.acquire(storage, { now, renewIntervalMs: 0 });
  const runner = CheckpointRunner.start(storage, {
    lock,
    cipher,
    timers: new ManualTimers(),
    flushIntervalMs: 1e12,
  });
  const flushMs: number[] = [];
  for (const batch of batches()) {
    // The backup loop's inputs are built outside the timing; the runner's work is timed.
    const t0 = performance.now();
    for (const r of batch) await runner.append(r.group, rangeKey(r.n), rangeKey(r.n + 1), r.files);
    await runner.flush();
    flushMs.push((performance.now() - t0) / batch.length);
  }
  if (runner.error) throw runner.error;
  await runner.stop();
  await lock.release();
  return { flushMs };
}

/** The floor: read, base64-decode, decrypt and JSON-parse every group; nothing else. */
async function floor(storage: ExternalStorage): Promise<number> {
  const names: string[] = [];
  await storage.walkDir({ subDir: DATA_DIR }, (n) => {
    names.push(n);
  });
  const dec = new TextDecoder();
  let count = 0;
  for (const name of names) {
    const outer = JSON.parse(dec.decode(await storage.readFile(name)));
    for (const g of outer["range-group-metas"]) {
      const data = Buffer.from(g.RangeGroupsEncriptedData, "base64");
      const iv = Buffer.from(g.CipherIv, "base64");
      const plain = createDecipheriv("aes-256-ctr", cipher.key, iv).update(data);
      const group = JSON.parse(dec.decode(plain));
      count += group.groups.length;
    }
  }
  return count;
}

async function loader(storage: ExternalStorage): Promise<number> {
  let count = 0;
  let files = 0;
  const walk = await walkCheckpointData(storage, { cipher }, (_g, range) => {
    count++;
    files += range.files.length;
  });
  if (files !== count * FILES_PER_RANGE) throw new Error(`loaded ${files} files`);
  if (walk.skippedGroups + walk.skippedFiles > 0) throw new Error("the loader skipped data");
  return count;
}

/** Wall and CPU seconds of `fn` (CPU time is less disturbed by other processes). */
async function time(fn: () => Promise<number>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const n = await fn();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  if (n !== RANGES) throw new Error(`expected ${RANGES} ranges, got ${n}`);
  return { wall, cpu: (c.user + c.system) / 1e6 };
}

/** One phase alone (see the module comment); its instructions are counted from outside. */
async function rolePhase(): Promise<void> {
  const storage = await openStorage(arg("data", ""), { env: {} });
  let n = RANGES;
  if (ROLE === "write") await writeCheckpoint(storage);
  else if (ROLE === "inputs") {
    n = 0;
    for (const batch of batches()) n += batch.length;
  } else if (ROLE === "floor") n = await floor(storage);
  else if (ROLE === "loader") n = await loader(storage);
  else if (ROLE !== "start") throw new Error(`--role ${ROLE}: use write, inputs, floor, loader`);
  await storage.close();
  if (n !== RANGES) throw new Error(`expected ${RANGES} ranges, got ${n}`);
  console.log(JSON.stringify({ role: ROLE, ranges: n }));
}

async function main(): Promise<void> {
  const base = mkdtempSync(join(arg("dir", tmpdir()), "tibr-bench-checkpoint-"));
  try {
    await measureAll(base);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

async function measureAll(base: string): Promise<void> {
  const runtime = process.versions["bun"]
    ? `bun ${process.versions["bun"]}`
    : `deno ${process.versions["deno"]}`;
  console.log(
    `checkpoint benchmark: ${RANGES} ranges x ${FILES_PER_RANGE} files, ${PER_FLUSH} ranges per ` +
      `flush, AES256-CTR, ${runtime}, load average ${loadavg()[0]!.toFixed(1)}`,
  );
  const storage = await openStorage(join(base, "bk"), { env: {} });
  const t0 = performance.now();
  const { flushMs } = await writeCheckpoint(storage);
  const names: string[] = [];
  let bytes = 0;
  await storage.walkDir({ subDir: DATA_DIR }, (n, size) => {
    names.push(n);
    bytes += size;
  });
  console.log(
    `write: ${((performance.now() - t0) / 1000).toFixed(1)} s for ${names.length} data files, ` +
      `${(bytes / 2 ** 20).toFixed(0)} MiB (${(bytes / RANGES).toFixed(0)} bytes/range)`,
  );
  console.log(
    `flush cost per range (append + encode + encrypt + sha256 + write): median ` +
      `${(median(flushMs) * 1000).toFixed(1)} us, min ${
        (Math.min(...flushMs) * 1000).toFixed(1)
      } us`,
  );
  const floors: Array<{ wall: number; cpu: number }> = [];
  const loads: Array<{ wall: number; cpu: number }> = [];
  await floor(storage); // warm the page cache and the JIT alike for both
  for (let run = 0; run < RUNS; run++) {
    floors.push(await time(() => floor(storage)));
    loads.push(await time(() => loader(storage)));
    const [f, l] = [floors.at(-1)!, loads.at(-1)!];
    console.log(
      `run ${run + 1}: floor ${f.wall.toFixed(2)} s (cpu ${f.cpu.toFixed(2)} s), loader ` +
        `${l.wall.toFixed(2)} s (cpu ${l.cpu.toFixed(2)} s), ratio ${(l.wall / f.wall).toFixed(2)}`,
    );
  }
  const fw = median(floors.map((x) => x.wall));
  const lw = median(loads.map((x) => x.wall));
  const fc = median(floors.map((x) => x.cpu));
  const lc = median(loads.map((x) => x.cpu));
  console.log(
    `resume load of ${RANGES} ranges, medians: floor (read+decrypt+JSON.parse) ${fw.toFixed(2)} ` +
      `s wall, ${fc.toFixed(2)} s cpu; loader (+ sha256, File messages) ${lw.toFixed(2)} s wall, ` +
      `${lc.toFixed(2)} s cpu, ${(RANGES / lw / 1000).toFixed(0)}k ranges/s`,
  );
  console.log(
    `ratio loader/floor: ${(lw / fw).toFixed(2)} wall, ${(lc / fc).toFixed(2)} cpu (target <= 1.3)`,
  );
  await storage.close();
}

if (ROLE === "main") await main();
else await rolePhase();
