import { test } from "node:test";
import assert from "node:assert/strict";
import { PackedKvs } from "./_packed_kvs.ts";

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

test("packed pairs read back as pushed, across chunks and past a chunk's size", () => {
  const kvs = new PackedKvs();
  const want: [Uint8Array, Uint8Array][] = [];
  // Small pairs fill the 16 KiB first chunk and the doubled ones after it; an empty value and a
  // 5 MiB value (larger than any chunk) take the edge paths.
  const sizes = [
    ...Array.from({ length: 20_000 }, (_, i) => [10 + (i % 40), i % 300] as const),
    [12, 0] as const,
    [9, 5 << 20] as const,
    [11, 3] as const,
  ];
  let total = 0;
  sizes.forEach(([k, v], i) => {
    const key = bytes(k, i);
    const value = bytes(v, i + 1);
    want.push([key, value]);
    kvs.push(key, value);
    total += k + v;
  });
  assert.equal(kvs.length, want.length);
  assert.equal(kvs.bytes, total);
  want.forEach(([k, v], i) => {
    assert.deepEqual(kvs.key(i), k, `key ${i}`);
    assert.deepEqual(kvs.value(i), v, `value ${i}`);
  });
  let i = 0;
  for (const e of kvs) {
    assert.deepEqual(e.key, want[i]![0]);
    assert.deepEqual(e.value, want[i]![1]);
    i++;
  }
  assert.equal(i, want.length);
  assert.throws(() => kvs.key(want.length), RangeError);
  assert.throws(() => kvs.value(-1), RangeError);
});

test("a pair written in place through add() is the pair read back", () => {
  const kvs = new PackedKvs();
  const pair = kvs.add(3, 2);
  pair.set([1, 2, 3]);
  pair.set([9, 8], 3);
  assert.deepEqual(kvs.key(0), Uint8Array.of(1, 2, 3));
  assert.deepEqual(kvs.value(0), Uint8Array.of(9, 8));
  // A later pair does not move or overwrite the first.
  kvs.push(Uint8Array.of(4), Uint8Array.of(5, 6, 7));
  assert.deepEqual(kvs.key(0), Uint8Array.of(1, 2, 3));
  assert.deepEqual(kvs.value(1), Uint8Array.of(5, 6, 7));
});
