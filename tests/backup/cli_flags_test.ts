/**
 * Bad values never reach the stores, the protobuf encoder or a timer: every one is refused at
 * parse time with one line naming the flag (exit 2), before tibr connects anywhere (PD here is a
 * closed port). Also: a storage plugin whose module or `open()` never settles fails within
 * `--storage-timeout` in one line naming it, and an unwritable `--log-file` is refused.
 * @module
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { tempDir } from "../playground/_helpers.ts";
import { errorLine, runTibr } from "../_support/tibr.ts";
import { closedPort } from "./_cli.ts";

const tmp = tempDir("flags");
let pd = "";
before(async () => {
  pd = `127.0.0.1:${await closedPort()}`;
});
after(() => tmp.cleanup());

function backup(extra: string[], kind = "full", pdAddr = pd) {
  return runTibr([
    "--log-file",
    join(tmp.path, "log"),
    "backup",
    kind,
    "-u",
    pdAddr,
    "-s",
    `local://${join(tmp.path, "bk")}`,
    ...extra,
  ]);
}

describe("flags are checked at parse time", () => {
  const cases: Array<[string, string[], RegExp, string?]> = [
    ["fractional compression level", ["--compression-level", "1.5"], /--compression-level '1\.5'/],
    ["non-numeric compression level", ["--compression-level", "abc"], /--compression-level 'abc'/],
    ["compression level above zstd's", ["--compression-level", "99"], /from 0 to 22/],
    [
      "a level for snappy",
      ["--compression", "snappy", "--compression-level", "3"],
      /snappy has no levels/,
    ],
    [
      "lz4 level above 12",
      ["--compression", "lz4", "--compression-level", "13"],
      /for lz4: give 0 \(the default\) to 12/,
    ],
    [
      "flush interval past a timer",
      ["--checkpoint-flush-interval", "2147484"],
      /--checkpoint-flush-interval '2147484' is out of range/,
    ],
    [
      "gcttl past a timer",
      ["--gcttl", "6442451"],
      /--gcttl '6442451' is out of range: give an integer from 1 to 6442450 seconds/,
    ],
    ["huge gcttl", ["--gcttl", "1e308"], /--gcttl '1e308' is out of range/],
    ["huge ratelimit", ["--ratelimit", "1e308"], /--ratelimit '1e308' is out of range/],
    ["zero concurrency", ["--concurrency", "0"], /--concurrency '0' is out of range/],
    ["storage timeout past a timer", ["--storage-timeout", "9999999"], /--storage-timeout/],
    [
      "a PD port past 65535",
      ["-u", "127.0.0.1:99999"],
      /--pd '127\.0\.0\.1:99999' is not a PD address/,
    ],
    ["a PD address with a space", ["-u", "a b"], /--pd 'a b' is not a PD address/],
    ["an empty PD address", ["-u", ""], /--pd is empty/],
    [
      "a boolean outside BR's spellings",
      ["--checksum", "yes"],
      /--checksum 'yes' is not a boolean/,
    ],
    [
      "a crypter key without a method",
      ["--crypter.key", "ab".repeat(32)],
      /without --crypter\.method/,
    ],
    [
      "--timeago with --backupts",
      ["--timeago", "1m", "--backupts", "400000000000000000"],
      /--timeago and --backupts/,
    ],
    ["a local URL with '..'", ["-s", "local:///tmp/a/../b"], /'\.\.' segment/],
    ["a local URL with an encoded '..'", ["-s", "local:///tmp/a/%2E%2E/b"], /'\.\.' segment/],
    ["an unknown raw column family", ["--cf", "bogus"], /--cf.*bogus/, "raw"],
    [
      "a log file in a missing directory",
      ["--log-file", "/nonexistent/x.log"],
      /cannot write the log file \/nonexistent\/x\.log/,
    ],
    ["a log file that is a directory", ["--log-file", "/tmp"], /cannot write the log file \/tmp/],
  ];
  for (const [what, extra, message, kind] of cases) {
    test(`${what} exits 2 with one line`, async () => {
      // --log-file given twice: the later wins (commander), so the log cases put theirs last.
      const logFirst = extra[0] === "--log-file";
      const r = logFirst
        ? await runTibr([
          ...extra,
          "backup",
          kind ?? "full",
          "-u",
          pd,
          "-s",
          `local://${join(tmp.path, "bk")}`,
        ])
        : await backup(extra, kind);
      assert.equal(r.code, 2, r.stderr);
      // Commander words its own choice errors ("error: option ..."), on one line too.
      assert.match(logFirst || kind === "raw" ? r.stderr : errorLine(r), message);
      assert.doesNotMatch(r.stderr, /abababab/, "the key is never printed");
    });
  }

  test("BR's spellings of true are taken", async () => {
    // Parsing passes; the run then fails on the closed PD port (exit 1), not on the flag.
    const r = await backup(["--checksum", "T", "--use-checkpoint", "False"]);
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /boolean/);
  });
});

describe("storage plugins under --storage-timeout", () => {
  test("an open() that never settles fails in one line naming the plugin", async () => {
    const file = join(tmp.path, "hang_open.js");
    writeFileSync(
      file,
      "export default { name: 'hang-open', schemes: ['hang'], open: () => new Promise(() => {}) };\n",
    );
    const t0 = performance.now();
    const r = await backup(["-s", "hang://x", "--storage-plugin", file, "--storage-timeout", "1"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      errorLine(r),
      /opening 'hang:\/\/x' with the hang-open plugin did not finish within 1 s/,
    );
    assert.ok(performance.now() - t0 < 30_000);
  });

  test("a plugin module that never finishes loading fails in one line", async () => {
    const dir = join(tmp.path, "plugins");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "hang_load.js");
    writeFileSync(
      file,
      "await new Promise(() => {});\nexport default { name: 'never', schemes: ['never'], open() {} };\n",
    );
    const r = await backup(["-s", "never://x", "--storage-plugin", file, "--storage-timeout", "1"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(errorLine(r), /loading the storage plugin for 'never' did not finish within 1 s/);
  });
});
