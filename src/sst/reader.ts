/**
 * Reads RocksDB block-based tables: files from tibr's writer, TiKV and RocksDB itself
 * (format_version 0 to 7, every checksum type, no/snappy/zlib/LZ4/ZSTD compression). Every
 * block's checksum is verified; damage shows up as an `SstError` naming file and offset,
 * never as a crash or as wrong data.
 * @module
 */
import { compareBytes } from "../codec/bytes.ts";
import { decodeVarU64 } from "../codec/varint.ts";
import {
  type BlockOrigin,
  type DataBlock,
  decodeBlock,
  decodeDataBlock,
  decodeDeltaIndexBlock,
} from "./_block.ts";
import {
  blockChecksum,
  ChecksumType,
  contextModifier,
  loadChecksums,
  plainChecksum,
} from "./_checksum.ts";
import { compressionName, loadZstd, uncompressBlock } from "./_compression.ts";
import {
  BLOCK_TRAILER,
  type BlockHandle,
  decodeFooter,
  decodeHandle,
  type Footer,
  FOOTER_SIZE,
  INDEX_BLOCK,
  PROPERTIES_BLOCK,
} from "./_format.ts";
import { SstError } from "./errors.ts";
import { decodeProperties, type TableProperties } from "./properties.ts";
import type { SstSource } from "./source.ts";

/** One entry of the table. */
export interface SstEntry {
  /** The user key (the internal key without its 8-byte sequence/type trailer). */
  key: Uint8Array;
  value: Uint8Array;
  /** Sequence number (0 in files from SstFileWriter and tibr). */
  seqno: bigint;
  /** Value type: 1 put, 0 delete, 2 merge, 7 single delete (see `ValueType`). */
  type: number;
}

/** A key range: `start` inclusive, `end` exclusive; either may be omitted. */
export interface KeyRange {
  start?: Uint8Array;
  end?: Uint8Array;
}

/** Options of `SstReader.open`. */
export interface SstReaderOptions {
  /** Verify every block checksum; default true. */
  verifyChecksums?: boolean;
  /** Bytes read at once when scanning sequentially; default 1 MiB. */
  readahead?: number;
}

const decoder = new TextDecoder();

/** An open SST file. */
export class SstReader {
  readonly #src: SstSource;
  readonly #verify: boolean;
  readonly #readahead: number;
  /** Parsed footer. */
  readonly footer: Footer;
  /** The table properties. */
  readonly properties: TableProperties;
  /** Metaindex: meta block name to handle. */
  readonly metaBlocks: ReadonlyMap<string, BlockHandle>;
  /** User keys of the index entries (each >= every key of its block). */
  readonly #indexKeys: Uint8Array[];
  readonly #handles: BlockHandle[];

  private constructor(
    src: SstSource,
    opts: Required<SstReaderOptions>,
    footer: Footer,
    meta: Map<string, BlockHandle>,
    props: TableProperties,
    indexKeys: Uint8Array[],
    handles: BlockHandle[],
  ) {
    this.#src = src;
    this.#verify = opts.verifyChecksums;
    this.#readahead = opts.readahead;
    this.footer = footer;
    this.metaBlocks = meta;
    this.properties = props;
    this.#indexKeys = indexKeys;
    this.#handles = handles;
  }

  /** Name of the file, as errors cite it. */
  get name(): string {
    return this.#src.name;
  }

  /** Size of the file in bytes. */
  get size(): number {
    return this.#src.size;
  }

  /** Number of data blocks. */
  get dataBlocks(): number {
    return this.#handles.length;
  }

