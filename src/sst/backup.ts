/**
 * TiKV backup files: a write-CF SST (commit records, short values inline) and, when some
 * value was longer than 255 bytes, a default-CF SST (values keyed by start ts). Decodes the pair
 * into (raw key, commit ts, value) and recomputes crc64xor / total_kvs / total_bytes the way
 * TiKV's backup writer computes them for the File messages.
 * @module
 */
import { compareBytes, concatBytes, encodeUintDesc, hex } from "../codec/bytes.ts";
import { ChecksumAccumulator, type KvChecksum } from "../codec/crc64.ts";
import { decodeWriteValue, parseDataKey, type WriteType } from "../codec/tikv.ts";
import type { CipherInfo } from "../crypto/cipher.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { SstError } from "./errors.ts";
import type { DataBlock } from "./_block.ts";
import { SstReader, type SstReaderOptions } from "./reader.ts";
import { decryptingSource, storageSource } from "./source.ts";

/** One committed version from a backup. */
export interface BackupKv {
  /** The user's key (memcomparable encoding and `z` prefix removed). */
  rawKey: Uint8Array;
  commitTs: bigint;
  startTs: bigint;
  type: WriteType;
  /** The value: inline short value, the default-CF value, or empty (deletes). */
  value: Uint8Array;
  /** Whether the value came from the default-CF file. */
  fromDefault: boolean;
}

/** The SSTs of one backed-up range: write CF always, default CF when present. */
export interface BackupFilePair {
  write: SstReader;
  default?: SstReader;
}

export type { KvChecksum };

/**
 * Checksums of a file pair. TiKV credits a KV to the default-CF File when its value lives
 * there and to the write-CF File otherwise, so `default` and `write` compare with the two
 * File messages, and `total` with their XOR/sum.
 */
export interface BackupChecksum {
  total: KvChecksum;
  default: KvChecksum;
  write: KvChecksum;
}

function corrupt(file: string, why: string): SstError {
  return new SstError(
    "Corruption",
    `${why}; the backup file pair does not match, re-run the backup`,
    {
      file,
    },
  );
}

function toChecksum(acc: ChecksumAccumulator): KvChecksum {
  return acc.checksum();
}

/**
 * Yields every commit record of the write-CF file with its value, joining the default-CF file
 * by (key, start ts). Records are in file order (key ascending, newest first). Throws
 * `SstError` when a record's long value is missing, or the default file holds values no
 * record refers to.
 */
export async function* decodeBackupFile(files: BackupFilePair): AsyncGenerator<BackupKv> {
  const writeName = files.write.name;
  const dflt = files.default;
  // The default-CF file is walked alongside, a block at a time: records and values are in the
  // same order, so a value is normally the next default entry (no await, no cursor per KV).
  const dBlocks = dflt?.blocks();
  let dBlock: DataBlock | undefined;
  let dPos = 0;
  let dDone = dflt === undefined;
  const dReady = async (): Promise<boolean> => {
    while (!dDone && (dBlock === undefined || dPos >= dBlock.count)) {
      const n = await dBlocks!.next();
      if (n.done) dDone = true;
      else {
        dBlock = n.value;
        dPos = 0;
      }
    }
    return !dDone;
  };
  let unreferenced = 0;
  let inOrder = true;
  const batch: BackupKv[] = [];
  for await (const b of files.write.blocks()) {
    for (let i = 0; i < b.count; i++) {
      const key = b.userKey(i);
      let raw: Uint8Array;
      let commitTs: bigint | undefined;
      let rec;
      try {
        ({ raw, ts: commitTs } = parseDataKey(key));
        rec = decodeWriteValue(b.value(i));
      } catch (err) {
        throw corrupt(writeName, `bad write-CF entry ${hex(key)}: ${(err as Error).message}`);
      }
      if (commitTs === undefined) throw corrupt(writeName, `write-CF key ${hex(key)} has no ts`);
      let value = rec.shortValue;
      let fromDefault = false;
      if (value === undefined && rec.type === "put") {
        if (!dflt) {
          throw corrupt(
            writeName,
            `key ${hex(raw)} at commit ts ${commitTs} keeps its value in the default CF, but no ` +
              `default-CF file was given`,
          );
        }
        // Default-CF key: the same encoded user key with the start ts as suffix.
        const target = concatBytes(key.subarray(0, key.length - 8), encodeUintDesc(rec.startTs));
        let c = 0;
        while ((await dReady()) && (c = compareBytes(dBlock!.userKey(dPos), target)) < 0) {
          unreferenced++;
          dPos++;
        }
        if (!dDone && c === 0) {
          value = dBlock!.value(dPos++);
        } else {
          // Start ts out of the usual order: look it up directly.
          inOrder = false;
          const cursor = dflt.cursor();
          await cursor.seek(target);
          if (!cursor.valid || compareBytes(cursor.key, target) !== 0) {
            throw corrupt(
              dflt.name,
              `no default-CF value for key ${
                hex(raw)
              } at start ts ${rec.startTs} (commit ts ${commitTs})`,
            );
          }
          value = cursor.value;
        }
        fromDefault = true;
      }
      batch.push({
        rawKey: raw,
        commitTs,
        startTs: rec.startTs,
        type: rec.type,
        value: value ?? new Uint8Array(0),
        fromDefault,
      });
    }
    yield* batch;
    batch.length = 0;
  }
  if (dflt && inOrder) {
    while (await dReady()) {
      unreferenced += dBlock!.count - dPos;
      dPos = dBlock!.count;
    }
    if (unreferenced > 0) {
      throw corrupt(dflt.name, `${unreferenced} default-CF values have no commit record`);
    }
  }
}

