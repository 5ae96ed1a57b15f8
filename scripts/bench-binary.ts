/**
 * B5: size and startup time of `dist/tibr`, against the floor of starting a do-nothing process
 * (`/bin/true`) and a bare `bun -e ""` in the same run. Medians of N runs (default 30).
 * Usage: `npm run build && deno run -A scripts/bench-binary.ts [runs]`.
 * @module
 */
import { execFileSync, spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import process from "node:process";

const runs = Number(process.argv[2] ?? 30);
const root = new URL("..", import.meta.url).pathname;
const tibr = `${root}dist/tibr`;

function medianMs(cmd: string, args: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { stdio: "ignore" });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const size = statSync(tibr).size;
const floor = medianMs("/bin/true", []);
const bunFloor = medianMs(`${root}node_modules/.bin/bun`, ["-e", ""]);
const version = medianMs(tibr, ["--version"]);
const help = medianMs(tibr, ["--help"]);
console.log(execFileSync(tibr, ["--version"], { encoding: "utf8" }).split("\n")[1]);
console.log(`dist/tibr size: ${(size / 1048576).toFixed(1)} MiB`);
console.log(
  `median of ${runs} runs: /bin/true ${floor.toFixed(1)} ms, bun -e '' ${bunFloor.toFixed(1)} ms`,
);
console.log(
  `tibr --version ${version.toFixed(1)} ms (${(version / bunFloor).toFixed(2)}x bun floor), ` +
    `tibr --help ${help.toFixed(1)} ms; target < 100 ms`,
);
