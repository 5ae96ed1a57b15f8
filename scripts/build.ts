/**
 * Builds the single-file executable `dist/tibr` with `bun build --compile`, stamping the git
 * commit, branch and build time into it. Usage: `deno task build` (or `npm run build`).
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
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
// The SST worker is a second entry point: the playground starts it as a worker thread, and a
// compiled binary can only start workers whose module was bundled into it.
const args = [
  "build",
  "--compile",
  "--minify",
  // Precompiled bytecode: without it Bun parses the whole bundle (cloud SDKs included) at every
  // start, which costs ~80 ms; with it `tibr --version` starts in ~20 ms.
  "--bytecode",
  "src/cli/main.ts",
  "src/playground/server/_sst_worker.ts",
  "--outfile",
  out,
];
for (const [k, v] of Object.entries(defines)) args.push("--define", `${k}=${JSON.stringify(v)}`);
execFileSync("bun", args, { stdio: "inherit", cwd: new URL("..", import.meta.url).pathname });
