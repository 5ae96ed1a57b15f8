/**
 * Soak test of resumable runs, with many more kills than the test suite makes:
 *
 * - backups (default): runs `tests/checkpoint/kill_test.ts` with `--seeds` seeds (each kills
 *   `tibr backup` with SIGKILL at a random moment, reruns it, and checks the backup against the
 *   playground's ground truth). A failing seed is printed and can be replayed alone with
 *   `--first <seed> --seeds 1`.
 * - restores (`--restore`): runs `tests/restore/kill_test.ts` with `--kills` kills (default 20)
 *   at points a seeded RNG (`--seed`) chooses across the schema, split, import and checksum
 *   phases; every rerun must complete to the uninterrupted result with import mode off and PD's
 *   schedulers running.
 *
 * Usage: deno run -A scripts/soak-kill.ts [--seeds 200] [--first 1000]
 *        deno run -A scripts/soak-kill.ts --restore [--kills 20] [--seed 20261206]
 * Builds `dist/tibr` first (`npm run build`) so that the runs use the binary users run.
 * @module
 */
import { spawnSync } from "node:child_process";
import process from "node:process";
import { arg } from "./_bench_util.ts";

const restore = process.argv.includes("--restore");
const seeds = arg("seeds", "200");
const first = arg("first", "1000");
const kills = arg("kills", "20");
const seed = arg("seed", "20261206");
const build = spawnSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
const t0 = Date.now();
const r = spawnSync(
  process.execPath,
  ["test", "-A", restore ? "tests/restore/kill_test.ts" : "tests/checkpoint/kill_test.ts"],
  {
    stdio: "inherit",
    env: {
      ...process.env,
      NO_COLOR: "1",
      ...(restore
        ? { TIBR_RESTORE_KILLS: kills, TIBR_RESTORE_KILL_SEED: seed }
        : { TIBR_KILL_SEEDS: seeds, TIBR_KILL_FIRST_SEED: first }),
    },
  },
);
const what = restore
  ? `restore, ${kills} kills, seed ${seed}`
  : `seeds ${first}..${Number(first) + Number(seeds) - 1}`;
console.log(
  `soak: ${what}, ${r.status === 0 ? "all passed" : "FAILED"} in ` +
    `${Math.round((Date.now() - t0) / 1000)} s`,
);
process.exit(r.status ?? 1);
