/**
 * Soak test of resumable backups: runs `tests/checkpoint/kill_test.ts` with many more seeds than
 * the test suite does (each seed kills `tibr backup` with SIGKILL at a random moment, reruns it,
 * and checks the backup against the playground's ground truth). A failing seed is printed and
 * can be replayed alone with `--first <seed> --seeds 1`.
 *
 * Usage: deno run -A scripts/soak-kill.ts [--seeds 200] [--first 1000]
 * Builds `dist/tibr` first (`npm run build`) so that the runs use the binary users run.
 * @module
 */
import { spawnSync } from "node:child_process";
import process from "node:process";
import { arg } from "./_bench_util.ts";

const seeds = arg("seeds", "200");
const first = arg("first", "1000");
const build = spawnSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
const t0 = Date.now();
const r = spawnSync(
  process.execPath,
  ["test", "-A", "tests/checkpoint/kill_test.ts"],
  {
    stdio: "inherit",
    env: { ...process.env, TIBR_KILL_SEEDS: seeds, TIBR_KILL_FIRST_SEED: first, NO_COLOR: "1" },
  },
);
console.log(
  `soak: seeds ${first}..${Number(first) + Number(seeds) - 1}, ` +
    `${r.status === 0 ? "all passed" : "FAILED"} in ${Math.round((Date.now() - t0) / 1000)} s`,
);
process.exit(r.status ?? 1);
