import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { hex } from "../codec/bytes.ts";
import { dataFile } from "../backup/_meta_test_util.ts";
import { encodeRecordKey, recordRange } from "../tidb/tablecodec.ts";
import { mergeFileRanges, rewriteRanges, splitKeys } from "./ranges.ts";

const MiB = 1024n * 1024n;

function pair(table: bigint, from: bigint, to: bigint, bytes: bigint, kvs = 10n) {
  return [
    dataFile(`${table}_${from}_write.sst`, table, from, to, { crc: 1n, kvs, bytes, cf: "write" }),
    dataFile(`${table}_${from}_default.sst`, table, from, to, {
      crc: 2n,
      kvs,
      bytes,
      cf: "default",
    }),
  ];
}

describe("file ranges", () => {
  test("files of one range stay together and small neighbours merge up to 96 MiB", () => {
    const files = [
      ...pair(70n, 0n, 100n, 20n * MiB),
      ...pair(70n, 100n, 200n, 20n * MiB),
      ...pair(70n, 200n, 300n, 20n * MiB),
    ];
    const ranges = mergeFileRanges(files.reverse());
    assert.equal(ranges.length, 2);
    assert.equal(ranges[0]!.files.length, 4);
    assert.equal(ranges[0]!.bytes, 80n * MiB, "both CFs count");
    assert.equal(hex(ranges[0]!.endKey), hex(encodeRecordKey(70n, 200n)));
    assert.equal(ranges[1]!.files.length, 2);
  });

  test("ranges of different tables, or of records and an index, never merge", () => {
    const files = [...pair(70n, 0n, 10n, 1n), ...pair(71n, 0n, 10n, 1n)];
    assert.equal(mergeFileRanges(files).length, 2);
  });

  test("the key-count target bounds a merge too", () => {
    const files = [...pair(70n, 0n, 10n, 1n, 300_000n), ...pair(70n, 10n, 20n, 1n, 300_000n)];
    assert.equal(mergeFileRanges(files).length, 2);
    assert.equal(mergeFileRanges(files, { keyCount: 1_200_000 }).length, 1);
  });

  test("split keys are the rewritten range ends, sorted and distinct", () => {
    const rec = recordRange(70n);
    const rules = [{
      oldKeyPrefix: rec.start,
      newKeyPrefix: recordRange(112n).start,
      newTimestamp: 5n,
    }];
    const ranges = rewriteRanges(
      mergeFileRanges([...pair(70n, 0n, 10n, 100n * MiB), ...pair(70n, 10n, 20n, 100n * MiB)]),
      rules,
    );
    assert.deepEqual(splitKeys(ranges).map(hex), [
      hex(encodeRecordKey(112n, 0n)),
      hex(encodeRecordKey(112n, 10n)),
      hex(encodeRecordKey(112n, 20n)),
    ]);
    assert.throws(
      () => rewriteRanges(mergeFileRanges(pair(71n, 0n, 1n, 1n)), rules),
      /no rewrite rule covers/,
    );
  });
});
