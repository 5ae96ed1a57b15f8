/**
 * Build information printed by `tibr --version`.
 *
 * The compiled binary gets the commit and build time from `bun build --define` (see
 * `scripts/build.ts`); a source checkout run by Deno asks git, and says `unknown` outside one.
 * @module
 */
import { execFileSync } from "node:child_process";
import { runtimeVersion } from "./runtime.ts";

/** tibr's release version; kept equal to `version` in deno.json and package.json (tested). */
export const VERSION = "0.1.0";

declare const TIBR_GIT_COMMIT: string | undefined;
declare const TIBR_GIT_BRANCH: string | undefined;
declare const TIBR_BUILD_TIME: string | undefined;

// One git call per question per process: the version is asked at start-up and again for
// backupmeta's br_version.
const _asked = new Map<string, string>();

function fromGit(args: string[]): string {
  const key = args.join(" ");
  let answer = _asked.get(key);
  if (answer === undefined) {
    answer = _askGit(args);
    _asked.set(key, answer);
  }
  return answer;
}

function _askGit(args: string[]): string {
  try {
    const here = new URL(".", import.meta.url);
    if (here.protocol !== "file:") return "unknown";
    return execFileSync("git", args, {
      cwd: here.pathname,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim() || "unknown";
  } catch {
    return "unknown";
  }
}

/** The git commit the running code was built from. */
export function gitCommit(): string {
  return typeof TIBR_GIT_COMMIT === "string" ? TIBR_GIT_COMMIT : fromGit(["rev-parse", "HEAD"]);
}

/**
 * The `br_version` of a backupmeta, in BR's layout (`BR` then `build.Info()`'s lines), with
 * tibr named in the release line. No Go here: that line names the runtime.
 */
export function brVersionText(): string {
  const branch = typeof TIBR_GIT_BRANCH === "string"
    ? TIBR_GIT_BRANCH
    : fromGit(["rev-parse", "--abbrev-ref", "HEAD"]);
  const built = typeof TIBR_BUILD_TIME === "string" ? TIBR_BUILD_TIME : "None";
  return [
    "BR",
    `Release Version: tibr v${VERSION}`,
    `Git Commit Hash: ${gitCommit()}`,
    `Git Branch: ${branch}`,
    `Go Version: none (${runtimeVersion()})`,
    `UTC Build Time: ${built}`,
    "Race Enabled: false",
  ].join("\n");
}

/** BR-style multi-line version text. */
export function versionText(): string {
  const branch = typeof TIBR_GIT_BRANCH === "string"
    ? TIBR_GIT_BRANCH
    : fromGit(["rev-parse", "--abbrev-ref", "HEAD"]);
  const built = typeof TIBR_BUILD_TIME === "string" ? TIBR_BUILD_TIME : "not built (source run)";
  return [
    `Release Version: v${VERSION}`,
    `Git Commit Hash: ${gitCommit()}`,
    `Git Branch: ${branch}`,
    `Runtime: ${runtimeVersion()}`,
    `UTC Build Time: ${built}`,
  ].join("\n");
}
