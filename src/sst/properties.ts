/**
 * The table properties RocksDB keeps in every SST's properties block, decoded into typed
 * fields (with every raw value kept), and the writer's side of the encoding.
 * @module
 */
import { compareBytes } from "../codec/bytes.ts";
import { decodeVarU64, pushVarNumber } from "../codec/varint.ts";
import { Prop } from "./_format.ts";

/** Table properties of an SST. Sizes include block trailers, as RocksDB counts them. */
export interface TableProperties {
  numEntries: number;
  /** Sum of internal key sizes (user key + 8). */
  rawKeySize: number;
  rawValueSize: number;
  /** Bytes of all data blocks with their trailers. */
  dataSize: number;
  /** Bytes of the index block(s) with trailers. */
  indexSize: number;
  filterSize: number;
  numDataBlocks: number;
  numDeletions: number;
  numMergeOperands: number;
  numRangeDeletions: number;
  /** The `rocksdb.format.version` property: 0 for block-based tables (see the footer's). */
  formatVersion: number;
  fixedKeyLength: number;
  /** 2147483647 (`kUnknownColumnFamily`) when the writer had no column family. */
  columnFamilyId: number | undefined;
  columnFamilyName: string | undefined;
  comparator: string | undefined;
  mergeOperator: string | undefined;
  prefixExtractor: string | undefined;
  propertyCollectors: string | undefined;
  filterPolicy: string | undefined;
  /** `rocksdb.compression`: NoCompression, Snappy, LZ4, ZSTD, ... */
  compression: string | undefined;
  compressionOptions: string | undefined;
  /** Seconds since the epoch. */
  creationTime: number;
  oldestKeyTime: number;
  fileCreationTime: number;
  indexKeyIsUserKey: boolean;
  indexValueIsDeltaEncoded: boolean;
  /** BlockBasedTableOptions::IndexType (0 binary search, 1 hash, 2 two-level, 3 with first key). */
  indexType: number;
  /** `rocksdb.external_sst_file.version` of SstFileWriter files (2 today). */
  externalSstFileVersion: number | undefined;
  externalSstFileGlobalSeqno: bigint | undefined;
  /** Every property as stored, by name. */
  raw: Map<string, Uint8Array>;
}

const text = new TextDecoder();

function num(raw: Map<string, Uint8Array>, name: string): number | undefined {
  const v = raw.get(name);
  if (v === undefined) return undefined;
  const { value, next } = decodeVarU64(v, 0);
  if (next !== v.length) throw new Error(`property ${name} has ${v.length - next} trailing bytes`);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`property ${name} is too large`);
  return Number(value);
}

function str(raw: Map<string, Uint8Array>, name: string): string | undefined {
  const v = raw.get(name);
  return v === undefined ? undefined : text.decode(v);
}

function fixed32(raw: Map<string, Uint8Array>, name: string): number | undefined {
  const v = raw.get(name);
  if (v === undefined) return undefined;
  if (v.length !== 4) throw new Error(`property ${name} is ${v.length} bytes, expected 4`);
  return new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true);
}

/** Decodes the properties block's entries. Throws a plain Error on a malformed value. */
export function decodeProperties(raw: Map<string, Uint8Array>): TableProperties {
  const seqno = raw.get(Prop.globalSeqno);
  if (seqno !== undefined && seqno.length !== 8) {
    throw new Error(`property ${Prop.globalSeqno} is ${seqno.length} bytes, expected 8`);
  }
  return {
    numEntries: num(raw, Prop.numEntries) ?? 0,
    rawKeySize: num(raw, Prop.rawKeySize) ?? 0,
    rawValueSize: num(raw, Prop.rawValueSize) ?? 0,
    dataSize: num(raw, Prop.dataSize) ?? 0,
    indexSize: num(raw, Prop.indexSize) ?? 0,
    filterSize: num(raw, Prop.filterSize) ?? 0,
    numDataBlocks: num(raw, Prop.numDataBlocks) ?? 0,
    numDeletions: num(raw, Prop.deletedKeys) ?? 0,
    numMergeOperands: num(raw, Prop.mergeOperands) ?? 0,
    numRangeDeletions: num(raw, Prop.numRangeDeletions) ?? 0,
    formatVersion: num(raw, Prop.formatVersion) ?? 0,
    fixedKeyLength: num(raw, Prop.fixedKeyLength) ?? 0,
    columnFamilyId: num(raw, Prop.columnFamilyId),
    columnFamilyName: str(raw, Prop.columnFamilyName),
    comparator: str(raw, Prop.comparator),
    mergeOperator: str(raw, Prop.mergeOperator),
    prefixExtractor: str(raw, Prop.prefixExtractor),
    propertyCollectors: str(raw, Prop.propertyCollectors),
    filterPolicy: str(raw, Prop.filterPolicy),
    compression: str(raw, Prop.compression),
    compressionOptions: str(raw, Prop.compressionOptions),
    creationTime: num(raw, Prop.creationTime) ?? 0,
    oldestKeyTime: num(raw, Prop.oldestKeyTime) ?? 0,
    fileCreationTime: num(raw, Prop.fileCreationTime) ?? 0,
    indexKeyIsUserKey: (num(raw, Prop.indexKeyIsUserKey) ?? 0) !== 0,
    indexValueIsDeltaEncoded: (num(raw, Prop.indexValueIsDeltaEncoded) ?? 0) !== 0,
    indexType: fixed32(raw, Prop.indexType) ?? 0,
    externalSstFileVersion: fixed32(raw, Prop.externalSstVersion),
    externalSstFileGlobalSeqno: seqno === undefined
      ? undefined
      : new DataView(seqno.buffer, seqno.byteOffset, 8).getBigUint64(0, true),
    raw,
  };
}

const enc = new TextEncoder();

/** Collects properties for the writer; `entries()` returns them sorted by name as stored. */
export class PropertyBuilder {
  readonly #props = new Map<string, Uint8Array>();

  /** A varint64 property. */
  num(name: string, v: number): this {
    const out: number[] = [];
    pushVarNumber(out, v);
    this.#props.set(name, Uint8Array.from(out));
    return this;
  }

  /** A string property. */
  str(name: string, v: string): this {
    this.#props.set(name, enc.encode(v));
    return this;
  }

  /** A fixed32 little-endian property. */
  fixed32(name: string, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.#props.set(name, b);
    return this;
  }

  /** A fixed64 little-endian property. */
  fixed64(name: string, v: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, v, true);
    this.#props.set(name, b);
    return this;
  }

  /** Name/value pairs in the properties block's (bytewise) order. */
  entries(): [Uint8Array, Uint8Array][] {
    return [...this.#props.entries()]
      .map(([k, v]) => [enc.encode(k), v] as [Uint8Array, Uint8Array])
      .sort((a, b) => compareBytes(a[0], b[0]));
  }

  /** The same properties as a name-keyed map. */
  toMap(): Map<string, Uint8Array> {
    return new Map(this.#props);
  }
}
