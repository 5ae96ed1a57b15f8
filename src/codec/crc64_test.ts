import assert from "node:assert/strict";
import { test } from "node:test";
import { ChecksumAccumulator, crc64 } from "./crc64.ts";

const enc = new TextEncoder();

// Bit-at-a-time CRC-64/XZ in bigint: slow and obviously right, the ground truth for the tables.
function crc64Reference(data: Uint8Array): bigint {
  const poly = 0xc96c5795d7870f42n;
  let crc = 0xffffffffffffffffn;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let i = 0; i < 8; i++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc ^ 0xffffffffffffffffn;
}

function rand(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(Math.random() * 256);
  return out;
}

test("crc64 gives CRC-64/XZ's check value and known vectors", () => {
  assert.equal(crc64(enc.encode("123456789")), 0x995dc9bbdf1939fan);
  assert.equal(crc64(new Uint8Array()), 0n);
  assert.equal(crc64(enc.encode("a")), 0x330284772e652b05n);
});

test("crc64 matches a bit-wise reference on random lengths and chains like Go's Update", () => {
  for (let n = 0; n < 70; n++) {
    const d = rand(n);
    assert.equal(crc64(d), crc64Reference(d), `length ${n}`);
  }
  const d = rand(1000);
  for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
    assert.equal(crc64(d.subarray(cut), crc64(d.subarray(0, cut))), crc64(d));
  }
});

test("ChecksumAccumulator XORs per-KV crc64 of key‖value and sums sizes", () => {
  const kvs = Array.from(
    { length: 50 },
    () => [rand(Math.random() * 30), rand(Math.random() * 300)],
  );
  const acc = new ChecksumAccumulator();
  let xor = 0n;
  let bytes = 0n;
  for (const [k, v] of kvs) {
    acc.add(k!, v!);
    const kv = new Uint8Array(k!.length + v!.length);
    kv.set(k!);
    kv.set(v!, k!.length);
    xor ^= crc64Reference(kv);
    bytes += BigInt(kv.length);
  }
  assert.equal(acc.crc64xor, xor);
  assert.equal(acc.totalKvs, 50n);
  assert.equal(acc.totalBytes, bytes);

  const a = new ChecksumAccumulator();
  const b = new ChecksumAccumulator();
  kvs.forEach(([k, v], i) => (i % 3 ? a : b).add(k!, v!));
  a.merge(b);
  assert.equal(a.crc64xor, acc.crc64xor);
  assert.equal(a.totalKvs, acc.totalKvs);
  assert.equal(a.totalBytes, acc.totalBytes);
  assert.equal(new ChecksumAccumulator().crc64xor, 0n);
});
