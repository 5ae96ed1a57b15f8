/**
 * RocksDB block-based tables (SST files) as TiKV writes them for backups: a streaming writer,
 * a verifying reader, and TiKV backup-file decoding and checksums.
 *
 * ```ts
 * import { bytesSource, SstReader, SstWriter } from "./mod.ts";
 * const w = SstWriter.toMemory({ compression: "zstd" });
 * await w.add(new TextEncoder().encode("k"), new TextEncoder().encode("v"));
 * const { bytes, sha256 } = await w.finish();
 * const r = await SstReader.open(bytesSource(bytes));
 * for await (const e of r.entries()) console.log(e.key, e.value);
 * ```
 * @module
 */
export { SstError, type SstErrorCode } from "./errors.ts";
export {
  type MemorySstWriter,
  type SstSink,
  SstWriter,
  type SstWriteResult,
  type SstWriterOptions,
} from "./writer.ts";
export {
  type EntryFn,
  type KeyRange,
  SstCursor,
  type SstEntry,
  SstReader,
  type SstReaderOptions,
} from "./reader.ts";
export {
  bytesSource,
  decryptingSource,
  fileSource,
  type SstSource,
  storageSource,
} from "./source.ts";
export type { TableProperties } from "./properties.ts";
export type { SstCompression } from "./_compression.ts";
export {
  type BackupChecksum,
  type BackupFilePair,
  type BackupKv,
  type BackupKvFn,
  checksumBackupFiles,
  decodeBackupFile,
  type KvChecksum,
  openBackupSst,
  scanBackupFile,
  type StoredSst,
} from "./backup.ts";
