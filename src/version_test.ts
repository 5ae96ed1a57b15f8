import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { brVersionText, VERSION, versionText } from "./version.ts";

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

test("br_version has BR's layout (BR, then build.Info's lines) and names tibr", () => {
  // pingcap/tidb br/pkg/version/build/info_test.go TestInfo: the line order.
  const lines = brVersionText().split("\n");
  assert.equal(lines[0], "BR");
  const keys = lines.slice(1).map((l) => l.slice(0, l.indexOf(":")));
  assert.deepEqual(keys, [
    "Release Version",
    "Git Commit Hash",
    "Git Branch",
    "Go Version",
    "UTC Build Time",
    "Race Enabled",
  ]);
  assert.match(lines[1]!, new RegExp(`^Release Version: tibr v${VERSION.replaceAll(".", "\\.")}$`));
  assert.equal(lines[6], "Race Enabled: false");
});
