import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ByteSlab,
  compareBytes,
  concatBytes,
  decodeBytes,
  decodeInt,
  decodeUint,
  decodeUintDesc,
  encodeBytes,
  encodeInt,
  encodeUint,
  encodeUintDesc,
  fromHex,
  hex,
  prefixNext,
} from "./bytes.ts";

function rand(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(Math.random() * 256);
  return out;
}

describe("encodeBytes", () => {
  test("matches TiDB's known encodings", () => {
    assert.equal(hex(encodeBytes(new Uint8Array())), "0000000000000000f7");
    assert.equal(hex(encodeBytes(Uint8Array.of(1, 2, 3))), "0102030000000000fa");
    assert.equal(
      hex(encodeBytes(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))),
      "0102030405060708ff0000000000000000f7",
    );
    assert.equal(
      hex(encodeBytes(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9))),
      "0102030405060708ff0900000000000000f8",
    );
  });

  test("round-trips and preserves byte order for random inputs", () => {
    const vals = Array.from({ length: 300 }, () => rand(Math.floor(Math.random() * 40)));
    // Inputs that differ only by trailing zeros are the tricky case for ordering.
    vals.push(new Uint8Array(8), new Uint8Array(7), new Uint8Array(9), Uint8Array.of(0xff));
    for (const v of vals) {
      const enc = encodeBytes(v);
      const tail = Uint8Array.of(0xaa, 0xbb);
      const { value, next } = decodeBytes(concatBytes(Uint8Array.of(9), enc, tail), 1);
      assert.deepEqual(value, v);
      assert.equal(next, 1 + enc.length);
    }
    const sorted = [...vals].sort(compareBytes);
    const byEnc = [...vals].sort((a, b) => compareBytes(encodeBytes(a), encodeBytes(b)));
    assert.deepEqual(byEnc.map(hex), sorted.map(hex));
  });

  test("decoding rejects truncated groups, bad markers and non-zero padding", () => {
    const enc = encodeBytes(Uint8Array.of(1, 2, 3));
    assert.throws(() => decodeBytes(enc.subarray(0, 8)), /truncated/);
    assert.throws(() => decodeBytes(fromHex("0102030000000000f0")), /invalid group marker/);
    assert.throws(() => decodeBytes(fromHex("0102030000000100fa")), /non-zero padding/);
    assert.throws(() => decodeBytes(fromHex("0102030405060708ff")), /truncated/);
  });
});

describe("integer encodings", () => {
  test("encodeInt flips the sign bit and sorts as signed", () => {
    assert.equal(hex(encodeInt(0n)), "8000000000000000");
    assert.equal(hex(encodeInt(-1n)), "7fffffffffffffff");
    assert.equal(hex(encodeInt(1n)), "8000000000000001");
    const vals = [-(1n << 63n), -5n, -1n, 0n, 1n, 42n, (1n << 63n) - 1n];
    for (const v of vals) assert.equal(decodeInt(encodeInt(v)), v);
    for (let i = 1; i < vals.length; i++) {
      assert.ok(compareBytes(encodeInt(vals[i - 1]!), encodeInt(vals[i]!)) < 0);
    }
    assert.throws(() => encodeInt(1n << 63n), RangeError);
  });

  test("encodeUint and encodeUintDesc round-trip and order", () => {
    const max = (1n << 64n) - 1n;
    for (const v of [0n, 1n, 255n, 1n << 40n, max]) {
      assert.equal(decodeUint(encodeUint(v)), v);
      assert.equal(decodeUintDesc(encodeUintDesc(v)), v);
    }
    assert.equal(hex(encodeUintDesc(0n)), "ffffffffffffffff");
    assert.ok(compareBytes(encodeUintDesc(10n), encodeUintDesc(9n)) < 0);
    assert.equal(decodeUint(concatBytes(Uint8Array.of(7), encodeUint(99n)), 1), 99n);
    assert.throws(() => encodeUint(-1n), RangeError);
    assert.throws(() => decodeUint(new Uint8Array(7)), /truncated/);
  });
});

describe("helpers", () => {
  test("compareBytes is memcmp order with shorter prefixes first", () => {
    assert.equal(compareBytes(Uint8Array.of(1), Uint8Array.of(1)), 0);
    assert.ok(compareBytes(Uint8Array.of(1), Uint8Array.of(1, 0)) < 0);
    assert.ok(compareBytes(Uint8Array.of(0xff), Uint8Array.of(1, 0)) > 0);
  });

  test("prefixNext bounds every key with the prefix", () => {
    assert.deepEqual(prefixNext(Uint8Array.of(1, 2)), Uint8Array.of(1, 3));
    assert.deepEqual(prefixNext(Uint8Array.of(1, 0xff, 0xff)), Uint8Array.of(2));
    assert.deepEqual(prefixNext(Uint8Array.of(0xff)), new Uint8Array());
    for (let i = 0; i < 200; i++) {
      const p = rand(1 + Math.floor(Math.random() * 4));
      if (Math.random() < 0.3) p[p.length - 1] = 0xff;
      const next = prefixNext(p);
      if (next.length === 0) continue;
      const k = concatBytes(p, rand(Math.floor(Math.random() * 5)));
      assert.ok(compareBytes(k, next) < 0);
      assert.ok(compareBytes(p, next) < 0);
    }
  });

  test("hex round-trips and fromHex rejects junk", () => {
    const b = rand(50);
    assert.deepEqual(fromHex(hex(b)), b);
    assert.deepEqual(fromHex("ABcd"), Uint8Array.of(0xab, 0xcd));
    assert.throws(() => fromHex("abc"), /invalid hex/);
    assert.throws(() => fromHex("zz"), /invalid hex/);
  });
});

test("ByteSlab copies keys into shared chunks, long ones alone", () => {
  const slab = new ByteSlab(64);
  const a = slab.copy(Uint8Array.of(1, 2, 3));
  const b = slab.copy(Uint8Array.of(4, 5));
  assert.deepEqual([...a, ...b], [1, 2, 3, 4, 5]);
  assert.equal(a.buffer, b.buffer, "one chunk");
  // A copy, not the caller's bytes.
  const src = Uint8Array.of(9, 9);
  const c = slab.copy(src);
  src[0] = 0;
  assert.deepEqual([...c], [9, 9]);
  // Past the chunk's end: a new chunk.
  const big = slab.copy(new Uint8Array(16).fill(7));
  const d = slab.copy(new Uint8Array(16).fill(8));
  slab.copy(new Uint8Array(16)); // 7 + 3 × 16 = 55 of 64 bytes used
  const e = slab.copy(new Uint8Array(16).fill(9));
  assert.equal(d.buffer, big.buffer);
  assert.notEqual(e.buffer, a.buffer);
  assert.deepEqual([...e], new Array(16).fill(9));
  assert.deepEqual([...a], [1, 2, 3], "earlier views keep their bytes");
  // Longer than a quarter chunk: a buffer of its own.
  const long = slab.copy(new Uint8Array(17).fill(1));
  assert.equal(long.buffer.byteLength, 17);
});
