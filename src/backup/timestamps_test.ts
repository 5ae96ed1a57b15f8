import assert from "node:assert/strict";
import { test } from "node:test";
import { composeTs, parseBackupTs, parseTimeAgo, TimestampError, tsToDate } from "./timestamps.ts";

test("--backupts accepts a TSO or a datetime with or without a zone", () => {
  assert.equal(parseBackupTs("400036290571534337"), 400036290571534337n);
  const utc = parseBackupTs("2026-11-21 12:00:00");
  assert.equal(tsToDate(utc!).toISOString(), "2026-11-21T12:00:00.000Z");
  const east8 = parseBackupTs("2026-11-21 12:00:00 +08:00");
  assert.equal(tsToDate(east8!).toISOString(), "2026-11-21T04:00:00.000Z");
  assert.equal(parseBackupTs(""), undefined);
  assert.throws(() => parseBackupTs("yesterday"), TimestampError);
});

test("--timeago parses durations and refuses negative ones", () => {
  assert.equal(parseTimeAgo("30s"), 30_000);
  assert.equal(parseTimeAgo("1h30m"), 5_400_000);
  assert.equal(parseTimeAgo("250ms"), 250);
  assert.equal(parseTimeAgo(undefined), 0);
  assert.throws(() => parseTimeAgo("-5m"), /negative --timeago is not allowed/);
  assert.throws(() => parseTimeAgo("5 minutes"), TimestampError);
});

test("a TSO is physical ms shifted by 18 bits plus logical", () => {
  assert.equal(composeTs(1n, 3n), 262147n);
  assert.equal(tsToDate(composeTs(1_700_000_000_000n, 5n)).getTime(), 1_700_000_000_000);
});
