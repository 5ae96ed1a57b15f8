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

// Go's golden ECMA values (golang/go src/hash/crc64/crc64_test.go), which TiKV's crc64fast and
// BR's checksums agree with.
const GO_GOLDEN: Array<[bigint, string]> = [
  [0x0n, ""],
  [0x330284772e652b05n, "a"],
  [0xbc6573200e84b046n, "ab"],
  [0x2cd8094a1a277627n, "abc"],
  [0x3c9d28596e5960ban, "abcd"],
  [0x40bdf58fb0895f2n, "abcde"],
  [0xd08e9f8545a700f4n, "abcdef"],
  [0xec20a3a8cc710e66n, "abcdefg"],
  [0x67b4f30a647a0c59n, "abcdefgh"],
  [0x9966f6c89d56ef8en, "abcdefghi"],
  [0x32093a2ecd5773f4n, "abcdefghij"],
  [0x8a0825223ea6d221n, "Discard medicine more than two years old."],
  [0x8562c0ac2ab9a00dn, "He who has a shady past knows that nice guys finish last."],
  [0x3ee2a39c083f38b4n, "I wouldn't marry him with a ten foot pole."],
  [0x1f603830353e518an, "Free! Free!/A trip/to Mars/for 900/empty jars/Burma Shave"],
  [0x2fd681d7b2421fdn, "The days of the digital watch are numbered.  -Tom Stoppard"],
  [0x790ef2b16a745a41n, "Nepal premier won't resign."],
  [0x3ef8f06daccdcddfn, "For every action there is an equal and opposite government program."],
  [0x49e41b2660b106dn, "His money is twice tainted: 'taint yours and 'taint mine."],
  [
    0x561cc0cfa235ac68n,
    "There is no reason for any individual to have a computer in their home. -Ken Olsen, 1977",
  ],
  [
    0xd4fe9ef082e69f59n,
    "It's a tiny change to the code and not completely disgusting. - Bob Manchek",
  ],
  [0xe3b5e46cd8d63a4dn, "size:  a.out:  bad magic"],
  [0x865aaf6b94f2a051n, "The major problem is with sendmail.  -Mark Horton"],
  [0x27db187fc15bbc72n, "This is a test of the emergency broadcast system."],
];

test("crc64 matches Go's golden ECMA table, whole and split like Update", () => {
  for (const [want, s] of GO_GOLDEN) {
    const d = enc.encode(s);
    assert.equal(crc64(d), want, JSON.stringify(s));
    const half = d.length >> 1;
    assert.equal(crc64(d.subarray(half), crc64(d.subarray(0, half))), want, JSON.stringify(s));
  }
});

test("ChecksumAccumulator.addRanges equals add over the same bytes", () => {
  const buf = enc.encode("xxkey-bytes-hereyyvalue: something longer than eight bytes zz");
  const a = new ChecksumAccumulator();
  const b = new ChecksumAccumulator();
  a.add(buf.subarray(2, 16), buf.subarray(18, 58));
  b.addRanges(buf, 2, 16, buf, 18, 58);
  assert.deepEqual(a.checksum(), b.checksum());
  const kv = new Uint8Array(54);
  kv.set(buf.subarray(2, 16));
  kv.set(buf.subarray(18, 58), 14);
  assert.equal(b.crc64xor, crc64Reference(kv));
  assert.equal(b.totalBytes, 54n);
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