/**
 * Recomputes the checksums of a backup file pair from its data, as TiKV computed them while
 * writing it: CRC-64/XZ over raw key ‖ value of every record, XOR-ed.
 */
export async function checksumBackupFiles(files: BackupFilePair): Promise<BackupChecksum> {
  const inDefault = new ChecksumAccumulator();
  const inWrite = new ChecksumAccumulator();
  for await (const kv of decodeBackupFile(files)) {
    (kv.fromDefault ? inDefault : inWrite).add(kv.rawKey, kv.value);
  }
  const total = new ChecksumAccumulator();
  total.merge(inDefault);
  total.merge(inWrite);
  return { total: toChecksum(total), default: toChecksum(inDefault), write: toChecksum(inWrite) };
}

/** How a backup data file is stored, from its `backup.File`. */
export interface StoredSst {
  name: string;
  /** File.size, saving a `stat`. */
  size?: number;
  /** File.cipher_iv; used only when `cipher` encrypts. */
  cipherIv?: Uint8Array;
}

/** Opens a backup SST in external storage, decrypting it when the backup was encrypted. */
export async function openBackupSst(
  storage: ExternalStorage,
  file: StoredSst,
  cipher?: CipherInfo,
  opts?: SstReaderOptions,
): Promise<SstReader> {
  const src = await storageSource(storage, file.name, file.size);
  const iv = file.cipherIv ?? new Uint8Array(0);
  return SstReader.open(decryptingSource(src, cipher, iv), opts);
}

/**
 * What `scanBackupFile` found: the checksums, and the pair's first and last raw keys (none when
 * the write-CF file is empty). Keys ascend, so these two bound every key of the pair.
 */
export interface BackupScan extends BackupChecksum {
  first?: Uint8Array;
  last?: Uint8Array;
}

/** Callback of `scanBackupFile`: views valid only during the call. */
export type BackupKvFn = (rawKey: Uint8Array, value: Uint8Array, isPut: boolean) => void;

const SHORT_VALUE = 0x76; // 'v'

/**
 * What `decodeBackupFile` and `checksumBackupFiles` do, on the fast path a whole-backup check
 * needs: block callbacks instead of an async generator per KV, raw keys decoded into one scratch
 * buffer, write records parsed without BigInt, and the default-CF values merge-joined by key.
 * Calls `fn` (when given) for every record, in key order; throws `SstError` as
 * `decodeBackupFile` does. Holds the default-CF file's entry views while scanning the pair.
 */
