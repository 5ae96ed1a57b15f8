import assert from "node:assert/strict";
import { test } from "node:test";
import { Command } from "commander";
import { addStorageFlags, storageFlags } from "./storage_flags.ts";
import { parseLocation } from "../storage/url.ts";

test("storage flags parse to BR option names; URL options win over them as in BR", () => {
  const cmd = addStorageFlags(new Command("x").exitOverride());
  cmd.parse([
    "-s",
    "s3://bkt/pre?endpoint=http://url&region=r1",
    "--s3.endpoint",
    "http://flag:7480",
    "--s3.force-path-style",
    "false",
    "--s3.secret-access-key",
    "a+b/c",
    "--s3.object-lock-enabled",
    "--azblob.account-name",
    "acct",
    "--storage-plugin",
    "a.ts",
    "--storage-plugin",
    "b.js",
  ], { from: "user" });
  const f = storageFlags(cmd.opts());
  assert.equal(f.location, "s3://bkt/pre?endpoint=http://url&region=r1");
  assert.deepEqual(f.plugins, ["a.ts", "b.js"]);
  assert.deepEqual(f.flags, {
    "s3.endpoint": "http://flag:7480",
    "s3.force-path-style": "false",
    "s3.secret-access-key": "a+b/c",
    "s3.object-lock-enabled": "true",
    "azblob.account-name": "acct",
  });
  assert.deepEqual(parseLocation(f.location, { flags: f.flags }).options, {
    endpoint: "http://url",
    region: "r1",
    "force-path-style": "false",
    "secret-access-key": "a+b/c",
    "object-lock-enabled": "true",
  });
});

test("-s is required", () => {
  const cmd = addStorageFlags(
    new Command("x").exitOverride().configureOutput({ writeErr: () => {} }),
  );
  assert.throws(() => cmd.parse([], { from: "user" }), /required option '-s, --storage <url>'/);
});

test("boolean storage flags take BR's spellings through the one parser; others are usage errors", () => {
  const parse = (v: string) => {
    const cmd = addStorageFlags(new Command("x").exitOverride());
    cmd.parse(["-s", "s3://b/p", "--s3.force-path-style", v], { from: "user" });
    return storageFlags(cmd.opts()).flags["s3.force-path-style"];
  };
  for (const v of ["1", "t", "T", "TRUE", "true", "True"]) assert.equal(parse(v), "true");
  for (const v of ["0", "f", "F", "FALSE", "false", "False"]) assert.equal(parse(v), "false");
  for (const v of ["yes", "tRUE", "on", "2"]) {
    assert.throws(() => parse(v), /^UsageError: --s3\.force-path-style '.*' is not a boolean/);
  }
});
