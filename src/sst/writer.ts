/**
 * Writes RocksDB block-based tables (SST files) as RocksDB's `SstFileWriter` does, in
 * format_version 2 (TiKV's setting): data blocks with restart interval 16, an index block of
 * shortened separators, a properties block, a metaindex block and the footer, each block with
 * a compression byte and a masked crc32c. Output streams to a sink in bounded chunks, so
 * memory stays small whatever the file size; the bytes may be AES-CTR encrypted on the way
 * out, as TiKV does for backups with a cipher.
 * @module
 */
import { createHash } from "node:crypto";
import { compareBytes, concatBytes, hex } from "../codec/bytes.ts";
import { type CipherInfo, CtrStream, isEncrypting } from "../crypto/cipher.ts";
import { log } from "../log.ts";
import { BlockBuilder } from "./_block.ts";
import { blockChecksum, ChecksumType, loadChecksums } from "./_checksum.ts";
import { COMPRESSION_INFO, Compressor, type SstCompression } from "./_compression.ts";
import {
  BLOCK_TRAILER,
  type BlockHandle,
  encodeFooter,
  internalKey,
  MAX_SEQUENCE,
  Prop,
  PROPERTIES_BLOCK,
  pushHandle,
  ValueType,
} from "./_format.ts";
import { SstError } from "./errors.ts";
import { decodeProperties, PropertyBuilder, type TableProperties } from "./properties.ts";

/**
 * Where the file's bytes go. `StorageWriter` (src/storage/types.ts) fits: `write` is awaited
 * before the next chunk; `close` is called once by `finish`, `abort` by `abort`.
 */
export interface SstSink {
  write(chunk: Uint8Array): Promise<void>;
  close?(): Promise<unknown>;
  abort?(reason?: unknown): Promise<void>;
}

/** Options of `SstWriter`. */
export interface SstWriterOptions {
  /** Block compression; default "none". */
  compression?: SstCompression;
  /** Codec level (ZSTD only); default the library's (3), which RocksDB also uses. */
  compressionLevel?: number;
  /** Target uncompressed data block size in bytes; default 4096 (RocksDB's). */
  blockSize?: number;
  /** Keys between restart points in data blocks; default 16 (RocksDB's). */
  restartInterval?: number;
  /** Column family recorded in the properties (TiKV: default 0, write 2). */
  columnFamily?: { name: string; id: number };
  /** `rocksdb.file.creation.time`, seconds since the epoch; default now. */
  fileCreationTime?: number;
  /** Encrypt the whole file with AES-CTR from this IV (TiKV's backup encryption). */
  cipher?: { info: CipherInfo; iv: Uint8Array };
  /** Name for errors and logs. */
  name?: string;
  /** Bytes gathered before each sink write; default 256 KiB. */
  chunkSize?: number;
}

/** What `finish` reports. */
export interface SstWriteResult {
  /** Bytes written to the sink (the stored size; CTR keeps it equal to the plain size). */
  size: number;
  /** SHA-256 of the bytes as stored (after encryption), as TiKV puts in File.sha256. */
  sha256: Uint8Array;
  /** KVs written. */
  entries: number;
  /** First and last user keys. */
  smallestKey: Uint8Array;
  largestKey: Uint8Array;
  /** The table properties written. */
  properties: TableProperties;
  /** Whatever the sink's `close` returned (an `ObjectStat` for storage writers). */
  closeResult: unknown;
}

const FORMAT_VERSION = 2;
const EXTERNAL_SST_VERSION = 2;
/** RocksDB's block_size_deviation default: close a block early when the next KV would overflow
 * it and it is already this full (percent). */
const BLOCK_FULLNESS_PERCENT = 90;
// TablePropertiesCollectorFactory::Context::kUnknownColumnFamily
const UNKNOWN_CF = 0x7fffffff;
const DONE: Promise<void> = Promise.resolve();

/**
 * The smallest key S with `a <= S < b` that is shorter than `a`, or `a` itself when no
 * shorter one exists (BytewiseComparator::FindShortestSeparator's contract).
 */
function shortestSeparator(a: Uint8Array, b: Uint8Array): Uint8Array {
  const n = Math.min(a.length, b.length);
  let p = 0;
  while (p < n && a[p] === b[p]) p++;
  if (p >= n) return a;
  if (a[p]! + 1 < b[p]!) {
    const s = a.slice(0, p + 1);
    s[p]!++;
    return s;
  }
  for (let j = p + 1; j < a.length - 1; j++) {
    if (a[j]! < 0xff) {
      const s = a.slice(0, j + 1);
      s[j]!++;
      return s;
    }
  }
  return a;
}

