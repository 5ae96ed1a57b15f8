/**
 * How tests run the `tibr` CLI as a user would, as a subprocess: the built `dist/tibr` when it
 * is newer than the sources (the test command builds it first), else the sources under the
 * current runtime; and how they read its one error line.
 * @module
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BINARY = join(ROOT, "dist/tibr");
const MAIN = join(ROOT, "src/cli/main.ts");

/** The newest modification time (ms) of any file under `dir`. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const m = e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs;
    if (m > newest) newest = m;
  }
  return newest;
}

let chosen: string[] | undefined;

/** Whether `dist/tibr` exists and is newer than every file of `src/` and `plugins/`. */
function binaryIsFresh(): boolean {
  return existsSync(BINARY) &&
    statSync(BINARY).mtimeMs >=
      Math.max(newestMtime(join(ROOT, "src")), newestMtime(join(ROOT, "plugins")));
}

/**
 * A compiled binary of the current tree: `dist/tibr` when fresh, else one built into `dir`
 * (a few seconds). For runs that `deno run` cannot carry: Deno 2.9's HTTP/2 client can abort
 * the process (an nghttp2 assertion) when a server's connection goes away under it.
 */
export function tibrBinary(dir: string): string {
  if (binaryIsFresh()) return BINARY;
  const out = join(dir, "tibr");
  const runtime = process.versions["deno"] !== undefined ? ["run", "-A"] : ["run"];
  execFileSync(process.execPath, [...runtime, join(ROOT, "scripts/build.ts"), out], {
    cwd: ROOT,
    env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}` },
    stdio: ["ignore", "ignore", "pipe"],
  });
  return out;
}

/**
 * The command that runs tibr: `dist/tibr` (what users run; `scripts/test.sh` builds it before
 * the tests) unless it is missing or older than `src/` and `plugins/`, when the sources run
 * under this runtime instead, so that a stale binary is never what gets tested.
 */
export function tibrCommand(): string[] {
  if (chosen) return chosen;
  const fresh = binaryIsFresh();
  const runtime = process.versions["deno"] !== undefined ? ["run", "-A"] : [];
  chosen = fresh ? [BINARY] : [process.execPath, ...runtime, MAIN];
  return chosen;
}

/** What a finished tibr run left. */
export interface TibrRun {
  /** Exit code; 128 + n when killed by signal n, as shells report it. */
  code: number;
  /** The signal that ended the run, if one did. */
  signal?: string;
  stdout: string;
  stderr: string;
  /** Wall-clock duration, ms. */
  ms: number;
}

/** Options of `runTibr`. */
export interface RunOptions {
  /** Kill the run after this long, ms (the test then fails on the exit code). */
  timeoutMs?: number;
  /** Extra environment. */
  env?: Record<string, string>;
  /** Prefix the command (e.g. `setpriv ...` to run as another user). */
  prefix?: string[];
  /** Replaces `tibrCommand()`. */
  command?: string[];
  /** Called with stderr as it comes (all of it so far), e.g. to learn a port the run chose. */
  onStderr?: (soFar: string) => void;
}

/**
 * Runs `tibr args...` asynchronously, so that an in-process playground keeps serving while it
 * runs (a synchronous spawn would block its event loop).
 */
export function runTibr(args: string[], opts: RunOptions = {}): Promise<TibrRun> {
  const cmd = [...(opts.prefix ?? []), ...(opts.command ?? tibrCommand()), ...args];
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0]!, cmd.slice(1), {
      cwd: ROOT,
      env: {
        ...process.env,
        PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}`,
        NO_COLOR: "1",
        TIBR_STORAGE_PLUGINS: "",
        ...opts.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => {
      stderr += d;
      opts.onStderr?.(stderr);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : -1),
        ...(signal ? { signal } : {}),
        stdout,
        stderr,
        ms: performance.now() - t0,
      });
    });
  });
}

/**
 * The one line a failed run printed: stderr must hold exactly one line besides the pointer to
 * the log file, and no stack trace.
 */
export function errorLine(run: TibrRun): string {
  const lines = run.stderr.split("\n").filter((l) =>
    l.trim() !== "" && !l.startsWith("Detail tibr log in")
  );
  assert.equal(lines.length, 1, `expected one error line, got:\n${run.stderr}`);
  assert.doesNotMatch(run.stderr, /^\s+at /m, "no stack trace");
  assert.match(lines[0]!, /^Error: /);
  return lines[0]!;
}
