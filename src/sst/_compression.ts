/**
 * Block compression as RocksDB's block-based table stores it. Snappy blocks are raw snappy;
 * from format_version 2 on, zlib, LZ4 and ZSTD blocks start with the uncompressed size as a
 * varint32. Codecs: snappyjs and lz4's JS block codec (pure JS), zlib from `node:zlib`, ZSTD from
 * the runtime (see `loadZstd`), all of which run on Deno and Bun and bundle into a compiled
 * binary.
 * @module
 */
import * as zlib from "node:zlib";
// @ts-types="./_snappyjs.d.ts"
import snappy from "snappyjs";
// The lz4 package's pure-JS block codec, a port of liblz4's; its main entry loads a native addon.
// @ts-types="./_lz4.d.ts"
import * as lz4 from "lz4/lib/binding.js";
import { ZSTDDecoder } from "zstddec";
import { decodeVarNumber, pushVarNumber } from "../codec/varint.ts";
import { runtimeZstdDecompress } from "../runtime.ts";

// ZSTD blocks are decoded by native zstd: Bun's own `zstdDecompressSync` on Bun, `node:zlib`'s on
// Deno (both measured faster per CPU second than zstd compiled to WebAssembly, see
// docs/VERIFY.md); zstddec (WebAssembly) only where the runtime has neither.
let zstdNative: ((data: Uint8Array) => Uint8Array) | undefined;
let zstdWasm: ZSTDDecoder | undefined;
let zstdLoading: Promise<void> | undefined;

/** Picks the ZSTD decoder once; readers await it before their first block. */
export function loadZstd(): Promise<void> {
  zstdLoading ??= (async () => {
    const own = runtimeZstdDecompress();
    if (own) zstdNative = (data) => toU8(own(data));
    else if (typeof zlib.zstdDecompressSync === "function") {
      zstdNative = (data) => toU8(zlib.zstdDecompressSync(data));
    }
    if (zstdNative) return;
    const d = new ZSTDDecoder();
    try {
      await d.init();
      zstdWasm = d;
    } catch {
      // No WebAssembly either: blocks fail with the runtime's own error.
    }
  })();
  return zstdLoading;
}

/** CompressionType byte of a block trailer. */
export const CompressionType = {
  none: 0,
  snappy: 1,
  zlib: 2,
  bzip2: 3,
  lz4: 4,
  lz4hc: 5,
  xpress: 6,
  zstd: 7,
  zstdNotFinal: 0x40,
} as const;

/** Compressions the writer offers. */
export type SstCompression = "none" | "snappy" | "lz4" | "zstd";

/** Trailer byte and `rocksdb.compression` property value of each writable compression. */
export const COMPRESSION_INFO: Record<SstCompression, { type: number; name: string }> = {
  none: { type: CompressionType.none, name: "NoCompression" },
  snappy: { type: CompressionType.snappy, name: "Snappy" },
  lz4: { type: CompressionType.lz4, name: "LZ4" },
  zstd: { type: CompressionType.zstd, name: "ZSTD" },
};

/** RocksDB's name for a compression type byte (as sst_dump prints it). */
export function compressionName(type: number): string {
  switch (type) {
    case CompressionType.none:
      return "NoCompression";
    case CompressionType.snappy:
      return "Snappy";
    case CompressionType.zlib:
      return "Zlib";
    case CompressionType.bzip2:
      return "BZip2";
    case CompressionType.lz4:
      return "LZ4";
    case CompressionType.lz4hc:
      return "LZ4HC";
    case CompressionType.xpress:
      return "Xpress";
    case CompressionType.zstd:
      return "ZSTD";
    case CompressionType.zstdNotFinal:
      return "ZSTDNotFinal";
    default:
      return `Unknown(${type})`;
  }
}

// Match table size of the lz4 block codec (its hashSize).
const LZ4_HASH_SIZE = 1 << 16;

// Blocks never get near this; a larger declared size means a corrupt header, not a big block.
const MAX_BLOCK = 1 << 30;

