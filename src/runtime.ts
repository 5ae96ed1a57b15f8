/**
 * The one module that knows which JavaScript runtime tibr runs on.
 *
 * Everything else uses web-standard and `node:` APIs that Deno and Bun both implement; what
 * differs between them (their globals, how a compiled executable reports itself) stays here.
 * @module
 */

// Declared loosely so this module type-checks without either runtime's full type package.
declare const Deno: { version: { deno: string }; mainModule?: string } | undefined;
declare const Bun: { version: string; revision: string; main: string } | undefined;

/** The runtime tibr is executing on. */
export type RuntimeName = "deno" | "bun" | "node";

/** Which runtime is executing this process. */
export function runtimeName(): RuntimeName {
  if (typeof Bun !== "undefined") return "bun";
  if (typeof Deno !== "undefined") return "deno";
  return "node";
}

/** `name version` of the runtime, for `--version` and logs. */
export function runtimeVersion(): string {
  if (typeof Bun !== "undefined") return `bun ${Bun.version}`;
  if (typeof Deno !== "undefined") return `deno ${Deno.version.deno}`;
  return `node ${globalThis.process?.versions?.node ?? "unknown"}`;
}

/**
 * True when running as a `bun build --compile` executable. Bun serves the bundled entry from its
 * embedded virtual filesystem, whose paths start with `/$bunfs/` (`B:/~BUN/` on Windows).
 */
export function isCompiledBinary(): boolean {
  if (typeof Bun === "undefined") return false;
  return Bun.main.startsWith("/$bunfs/") || Bun.main.includes("~BUN");
}
