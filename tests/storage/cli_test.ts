/**
 * `tibr storage check` and bad storage input through `deno run -A src/cli/main.ts`: exit codes,
 * one-line errors without stack traces, secrets never echoed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { after, describe, test } from "node:test";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tibr-cli-storage-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function tibr(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    ["run", "-A", join(ROOT, "src/cli/main.ts"), ...args, "--log-file", "/dev/null"],
    {
      encoding: "utf8",
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1", TIBR_STORAGE_PLUGINS: "" },
    },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The error lines (the log notice aside): exactly one, no stack trace. */
function errorLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l && !l.startsWith("Detail tibr log in"));
  assert.equal(lines.length, 1, `expected one error line, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
  return lines[0]!;
}

// A plugin that declares conditional create but ignores it, like some S3-compatible servers.
const liar = join(dir, "liar.js");
writeFileSync(
  liar,
  `import { plugin as local } from ${
    JSON.stringify(pathToFileURL(join(ROOT, "plugins/local/mod.ts")).href)
  };
export default {
  name: "liar",
  schemes: ["liar"],
  async open(target, ctx) {
    const s = await local.open({ ...target, scheme: "local", prefix: "/" + target.prefix }, ctx);
    const write = s.writeFile.bind(s);
    s.writeFile = (name, data, opts) => write(name, data, { ...opts, ifNoneMatch: undefined });
    return s;
  },
};
`,
);

describe("tibr storage check", () => {
  test("passes on a local directory and prints the table", () => {
    const r = tibr("storage", "check", "-s", join(dir, "bk"), "--size", "4MiB");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Storage check of local:\/\/\/.*\/bk$/m);
    for (
      const p of [
        "write",
        "read",
        "stat",
        "ranged read",
        "list",
        "conditional create",
        "compare-and-swap",
        "latency",
        "throughput",
        "delete",
      ]
    ) {
      assert.match(r.stdout, new RegExp(`^${p} +ok `, "m"), `probe ${p}`);
    }
    assert.match(r.stdout, /^Result: OK \(10 probes\)$/m);
  });

  test("prints JSON for scripts", () => {
    const r = tibr("storage", "check", "-s", "memory://cli", "--output", "json", "--size", "1MiB");
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.storage, "memory://cli");
    assert.equal(report.probes.length, 10);
    assert.ok(report.throughputMiBps.write > 0 && report.latencyMs.read >= 0);
  });

  test("fails when conditional create is accepted but not honoured", () => {
    const r = tibr(
      "storage",
      "check",
      "-s",
      `liar://${dir}/liar`,
      "--storage-plugin",
      liar,
      "--size",
      "1MiB",
    );
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^conditional create +FAILED .*NOT honoured/m);
    assert.match(
      errorLine(r.stderr),
      /^Error: storage check of local:\/\/.* failed: conditional create: NOT honoured: a second create-if-absent succeeded/,
    );
  });

  test("an option BR does not know is warned about in the log and ignored", () => {
    const target = join(dir, "warned");
    mkdirSync(target, { recursive: true });
    const logFile = join(dir, "warned.log");
    const r = spawnSync(
      process.execPath,
      [
        "run",
        "-A",
        join(ROOT, "src/cli/main.ts"),
        "storage",
        "check",
        "-s",
        `local://${target}?region=1`,
        "--output",
        "json",
        "--log-file",
        logFile,
      ],
      {
        encoding: "utf8",
        cwd: dir,
        env: { ...process.env, NO_COLOR: "1", TIBR_STORAGE_PLUGINS: "" },
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).ok, true);
    assert.match(
      readFileSync(logFile, "utf8"),
      /ignoring unknown option 'region' for local storage/,
    );
  });

  test("noop:// reports what it can: writes measured, read-back probes unsupported", () => {
    const r = tibr("storage", "check", "-s", "noop://", "--output", "json", "--size", "1MiB");
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.storage, "noop:///");
    const status = Object.fromEntries(
      report.probes.map((p: { probe: string; status: string }) => [p.probe, p.status]),
    );
    assert.equal(status.write, "ok");
    assert.equal(status.read, "unsupported");
    assert.equal(status.throughput, "ok");
    assert.ok(report.throughputMiBps.write > 0);
  });

  test("leaves nothing behind in the checked directory", () => {
    const target = join(dir, "clean-after-check");
    mkdirSync(target);
    const r = tibr("storage", "check", "-s", target, "--output", "json", "--size", "1MiB");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(target), []);
  });
});

describe("bad storage input: one line, exit code, no stack trace", () => {
  const cases: Array<[string, string[], number, RegExp]> = [
    [
      "malformed URL",
      ["-s", "s3:bucket/prefix?secret-access-key=TOPSECRET"],
      2,
      /^Error: malformed storage URL 's3:bucket\/prefix\?secret-access-key=(redacted|\*+)'; write it as s3:\/\/<bucket>\/<prefix>$/,
    ],
    [
      "unknown scheme",
      ["-s", "ftp://host/x"],
      2,
      /^Error: unknown storage scheme 'ftp'; known schemes: .*s3; to use another, load a plugin with --storage-plugin FILE or TIBR_STORAGE_PLUGINS$/,
    ],
    [
      "missing bucket",
      ["-s", "s3:///prefix"],
      2,
      /^Error: missing bucket in 's3:\/\/\/prefix'; write s3:\/\/<bucket>\/<prefix>$/,
    ],
    [
      "a file in the way of the directory",
      ["-s", "FILE/sub"],
      2,
      /^Error: cannot use .*\/a-file\/sub as backup storage: a file is in the way/,
    ],
    [
      "a colon in the first path segment (BR's TestCreateStorage)",
      ["-s", "1invalid:"],
      2,
      /^Error: the first path segment of '1invalid:' cannot contain a colon/,
    ],
    [
      "no scheme before the colon (BR's TestIsLocal)",
      ["-s", ":"],
      2,
      /^Error: ':' is missing a protocol scheme/,
    ],
    [
      "missing plugin file",
      ["-s", "x://y", "--storage-plugin", "nope.ts"],
      2,
      /^Error: cannot load storage plugin .*nope\.ts: /,
    ],
    [
      "bad size",
      ["-s", "memory://m", "--size", "lots"],
      2,
      /^Error: invalid size "lots"; use a byte count/,
    ],
  ];
  writeFileSync(join(dir, "a-file"), "x");
  mkdirSync(join(dir, "ok"), { recursive: true });
  for (const [title, args, code, pattern] of cases) {
    test(title, () => {
      const r = tibr(
        "storage",
        "check",
        ...args.map((a) => a.replace("FILE", join(dir, "a-file"))),
      );
      assert.equal(r.code, code, r.stderr);
      const line = errorLine(r.stderr);
      assert.match(line, pattern);
      assert.doesNotMatch(r.stderr, /TOPSECRET/);
    });
  }

  test("a missing -s is a usage error", () => {
    const r = tibr("storage", "check");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /required option '-s, --storage <url>' not specified/);
  });
});
