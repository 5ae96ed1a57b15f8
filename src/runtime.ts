/**
 * The one module that knows which JavaScript runtime tibr runs on.
 *
 * Everything else uses web-standard and `node:` APIs that Deno and Bun both implement; what
 * differs between them (their globals, how a compiled executable reports itself) stays here.
 * @module
 */

// Declared loosely so this module type-checks without either runtime's full type package.
declare const Deno: {
  version: { deno: string };
  mainModule?: string;
  permissions?: { querySync?(d: { name: "ffi" }): { state: string } };
  UnsafePointer?: { of(v: ArrayBufferView): unknown; value(p: unknown): bigint | number };
} | undefined;
declare const Bun: {
  version: string;
  revision: string;
  main: string;
  zstdDecompressSync?(data: Uint8Array): Uint8Array;
  gc?(force: boolean): void;
} | undefined;
// Bun's CommonJS-style loader, which it also defines in ES modules; Deno has none.
declare const require: ((id: string) => unknown) | undefined;

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

/**
 * The runtime's own one-shot ZSTD decoder where it has one outside `node:zlib` (Bun's, which
 * decodes SST blocks faster than its `node:zlib` layer), else undefined.
 */
export function runtimeZstdDecompress(): ((data: Uint8Array) => Uint8Array) | undefined {
  if (typeof Bun === "undefined" || typeof Bun.zstdDecompressSync !== "function") return undefined;
  const f = Bun.zstdDecompressSync.bind(Bun);
  return (data) => f(data);
}

/**
 * The runtime's synchronous full garbage collection where a program may ask for one (Bun's
 * `Bun.gc(true)`), else undefined (V8 exposes none without `--expose-gc`).
 */
export function runtimeFullGc(): (() => void) | undefined {
  if (typeof Bun === "undefined" || typeof Bun.gc !== "function") return undefined;
  const gc = Bun.gc.bind(Bun);
  return () => gc(true);
}

/** Returns the address of a view's first byte; undefined where the runtime cannot tell. */
type AddressOf = (view: ArrayBufferView) => number | undefined;

let addressOf: AddressOf | undefined;

function probeAddress(): AddressOf {
  if (typeof Bun !== "undefined") {
    // bun:ffi is built into Bun and into executables it compiles. Bun defines `require` in ES
    // modules too, and the binary's bytecode build is CommonJS, where `import.meta` would be a
    // syntax error. Deno, which has neither, never reaches this line.
    if (typeof require === "function") {
      const ffi = require("bun:ffi") as { ptr(v: ArrayBufferView): number };
      return (v) => (v.byteLength > 0 ? ffi.ptr(v) : undefined);
    }
  }
  if (typeof Deno !== "undefined") {
    const ptr = Deno.UnsafePointer;
    // Ask first: without --allow-ffi, using UnsafePointer would prompt on a terminal.
    const granted = Deno.permissions?.querySync?.({ name: "ffi" }).state === "granted";
    if (ptr && granted) {
      return (v) => (v.byteLength > 0 ? Number(ptr.value(ptr.of(v))) : undefined);
    }
  }
  return () => undefined;
}

/**
 * The memory address of a view's first byte, where the runtime tells it: always on Bun (bun:ffi),
 * on Deno when FFI is allowed (`-A` or `--allow-ffi`). Only for choosing alignment; undefined
 * otherwise, and for an empty view.
 */
export function memoryAddress(view: ArrayBufferView): number | undefined {
  addressOf ??= probeAddress();
  return addressOf(view);
}
