/**
 * Fixed structures of RocksDB's block-based table: block handles, the footer, internal keys
 * and the properties block's names and encodings.
 * @module
 */
import { decodeVarU64, pushVarNumber } from "../codec/varint.ts";
import { SstError, type SstErrorCode } from "./errors.ts";

/** Magic number of block-based tables (format_version >= 1). */
export const BLOCK_BASED_MAGIC = 0x88e241b785f4cff7n;
/** Magic number of format_version 0 block-based tables. */
export const LEGACY_BLOCK_BASED_MAGIC = 0xdb4775248b80fb57n;
/** Magic numbers of plain tables, recognised only to say they are unsupported. */
export const PLAIN_MAGICS = [0x8242229663bf9564n, 0x4f3418eb7a8f13b8n];
/** Compression type byte + fixed32 checksum after every block. */
export const BLOCK_TRAILER = 5;
/** Footer size from format_version 1 on. */
export const FOOTER_SIZE = 53;
/** Footer size of format_version 0. */
export const LEGACY_FOOTER_SIZE = 48;
/** Extended magic that opens part 2 of a format_version >= 6 footer. */
const EXTENDED_MAGIC = [0x3e, 0x00, 0x7a, 0x00];

/** Position and size (without trailer) of a block. */
export interface BlockHandle {
  offset: number;
  size: number;
}

/** Appends a handle as two varints. */
export function pushHandle(out: number[], h: BlockHandle): void {
  pushVarNumber(out, h.offset);
  pushVarNumber(out, h.size);
}

/** Decodes a handle at `pos`; throws a plain Error when malformed. */
export function decodeHandle(buf: Uint8Array, pos = 0): { handle: BlockHandle; next: number } {
  const a = decodeVarU64(buf, pos);
  const b = decodeVarU64(buf, a.next);
  if (a.value > BigInt(Number.MAX_SAFE_INTEGER) || b.value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Error("block handle out of range");
  }
  return { handle: { offset: Number(a.value), size: Number(b.value) }, next: b.next };
}

/** What the footer says. */
export interface Footer {
  formatVersion: number;
  checksumType: number;
  metaindex: BlockHandle;
  /** Undefined from format_version 6 on: the index handle is in the metaindex. */
  index: BlockHandle | undefined;
  /** format_version >= 6: seed of the per-offset checksum modifier; else 0. */
  baseContextChecksum: number;
  /** Offset of the footer in the file. */
  offset: number;
  /** Stored footer checksum (format_version >= 6), verified by the caller. */
  storedChecksum?: number;
}

/** Encodes a format_version 1..5 footer. */
export function encodeFooter(
  formatVersion: number,
  checksumType: number,
  metaindex: BlockHandle,
  index: BlockHandle,
): Uint8Array {
  const out = new Uint8Array(FOOTER_SIZE);
  out[0] = checksumType;
  const handles: number[] = [];
  pushHandle(handles, metaindex);
  pushHandle(handles, index);
  out.set(handles, 1);
  const dv = new DataView(out.buffer);
  dv.setUint32(41, formatVersion, true);
  dv.setBigUint64(45, BLOCK_BASED_MAGIC, true);
  return out;
}

/**
 * Parses the footer from the file's last bytes (`tail`, at most 53). Checks magic, version
 * and handles; the footer checksum of format_version >= 6 is left to the caller.
 */
export function decodeFooter(tail: Uint8Array, fileSize: number, file: string): Footer {
  const tailStart = fileSize - tail.length;
  if (tail.length < LEGACY_FOOTER_SIZE) {
    throw new SstError(
      "Truncated",
      `file is ${fileSize} bytes, too short to be an SST file (a footer alone is ${FOOTER_SIZE})`,
      { file, offset: 0 },
    );
  }
  const dv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  const magic = dv.getBigUint64(tail.length - 8, true);
  const bad = (code: SstErrorCode, why: string, at: number) =>
    new SstError(code, why, { file, offset: tailStart + at });
  if (PLAIN_MAGICS.includes(magic)) {
    throw bad("Unsupported", "this is a RocksDB plain table; only block-based tables are read", 0);
  }
  if (magic === LEGACY_BLOCK_BASED_MAGIC) {
    const start = tail.length - LEGACY_FOOTER_SIZE;
    try {
      const m = decodeHandle(tail, start);
      const i = decodeHandle(tail, m.next);
      if (i.next > start + 40) throw new Error("handles overrun the footer");
      checkPadding(tail, i.next, start + 40);
      return {
        formatVersion: 0,
        checksumType: 1,
        metaindex: m.handle,
        index: i.handle,
        baseContextChecksum: 0,
        offset: tailStart + start,
      };
    } catch (err) {
      throw bad("Corruption", `footer block handles are malformed: ${(err as Error).message}`, 0);
    }
  }
  if (magic !== BLOCK_BASED_MAGIC) {
    throw bad(
      "Corruption",
      `bad table magic number 0x${magic.toString(16)}; the file is not an SST file or is ` +
        `truncated or damaged`,
      tail.length - 8,
    );
  }
  if (tail.length < FOOTER_SIZE) {
    throw bad(
      "Truncated",
      `file is ${fileSize} bytes, too short for its ${FOOTER_SIZE}-byte footer`,
      0,
    );
  }
  const start = tail.length - FOOTER_SIZE;
  const offset = tailStart + start;
  const formatVersion = dv.getUint32(tail.length - 12, true);
  if (formatVersion < 1 || formatVersion > 7) {
    throw bad(
      "Unsupported",
      `format_version ${formatVersion} is not supported (tibr reads 0 to 7); the file may be damaged`,
      tail.length - 12,
    );
  }
  const checksumType = tail[start]!;
  if (checksumType > 4) {
    throw bad("Corruption", `unknown checksum type ${checksumType} in the footer`, start);
  }
  if (formatVersion >= 6) {
    for (let i = 0; i < 4; i++) {
      if (tail[start + 1 + i] !== EXTENDED_MAGIC[i]) {
        throw bad("Corruption", "bad extended magic in the format_version >= 6 footer", start + 1);
      }
    }
    const storedChecksum = dv.getUint32(start + 5, true);
    const baseContextChecksum = dv.getUint32(start + 9, true);
    const metaSize = dv.getUint32(start + 13, true);
    if (dv.getBigUint64(start + 33, true) !== 0n) {
      throw bad(
        "Unsupported",
        "the footer uses a RocksDB feature newer than tibr knows",
        start + 33,
      );
    }
    const metaOffset = offset - BLOCK_TRAILER - metaSize;
    if (metaOffset < 0) {
      throw bad("Corruption", `metaindex size ${metaSize} exceeds the file`, start);
    }
    return {
      formatVersion,
      checksumType,
      metaindex: { offset: metaOffset, size: metaSize },
      index: undefined,
      baseContextChecksum,
      offset,
      storedChecksum,
    };
  }
  try {
    const m = decodeHandle(tail, start + 1);
    const i = decodeHandle(tail, m.next);
    if (i.next > start + 41) throw new Error("handles overrun the footer");
    checkPadding(tail, i.next, start + 41);
    return {
      formatVersion,
      checksumType,
      metaindex: m.handle,
      index: i.handle,
      baseContextChecksum: 0,
      offset,
    };
  } catch (err) {
    throw bad("Corruption", `footer block handles are malformed: ${(err as Error).message}`, start);
  }
}

