import assert from "node:assert/strict";
import { test } from "node:test";
import { backupLabel, summaryLogLine, summaryText } from "./summary.ts";
import { formatBytes, formatEta, formatSpeed, goDuration, SmoothedRate } from "./progress.ts";
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
  for (
    const s of ["total ranges", "total regions", "total kv", "BackupTS", "checksum", "2.048kB"]
  ) {
    assert.ok(text.includes(s), s);
  }
});

test("cluster_version is the lowest store version, as PD's cluster version", () => {
  assert.equal(lowestVersion(["8.5.0", "v8.1.2", "8.10.0", ""]), "v8.1.2");
  assert.equal(lowestVersion(["8.5.0"]), "8.5.0");
  assert.equal(lowestVersion(["", "dev"]), "");
});

test("sizes, speeds and durations are formatted as BR's go-units and Go print them", () => {
  assert.equal(formatBytes(64), "64B");
  assert.equal(formatBytes(859.6141051230873), "859.6B");
  assert.equal(formatSpeed(859.6141051230873), "859.6B/s");
  assert.equal(formatBytes(1441), "1.441kB");
  assert.equal(formatBytes(12_345_678), "12.35MB");
  assert.equal(goDuration(4032.112345), "4.032112345s");
  assert.equal(goDuration(1.150853), "1.150853ms");
  assert.equal(goDuration(3_723_500), "1h2m3.5s");
  assert.equal(goDuration(0), "0s");
});

test("the ETA follows the smoothed rate, not the last range", () => {
  const r = new SmoothedRate(10_000, 0);
  for (let t = 1000; t <= 10_000; t += 1000) r.add(10, t); // 10 units/s
  r.add(1, 11_000); // one slow second
  const eta = r.eta(100)!;
  assert.ok(eta > 10 && eta < 13, `eta ${eta}`);
  assert.equal(formatEta(185), "3m05s");
  assert.equal(formatEta(undefined), "--");
});

test("BR's labels and the single summary line of its log", () => {
  assert.deepEqual(
    ["full", "db", "table", "raw", "txn"].map((m) => backupLabel(m)),
    ["Full Backup", "Database Backup", "Table Backup", "Raw Backup", "Txn Backup"],
  );
  assert.equal(backupLabel("full", true), "Incremental Backup");
  assert.equal(backupLabel("raw", true), "Raw Backup");
  const line = summaryLogLine(
    {
      kind: "Database Backup",
      totalRanges: 19,
      timeTakenMs: 4032.5,
      backupTs: "431512322474868737",
      totalKvs: "1200",
      totalBytes: "64000",
      backupDataSize: "1441",
    } as Parameters<typeof summaryLogLine>[0],
  );
  assert.equal(
    line,
    '["Database Backup success summary"] [total-ranges=19] [ranges-succeed=19] ' +
      "[ranges-failed=0] [total-take=4.0325s] [BackupTS=431512322474868737] [total-kv=1200] " +
      "[total-kv-size=64kB] [average-speed=15.87kB/s] " +
      "[backup-data-size(after-compressed)=1.441kB] [Size=1441]",
  );
});
