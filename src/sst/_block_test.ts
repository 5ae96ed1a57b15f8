import assert from "node:assert/strict";
import { test } from "node:test";
import { BlockBuilder, DataBlock, decodeDataBlock } from "./_block.ts";

const origin = { file: "t.sst", offset: 0, what: "data" };
const enc = new TextEncoder();

/** An internal key: user key then the 8-byte trailer (seqno << 8 | type, little-endian). */
function ik(user: string | Uint8Array, seq = 0, type = 1): Uint8Array {
  const u = typeof user === "string" ? enc.encode(user) : user;
  const out = new Uint8Array(u.length + 8);
  out.set(u);
  const packed = BigInt(seq) * 256n + BigInt(type);
  new DataView(out.buffer).setBigUint64(u.length, packed, true);
  return out;
}

function block(keys: Uint8Array[], restart = 16): Uint8Array {
  const b = new BlockBuilder(restart);
  keys.forEach((k, i) => b.add(k, enc.encode(`v${i}`)));
  return b.finish();
}

test("decodeDataBlock rebuilds shared-prefix keys and values as ranges", () => {
  const keys = Array.from({ length: 100 }, (_, i) => ik(`key-${String(i).padStart(4, "0")}`));
  const e = decodeDataBlock(block(keys, 4), origin);
  assert.equal(e.fault, undefined);
  assert.equal(e.count, 100);
  for (let i = 0; i < 100; i++) {
    assert.deepEqual(e.key(i), keys[i]);
    assert.deepEqual(e.userKey(i), keys[i]!.subarray(0, keys[i]!.length - 8));
    assert.equal(new TextDecoder().decode(e.value(i)), `v${i}`);
  }
});

test("an entry that sorts before its predecessor is an order fault, wherever they differ", () => {
  // Differ after the shared prefix, and at a restart point (shared 0).
  for (const restart of [1, 16]) {
    const e = decodeDataBlock(block([ik("abc"), ik("abd"), ik("abb")], restart), origin);
    assert.equal(e.fault, "out-of-order", `restart ${restart}`);
    assert.equal(e.faultAt, 2);
  }
  // A shorter key that is a prefix of its predecessor sorts first.
  assert.equal(decodeDataBlock(block([ik("abcd"), ik("abc")]), origin).fault, "out-of-order");
  assert.equal(decodeDataBlock(block([ik("abc"), ik("abcd")]), origin).fault, undefined);
});

test("equal user keys must come newest (largest sequence number) first", () => {
  assert.equal(decodeDataBlock(block([ik("k", 9), ik("k", 3)]), origin).fault, undefined);
  assert.equal(decodeDataBlock(block([ik("k", 3), ik("k", 9)]), origin).fault, "out-of-order");
  assert.equal(decodeDataBlock(block([ik("k", 5), ik("k", 5)]), origin).fault, "out-of-order");
  // Sequence numbers above 2^32 (the trailer's high word).
  const big = 2 ** 40;
  assert.equal(decodeDataBlock(block([ik("k", big + 1), ik("k", big)]), origin).fault, undefined);
});

test("a key shorter than its 8-byte trailer is a fault", () => {
  const b = new BlockBuilder(16);
  b.add(enc.encode("short"), enc.encode("v"));
  assert.equal(decodeDataBlock(b.finish(), origin).fault, "short-key");
});

test("long keys grow the key buffer; a reused block is refilled in place", () => {
  // Keys share a long prefix, so the rebuilt keys far exceed the block's own bytes.
  const prefix = "p".repeat(3000);
  const keys = Array.from({ length: 40 }, (_, i) => ik(`${prefix}${String(i).padStart(3, "0")}`));
  const e = decodeDataBlock(block(keys, 64), origin);
  assert.equal(e.fault, undefined);
  for (let i = 0; i < keys.length; i++) assert.deepEqual(e.key(i), keys[i]);
  const small = [ik("a"), ik("b")];
  const again = decodeDataBlock(block(small), origin, e);
  assert.ok(again === e && again instanceof DataBlock);
  assert.equal(again.count, 2);
  assert.deepEqual(again.key(1), small[1]);
});
