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
