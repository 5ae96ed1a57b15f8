/**
 * Private: the `data` check of one backed-up range, shared by the main thread (semantic level)
 * and the decode workers: the write-CF (and default-CF) SST decoded from bytes in memory,
 * decrypted, block checksums checked, crc64xor / kvs / bytes recomputed, and the first key
 * outside the file's range kept.
 * @module
 */
import { compareBytes } from "../codec/bytes.ts";
import type { CipherInfo } from "../crypto/cipher.ts";
import { type BackupChecksum, type BackupKvFn, scanBackupFile } from "../sst/backup.ts";
import { SstReader } from "../sst/reader.ts";
import { bytesSource, decryptingSource } from "../sst/source.ts";

/** One data file's bytes as stored, with what is needed to read it. */
export interface StoredBytes {
  name: string;
  bytes: Uint8Array;
  iv: Uint8Array;
}

/** What decoding a range's files found. */
export interface DecodedPair {
  sums: BackupChecksum;
  /** The first raw key outside [start, end), if any. */
  outside?: Uint8Array;
}

function open(f: StoredBytes, cipher: CipherInfo | undefined): Promise<SstReader> {
  return SstReader.open(decryptingSource(bytesSource(f.bytes, f.name), cipher, f.iv));
}

/** Decodes a write-CF file and its default-CF file; throws `SstError` on damage. */
export async function decodePair(
  write: StoredBytes,
  dflt: StoredBytes | undefined,
  range: { start: Uint8Array; end: Uint8Array },
  cipher: CipherInfo | undefined,
  fn?: BackupKvFn,
): Promise<DecodedPair> {
  const w = await open(write, cipher);
  const d = dflt ? await open(dflt, cipher) : undefined;
  let outside: Uint8Array | undefined;
  const { start, end } = range;
  const sums = await scanBackupFile({ write: w, ...(d ? { default: d } : {}) }, (raw, v, put) => {
    if (
      !outside &&
      (compareBytes(raw, start) < 0 || (end.length > 0 && compareBytes(raw, end) >= 0))
    ) outside = raw.slice();
    fn?.(raw, v, put);
  });
  return { sums, ...(outside ? { outside } : {}) };
}
