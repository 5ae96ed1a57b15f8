/**
 * Builds the single-file executable `dist/tibr` with `bun build --compile`, stamping the git
 * commit, branch and build time into it. Usage: `deno task build` (or `npm run build`).
 * @module
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import process from "node:process";

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .trim();
  } catch {
    return "unknown";
  }
}

const out = process.argv[2] ?? "dist/tibr";
mkdirSync(new URL("../dist/", import.meta.url), { recursive: true });
const defines = {
  TIBR_GIT_COMMIT: git(["rev-parse", "HEAD"]),
  TIBR_GIT_BRANCH: git(["rev-parse", "--abbrev-ref", "HEAD"]),
  TIBR_BUILD_TIME: new Date().toISOString().replace("T", " ").replace(/\..*/, ""),
};
// The SST worker and verify's decode worker are further entry points: they run as worker threads,
// and a compiled binary can only start workers whose module was bundled into it.
const args = [
  "build",
  "--compile",
  "--minify",
  // Precompiled bytecode: without it Bun parses the whole bundle (cloud SDKs included) at every
  // start, which costs ~80 ms; with it `tibr --version` starts in ~20 ms.
  "--bytecode",
  // The source map rides in the binary, so a stack at `-L debug` names src/ files and lines.
  "--sourcemap",
  "src/cli/main.ts",
  "src/playground/server/_sst_worker.ts",
  "src/verify/_decode_worker.ts",
  "--outfile",
  out,
];
for (const [k, v] of Object.entries(defines)) args.push("--define", `${k}=${JSON.stringify(v)}`);
const root = new URL("..", import.meta.url).pathname;
// Bun reports some failures (e.g. "Failed to generate bytecode") on stderr yet exits 0 and
// writes a binary that dies at start; so its errors fail the build, and the binary must start.
const built = spawnSync("bun", args, { stdio: ["ignore", "inherit", "pipe"], cwd: root });
process.stderr.write(built.stderr);
if (built.status !== 0 || /^error:/m.test(String(built.stderr))) {
  console.error(`build failed: bun build exited ${built.status} or printed an error (above)`);
  process.exit(1);
}
// The maps are embedded in the binary; the copies bun also writes beside it are not needed.
for (const f of readdirSync(dirname(resolve(root, out)))) {
  if (f.endsWith(".js.map") || f === `${basename(out)}.map`) {
    rmSync(join(dirname(resolve(root, out)), f), { force: true });
  }
}
const started = spawnSync(out, ["--version"], { cwd: root, encoding: "utf8" });
if (started.status !== 0) {
  console.error(`build failed: ${out} --version exited ${started.status}:\n${started.stderr}`);
  process.exit(1);
}
