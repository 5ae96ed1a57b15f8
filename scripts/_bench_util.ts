/**
 * What the benchmark scripts share: reading `--name value` options and taking medians.
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";

/** The value after `--name` on the command line, or `fallback` when absent or last. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** `--name` as a positive number, or `fallback`; throws naming the option otherwise. */
export function positiveArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

/** The middle value (the upper one of the two middle values for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/**
 * Runs each side once per run, in turn (a, b, a, b, ...), timing each call of `fn(name)` with
 * `name` = `${side}-${run}` and calling `cleanup(name)` untimed after it; prints each time with
 * the throughput of `bytes`. Returns each side's times in ms.
 */
export async function alternate<K extends string>(
  sides: ReadonlyArray<readonly [K, (name: string) => Promise<void>]>,
  runs: number,
  bytes: number,
  cleanup: (name: string) => Promise<unknown>,
): Promise<Record<K, number[]>> {
  const times = Object.fromEntries(sides.map(([side]) => [side, [] as number[]])) as Record<
    K,
    number[]
  >;
  const pad = Math.max(...sides.map(([side]) => side.length));
  for (let r = 0; r < runs; r++) {
    for (const [side, fn] of sides) {
      const name = `${side}-${r}`;
      const t0 = performance.now();
      await fn(name);
      const ms = performance.now() - t0;
      times[side].push(ms);
      const mibs = bytes / (1 << 20) / (ms / 1000);
      console.log(
        `  run ${r + 1} ${side.padEnd(pad)} ${(ms / 1000).toFixed(2)} s  ${mibs.toFixed(0)} MiB/s`,
      );
      await cleanup(name);
    }
  }
  return times;
}

/** Output of a command, or an error with its exit code and the end of its stderr. */
export function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-20_000)));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else {
        reject(
          new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr.trim().slice(-2000)}`),
        );
      }
    });
  });
}
