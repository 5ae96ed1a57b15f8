import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, test } from "node:test";
import { isStorageError } from "./errors.ts";
import { checkName, compareNames, walkPrefix } from "./names.ts";

describe("checkName", () => {
  test("accepts relative names, including dots inside segments", () => {
    for (const ok of ["a", "a/b/c.sst", "..a", "a..", "a/.hidden", "x y/ü"]) checkName(ok, "t");
  });
  test("rejects escapes, absolute, empty and odd segments with ConfigInvalid", () => {
    for (const bad of ["", "/a", "..", "a/../b", "../a", "a/..", "./a", "a//b", "a/", "a\0b"]) {
      assert.throws(
        () => checkName(bad, "writeFile"),
        (e: unknown) => isStorageError(e, "ConfigInvalid"),
        bad,
      );
    }
  });
});

describe("compareNames", () => {
  test("orders like the UTF-8 bytes", () => {
    const names = [
      "b",
      "a/x",
      "a-b",
      "a.txt",
      "a",
      "\u{e000}",
      "\u{1f600}",
      "\u{ffff}",
      "z",
      "\u007f",
      "é",
      "",
    ];
    const expected = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual([...names].sort(compareNames), expected);
  });
});

describe("walkPrefix", () => {
  test("subDir and objPrefix join into one listing prefix", () => {
    assert.equal(walkPrefix({}), "");
    assert.equal(walkPrefix({ subDir: "/a/b/" }), "a/b/");
    assert.equal(walkPrefix({ subDir: "a", objPrefix: "x" }), "a/x");
    assert.equal(walkPrefix({ objPrefix: "x" }), "x");
  });
});
