/**
 * Installs the Debian packages a test needs when their commands are missing, as CI does on a
 * fresh machine (root, `apt-get update` first). Fails with the reason, never skips.
 * @module
 */
import { execFileSync, spawnSync } from "node:child_process";
import process from "node:process";

function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

let updated = false;

/**
 * Makes sure every command in `commands` is on PATH, installing `packages` with apt-get if one
 * is missing. Throws with apt's output when installation fails.
 */
export function ensureDebianPackages(commands: string[], packages: string[]): void {
  if (commands.every(have)) return;
  try {
    if (!updated) {
      execFileSync("apt-get", ["-o", "DPkg::Lock::Timeout=900", "update", "-qq"], {
        stdio: "pipe",
      });
      updated = true;
    }
    execFileSync(
      "apt-get",
      [
        "-o",
        "DPkg::Lock::Timeout=900",
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        ...packages,
      ],
      { stdio: "pipe", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } },
    );
  } catch (err) {
    const out = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
    throw new Error(
      `cannot install Debian packages ${packages.join(" ")} (needed for ${commands.join(", ")}): ` +
        out.trim().split("\n").slice(-3).join(" | "),
    );
  }
  const missing = commands.filter((c) => !have(c));
  if (missing.length) {
    throw new Error(`installed ${packages.join(" ")} but ${missing.join(", ")} still missing`);
  }
}
