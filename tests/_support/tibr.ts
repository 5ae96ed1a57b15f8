/**
 * How tests run the `tibr` CLI as a user would: the compiled binary `dist/tibr` when it is at
 * least as new as every source file (the test command builds it first), otherwise the sources
 * through the runtime running the tests. `TIBR_BIN` forces a binary.
 * @module
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

let cached: string[] | undefined;

/** The command line prefix that runs tibr: `[executable, ...args]`. */
export function tibrCommand(): string[] {
  if (cached) return cached;
  const forced = process.env.TIBR_BIN;
  if (forced) return cached = [forced];
  const bin = join(ROOT, "dist/tibr");
  if (existsSync(bin)) {
    const built = statSync(bin).mtimeMs;
    if (built >= Math.max(newestSource(join(ROOT, "src")), newestSource(join(ROOT, "plugins")))) {
      return cached = [bin];
    }
  }
  const runtime = process.versions["deno"] !== undefined ? ["run", "-A"] : [];
  return cached = [process.execPath, ...runtime, join(ROOT, "src/cli/main.ts")];
}
