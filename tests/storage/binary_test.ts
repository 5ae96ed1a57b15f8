/**
 * The compiled binary (`bun build --compile`): custom plugins load at run time from
 * `--storage-plugin` and `TIBR_STORAGE_PLUGINS`, and a real permission error (as an unprivileged
 * user, since tests run as root) is one line with exit code 1.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { ensureDebianPackages } from "../_support/debian.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PLUGIN = join(ROOT, "plugins/example-sharded/mod.ts");
const dir = mkdtempSync(join(tmpdir(), "tibr-bin-storage-"));
const BIN = join(dir, "bin", "tibr");
const ENV = {
  ...process.env,
  PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}`,
  NO_COLOR: "1",
  TIBR_STORAGE_PLUGINS: "",
};

before(() => {
  // A binary of the current tree, not whatever dist/tibr happens to hold.
  execFileSync(process.execPath, ["run", "-A", join(ROOT, "scripts/build.ts"), BIN], {
    cwd: ROOT,
    env: ENV,
    stdio: ["ignore", "ignore", "pipe"],
  });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, "bin"), 0o755);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string[], env: Record<string, string | undefined> = {}) {
  const r = spawnSync(cmd[0]!, [...cmd.slice(1), "--log-file", "/dev/null"], {
    encoding: "utf8",
    cwd: dir,
    env: { ...ENV, ...env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function errorLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l && !l.startsWith("Detail tibr log in"));
  assert.equal(lines.length, 1, `expected one error line, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
  return lines[0]!;
}

describe("custom storage plugins", () => {
  test("the compiled binary loads a .ts plugin given with --storage-plugin", () => {
    const r = run([
      BIN,
      "storage",
      "check",
      "-s",
      `sharded://${dir}/a?shards=4`,
      "--storage-plugin",
      PLUGIN,
      "--size",
      "2MiB",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Storage check of sharded:\/\/\/.*\/a$/m);
    assert.match(r.stdout, /^compare-and-swap +unsupported /m);
    assert.match(r.stdout, /^Result: OK/m);
  });

  test("the compiled binary loads plugins listed in TIBR_STORAGE_PLUGINS", () => {
    const r = run([
      BIN,
      "storage",
      "check",
      "-s",
      `sharded://${dir}/b`,
      "--output",
      "json",
      "--size",
      "1MiB",
    ], {
      TIBR_STORAGE_PLUGINS: `${join(dir, "missing-is-reported.ts")}:${PLUGIN}`,
    });
    assert.equal(r.code, 2, "a missing file in the list is an error");
    assert.match(errorLine(r.stderr), /cannot load storage plugin .*missing-is-reported\.ts/);
    const ok = run([
      BIN,
      "storage",
      "check",
      "-s",
      `sharded://${dir}/b`,
      "--output",
      "json",
      "--size",
      "1MiB",
    ], {
      TIBR_STORAGE_PLUGINS: PLUGIN,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).ok, true);
  });

  test("deno run loads the same plugin file", () => {
    const r = run([
      process.execPath,
      "run",
      "-A",
      join(ROOT, "src/cli/main.ts"),
      "storage",
      "check",
      "-s",
      `sharded://${dir}/c`,
      "--storage-plugin",
      PLUGIN,
      "--size",
      "1MiB",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Result: OK/m);
  });
});

describe("permission denied, as an unprivileged user", () => {
  const nobody = (args: string[]) =>
    run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BIN, ...args]);

  test("an unwritable parent directory fails at open with one line", () => {
    ensureDebianPackages(["setpriv"], ["util-linux"]);
    const locked = join(dir, "locked");
    mkdirSync(locked);
    chmodSync(locked, 0o000);
    const r = nobody(["storage", "check", "-s", join(locked, "backup")]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      errorLine(r.stderr),
      /^Error: cannot use .*\/locked\/backup as backup storage: permission denied; make it writable/,
    );
  });

  test("a read-only backup directory fails the write probe", () => {
    ensureDebianPackages(["setpriv"], ["util-linux"]);
    const ro = join(dir, "ro");
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    const r = nobody(["storage", "check", "-s", ro]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^write +FAILED .*PermissionDenied/m);
    assert.match(
      errorLine(r.stderr),
      /failed: write: PermissionDenied: .*EACCES: make the directory writable/,
    );
  });
});
