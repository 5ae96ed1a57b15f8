import assert from "node:assert/strict";
import { test } from "node:test";
import { buildProgram } from "./main.ts";

test("help lists -u/-s and the command's own flags first, the storage groups last", () => {
  const backup = buildProgram().commands.find((c) => c.name() === "backup")!;
  const table = backup.commands.find((c) => c.name() === "table")!;
  const help = table.helpInformation();
  const at = (s: string) => {
    const i = help.indexOf(s);
    assert.ok(i >= 0, `${s} missing:\n${help}`);
    return i;
  };
  assert.ok(at("-u, --pd") < at("--db <name>"));
  assert.ok(at("-s, --storage") < at("--db <name>"));
  assert.ok(at("--table <name>") < at("--concurrency"));
  assert.ok(at("--status-addr") < at("Storage options (--s3.*"));
  assert.ok(at("Storage options (--s3.*") < at("--s3.endpoint"));
  assert.ok(at("--s3.endpoint") < at("--gcs.endpoint"));
  assert.ok(at("--gcs.endpoint") < at("--azblob.endpoint"));
});

test("help of restore, verify and export: -u then -s and own flags first, storage options last", () => {
  const program = buildProgram();
  const find = (...path: string[]) => {
    let c = program;
    for (const name of path) c = c.commands.find((x) => x.name() === name)!;
    return c.helpInformation();
  };
  const order = (help: string, ...flags: string[]) => {
    const at = flags.map((f) => {
      const i = help.indexOf(f);
      assert.ok(i >= 0, `${f} missing:\n${help}`);
      return i;
    });
    for (let i = 1; i < at.length; i++) {
      assert.ok(at[i - 1]! < at[i]!, `${flags[i - 1]} should come before ${flags[i]}:\n${help}`);
    }
  };
  const storage = ["Storage options (--s3.*", "--storage-timeout", "--s3.endpoint"];
  order(find("restore", "table"), "-u, --pd", "-s, --storage", "--table <name>", "--concurrency");
  order(find("restore", "full"), "-u, --pd", "--tidb-host", "--status-addr", ...storage);
  order(find("verify"), "-s, --storage", "--level", "--crypter.method", ...storage);
  order(find("export"), "-s, --storage", "-o, --out", "--progress", "--crypter.method", ...storage);
  // --storage-timeout is a storage option, not one every backup command shares.
  order(find("backup", "full"), "-u, --pd", "-s, --storage", "--status-addr", ...storage);
  assert.match(find("backup", "full"), /--checkpoint-flush-interval <seconds>.*\(default: 30\)/);
});
