/**
 * Block checksums of the block-based table: every checksum type RocksDB writes (crc32c, xxHash,
 * xxHash64, XXH3) and the per-offset context modifier of format_version >= 6. The hashes come from
 * hash-wasm (WASM, runs on Deno and Bun); they are created once, asynchronously, by
 * `loadChecksums`.
 * @module
 */
import {
  createCRC32,
  createXXHash3,
  createXXHash32,
  createXXHash64,
  type IHasher,
} from "hash-wasm";

/** ChecksumType of the footer. */
export const ChecksumType = {
  none: 0,
  crc32c: 1,
  xxHash: 2,
  xxHash64: 3,
  xxh3: 4,
} as const;

const CRC32C_POLY = 0x82f63b78;
const MASK_DELTA = 0xa282ead8;
// RocksDB folds the trailer's compression byte into an XXH3 checksum with this multiplier.
const LAST_BYTE_PRIME = 0x6b9083d9;

interface Hashers {
  crc32c: IHasher;
  xxh32: IHasher;
  xxh64: IHasher;
  xxh3: IHasher;
}

let hashers: Hashers | undefined;
let loading: Promise<Hashers> | undefined;

/** Instantiates the WASM hashers once per process. */
export function loadChecksums(): Promise<void> {
  if (hashers) return Promise.resolve();
  loading ??= Promise.all([
    createCRC32(CRC32C_POLY),
    createXXHash32(0),
    createXXHash64(0, 0),
    createXXHash3(0, 0),
  ]).then(([crc32c, xxh32, xxh64, xxh3]) => (hashers = { crc32c, xxh32, xxh64, xxh3 }));
  return loading.then(() => undefined);
}

function ready(): Hashers {
  if (!hashers) throw new Error("SST checksums used before loadChecksums() resolved");
  return hashers;
}

function be32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>>
    0;
}

const oneByte = new Uint8Array(1);

/** CRC-32C (Castagnoli) of `data`, unmasked. */
export function crc32c(data: Uint8Array): number {
  const h = ready().crc32c;
  h.init();
  h.update(data);
  return be32(h.digest("binary"), 0);
}

/** RocksDB's (LevelDB's) masking of a stored crc32c. */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/**
 * The checksum RocksDB stores in a block trailer for `data` followed by the compression type
 * byte, before any context modifier. Throws on an unknown checksum type.
 */
export function blockChecksum(type: number, data: Uint8Array, lastByte: number): number {
  const h = ready();
  oneByte[0] = lastByte;
  switch (type) {
    case ChecksumType.crc32c: {
      h.crc32c.init();
      h.crc32c.update(data);
      h.crc32c.update(oneByte);
      return maskCrc(be32(h.crc32c.digest("binary"), 0));
    }
    case ChecksumType.xxHash: {
      h.xxh32.init();
      h.xxh32.update(data);
      h.xxh32.update(oneByte);
      return be32(h.xxh32.digest("binary"), 0);
    }
    case ChecksumType.xxHash64: {
      h.xxh64.init();
      h.xxh64.update(data);
      h.xxh64.update(oneByte);
      return be32(h.xxh64.digest("binary"), 4);
    }
    case ChecksumType.xxh3: {
      h.xxh3.init();
      h.xxh3.update(data);
      const low = be32(h.xxh3.digest("binary"), 4);
      return (low ^ Math.imul(lastByte, LAST_BYTE_PRIME)) >>> 0;
    }
    default:
      throw new Error(`unknown block checksum type ${type}`);
  }
}

/** Checksum of a whole footer (format_version >= 6), over `data` with no extra byte. */
export function plainChecksum(type: number, data: Uint8Array): number {
  const h = ready();
  switch (type) {
    case ChecksumType.crc32c:
      return maskCrc(crc32c(data));
    case ChecksumType.xxHash:
      h.xxh32.init();
      h.xxh32.update(data);
      return be32(h.xxh32.digest("binary"), 0);
    case ChecksumType.xxHash64:
      h.xxh64.init();
      h.xxh64.update(data);
      return be32(h.xxh64.digest("binary"), 4);
    case ChecksumType.xxh3:
      h.xxh3.init();
      h.xxh3.update(data);
      return be32(h.xxh3.digest("binary"), 4);
    default:
      throw new Error(`unknown checksum type ${type}`);
  }
}

/**
 * format_version >= 6 adds this to each stored checksum so a block copied to another offset or
 * file no longer verifies; 0 when the file has no base context checksum.
 */
export function contextModifier(baseContextChecksum: number, offset: number): number {
  if (baseContextChecksum === 0) return 0;
  const lo = offset >>> 0;
  const hi = Math.floor(offset / 0x1_0000_0000) >>> 0;
  return (baseContextChecksum ^ ((lo + hi) >>> 0)) >>> 0;
}