export async function scanBackupFile(
  files: BackupFilePair,
  fn?: BackupKvFn,
): Promise<BackupScan> {
  const writeName = files.write.name;
  const dflt = new DefaultEntries();
  if (files.default) await files.default.scanBlocks((b) => dflt.add(b));
  const inDefault = new ChecksumAccumulator();
  const inWrite = new ChecksumAccumulator();
  let raw = new Uint8Array(256);
  let target = new Uint8Array(256);
  let j = 0;
  let unreferenced = 0;
  let inOrder = true;
  let first: Uint8Array | undefined;
  let lastLen = -1;
  // The write-CF block being walked: keys in `k`, values in `v`.
  let k: Uint8Array = EMPTY;
  let v: Uint8Array = EMPTY;
  const bad = (kAt: number, kEnd: number, why: string) =>
    corrupt(writeName, `write-CF entry ${hex(k.subarray(kAt, kEnd - 8))} ${why}`);
  const entry = (kAt: number, kEnd: number, vAt: number, vEnd: number) => {
    // Internal key: z + EncodeBytes(raw key) + 8-byte commit ts, then RocksDB's 8-byte trailer.
    const end = kEnd - 16;
    if (k[kAt] !== 0x7a || end - kAt < 10) {
      throw bad(kAt, kEnd, "is not z + memcomparable key + ts");
    }
    if (raw.length < end - kAt) raw = new Uint8Array((end - kAt) * 2);
    let n = 0;
    let pos = kAt + 1;
    for (;;) {
      if (pos + 9 > end) throw bad(kAt, kEnd, "is not memcomparable");
      const pad = 0xff - k[pos + 8]!;
      if (pad > 8) throw bad(kAt, kEnd, "has a bad group marker");
      const real = 8 - pad;
      for (let i = 0; i < real; i++) raw[n++] = k[pos + i]!;
      pos += 9;
      if (pad !== 0) break;
    }
    if (pos !== end) throw bad(kAt, kEnd, "has no 8-byte ts");
    if (first === undefined) first = raw.slice(0, n);
    lastLen = n;
    // Write record: type, varint start ts, then optional fields ('v' short value first).
    const type = v[vAt];
    // P(ut), D(elete), L(ock), R(ollback).
    if (vAt >= vEnd || (type !== 0x50 && type !== 0x44 && type !== 0x4c && type !== 0x52)) {
      throw bad(kAt, kEnd, "has an unknown write type");
    }
    let lo = 0;
    let hi = 0;
    let shift = 0;
    let p = vAt + 1;
    for (;;) {
      if (p >= vEnd || shift > 63) throw bad(kAt, kEnd, "has a truncated start ts");
      const b = v[p++]!;
      const x = b & 0x7f;
      if (shift < 32) {
        lo |= x << shift;
        if (shift > 25) hi |= x >>> (32 - shift);
      } else hi |= x << (shift - 32);
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    // The value as a range of `vb`: inline in the record, in the default CF, or empty.
    let vb: Uint8Array = EMPTY;
    let vs = 0;
    let ve = 0;
    let found = false;
    if (p < vEnd) {
      if (v[p] === SHORT_VALUE && p + 2 + v[p + 1]! === vEnd) {
        vb = v;
        vs = p + 2;
        ve = vEnd;
        found = true;
      } else {
        let rec;
        try {
          rec = decodeWriteValue(v.subarray(vAt, vEnd));
        } catch (err) {
          throw bad(kAt, kEnd, `is malformed: ${(err as Error).message}`);
        }
        if (rec.shortValue) {
          vb = rec.shortValue;
          ve = vb.length;
          found = true;
        }
      }
    }
    const isPut = type === 0x50;
    let fromDefault = false;
    if (!found && isPut) {
      if (!files.default) {
        throw corrupt(
          writeName,
          `key ${
            hex(raw.subarray(0, n))
          } keeps its value in the default CF, but no default-CF file was given`,
        );
      }
      // The default-CF user key: the same z + encoded key, then the start ts descending.
      const tLen = end - kAt + 8;
      if (target.length < tLen) target = new Uint8Array(tLen * 2);
      for (let i = 0; i < tLen - 8; i++) target[i] = k[kAt + i]!;
      const nhi = ~hi >>> 0;
      const nlo = ~lo >>> 0;
      const t8 = tLen - 8;
      target[t8] = nhi >>> 24;
      target[t8 + 1] = (nhi >>> 16) & 0xff;
      target[t8 + 2] = (nhi >>> 8) & 0xff;
      target[t8 + 3] = nhi & 0xff;
      target[t8 + 4] = nlo >>> 24;
      target[t8 + 5] = (nlo >>> 16) & 0xff;
      target[t8 + 6] = (nlo >>> 8) & 0xff;
      target[t8 + 7] = nlo & 0xff;
      while (j < dflt.count && dflt.compare(j, target, tLen) < 0) {
        unreferenced++;
        j++;
      }
      let at = j < dflt.count && dflt.compare(j, target, tLen) === 0 ? j : -1;
      if (at < 0) {
        // Start ts out of the usual order: look it up directly.
        inOrder = false;
        let a = 0;
        let b = dflt.count;
        while (a < b) {
          const m = (a + b) >>> 1;
          if (dflt.compare(m, target, tLen) < 0) a = m + 1;
          else b = m;
        }
        if (a < dflt.count && dflt.compare(a, target, tLen) === 0) at = a;
      } else j++;
      if (at < 0) {
        throw corrupt(files.default.name, `no default-CF value for key ${hex(raw.subarray(0, n))}`);
      }
      const blk = dflt.blocks[dflt.blockOf[at]!]!;
      const e = dflt.entryOf[at]!;
      vb = blk.block;
      vs = blk.valAt[e]!;
      ve = blk.valEnd[e]!;
      fromDefault = true;
    }
    (fromDefault ? inDefault : inWrite).addRanges(raw, 0, n, vb, vs, ve);
    if (fn) fn(raw.subarray(0, n), vb.subarray(vs, ve), isPut);
  };
  await files.write.scanBlocks((b) => {
    k = b.keys;
    v = b.block;
    const { keyAt, keyEnd, valAt, valEnd } = b;
    for (let i = 0; i < b.count; i++) entry(keyAt[i]!, keyEnd[i]!, valAt[i]!, valEnd[i]!);
  }, true);
  if (inOrder) {
    unreferenced += dflt.count - j;
    if (unreferenced > 0) {
      throw corrupt(files.default!.name, `${unreferenced} default-CF values have no commit record`);
    }
  }
  const total = new ChecksumAccumulator();
  total.merge(inDefault);
  total.merge(inWrite);
  return {
    total: toChecksum(total),
    default: toChecksum(inDefault),
    write: toChecksum(inWrite),
    ...(first ? { first, last: raw.slice(0, lastLen) } : {}),
  };
}

/** A default-CF file's entries by position, over its decoded blocks. */
class DefaultEntries {
  readonly blocks: DataBlock[] = [];
  blockOf = new Int32Array(1024);
  entryOf = new Int32Array(1024);
  count = 0;

  add(b: DataBlock): void {
    const need = this.count + b.count;
    if (need > this.blockOf.length) {
      let cap = this.blockOf.length * 2;
      while (cap < need) cap *= 2;
      const bo = new Int32Array(cap);
      bo.set(this.blockOf);
      this.blockOf = bo;
      const eo = new Int32Array(cap);
      eo.set(this.entryOf);
      this.entryOf = eo;
    }
    const id = this.blocks.length;
    this.blocks.push(b);
    for (let i = 0; i < b.count; i++) {
      this.blockOf[this.count] = id;
      this.entryOf[this.count++] = i;
    }
  }

  /** Compares entry `i`'s user key with `t[0, tLen)`, bytewise. */
  compare(i: number, t: Uint8Array, tLen: number): number {
    const b = this.blocks[this.blockOf[i]!]!;
    const e = this.entryOf[i]!;
    const keys = b.keys;
    const at = b.keyAt[e]!;
    const kLen = b.keyEnd[e]! - 8 - at;
    const n = kLen < tLen ? kLen : tLen;
    for (let x = 0; x < n; x++) {
      const d = keys[at + x]! - t[x]!;
      if (d !== 0) return d;
    }
    return kLen - tLen;
  }
}

const EMPTY = new Uint8Array(0);
