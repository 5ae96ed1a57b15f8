/**
 * File-system helpers of the local plugin: error mapping, durable writes and per-object locks.
 * @module
 */
import { type FileHandle, open, rename, stat, unlink } from "node:fs/promises";
import { StorageError, type StorageErrorCode } from "../../src/storage/errors.ts";

/** The errno code of a Node file-system error, if any. */
export function errno(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

const TEMPORARY = new Set(["EAGAIN", "EBUSY", "EMFILE", "ENFILE", "EINTR", "ETIMEDOUT"]);

/** Maps a file-system error to a StorageError with one line naming the problem and the fix. */
export function fsError(err: unknown, operation: string, name: string, where: string): Error {
  if (err instanceof StorageError) return err;
  const code = errno(err);
  let kind: StorageErrorCode = "Unexpected";
  let hint = "check the disk and the path";
  switch (code) {
    case "ENOENT":
      kind = "NotFound";
      hint = "the object does not exist";
      break;
    case "EACCES":
    case "EPERM":
      kind = "PermissionDenied";
      hint = "make the directory writable by this user, or choose another path";
      break;
    case "EROFS":
      kind = "PermissionDenied";
      hint = "the file system is read-only; choose a writable path";
      break;
    case "ENOTDIR":
      kind = "ConfigInvalid";
      hint = "a parent of the path is a file, not a directory; choose another path or name";
      break;
    case "EISDIR":
      kind = "ConfigInvalid";
      hint = "a directory has this name; choose another name";
      break;
    case "ENOSPC":
    case "EDQUOT":
      hint = "the disk is full; free space or choose another path";
      break;
    case "ENAMETOOLONG":
      kind = "ConfigInvalid";
      hint = "the name is too long for this file system";
      break;
  }
  const what = code ? `${code}: ${hint}` : (err instanceof Error ? err.message : String(err));
  return new StorageError(`${operation} ${where}/${name} failed (${what})`, {
    code: kind,
    operation,
    path: name,
    temporary: code !== undefined && TEMPORARY.has(code),
    cause: err,
  });
}

/** Writes all of `data` at the handle's position (a write may be partial). */
export async function writeAll(fh: FileHandle, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off);
    off += bytesWritten;
  }
}

/** Flushes a directory entry change (create, rename, unlink) to disk. */
export async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch {
    // Some file systems refuse fsync on directories; the data itself is already synced.
  } finally {
    await fh?.close().catch(() => {});
  }
}

/** A lock file older than this (ms) belongs to a crashed process and may be broken. */
const STALE_LOCK_MS = 30_000;

/**
 * Takes the lock file at `path` with an exclusive create, waiting (with growing pauses) while
 * another writer holds it. Locks are held for a rename, never while data is written, so a lock
 * older than `STALE_LOCK_MS` is left over from a crash and is broken.
 */
export async function lockFile(path: string, signal?: AbortSignal): Promise<() => Promise<void>> {
  for (let pause = 1;; pause = Math.min(pause * 2, 50)) {
    if (signal?.aborted) throw signal.reason;
    try {
      const fh = await open(path, "wx");
      await fh.close();
      return async () => {
        await unlink(path).catch(() => {});
      };
    } catch (err) {
      if (errno(err) !== "EEXIST") throw err;
    }
    try {
      const st = await stat(path);
      if (Date.now() - st.mtimeMs > STALE_LOCK_MS) {
        // Rename first, so of two processes breaking the same stale lock only one succeeds.
        const aside = `${path}.stale-${crypto.randomUUID()}`;
        await rename(path, aside);
        await unlink(aside).catch(() => {});
        continue;
      }
    } catch {
      continue;
    }
    await new Promise((r) => setTimeout(r, pause));
  }
}
