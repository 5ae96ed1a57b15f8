/**
 * Deterministic test data for the SST tests.
 * @module
 */
import { compareBytes } from "../../src/codec/bytes.ts";
import { mulberry32 } from "../../src/random.ts";

/**
 * `n` distinct KVs sorted by key: binary keys (some sharing prefixes, some with 0x00/0xff),
 * values from empty to `maxValue` bytes, some compressible.
 */
export function randomKvs(seed: number, n: number, maxValue = 400): [Uint8Array, Uint8Array][] {
  const r = mulberry32(seed);
  const bytes = (len: number, alphabet: number) =>
    Uint8Array.from({ length: len }, () => Math.floor(r() * alphabet));
  const map = new Map<string, [Uint8Array, Uint8Array]>();
  while (map.size < n) {
    const key = r() < 0.7
      ? Uint8Array.from([
        0x74,
        0x80,
        ...bytes(2, 3),
        0x5f,
        0x72,
        ...bytes(1 + Math.floor(r() * 8), 256),
      ])
      : bytes(1 + Math.floor(r() * 30), 256);
    const len = r() < 0.02 ? maxValue * 20 : Math.floor(r() * maxValue);
    const value = r() < 0.6 ? bytes(len, 4) : bytes(len, 256);
    map.set(key.join(","), [key, value]);
  }
  return [...map.values()].sort((a, b) => compareBytes(a[0], b[0]));
}