function withSizePrefix(size: number, body: Uint8Array): Uint8Array {
  const head: number[] = [];
  pushVarNumber(head, size);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

function toU8(b: Uint8Array): Uint8Array {
  // node:zlib returns Buffers; hand out plain views of the same memory.
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * A block compressor for one compression; keeps its scratch buffers between calls. `compress`
 * returns the stored bytes, or undefined when the codec could not shrink the block.
 */
export class Compressor {
  readonly type: number;
  readonly #kind: SstCompression;
  readonly #level: number | undefined;
  #lz4Table: Uint32Array | undefined;
  #lz4Out: Uint8Array = new Uint8Array(0);

  constructor(kind: SstCompression, level?: number) {
    this.#kind = kind;
    this.type = COMPRESSION_INFO[kind].type;
    this.#level = level;
  }

  compress(raw: Uint8Array): Uint8Array | undefined {
    switch (this.#kind) {
      case "none":
        return undefined;
      case "snappy":
        return snappy.compress(raw);
      case "zstd": {
        const params = this.#level === undefined
          ? {}
          : { [zlib.constants.ZSTD_c_compressionLevel]: this.#level };
        return withSizePrefix(raw.length, toU8(zlib.zstdCompressSync(raw, { params })));
      }
      case "lz4": {
        const bound = lz4.compressBound(raw.length);
        if (this.#lz4Out.length < bound) this.#lz4Out = new Uint8Array(bound);
        // A fresh table keeps the output a pure function of the input.
        if (this.#lz4Table) this.#lz4Table.fill(0);
        else this.#lz4Table = new Uint32Array(LZ4_HASH_SIZE);
        const n = lz4.compressDependent(raw, this.#lz4Out, 0, this.#lz4Table, 0, bound);
        if (n <= 0) return undefined;
        return withSizePrefix(raw.length, this.#lz4Out.subarray(0, n));
      }
    }
  }
}

function readSize(data: Uint8Array, formatVersion: number): { size: number; start: number } {
  if (formatVersion >= 2) {
    const { value, next } = decodeVarNumber(data, 0);
    return { size: value, start: next };
  }
  // format_version < 2 stored an 8-byte little-endian size (only the low 32 bits are used).
  if (data.length < 8) throw new Error("compressed block shorter than its size header");
  const size = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
  return { size, start: 8 };
}

/**
 * Uncompresses a block's stored bytes. Throws a plain Error on malformed input or an
 * unsupported type; the caller adds file and offset.
 */
export function uncompressBlock(
  type: number,
  data: Uint8Array,
  formatVersion: number,
): Uint8Array {
  switch (type) {
    case CompressionType.none:
      return data;
    case CompressionType.snappy:
      return snappy.uncompress(data, MAX_BLOCK);
    case CompressionType.lz4:
    case CompressionType.lz4hc: {
      const { size, start } = readSize(data, formatVersion);
      if (size > MAX_BLOCK) throw new Error(`declared uncompressed size ${size} is implausible`);
      const out = new Uint8Array(size);
      const n = lz4.uncompress(data, out, start, data.length);
      if (n !== size) throw new Error(`LZ4 block decoded to ${n} bytes, expected ${size}`);
      return out;
    }
    case CompressionType.zstd:
    case CompressionType.zstdNotFinal: {
      const { size, start } = formatVersion >= 2 ? readSize(data, formatVersion) : {
        size: -1,
        start: 0,
      };
      if (size > MAX_BLOCK) throw new Error(`declared uncompressed size ${size} is implausible`);
      const body = data.subarray(start);
      const out = zstdNative
        ? zstdNative(body)
        : zstdWasm && size > 0
        ? zstdWasm.decode(body, size)
        : toU8(zlib.zstdDecompressSync(body));
      if (size >= 0 && out.length !== size) {
        throw new Error(`ZSTD block decoded to ${out.length} bytes, expected ${size}`);
      }
      return out;
    }
    case CompressionType.zlib: {
      const { size, start } = formatVersion >= 2 ? readSize(data, formatVersion) : {
        size: -1,
        start: 0,
      };
      const out = toU8(zlib.inflateRawSync(data.subarray(start)));
      if (size >= 0 && out.length !== size) {
        throw new Error(`zlib block decoded to ${out.length} bytes, expected ${size}`);
      }
      return out;
    }
    default:
      throw new Error(`compression ${compressionName(type)} is not supported by tibr`);
  }
}
