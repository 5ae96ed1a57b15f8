import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { alignedBuffer, PAGE_SIZE } from "./buffer.ts";
import { memoryAddress } from "../runtime.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SIZES = [1, 100, PAGE_SIZE - 1, PAGE_SIZE, PAGE_SIZE + 1, 1 << 20, 3 << 20, 64 << 20];

/** Runs a script on `runtime` (with the given flags) and returns its output parsed as JSON. */
function run(cmd: string, args: string[], script: string): unknown {
  const out = execFileSync(cmd, [...args, "-"], {
    cwd: ROOT,
    input: script,
    encoding: "utf8",
    stdio: ["pipe", "pipe", "inherit"],
  });
  return JSON.parse(out);
}

// Prints, for each size, [length, address mod page, byteOffset]; address -1 when unknown.
const PROBE = `
import { alignedBuffer } from "./src/storage/buffer.ts";
import { memoryAddress } from "./src/runtime.ts";
console.log(JSON.stringify(${JSON.stringify(SIZES)}.map((n) => {
  const b = alignedBuffer(n);
  return [b.length, (memoryAddress(b) ?? -1) % 4096];
})));
`;

describe("alignedBuffer", () => {
  test("has exactly the asked length and, from a page up, starts on a page (Deno, FFI allowed)", () => {
    for (const n of SIZES) {
      const b = alignedBuffer(n);
      assert.equal(b.length, n);
      const at = memoryAddress(b);
      assert.ok(at !== undefined, "deno test -A allows FFI, so the address is known");
      if (n >= PAGE_SIZE) assert.equal(at % PAGE_SIZE, 0, `${n} bytes at ${at}`);
      b.fill(7);
      assert.ok(b.every((x) => x === 7), "the whole view is writable");
    }
  });

  test("the address probe follows views and gives undefined for an empty one", () => {
    const b = new Uint8Array(8192);
    assert.equal(memoryAddress(b.subarray(100))! - memoryAddress(b)!, 100);
    assert.equal(memoryAddress(b.subarray(0, 0)), undefined);
  });

  test("on Bun, the product's runtime, buffers from a page up start on a page", () => {
    const got = run("bun", ["run"], PROBE) as number[][];
    assert.deepEqual(got.map(([n]) => n), SIZES);
    for (const [n, at] of got) {
      assert.notEqual(at, -1, "Bun tells addresses through bun:ffi");
      if (n! >= PAGE_SIZE) assert.equal(at, 0, `${n} bytes at ${at} past a page`);
    }
  });

  test("in an executable compiled as tibr's is (bytecode, so CommonJS), the same holds", () => {
    // The bytecode build turns the bundle into CommonJS, where `import.meta` is a syntax error
    // that Bun reports at build time but still writes a binary that dies at start.
    const dir = mkdtempSync(join(tmpdir(), "tibr-aligned-"));
    try {
      writeFileSync(join(dir, "probe.ts"), PROBE.replaceAll("./src/", `${ROOT}src/`));
      const exe = join(dir, "probe");
      execFileSync("bun", [
        "build",
        "--compile",
        "--minify",
        "--bytecode",
        join(dir, "probe.ts"),
        "--outfile",
        exe,
      ], { stdio: ["ignore", "ignore", "inherit"] });
      const got = JSON.parse(execFileSync(exe, { encoding: "utf8" })) as number[][];
      assert.deepEqual(got.map(([n]) => n), SIZES);
      for (const [n, at] of got) {
        assert.notEqual(at, -1, "the executable tells addresses through bun:ffi");
        if (n! >= PAGE_SIZE) assert.equal(at, 0, `${n} bytes at ${at} past a page`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("on Deno without FFI permission: plain buffers of the asked length, no prompt", () => {
    const got = run("deno", ["run", "--allow-read", "--no-prompt"], PROBE) as number[][];
    assert.deepEqual(got, SIZES.map((n) => [n, -1]));
  });
});
