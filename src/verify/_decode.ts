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
  /** A raw key outside [start, end), if any (the lowest below start, else the highest). */
  outside?: Uint8Array;
}

function open(f: StoredBytes, cipher: CipherInfo | undefined): Promise<SstReader> {
  return SstReader.open(decryptingSource(bytesSource(f.bytes, f.name), cipher, f.iv));
}

/**
 * Decodes a write-CF file and its default-CF file; throws `SstError` on damage. The reader
 * checks that keys ascend, so the pair's first and last keys bound all of them: only those two
 * are compared with the range.
 */
export async function decodePair(
  write: StoredBytes,
  dflt: StoredBytes | undefined,
  range: { start: Uint8Array; end: Uint8Array },
  cipher: CipherInfo | undefined,
  fn?: BackupKvFn,
): Promise<DecodedPair> {
  const w = await open(write, cipher);
  const d = dflt ? await open(dflt, cipher) : undefined;
  const { start, end } = range;
  const { first, last, ...sums } = await scanBackupFile(
    { write: w, ...(d ? { default: d } : {}) },
    fn,
  );
  let outside: Uint8Array | undefined;
  if (first && compareBytes(first, start) < 0) outside = first;
  else if (last && end.length > 0 && compareBytes(last, end) >= 0) outside = last;
  return { sums, ...(outside ? { outside } : {}) };
}
