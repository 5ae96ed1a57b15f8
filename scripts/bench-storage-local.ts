/**
 * Benchmark: the local storage plugin (through `openStorage`, with its default layers) against
 * `dd` on the same disk in the same run. Writes and reads 1 GiB as 16 files of 64 MiB; both
 * sides fsync every file (`dd conv=fsync`; the plugin's write is temp file + fsync + rename).
 * Prints medians of 3 runs and the throughput ratio plugin/dd (target >= 0.9).
 *
 * dd reads its input from a tmpfs copy of the same random bytes the plugin writes.
 *
 * Usage: deno run -A scripts/bench-storage-local.ts [--dir DIR] [--files N] [--runs N]
 * Reads are served from the page cache unless it can be dropped (root, /proc/sys/vm writable);
 * the script says which.
 * @module
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { openStorage } from "../src/storage/registry.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const FILE = 64 << 20;
const files = Number(arg("files", "16"));
const runs = Number(arg("runs", "3"));
const base = mkdtempSync(join(arg("dir", tmpdir()), "tibr-bench-local-"));
const total = FILE * files;
const MiB = 1 << 20;

function dropCaches(): boolean {
  spawnSync("sync");
  try {
    writeFileSync("/proc/sys/vm/drop_caches", "3\n");
    return true;
  } catch {
    return false;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function dd(args: string[]): void {
  const r = spawnSync("dd", [...args, "status=none"], { stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(`dd ${args.join(" ")} failed: ${r.stderr}`);
}

async function time(fn: () => Promise<void> | void): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

const data = randomBytes(FILE);
// dd copies the same random bytes from memory (tmpfs): zeros could be special-cased by the disk.
const source = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "tibr-bench-src-"));
const sourceFile = join(source, "data");
writeFileSync(sourceFile, data);
const cold = dropCaches();
const results = {
  ddWrite: [] as number[],
  ddRead: [] as number[],
  write: [] as number[],
  read: [] as number[],
  stream: [] as number[],
};

try {
  for (let run = 0; run < runs; run++) {
    const ddDir = join(base, `dd-${run}`);
    const plDir = join(base, `plugin-${run}`);
    mkdirSync(ddDir, { recursive: true });
    const storage = await openStorage(plDir, { env: {} });
    // File by file, alternating sides, so both see the same disk conditions (the disk is shared
    // with whatever else runs on the machine).
    const t = { ddWrite: 0, write: 0, ddRead: 0, read: 0, stream: 0 };
    for (let i = 0; i < files; i++) {
      t.ddWrite += await time(() => {
        dd([`if=${sourceFile}`, `of=${join(ddDir, `f${i}`)}`, "bs=4M", "conv=fsync"]);
      });
      t.write += await time(async () => {
        await storage.writeFile(`f${i}`, data);
      });
    }
    dropCaches();
    for (let i = 0; i < files; i++) {
      t.ddRead += await time(() => dd([`if=${join(ddDir, `f${i}`)}`, "of=/dev/null", "bs=4M"]));
      t.read += await time(async () => {
        const got = await storage.readFile(`f${i}`);
        if (got.length !== FILE) throw new Error(`read ${got.length} bytes of f${i}`);
      });
    }
    dropCaches();
    for (let i = 0; i < files; i++) {
      t.stream += await time(async () => {
        const r = await storage.open(`f${i}`);
        let n = 0;
        for await (const c of r.stream) n += c.length;
        if (n !== FILE) throw new Error(`streamed ${n} bytes of f${i}`);
      });
    }
    for (const k of Object.keys(t) as Array<keyof typeof t>) results[k].push(t[k]);
    await storage.close();
    rmSync(ddDir, { recursive: true, force: true });
    rmSync(plDir, { recursive: true, force: true });
  }
} finally {
  rmSync(base, { recursive: true, force: true });
  rmSync(source, { recursive: true, force: true });
}

const mibps = (s: number) => total / MiB / s;
const row = (name: string, secs: number[], floor?: number[]) => {
  const m = median(secs);
  const ratio = floor ? `  ratio ${(median(floor) / m).toFixed(2)}x of dd` : "";
  return `${name.padEnd(26)} ${mibps(m).toFixed(0).padStart(6)} MiB/s  (median ${
    m.toFixed(2)
  } s of ${secs.map((s) => s.toFixed(2)).join(", ")})${ratio}`;
};
console.log(
  `local storage vs dd: ${files} x 64 MiB = ${total / MiB} MiB per run, ${runs} runs, in ${
    arg("dir", tmpdir())
  }`,
);
console.log(
  `reads: ${
    cold
      ? "page cache dropped before each read pass"
      : "page cache could NOT be dropped (cached reads)"
  }`,
);
console.log(row("dd write (conv=fsync)", results.ddWrite));
console.log(row("plugin writeFile (fsync)", results.write, results.ddWrite));
console.log(row("dd read", results.ddRead));
console.log(row("plugin readFile", results.read, results.ddRead));
console.log(row("plugin open() stream", results.stream, results.ddRead));
console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
