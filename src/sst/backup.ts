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
import { type SstCursor, SstReader, type SstReaderOptions } from "./reader.ts";
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
  let cursor: SstCursor | undefined;
  let unreferenced = 0;
  let inOrder = true;
  if (dflt) {
    cursor = dflt.cursor();
    await cursor.seekToFirst();
  }
  for await (const e of files.write.entries()) {
    let raw: Uint8Array;
    let commitTs: bigint | undefined;
    let rec;
    try {
      ({ raw, ts: commitTs } = parseDataKey(e.key));
      rec = decodeWriteValue(e.value);
    } catch (err) {
      throw corrupt(writeName, `bad write-CF entry ${hex(e.key)}: ${(err as Error).message}`);
    }
    if (commitTs === undefined) throw corrupt(writeName, `write-CF key ${hex(e.key)} has no ts`);
    let value = rec.shortValue;
    let fromDefault = false;
    if (value === undefined && rec.type === "put") {
      if (!dflt || !cursor) {
        throw corrupt(
          writeName,
          `key ${hex(raw)} at commit ts ${commitTs} keeps its value in the default CF, but no ` +
            `default-CF file was given`,
        );
      }
      // Default-CF key: the same encoded user key with the start ts as suffix.
      const target = concatBytes(e.key.subarray(0, e.key.length - 8), encodeUintDesc(rec.startTs));
      while (cursor.valid && compareBytes(cursor.key, target) < 0) {
        unreferenced++;
        await cursor.next();
      }
      if (!cursor.valid || compareBytes(cursor.key, target) !== 0) {
        // Start ts out of the usual order: look it up directly.
        inOrder = false;
        await cursor.seek(target);
      }
      if (!cursor.valid || compareBytes(cursor.key, target) !== 0) {
        throw corrupt(
          dflt.name,
          `no default-CF value for key ${
            hex(raw)
          } at start ts ${rec.startTs} (commit ts ${commitTs})`,
        );
      }
      value = cursor.value;
      fromDefault = true;
      await cursor.next();
    }
    yield {
      rawKey: raw,
      commitTs,
      startTs: rec.startTs,
      type: rec.type,
      value: value ?? new Uint8Array(0),
      fromDefault,
    };
  }
  if (cursor && inOrder) {
    while (cursor.valid) {
      unreferenced++;
      await cursor.next();
    }
    if (unreferenced > 0) {
      throw corrupt(dflt!.name, `${unreferenced} default-CF values have no commit record`);
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

/** Callback of `scanBackupFile`: views valid only during the call. */
export type BackupKvFn = (rawKey: Uint8Array, value: Uint8Array, isPut: boolean) => void;

const WRITE_TYPES = new Set([0x50, 0x44, 0x4c, 0x52]); // P, D, L, R
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
): Promise<BackupChecksum> {
  const writeName = files.write.name;
  const dKeys: Uint8Array[] = [];
  const dVals: Uint8Array[] = [];
  if (files.default) {
    await files.default.scan((k, v) => {
      dKeys.push(k);
      dVals.push(v);
    });
  }
  const inDefault = new ChecksumAccumulator();
  const inWrite = new ChecksumAccumulator();
  let raw = new Uint8Array(256);
  let target = new Uint8Array(256);
  let j = 0;
  let unreferenced = 0;
  let inOrder = true;
  await files.write.scan((k, v) => {
    // z + EncodeBytes(raw key) + 8-byte commit ts.
    const end = k.length - 8;
    if (k[0] !== 0x7a || end < 10) {
      throw corrupt(writeName, `write-CF key ${hex(k)} is not z + memcomparable key + ts`);
    }
    if (raw.length < end) raw = new Uint8Array(end * 2);
    let n = 0;
    let pos = 1;
    for (;;) {
      if (pos + 9 > end) throw corrupt(writeName, `write-CF key ${hex(k)} is not memcomparable`);
      const pad = 0xff - k[pos + 8]!;
      if (pad > 8) throw corrupt(writeName, `write-CF key ${hex(k)} has a bad group marker`);
      const real = 8 - pad;
      for (let i = 0; i < real; i++) raw[n++] = k[pos + i]!;
      pos += 9;
      if (pad !== 0) break;
    }
    if (pos !== end) throw corrupt(writeName, `write-CF key ${hex(k)} has no 8-byte ts`);
    const rawKey = raw.subarray(0, n);
    // Write record: type, varint start ts, then optional fields ('v' short value first).
    const type = v[0];
    if (type === undefined || !WRITE_TYPES.has(type)) {
      throw corrupt(writeName, `bad write-CF entry ${hex(k)}: unknown write type`);
    }
    let lo = 0;
    let hi = 0;
    let shift = 0;
    let p = 1;
    for (;;) {
      const b = v[p++];
      if (b === undefined || shift > 63) {
        throw corrupt(writeName, `bad write-CF entry ${hex(k)}: start ts is truncated`);
      }
      const x = b & 0x7f;
      if (shift < 32) {
        lo |= x << shift;
        if (shift > 25) hi |= x >>> (32 - shift);
      } else hi |= x << (shift - 32);
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    let value: Uint8Array | undefined;
    if (p < v.length) {
      if (v[p] === SHORT_VALUE && p + 2 + v[p + 1]! === v.length) {
        value = v.subarray(p + 2);
      } else {
        let rec;
        try {
          rec = decodeWriteValue(v);
        } catch (err) {
          throw corrupt(writeName, `bad write-CF entry ${hex(k)}: ${(err as Error).message}`);
        }
        value = rec.shortValue;
      }
    }
    const isPut = type === 0x50;
    let fromDefault = false;
    if (value === undefined && isPut) {
      if (!files.default) {
        throw corrupt(
          writeName,
          `key ${hex(rawKey)} keeps its value in the default CF, but no default-CF file was given`,
        );
      }
      if (target.length < end + 8) target = new Uint8Array((end + 8) * 2);
      target.set(k.subarray(0, end));
      const nhi = ~hi >>> 0;
      const nlo = ~lo >>> 0;
      target[end] = nhi >>> 24;
      target[end + 1] = (nhi >>> 16) & 0xff;
      target[end + 2] = (nhi >>> 8) & 0xff;
      target[end + 3] = nhi & 0xff;
      target[end + 4] = nlo >>> 24;
      target[end + 5] = (nlo >>> 16) & 0xff;
      target[end + 6] = (nlo >>> 8) & 0xff;
      target[end + 7] = nlo & 0xff;
      const t = target.subarray(0, end + 8);
      while (j < dKeys.length && compareBytes(dKeys[j]!, t) < 0) {
        unreferenced++;
        j++;
      }
      let at = j < dKeys.length && compareBytes(dKeys[j]!, t) === 0 ? j : -1;
      if (at < 0) {
        // Start ts out of the usual order: look it up directly.
        inOrder = false;
        let a = 0;
        let b = dKeys.length;
        while (a < b) {
          const m = (a + b) >>> 1;
          if (compareBytes(dKeys[m]!, t) < 0) a = m + 1;
          else b = m;
        }
        if (a < dKeys.length && compareBytes(dKeys[a]!, t) === 0) at = a;
      } else j++;
      if (at < 0) {
        throw corrupt(files.default.name, `no default-CF value for key ${hex(rawKey)}`);
      }
      value = dVals[at]!;
      fromDefault = true;
    }
    const val = value ?? EMPTY;
    (fromDefault ? inDefault : inWrite).add(rawKey, val);
    fn?.(rawKey, val, isPut);
  });
  if (inOrder) {
    unreferenced += dKeys.length - j;
    if (unreferenced > 0) {
      throw corrupt(files.default!.name, `${unreferenced} default-CF values have no commit record`);
    }
  }
  const total = new ChecksumAccumulator();
  total.merge(inDefault);
  total.merge(inWrite);
  return { total: toChecksum(total), default: toChecksum(inDefault), write: toChecksum(inWrite) };
}

const EMPTY = new Uint8Array(0);