// RocksDB zero-fills the footer after its handles and never reads it back; tibr insists on the
// zeros so that a damaged byte there is reported instead of passing unnoticed.
function checkPadding(tail: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    if (tail[i] !== 0) throw new Error(`non-zero footer padding byte at footer offset ${i}`);
  }
}

/** Value types of internal keys (the low byte of the 8-byte trailer). */
export const ValueType = {
  deletion: 0x0,
  value: 0x1,
  merge: 0x2,
  singleDeletion: 0x7,
  rangeDeletion: 0xf,
  blobIndex: 0x11,
  deletionWithTimestamp: 0x14,
  wideColumnEntity: 0x16,
} as const;

/** Largest sequence number; index separators carry it so they sort before real entries. */
export const MAX_SEQUENCE = (1n << 56n) - 1n;

/** `userKey` followed by the little-endian fixed64 `seq << 8 | type`. */
export function internalKey(userKey: Uint8Array, seq: bigint, type: number): Uint8Array {
  const out = new Uint8Array(userKey.length + 8);
  out.set(userKey);
  if (seq === 0n) {
    // The writer's common case, without bigint arithmetic.
    out[userKey.length] = type;
  } else {
    new DataView(out.buffer).setBigUint64(userKey.length, (seq << 8n) | BigInt(type), true);
  }
  return out;
}

/** Names of the properties RocksDB writes (the keys of the properties block). */
export const Prop = {
  dataSize: "rocksdb.data.size",
  indexSize: "rocksdb.index.size",
  indexPartitions: "rocksdb.index.partitions",
  topLevelIndexSize: "rocksdb.top-level.index.size",
  indexKeyIsUserKey: "rocksdb.index.key.is.user.key",
  indexValueIsDeltaEncoded: "rocksdb.index.value.is.delta.encoded",
  filterSize: "rocksdb.filter.size",
  rawKeySize: "rocksdb.raw.key.size",
  rawValueSize: "rocksdb.raw.value.size",
  numDataBlocks: "rocksdb.num.data.blocks",
  numEntries: "rocksdb.num.entries",
  numFilterEntries: "rocksdb.num.filter_entries",
  deletedKeys: "rocksdb.deleted.keys",
  mergeOperands: "rocksdb.merge.operands",
  numRangeDeletions: "rocksdb.num.range-deletions",
  formatVersion: "rocksdb.format.version",
  fixedKeyLength: "rocksdb.fixed.key.length",
  filterPolicy: "rocksdb.filter.policy",
  columnFamilyName: "rocksdb.column.family.name",
  columnFamilyId: "rocksdb.column.family.id",
  comparator: "rocksdb.comparator",
  mergeOperator: "rocksdb.merge.operator",
  prefixExtractor: "rocksdb.prefix.extractor.name",
  propertyCollectors: "rocksdb.property.collectors",
  compression: "rocksdb.compression",
  compressionOptions: "rocksdb.compression_options",
  creationTime: "rocksdb.creation.time",
  oldestKeyTime: "rocksdb.oldest.key.time",
  fileCreationTime: "rocksdb.file.creation.time",
  indexType: "rocksdb.block.based.table.index.type",
  wholeKeyFiltering: "rocksdb.block.based.table.whole.key.filtering",
  prefixFiltering: "rocksdb.block.based.table.prefix.filtering",
  externalSstVersion: "rocksdb.external_sst_file.version",
  globalSeqno: "rocksdb.external_sst_file.global_seqno",
} as const;

/** Metaindex key of the properties block. */
export const PROPERTIES_BLOCK = "rocksdb.properties";
/** Metaindex key of the index block (format_version >= 6). */
export const INDEX_BLOCK = "rocksdb.index";