/**
 * Streams one SST file. Add KVs in strictly increasing key order, then `finish`. Not safe for
 * concurrent calls: await each `add`.
 */
export class SstWriter {
  readonly #sink: SstSink;
  readonly #name: string;
  readonly #blockSize: number;
  readonly #compressor: Compressor;
  readonly #compression: SstCompression;
  readonly #compressionLevel: number | undefined;
  readonly #cf: { name: string; id: number } | undefined;
  readonly #fileCreationTime: number;
  readonly #chunkSize: number;
  readonly #ctr: CtrStream | undefined;
  readonly #hash = createHash("sha256");

  readonly #data: BlockBuilder;
  readonly #index = new BlockBuilder(1);
  #offset = 0;
  #out: Uint8Array;
  #outLen = 0;
  #state: "open" | "finished" | "failed" = "open";

  #entries = 0;
  #rawKeySize = 0;
  #rawValueSize = 0;
  #dataSize = 0;
  #numDataBlocks = 0;
  #smallest: Uint8Array | undefined;
  #lastKey: Uint8Array | undefined;
  /** Handle and last user key of the flushed block whose index entry awaits the next key. */
  #pending: { handle: BlockHandle; lastKey: Uint8Array } | undefined;

  /** A writer streaming to `sink`. */
  constructor(sink: SstSink, opts: SstWriterOptions = {}) {
    this.#sink = sink;
    this.#name = opts.name ?? "<sst>";
    this.#blockSize = opts.blockSize ?? 4096;
    const restart = opts.restartInterval ?? 16;
    if (!(this.#blockSize >= 64) || !(restart >= 1)) {
      throw new SstError(
        "InvalidArgument",
        `blockSize must be >= 64 and restartInterval >= 1 (got ${this.#blockSize}, ${restart})`,
        { file: this.#name },
      );
    }
    this.#data = new BlockBuilder(restart);
    this.#compression = opts.compression ?? "none";
    if (!(this.#compression in COMPRESSION_INFO)) {
      throw new SstError(
        "InvalidArgument",
        `unknown compression "${this.#compression}"; use none, snappy, lz4 or zstd`,
        { file: this.#name },
      );
    }
    this.#compressionLevel = opts.compressionLevel;
    this.#compressor = new Compressor(this.#compression, opts.compressionLevel);
    this.#cf = opts.columnFamily;
    this.#fileCreationTime = opts.fileCreationTime ?? Math.floor(Date.now() / 1000);
    this.#chunkSize = opts.chunkSize ?? 256 * 1024;
    this.#out = new Uint8Array(this.#chunkSize);
    this.#ctr = opts.cipher && isEncrypting(opts.cipher.info)
      ? new CtrStream(opts.cipher.info, opts.cipher.iv)
      : undefined;
  }

  /** A writer that keeps the file in memory; `finish` resolves with the bytes too. */
  static toMemory(opts: SstWriterOptions = {}): MemorySstWriter {
    return new MemorySstWriter(opts);
  }

  /** KVs added so far. */
  get entries(): number {
    return this.#entries;
  }

  /** Bytes handed to the output so far (a lower bound of the final size). */
  get bytesWritten(): number {
    return this.#offset;
  }

  #check(): void {
    if (this.#state !== "open") {
      throw new SstError("InvalidArgument", `the writer is ${this.#state}; create a new one`, {
        file: this.#name,
      });
    }
  }

  /**
   * Adds one KV; `key` must be greater than the previous key. Resolves at once unless a block
   * was completed and had to go to the sink.
   */
  add(key: Uint8Array, value: Uint8Array): Promise<void> {
    try {
      this.#check();
      if (this.#lastKey !== undefined && compareBytes(key, this.#lastKey) <= 0) {
        throw new SstError(
          "InvalidArgument",
          `keys must be added in strictly increasing order: ${hex(key)} after ${
            hex(this.#lastKey)
          }`,
          { file: this.#name },
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const ikey = internalKey(key, 0n, ValueType.value);
    if (this.#shouldFlush(ikey.length, value.length)) return this.#flushThenAdd(key, ikey, value);
    this.#append(key, ikey, value);
    return DONE;
  }

  async #flushThenAdd(key: Uint8Array, ikey: Uint8Array, value: Uint8Array): Promise<void> {
    try {
      await this.#flushData();
    } catch (err) {
      await this.#fail(err);
      throw err;
    }
    this.#append(key, ikey, value);
  }

  #append(key: Uint8Array, ikey: Uint8Array, value: Uint8Array): void {
    if (this.#pending) this.#addIndexEntry(key);
    this.#data.add(ikey, value);
    this.#smallest ??= key;
    this.#lastKey = key;
    this.#entries++;
    this.#rawKeySize += ikey.length;
    this.#rawValueSize += value.length;
  }

  #shouldFlush(keyLen: number, valueLen: number): boolean {
    if (this.#data.count === 0) return false;
    const size = this.#data.estimatedSize;
    if (size >= this.#blockSize) return true;
    const limit = Math.ceil((this.#blockSize * BLOCK_FULLNESS_PERCENT) / 100);
    return this.#data.sizeAfter(keyLen, valueLen) > this.#blockSize && size > limit;
  }

  /** Index entry of the pending block, with a separator shortened against the next key. */
  #addIndexEntry(nextKey: Uint8Array | undefined): void {
    const { handle, lastKey } = this.#pending!;
    this.#pending = undefined;
    let sep: Uint8Array;
    if (nextKey === undefined) {
      sep = internalKey(lastKey, 0n, ValueType.value);
    } else {
      const s = shortestSeparator(lastKey, nextKey);
      sep = s.length < lastKey.length && compareBytes(lastKey, s) < 0
        ? internalKey(s, MAX_SEQUENCE, ValueType.blobIndex)
        : internalKey(lastKey, 0n, ValueType.value);
    }
    const v: number[] = [];
    pushHandle(v, handle);
    this.#index.add(sep, Uint8Array.from(v));
  }

  async #flushData(): Promise<void> {
    const raw = this.#data.finish();
    this.#data.reset();
    const handle = await this.#writeBlock(raw, true);
    this.#dataSize += handle.size + BLOCK_TRAILER;
    this.#numDataBlocks++;
    this.#pending = { handle, lastKey: this.#lastKey! };
  }

  /** Writes a block with its trailer; compresses when asked and worth it (RocksDB's 12.5%). */
  async #writeBlock(raw: Uint8Array, compress: boolean): Promise<BlockHandle> {
    await loadChecksums();
    let body = raw;
    let type = 0;
    if (compress) {
      const c = this.#compressor.compress(raw);
      if (c !== undefined && c.length < raw.length - Math.floor(raw.length / 8)) {
        body = c;
        type = this.#compressor.type;
      }
    }
    const trailer = new Uint8Array(BLOCK_TRAILER);
    trailer[0] = type;
    new DataView(trailer.buffer).setUint32(1, blockChecksum(ChecksumType.crc32c, body, type), true);
    const handle = { offset: this.#offset, size: body.length };
    await this.#emit(body);
    await this.#emit(trailer);
    return handle;
  }

  async #emit(bytes: Uint8Array): Promise<void> {
    this.#offset += bytes.length;
    let pos = 0;
    while (pos < bytes.length) {
      const n = Math.min(bytes.length - pos, this.#out.length - this.#outLen);
      this.#out.set(bytes.subarray(pos, pos + n), this.#outLen);
      this.#outLen += n;
      pos += n;
      if (this.#outLen === this.#out.length) await this.#drain();
    }
  }

  async #drain(): Promise<void> {
    if (this.#outLen === 0) return;
    let chunk = this.#out.subarray(0, this.#outLen);
    if (this.#ctr) chunk = this.#ctr.update(chunk);
    else chunk = chunk.slice();
    this.#hash.update(chunk);
    this.#outLen = 0;
    // The sink may keep the chunk, so every chunk is a fresh array.
    await this.#sink.write(chunk);
  }

  /** Writes index, properties, metaindex and footer, closes the sink, and reports the file. */
  async finish(): Promise<SstWriteResult> {
    this.#check();
    if (this.#entries === 0) {
      throw new SstError(
        "InvalidArgument",
        "cannot create an SST file with no entries (RocksDB cannot either); skip the file",
        { file: this.#name },
      );
    }
    try {
      if (this.#data.count > 0) await this.#flushData();
      this.#addIndexEntry(undefined);
      const indexHandle = await this.#writeBlock(this.#index.finish(), true);

      const props = this.#properties(indexHandle.size + BLOCK_TRAILER);
      const propsBlock = new BlockBuilder(1);
      for (const [k, v] of props.entries()) propsBlock.add(k, v);
      const propsHandle = await this.#writeBlock(propsBlock.finish(), false);

      const meta = new BlockBuilder(1);
      const hv: number[] = [];
      pushHandle(hv, propsHandle);
      meta.add(new TextEncoder().encode(PROPERTIES_BLOCK), Uint8Array.from(hv));
      const metaHandle = await this.#writeBlock(meta.finish(), false);

      await this.#emit(encodeFooter(FORMAT_VERSION, ChecksumType.crc32c, metaHandle, indexHandle));
      await this.#drain();
      const closeResult = await this.#sink.close?.();
      this.#state = "finished";
      const result: SstWriteResult = {
        size: this.#offset,
        sha256: new Uint8Array(this.#hash.digest()),
        entries: this.#entries,
        smallestKey: this.#smallest!,
        largestKey: this.#lastKey!,
        properties: decodeProperties(props.toMap()),
        closeResult,
      };
      log("sst").debug("wrote SST {name}: {entries} KVs, {size} bytes", {
        name: this.#name,
        entries: result.entries,
        size: result.size,
        compression: this.#compression,
      });
      return result;
    } catch (err) {
      await this.#fail(err);
      throw err;
    }
  }

  /** Marks the writer failed and aborts the sink, keeping the original error. */
  async #fail(err: unknown): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "failed";
    await this.#sink.abort?.(err).catch(() => {});
  }

  /** Gives up: aborts the sink (no object is left behind by storage writers). Idempotent. */
  async abort(reason?: unknown): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "failed";
    await this.#sink.abort?.(reason);
  }

  #properties(indexSize: number): PropertyBuilder {
    const level = this.#compressionLevel ?? 32767;
    const p = new PropertyBuilder()
      .num(Prop.dataSize, this.#dataSize)
      .num(Prop.indexSize, indexSize)
      .num(Prop.indexKeyIsUserKey, 0)
      .num(Prop.indexValueIsDeltaEncoded, 0)
      .num(Prop.filterSize, 0)
      .num(Prop.rawKeySize, this.#rawKeySize)
      .num(Prop.rawValueSize, this.#rawValueSize)
      .num(Prop.numDataBlocks, this.#numDataBlocks)
      .num(Prop.numEntries, this.#entries)
      .num(Prop.numFilterEntries, 0)
      .num(Prop.deletedKeys, 0)
      .num(Prop.mergeOperands, 0)
      .num(Prop.numRangeDeletions, 0)
      // Always 0 for block-based tables; the real format_version lives in the footer.
      .num(Prop.formatVersion, 0)
      .num(Prop.fixedKeyLength, 0)
      .num(Prop.columnFamilyId, this.#cf?.id ?? UNKNOWN_CF)
      .num(Prop.creationTime, 0)
      .num(Prop.oldestKeyTime, 0)
      .num(Prop.fileCreationTime, this.#fileCreationTime)
      .str(Prop.comparator, "leveldb.BytewiseComparator")
      .str(Prop.mergeOperator, "nullptr")
      .str(Prop.prefixExtractor, "nullptr")
      .str(Prop.propertyCollectors, "[]")
      .str(Prop.compression, COMPRESSION_INFO[this.#compression].name)
      .str(
        Prop.compressionOptions,
        `window_bits=-14; level=${level}; strategy=0; max_dict_bytes=0; ` +
          `zstd_max_train_bytes=0; enabled=0; `,
      )
      .fixed32(Prop.indexType, 0)
      .str(Prop.prefixFiltering, "0")
      .str(Prop.wholeKeyFiltering, "1")
      .fixed32(Prop.externalSstVersion, EXTERNAL_SST_VERSION)
      .fixed64(Prop.globalSeqno, 0n);
    if (this.#cf?.name) p.str(Prop.columnFamilyName, this.#cf.name);
    return p;
  }
}

/** An `SstWriter` into memory; `finish` adds the file's bytes. */
export class MemorySstWriter extends SstWriter {
  readonly #chunks: Uint8Array[];

  constructor(opts: SstWriterOptions = {}) {
    const chunks: Uint8Array[] = [];
    super({ write: (c) => Promise.resolve(void chunks.push(c)) }, opts);
    this.#chunks = chunks;
  }

  /** Finishes the file and returns it with its report. */
  override async finish(): Promise<SstWriteResult & { bytes: Uint8Array }> {
    const result = await super.finish();
    return { ...result, bytes: concatBytes(...this.#chunks) };
  }
}
