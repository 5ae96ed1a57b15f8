import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { VERSION, versionText } from "./version.ts";

test("version matches package.json and deno.json", () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  const deno = JSON.parse(readFileSync(new URL("../deno.json", import.meta.url), "utf8"));
  assert.equal(pkg.version, VERSION);
  assert.equal(deno.version, VERSION);
});

test("version text names the release, commit and runtime", () => {
  const text = versionText();
  assert.match(text, /^Release Version: v\d+\.\d+\.\d+$/m);
  assert.match(text, /^Git Commit Hash: ([0-9a-f]{40}|unknown)$/m);
  assert.match(text, /^Runtime: deno /m);
});
