// Types for lz4's pure-JS block codec (lz4/lib/binding.js), covering the calls _compression.ts
// makes. compressDependent's `hashTable` maps 16-bit hashes to position + 1 (0 = empty).
export function compressBound(n: number): number;
export function compressDependent(
  src: Uint8Array,
  dst: Uint8Array,
  pos: number,
  hashTable: Uint32Array,
  sIdx: number,
  eIdx: number,
): number;
export function uncompress(
  input: Uint8Array,
  output: Uint8Array,
  sIdx: number,
  eIdx: number,
): number;
