import assert from "node:assert/strict";
import { test } from "node:test";
import { summaryText } from "./summary.ts";
import { BackupConfigError, checkTableChecksum, lowestVersion, parseRawKey } from "./task.ts";

test("raw keys parse in hex, raw and escaped formats", () => {
  assert.deepEqual(parseRawKey("6162ff", "hex"), Uint8Array.of(0x61, 0x62, 0xff));
  assert.deepEqual(parseRawKey("ab", "raw"), Uint8Array.of(0x61, 0x62));
  assert.deepEqual(
    parseRawKey("a\\x00\\xffb\\n", "escaped"),
    Uint8Array.of(0x61, 0, 0xff, 0x62, 10),
  );
  assert.throws(() => parseRawKey("zz", "hex"), BackupConfigError);
  assert.throws(() => parseRawKey("\\xg1", "escaped"), BackupConfigError);
});

test("a checksum mismatch names the table and both sides", () => {
  const a = { crc64xor: 1n, totalKvs: 2n, totalBytes: 3n };
  checkTableChecksum("db.t", a, { ...a });
  assert.throws(
    () => checkTableChecksum("db.t", a, { ...a, totalKvs: 5n }),
    /checksum mismatch for table db\.t: .*2 kvs.*5 kvs/,
  );
});

test("the summary lists BR's figures", () => {
  const text = summaryText({
    kind: "Full Backup",
    storage: "local:///tmp/b",
    backupTs: "42",
    backupTime: "2026-01-01T00:00:00.000Z",
    lastBackupTs: "0",
    totalRanges: 3,
    totalRegions: 7,
    totalKvs: "100",
    totalBytes: "2048",
    backupDataSize: "1500",
    dataFiles: 4,
    tables: 2,
    checksum: "passed",
    timeTakenMs: 1234,
    averageSpeed: "1.7kB/s",
  });
  assert.match(text, /^Full Backup success summary:/);
  for (const s of ["total ranges", "total regions", "total kv", "BackupTS", "checksum", "2.0kB"]) {
    assert.ok(text.includes(s), s);
  }
});

test("cluster_version is the lowest store version, as PD's cluster version", () => {
  assert.equal(lowestVersion(["8.5.0", "v8.1.2", "8.10.0", ""]), "v8.1.2");
  assert.equal(lowestVersion(["8.5.0"]), "8.5.0");
  assert.equal(lowestVersion(["", "dev"]), "");
});
