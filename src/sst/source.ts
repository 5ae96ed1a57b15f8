/**
 * Random-access byte sources the SST reader reads from: memory, a local file, an object in an
 * `ExternalStorage`, and a decrypting wrapper for AES-CTR encrypted backup files.
 * @module
 */
import { open as openFile } from "node:fs/promises";
import { type CipherInfo, CtrStream, isEncrypting } from "../crypto/cipher.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { SstError } from "./errors.ts";

/** A file the reader can read at any offset. */
export interface SstSource {
  /** Name used in error messages (a path or object name; never a credential). */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Exactly `length` bytes at `offset` (the caller never asks past `size`). The result may be
   * a view into a shared buffer: do not modify it.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases handles. Idempotent. */
  close(): Promise<void>;
}

/** A source over bytes already in memory (zero-copy reads). */
export function bytesSource(bytes: Uint8Array, name = "<memory>"): SstSource {
  return {
    name,
    size: bytes.length,
    read: (offset, length) => Promise.resolve(bytes.subarray(offset, offset + length)),
    close: () => Promise.resolve(),
  };
}

/** A source over a local file, read with positioned reads. */
export async function fileSource(path: string): Promise<SstSource> {
  const fh = await openFile(path, "r");
  let size: number;
  try {
    size = (await fh.stat()).size;
  } catch (err) {
    await fh.close();
    throw err;
  }
  let closed = false;
  return {
    name: path,
    size,
    async read(offset, length) {
      const buf = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) {
          throw new SstError("Truncated", `file ended ${length - got} bytes early`, {
            file: path,
            offset: offset + got,
          });
        }
        got += bytesRead;
      }
      return buf;
    },
    async close() {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}

/**
 * A source over an object in external storage, fetched with ranged reads when the storage
 * declares `rangeRead` and whole otherwise. `size` is looked up with `stat` when not given.
 */
export async function storageSource(
  storage: ExternalStorage,
  name: string,
  size?: number,
): Promise<SstSource> {
  if (!storage.capabilities().rangeRead) {
    return bytesSource(await storage.readFile(name), name);
  }
  const total = size ?? (await storage.stat(name)).size;
  return {
    name,
    size: total,
    async read(offset, length) {
      const reader = await storage.open(name, { start: offset, end: offset + length });
      const out = new Uint8Array(length);
      let got = 0;
      try {
        for await (const chunk of reader.stream) {
          if (got + chunk.length > length) {
            throw new SstError("Corruption", "storage returned more bytes than the range asked", {
              file: name,
              offset,
            });
          }
          out.set(chunk, got);
          got += chunk.length;
        }
      } finally {
        await reader.close();
      }
      if (got !== length) {
        throw new SstError("Truncated", `object ended ${length - got} bytes early`, {
          file: name,
          offset: offset + got,
        });
      }
      return out;
    },
    close: () => Promise.resolve(),
  };
}

/**
 * A source that decrypts an AES-CTR encrypted file (TiKV's whole-file encryption with the
 * File's `cipher_iv`) on the fly; any range can be read on its own. PLAINTEXT returns `inner`.
 */
export function decryptingSource(
  inner: SstSource,
  cipher: CipherInfo | undefined,
  iv: Uint8Array,
): SstSource {
  if (!isEncrypting(cipher)) return inner;
  // Validate key and IV now rather than on the first read.
  new CtrStream(cipher!, iv);
  return {
    name: inner.name,
    size: inner.size,
    async read(offset, length) {
      const data = await inner.read(offset, length);
      return new CtrStream(cipher!, iv, offset).update(data);
    },
    close: () => inner.close(),
  };
}
