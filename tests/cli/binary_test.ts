// The shipped artefact: dist/tibr, built by `npm run build` (the test command builds it first).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { buildProgram } from "../../src/cli/main.ts";

const root = new URL("../..", import.meta.url).pathname;
const tibr = join(root, "dist/tibr");

function requireBinary(): void {
  assert.ok(existsSync(tibr), "dist/tibr is missing: run `npm run build` first");
  assert.ok(statSync(tibr).mode & 0o111, "dist/tibr is not executable");
}

test("dist/tibr --version prints the release, the git commit and the Bun runtime", () => {
  requireBinary();
  const out = execFileSync(tibr, ["--version"], { encoding: "utf8" });
  const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  assert.match(out, /^Release Version: v\d+\.\d+\.\d+$/m);
  assert.match(out, new RegExp(`^Git Commit Hash: ${head}$`, "m"));
  assert.match(out, /^Runtime: bun \d/m);
  assert.match(out, /^UTC Build Time: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m);
  assert.equal(execFileSync(tibr, ["-V"], { encoding: "utf8" }), out);
});

test("dist/tibr --help lists the global flags and every command", () => {
  requireBinary();
  const out = execFileSync(tibr, ["--help"], { encoding: "utf8" });
  for (const flag of ["-L, --log-level", "--log-file", "--log-format", "-V, --version"]) {
    assert.ok(out.includes(flag), `--help must mention ${flag}`);
  }
  const names = buildProgram().commands.map((c) => c.name());
  assert.ok(names.length > 0, "no command is registered in src/cli/commands/mod.ts");
  for (const name of names) {
    assert.match(out, new RegExp(`^  ${name}\\b`, "m"), `--help must list ${name}`);
  }
});

test("a usage error prints one line and exits 2", () => {
  requireBinary();
  const r = spawnSync(tibr, ["--no-such-flag"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /unknown option '--no-such-flag'/);
});

test("an invalid log level is a usage error naming the choices", () => {
  requireBinary();
  const r = spawnSync(tibr, ["-L", "loud", "--version"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /Allowed choices are debug, info, warn, error, fatal/);
});

test("at -L debug the stack goes to the log with src/ locations from the embedded source map", () => {
  requireBinary();
  const dir = mkdtempSync(join(tmpdir(), "tibr-binary-stack-"));
  try {
    const logFile = join(dir, "tibr.log");
    const r = spawnSync(
      tibr,
      ["--log-file", logFile, "-L", "debug", "storage", "check", "-s", ":"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 2);
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack on stderr");
    const log = readFileSync(logFile, "utf8").trimEnd().split("\n");
    const last = log.findIndex((l) =>
      /\[ERR\] tibr·cli: run failed: ':' is missing a protocol/.test(l)
    );
    assert.ok(last >= 0, log.join("\n"));
    assert.match(log.slice(last).join("\n"), /at .*\(?src\/cli\/storage_flags\.ts:\d+:\d+\)?/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
