import assert from "node:assert/strict";
import { test } from "node:test";
import { concatBytes } from "../../codec/bytes.ts";
import { dataKey, encodeWriteValue } from "../../codec/tikv.ts";
import { mulberry32 } from "../../random.ts";
import { type MvccEntry, writeRecordOf } from "../mvcc.ts";
import { mvccDataKey, rawDataKey, writeCfValue } from "./_encode.ts";

test("the fast encoders produce the generic codec's bytes", () => {
  const rand = mulberry32(9);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
  const tsOf = () => BigInt(Math.floor(rand() * 2 ** 31)) << BigInt(Math.floor(rand() * 33));
  for (let i = 0; i < 3000; i++) {
    const key = bytes(Math.floor(rand() * 40));
    const ts = i === 0 ? 0n : i === 1 ? 0xffffffffffffffffn : tsOf();
    assert.deepEqual(mvccDataKey(key, ts), dataKey(key, ts));
    assert.deepEqual(rawDataKey(key), concatBytes(Uint8Array.of(0x7a), key));
    const e: MvccEntry = {
      key,
      commitTs: ts,
      startTs: i === 2 ? 0n : i === 3 ? 0x7fffffffffffffffn : tsOf(),
      type: rand() < 0.2 ? "delete" : "put",
      value: bytes([0, 1, 255, 256, 400][Math.floor(rand() * 5)]!),
      overlappedRollback: rand() < 0.2,
    };
    if (e.type === "delete") e.value = new Uint8Array(0);
    assert.deepEqual(writeCfValue(e), encodeWriteValue(writeRecordOf(e)));
  }
});
