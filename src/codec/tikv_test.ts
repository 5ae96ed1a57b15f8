import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeBytes, encodeUintDesc, fromHex, hex } from "./bytes.ts";
import {
  dataKey,
  decodeWriteValue,
  encodeWriteValue,
  parseDataKey,
  SHORT_VALUE_MAX_LEN,
  type WriteRecord,
} from "./tikv.ts";

test("dataKey is z + memcomparable raw key + descending ts, and parses back", () => {
  const raw = new TextEncoder().encode("t\x80key");
  const k = dataKey(raw, 5n);
  assert.equal(hex(k), "7a" + hex(encodeBytes(raw)) + hex(encodeUintDesc(5n)));
  assert.deepEqual(parseDataKey(k), { raw, ts: 5n });
  assert.deepEqual(parseDataKey(dataKey(raw)), { raw, ts: undefined });
  assert.throws(() => parseDataKey(encodeBytes(raw)), /data prefix/);
  assert.throws(() => parseDataKey(Uint8Array.of(0x7a, ...encodeBytes(raw), 1, 2)), /expected 0/);
});

test("write values round-trip with every optional field", () => {
  const recs: WriteRecord[] = [
    { type: "put", startTs: 0n },
    { type: "put", startTs: 449_123_456_789_012_345n, shortValue: Uint8Array.of(1, 2, 3) },
    { type: "put", startTs: 7n, shortValue: new Uint8Array(SHORT_VALUE_MAX_LEN).fill(9) },
    { type: "delete", startTs: 1n << 63n },
    { type: "lock", startTs: 3n, lastChangeTs: 2n, versionsToLastChange: 4n },
    {
      type: "rollback",
      startTs: 3n,
      shortValue: Uint8Array.of(0x70),
      hasOverlappedRollback: true,
      gcFence: 10n,
      txnSource: 2n,
    },
  ];
  for (const r of recs) assert.deepEqual(decodeWriteValue(encodeWriteValue(r)), r);
  assert.throws(
    () => encodeWriteValue({ type: "put", startTs: 1n, shortValue: new Uint8Array(256) }),
    RangeError,
  );
});

test("write values decode TiKV's bytes and stop at unknown flags", () => {
  // 'P', varint(300), 'v', len 2, "hi"
  assert.deepEqual(decodeWriteValue(fromHex("50ac02760268 69".replace(" ", ""))), {
    type: "put",
    startTs: 300n,
    shortValue: Uint8Array.of(0x68, 0x69),
  });
  // An unknown flag '?' ends parsing; the known fields before it are kept.
  assert.deepEqual(decodeWriteValue(fromHex("4405" + "52" + "3f0102")), {
    type: "delete",
    startTs: 5n,
    hasOverlappedRollback: true,
  });
  assert.throws(() => decodeWriteValue(new Uint8Array()), /empty/);
  assert.throws(() => decodeWriteValue(fromHex("5805")), /unknown write type/);
  assert.throws(() => decodeWriteValue(fromHex("5080")), /start ts/);
  assert.throws(() => decodeWriteValue(fromHex("500576056869")), /short value .* truncated/);
  assert.throws(() => decodeWriteValue(fromHex("50054601")), /truncated/);
});
