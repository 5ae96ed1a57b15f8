import assert from "node:assert/strict";
import { test } from "node:test";
import {
  blockChecksum,
  ChecksumType,
  contextModifier,
  crc32c,
  loadChecksums,
  maskCrc,
} from "./_checksum.ts";

const enc = new TextEncoder();

test("crc32c and its mask match the Castagnoli check value and LevelDB's masking", async () => {
  await loadChecksums();
  assert.equal(crc32c(enc.encode("123456789")), 0xe3069283);
  assert.equal(maskCrc(0), 0xa282ead8);
  // Unmasking (rotate back) recovers the crc.
  const m = (maskCrc(0x12345678) - 0xa282ead8) >>> 0;
  assert.equal(((m >>> 17) | (m << 15)) >>> 0, 0x12345678);
});

test("block checksums cover the data and the compression byte for every type", async () => {
  await loadChecksums();
  const data = enc.encode("some block bytes");
  const withByte = new Uint8Array([...data, 1]);
  assert.equal(blockChecksum(ChecksumType.crc32c, data, 1), maskCrc(crc32c(withByte)));
  for (
    const t of [ChecksumType.crc32c, ChecksumType.xxHash, ChecksumType.xxHash64, ChecksumType.xxh3]
  ) {
    assert.notEqual(blockChecksum(t, data, 0), blockChecksum(t, data, 1), `type ${t}`);
  }
  // XXH3_64("hello") = 0x9555e8555c62dcfd; RocksDB keeps the low 32 bits, then folds the byte in.
  assert.equal(blockChecksum(ChecksumType.xxh3, enc.encode("hello"), 0), 0x5c62dcfd);
  assert.equal(
    blockChecksum(ChecksumType.xxh3, enc.encode("hello"), 7),
    (0x5c62dcfd ^ Math.imul(7, 0x6b9083d9)) >>> 0,
  );
  assert.throws(() => blockChecksum(9, data, 0), /unknown block checksum type 9/);
});

test("the context modifier is zero without a base and mixes both halves of the offset", () => {
  assert.equal(contextModifier(0, 12345), 0);
  assert.equal(contextModifier(0x1000, 0x20), 0x1020);
  assert.equal(contextModifier(1, 0x1_0000_0002), (1 ^ 3) >>> 0);
});
