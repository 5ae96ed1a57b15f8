/**
 * Codecs for TiDB/TiKV key and value formats and the crc64xor checksum.
 *
 * ```ts
 * import { ChecksumAccumulator, dataKey, encodeBytes } from "./mod.ts";
 * const key = dataKey(new TextEncoder().encode("k"), 42n); // z + memcomparable + ~ts
 * const acc = new ChecksumAccumulator();
 * acc.add(new Uint8Array([1]), new Uint8Array([2]));
 * ```
 * @module
 */
export * from "./bytes.ts";
export * from "./crc64.ts";
export * from "./tikv.ts";
export * from "./varint.ts";
export * from "./tso.ts";