  /**
   * Opens a table: reads and checks the footer, metaindex, properties and index. Throws
   * `SstError` when the file is not a readable block-based table.
   */
  static async open(src: SstSource, opts: SstReaderOptions = {}): Promise<SstReader> {
    const full: Required<SstReaderOptions> = {
      verifyChecksums: opts.verifyChecksums ?? true,
      readahead: opts.readahead ?? 1 << 20,
    };
    await loadChecksums();
    await loadZstd();
    const tailLen = Math.min(src.size, FOOTER_SIZE);
    const tail = await src.read(src.size - tailLen, tailLen);
    const footer = decodeFooter(tail, src.size, src.name);
    if (footer.storedChecksum !== undefined && full.verifyChecksums) {
      checkFooterChecksum(tail.subarray(tail.length - FOOTER_SIZE), footer, src.name);
    }
    // A half-built reader, to read the meta blocks through the common path.
    const probe = new SstReader(src, full, footer, new Map(), {} as TableProperties, [], []);
    const metaBlock = await probe.#readBlock(footer.metaindex, "metaindex");
    const metaEntries = decodeBlock(metaBlock, probe.#origin(footer.metaindex, "metaindex"));
    const meta = new Map<string, BlockHandle>();
    for (let i = 0; i < metaEntries.keys.length; i++) {
      const name = decoder.decode(metaEntries.keys[i]);
      meta.set(name, probe.#handleOf(metaEntries.values[i]!, footer.metaindex, "metaindex"));
    }

    const propsHandle = meta.get(PROPERTIES_BLOCK);
    let props: TableProperties;
    if (propsHandle === undefined) {
      props = decodeProperties(new Map());
    } else {
      const block = await probe.#readBlock(propsHandle, "properties");
      const e = decodeBlock(block, probe.#origin(propsHandle, "properties"));
      const raw = new Map<string, Uint8Array>();
      for (let i = 0; i < e.keys.length; i++) raw.set(decoder.decode(e.keys[i]), e.values[i]!);
      try {
        props = decodeProperties(raw);
      } catch (err) {
        throw new SstError(
          "Corruption",
          `properties block is malformed: ${(err as Error).message}`,
          {
            file: src.name,
            offset: propsHandle.offset,
          },
        );
      }
    }
    if (props.indexType === 2 || props.indexType === 3) {
      throw new SstError(
        "Unsupported",
        `index type ${props.indexType} (${
          props.indexType === 2 ? "partitioned" : "binary search with first key"
        }) is not supported; rewrite the file with the default binary-search index`,
        { file: src.name },
      );
    }

    const indexHandle = footer.index ?? meta.get(INDEX_BLOCK);
    if (indexHandle === undefined) {
      throw new SstError("Corruption", "the metaindex has no index block entry", {
        file: src.name,
        offset: footer.metaindex.offset,
      });
    }
    const withProps = new SstReader(src, full, footer, meta, props, [], []);
    const { keys, handles } = await withProps.#readIndex(indexHandle);
    return new SstReader(src, full, footer, meta, props, keys, handles);
  }

  #origin(h: BlockHandle, what: string): BlockOrigin {
    return { file: this.#src.name, offset: h.offset, what };
  }

  #handleOf(bytes: Uint8Array, block: BlockHandle, what: string): BlockHandle {
    try {
      const { handle, next } = decodeHandle(bytes, 0);
      if (next !== bytes.length) throw new Error(`${bytes.length - next} trailing bytes`);
      return handle;
    } catch (err) {
      throw new SstError(
        "Corruption",
        `${what} block has a malformed block handle (${(err as Error).message})`,
        { file: this.#src.name, offset: block.offset },
      );
    }
  }

  async #readIndex(h: BlockHandle): Promise<{ keys: Uint8Array[]; handles: BlockHandle[] }> {
    const block = await this.#readBlock(h, "index");
    const origin = this.#origin(h, "index");
    const userKeys = this.properties.indexKeyIsUserKey;
    const keys: Uint8Array[] = [];
    const handles: BlockHandle[] = [];
    const bad = (why: string) =>
      new SstError("Corruption", `index block is malformed (${why})`, {
        file: this.#src.name,
        offset: h.offset,
      });
    const keyOf = (k: Uint8Array) => {
      if (userKeys) return k;
      if (k.length < 8) throw bad(`index key of ${k.length} bytes is shorter than 8`);
      return k.subarray(0, k.length - 8);
    };
    if (this.properties.indexValueIsDeltaEncoded) {
      const e = decodeDeltaIndexBlock(block, origin);
      let prev: BlockHandle | undefined;
      for (let i = 0; i < e.keys.length; i++) {
        let handle: BlockHandle;
        if (e.full[i]) {
          handle = this.#handleOf(e.values[i]!, h, "index");
        } else {
          if (!prev) throw bad("first entry is delta-encoded");
          const { value } = decodeVarU64(e.values[i]!, 0);
          // Zigzag: RocksDB's PutVarsignedint64.
          const delta = Number(value >> 1n) * (value & 1n ? -1 : 1) - Number(value & 1n);
          handle = { offset: prev.offset + prev.size + BLOCK_TRAILER, size: prev.size + delta };
        }
        keys.push(keyOf(e.keys[i]!));
        handles.push(handle);
        prev = handle;
      }
    } else {
      const e = decodeBlock(block, origin);
      for (let i = 0; i < e.keys.length; i++) {
        keys.push(keyOf(e.keys[i]!));
        handles.push(this.#handleOf(e.values[i]!, h, "index"));
      }
    }
    for (let i = 0; i < handles.length; i++) {
      const hd = handles[i]!;
      if (hd.size < 0 || hd.offset + hd.size + BLOCK_TRAILER > this.footer.offset) {
        throw bad(`data block ${i} handle (${hd.offset}, ${hd.size}) points past the data area`);
      }
      if (i > 0 && compareBytes(keys[i - 1]!, keys[i]!) > 0) {
        throw bad(`index keys out of order at entry ${i}`);
      }
    }
    return { keys, handles };
  }

  /** Reads, verifies and uncompresses one block; `bytes` may be pre-read block+trailer bytes. */
  async #readBlock(
    h: BlockHandle,
    what: string,
    bytes?: Uint8Array,
    uncompress = true,
  ): Promise<Uint8Array> {
    const file = this.#src.name;
    if (h.offset + h.size + BLOCK_TRAILER > this.footer.offset) {
      throw new SstError(
        "Corruption",
        `${what} block (${h.size} bytes) runs past the end of the data area at ${this.footer.offset}`,
        { file, offset: h.offset },
      );
    }
    const buf = bytes ?? await this.#src.read(h.offset, h.size + BLOCK_TRAILER);
    if (buf.length !== h.size + BLOCK_TRAILER) {
      throw new SstError("Truncated", `${what} block read returned ${buf.length} bytes`, {
        file,
        offset: h.offset,
      });
    }
    const data = buf.subarray(0, h.size);
    const type = buf[h.size]!;
    if (this.#verify) {
      const stored = new DataView(buf.buffer, buf.byteOffset + h.size + 1, 4).getUint32(0, true);
      const ct = this.footer.checksumType;
      // Files without checksums store 0 there; anything else means damage.
      const want = ct === ChecksumType.none ? 0 : (blockChecksum(ct, data, type) +
        contextModifier(this.footer.baseContextChecksum, h.offset)) >>> 0;
      if (stored !== want) {
        throw new SstError(
          "Corruption",
          `${what} block checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${
            want.toString(16)
          }); the file is damaged, re-create or re-download it`,
          { file, offset: h.offset },
        );
      }
    }
    if (!uncompress) return data;
    try {
      return uncompressBlock(type, data, this.footer.formatVersion);
    } catch (err) {
      const code = /not supported/.test((err as Error).message) ? "Unsupported" : "Corruption";
      throw new SstError(
        code,
        `cannot uncompress ${what} block (${compressionName(type)}): ${(err as Error).message}`,
        { file, offset: h.offset, cause: err },
      );
    }
  }

  #first(range: KeyRange): number {
    return range.start ? this.#firstBlockFor(range.start) : 0;
  }

  /** Index of the first data block that may hold a user key >= `key`. */
  #firstBlockFor(key: Uint8Array): number {
    let lo = 0;
    let hi = this.#indexKeys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.#indexKeys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Decoded data block `i`, read through `window` when scanning sequentially. */
  async #dataBlock(i: number, window?: ReadWindow, reuse?: DataBlock): Promise<DataBlock> {
    const h = this.#handles[i]!;
    let bytes: Uint8Array | undefined;
    if (window) {
      const need = h.size + BLOCK_TRAILER;
      if (!(h.offset >= window.offset && h.offset + need <= window.offset + window.bytes.length)) {
        const len = Math.min(Math.max(this.#readahead, need), this.footer.offset - h.offset);
        window.offset = h.offset;
        window.bytes = await this.#src.read(h.offset, len);
        if (window.bytes.length !== len) {
          throw new SstError("Truncated", `read of ${len} bytes returned ${window.bytes.length}`, {
            file: this.#src.name,
            offset: h.offset,
          });
        }
      }
      const at = h.offset - window.offset;
      bytes = window.bytes.subarray(at, at + need);
    }
    const block = await this.#readBlock(h, "data", bytes);
    const e = decodeDataBlock(block, this.#origin(h, "data"), reuse);
    if (e.fault === "short-key") {
      throw new SstError(
        "Corruption",
        `internal key of entry ${e.faultAt} is shorter than 8 bytes`,
        {
          file: this.#src.name,
          offset: h.offset,
        },
      );
    }
    if (e.fault === "out-of-order") {
      throw new SstError(
        "Corruption",
        `keys out of order in data block ${i} (entry ${e.faultAt}); the file is damaged`,
        { file: this.#src.name, offset: h.offset },
      );
    }
    if (e.count === 0) {
      throw new SstError("Corruption", "data block has no entries", {
        file: this.#src.name,
        offset: h.offset,
      });
    }
    return e;
  }

  /**
   * Calls `fn` for every entry in key order (within `range`), stopping early when it returns
   * false. `key` and `value` stay valid after the call. Checks that keys ascend and, on a full
   * scan, that the entry count matches the properties. Resolves with the number of entries seen.
   */
  async scan(fn: EntryFn, range: KeyRange = {}): Promise<number> {
    const state = newScanState(range);
    const window: ReadWindow = { offset: 0, bytes: new Uint8Array(0) };
    for (let b = this.#first(range); b < this.#handles.length && !state.stopped; b++) {
      this.#scanBlock(b, await this.#dataBlock(b, window), state, fn);
    }
    this.#checkCount(state);
    return state.count;
  }

  /** Every entry in key order, within `range`; decoded a block at a time (see `scan`). */
  async *entries(range: KeyRange = {}): AsyncGenerator<SstEntry> {
    const state = newScanState(range);
    const window: ReadWindow = { offset: 0, bytes: new Uint8Array(0) };
    const batch: SstEntry[] = [];
    const push: EntryFn = (key, value, seqno, type) => void batch.push({ key, value, seqno, type });
    for (let b = this.#first(range); b < this.#handles.length && !state.stopped; b++) {
      this.#scanBlock(b, await this.#dataBlock(b, window), state, push);
      yield* batch;
      batch.length = 0;
    }
    this.#checkCount(state);
  }

  #checkCount(state: ScanState): void {
    if (state.full && !state.stopped && state.count !== this.properties.numEntries) {
      throw new SstError(
        "Corruption",
        `found ${state.count} entries but the properties declare ${this.properties.numEntries}`,
        { file: this.#src.name },
      );
    }
  }

  /**
   * Checks what `decodeDataBlock` cannot see from inside block `b`: its first key sorts after the
   * previous block's last, and its last key is not beyond its index entry.
   */
  #checkBlockBounds(b: number, e: DataBlock, st: ScanState): void {
    if (st.prevKey !== undefined && !internalKeyAscends(st.prevKey, e.key(0))) {
      throw new SstError(
        "Corruption",
        `keys out of order in data block ${b} (entry 0); the file is damaged`,
        { file: this.#src.name, offset: this.#handles[b]!.offset },
      );
    }
    const last = e.count - 1;
    if (compareBytes(e.userKey(last), this.#indexKeys[b]!) > 0) {
      throw new SstError(
        "Corruption",
        `data block ${b} holds a key beyond its index entry; the file is damaged`,
        { file: this.#src.name, offset: this.#handles[b]!.offset },
      );
    }
    // A copy: the block's buffers may be reused.
    st.prevKey = e.key(last).slice();
  }

  #scanBlock(b: number, e: DataBlock, st: ScanState, fn: EntryFn): void {
    this.#checkBlockBounds(b, e, st);
    const { start, end } = st.range;
    const keys = e.keys;
    for (let i = 0; i < e.count; i++) {
      const user = e.userKey(i);
      if (start && compareBytes(user, start) < 0) continue;
      if (end && compareBytes(user, end) >= 0) {
        st.stopped = true;
        return;
      }
      const n = e.keyEnd[i]! - 8;
      const lo = (keys[n]! | (keys[n + 1]! << 8) | (keys[n + 2]! << 16) | (keys[n + 3]! << 24)) >>>
        0;
      const hi =
        (keys[n + 4]! | (keys[n + 5]! << 8) | (keys[n + 6]! << 16) | (keys[n + 7]! << 24)) >>> 0;
      const seq = hi === 0 && lo >>> 8 === 0 ? 0n : (BigInt(hi) << 24n) | BigInt(lo >>> 8);
      st.count++;
      if (fn(user, e.value(i), seq, lo & 0xff) === false) {
        st.stopped = true;
        return;
      }
    }
  }

  /**
   * The data blocks in order, pulled one at a time (for callers that interleave two files):
   * the same checks as a full `scan`. Blocks stay valid after the next is pulled.
   */
  async *blocks(): AsyncGenerator<DataBlock> {
    const st = newScanState({});
    const window: ReadWindow = { offset: 0, bytes: new Uint8Array(0) };
    for (let b = 0; b < this.#handles.length; b++) {
      const e = await this.#dataBlock(b, window);
      this.#checkBlockBounds(b, e, st);
      st.count += e.count;
      yield e;
    }
    this.#checkCount(st);
  }

  /**
   * The whole table a block at a time, for callers that walk entries themselves (the backup
   * checksum path): `fn` gets each data block, whose ranges stay valid after the call unless
   * `transient`, when its buffers are reused for the next block. The same checks as a full
   * `scan`. Resolves with the number of entries.
   */
  async scanBlocks(fn: (block: DataBlock) => void, transient = false): Promise<number> {
    const st = newScanState({});
    const window: ReadWindow = { offset: 0, bytes: new Uint8Array(0) };
    let prev: DataBlock | undefined;
    for (let b = 0; b < this.#handles.length; b++) {
      const e = await this.#dataBlock(b, window, prev);
      if (transient) prev = e;
      this.#checkBlockBounds(b, e, st);
      st.count += e.count;
      fn(e);
    }
    this.#checkCount(st);
    return st.count;
  }

  /** The value of the newest entry with exactly this user key, or undefined. */
  async get(key: Uint8Array): Promise<SstEntry | undefined> {
    const c = this.cursor();
    await c.seek(key);
    if (!c.valid || compareBytes(c.key, key) !== 0) return undefined;
    return { key: c.key, value: c.value, seqno: c.seqno, type: c.type };
  }

  /** A cursor for seeks and forward iteration. */
  cursor(): SstCursor {
    return new SstCursor(this, (i) => this.#dataBlock(i), (k) => this.#firstBlockFor(k));
  }

  /**
   * Reads everything and checks it: every block checksum (meta blocks such as filters too), key
   * order, entry count against the properties. Resolves with the entry count; rejects with the
   * first problem found.
   */
  async verify(): Promise<number> {
    for (const [name, h] of this.metaBlocks) await this.#readRaw(h, `meta block ${name}`);
    return await this.scan(() => {});
  }

  /** Reads a block and checks its checksum without interpreting it (filters may be opaque). */
  async #readRaw(h: BlockHandle, what: string): Promise<void> {
    await this.#readBlock(h, what, undefined, false);
  }

  /** Releases the source. */
  close(): Promise<void> {
    return this.#src.close();
  }

  /** Meta block names and the index type, for diagnostics. */
  describe(): string {
    return `${this.#src.name}: format_version ${this.footer.formatVersion}, checksum ${this.footer.checksumType}, ` +
      `${this.#handles.length} data blocks, meta blocks [${
        [...this.metaBlocks.keys()].join(", ")
      }]`;
  }
}

interface ReadWindow {
  offset: number;
  bytes: Uint8Array;
}

/** Callback of `SstReader.scan`; returning false stops the scan. */
export type EntryFn = (
  key: Uint8Array,
  value: Uint8Array,
  seqno: bigint,
  type: number,
) => void | boolean;

interface ScanState {
  range: KeyRange;
  full: boolean;
  count: number;
  stopped: boolean;
  /** The last internal key of the previous block. */
  prevKey: Uint8Array | undefined;
}

function newScanState(range: KeyRange): ScanState {
  return {
    range,
    full: !range.start && !range.end,
    count: 0,
    stopped: false,
    prevKey: undefined,
  };
}

/** Whether internal key `b` sorts after `a`: user key ascending, then sequence descending. */
function internalKeyAscends(a: Uint8Array, b: Uint8Array): boolean {
  const c = compareBytes(a.subarray(0, a.length - 8), b.subarray(0, b.length - 8));
  if (c !== 0) return c < 0;
  return trailerOf(b).seqno < trailerOf(a).seqno;
}

function trailerOf(ik: Uint8Array): { seqno: bigint; type: number } {
  const n = ik.length - 8;
  const lo = (ik[n]! | (ik[n + 1]! << 8) | (ik[n + 2]! << 16) | (ik[n + 3]! << 24)) >>> 0;
  const hi = (ik[n + 4]! | (ik[n + 5]! << 8) | (ik[n + 6]! << 16) | (ik[n + 7]! << 24)) >>> 0;
  const seqno = hi === 0 && lo >>> 8 === 0 ? 0n : (BigInt(hi) << 24n) | BigInt(lo >>> 8);
  return { seqno, type: lo & 0xff };
}

function checkFooterChecksum(footer: Uint8Array, f: Footer, file: string): void {
  const copy = Uint8Array.from(footer);
  copy.fill(0, 5, 9);
  const want = f.checksumType === ChecksumType.none
    ? 0
    : (plainChecksum(f.checksumType, copy) + contextModifier(f.baseContextChecksum, f.offset)) >>>
      0;
  if (want !== f.storedChecksum) {
    throw new SstError("Corruption", "footer checksum mismatch; the file is damaged", {
      file,
      offset: f.offset,
    });
  }
}

/**
 * A position in an `SstReader`: `seek` to a user key, then `next` forward. Keys and values it
 * exposes stay valid after moving.
 */
export class SstCursor {
  readonly #reader: SstReader;
  readonly #load: (i: number) => Promise<DataBlock>;
  readonly #find: (key: Uint8Array) => number;
  #block = -1;
  #entries: DataBlock | undefined;
  #pos = 0;

  /** Use `SstReader.cursor()`. */
  constructor(
    reader: SstReader,
    load: (i: number) => Promise<DataBlock>,
    find: (key: Uint8Array) => number,
  ) {
    this.#reader = reader;
    this.#load = load;
    this.#find = find;
  }

  /** Whether the cursor is at an entry. */
  get valid(): boolean {
    return this.#entries !== undefined && this.#pos < this.#entries.count;
  }

  #ikey(): Uint8Array {
    if (!this.valid) throw new Error("SST cursor is not at an entry");
    return this.#entries!.key(this.#pos);
  }

  /** User key at the cursor. */
  get key(): Uint8Array {
    const ik = this.#ikey();
    return ik.subarray(0, ik.length - 8);
  }

  /** Value at the cursor. */
  get value(): Uint8Array {
    this.#ikey();
    return this.#entries!.value(this.#pos);
  }

  /** Sequence number at the cursor. */
  get seqno(): bigint {
    return trailerOf(this.#ikey()).seqno;
  }

  /** Value type at the cursor. */
  get type(): number {
    return trailerOf(this.#ikey()).type;
  }

  async #enter(block: number): Promise<boolean> {
    if (block >= this.#reader.dataBlocks) {
      this.#block = block;
      this.#entries = undefined;
      return false;
    }
    if (block !== this.#block || !this.#entries) {
      this.#entries = await this.#load(block);
      this.#block = block;
    }
    this.#pos = 0;
    return true;
  }

  /** Moves to the first entry. */
  async seekToFirst(): Promise<void> {
    await this.#enter(0);
  }

  /** Moves to the first entry whose user key is >= `key` (invalid when there is none). */
  async seek(key: Uint8Array): Promise<void> {
    let b = this.#find(key);
    while (await this.#enter(b)) {
      const e = this.#entries!;
      let lo = 0;
      let hi = e.count;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareBytes(e.userKey(mid), key) < 0) lo = mid + 1;
        else hi = mid;
      }
      this.#pos = lo;
      if (lo < e.count) return;
      b++;
    }
  }

  /** Moves to the next entry. */
  async next(): Promise<void> {
    if (!this.valid) throw new Error("SST cursor is not at an entry");
    this.#pos++;
    if (this.#pos >= this.#entries!.count) await this.#enter(this.#block + 1);
  }
}
