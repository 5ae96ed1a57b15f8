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
