/**
 * ExternalStorage on a local directory (or a mounted network file system).
 *
 * - Every write goes to a temp file under `<root>/.tibr-tmp/`, is fsynced, then renamed into
 *   place (and the directory fsynced): readers see the old or the new file, never a part.
 * - Create-if-absent links the finished temp file to the final name; `link` fails when the name
 *   exists, so exactly one of racing creators wins.
 * - Replacing writes, deletes and renames hold a per-object lock file (exclusive create) while
 *   they check the version and rename, which makes `ifMatch` an atomic compare-and-swap.
 * - The version is inode, mtime (ns) and size: every write is a new inode, so it changes on
 *   each write without hashing the content.
 * - Names under `.tibr-tmp/` are reserved and never listed.
 * @module
 */
import { forEachPool } from "../../src/pool.ts";
import { createHash, randomBytes } from "node:crypto";
import {
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  rename,
  rmdir,
  stat,
  unlink,
} from "node:fs/promises";
import type { BigIntStats } from "node:fs";
import { dirname, join } from "node:path";
import { alignedBuffer } from "../../src/storage/buffer.ts";
import { StorageError } from "../../src/storage/errors.ts";
import { checkName, cleanSubDir, compareNames, walkPrefix } from "../../src/storage/names.ts";
import type {
  CallOptions,
  CreateOptions,
  ExternalStorage,
  ObjectStat,
  ReadFileOptions,
  ReadOptions,
  StorageBackendInit,
  StorageCapabilities,
  StorageReader,
  StorageWriter,
  WalkFn,
  WalkOptions,
  WriteOptions,
} from "../../src/storage/types.ts";
import { errno, fsError, lockFile, syncDir, writeAll } from "./_fs.ts";
import { ChunkReader, openFile } from "./_read.ts";

/** Open storages per root in this process: the last to close removes the staging directory. */
const _openRoots = new Map<string, number>();

/** The reserved directory for temp files and locks, at the storage root. */
export const STAGING_DIR = ".tibr-tmp";
/**
 * Bytes per read call, for readFile and per chunk of a ranged reader. With a few reads in
 * flight, a few MiB are asked for at once, inside the kernel's readahead window, so the disk
 * keeps reading ahead while chunks are copied out. In scripts/bench-storage-local.ts (and a
 * same-file variant that drops the page cache before every read) on Deno and Bun, 1 MiB was as
 * fast as or faster than 0.5, 2 and 4 MiB, and faster than one read at a time, most of all when
 * the disk rather than the copying is the bottleneck. (An earlier 4 MiB for readFile only won
 * while buffers sat 16 bytes past a page; see src/storage/buffer.ts.)
 */
const READ_CHUNK = 1 << 20;
/**
 * Reads in flight per readFile, which fills one buffer the caller has or gets in one piece.
 * Into a reused page-aligned 64 MiB buffer, cold: 1 MiB x 2 reached 0.98-1.00x of dd on Deno
 * and 0.98-1.06x on Bun, 1 MiB x 3 0.95-0.98x and 0.96x, 4 MiB x 3 0.79-0.90x and 0.83-0.86x.
 */
const READ_FILE_PARALLEL = 2;
/**
 * Reads in flight per ranged reader, whose chunks are fresh memory: one more than readFile, so
 * the page faults of one chunk overlap the disk reading the next.
 */
const READ_PARALLEL = 3;

/** Tuning of a LocalStorage; the defaults suit real use, tests shrink them. */
export interface LocalStorageOptions {
  /** Bytes per read call, for readFile and per ranged-reader chunk (default 1 MiB). */
  readChunk?: number;
  /**
   * Reads in flight per object read (default 2 for readFile, 3 for a ranged reader; when given,
   * both; 1 reads sequentially).
   */
  readParallel?: number;
}

function versionOf(st: BigIntStats): string {
  return `${st.ino.toString(16)}-${st.mtimeNs.toString(16)}-${st.size.toString(16)}`;
}

function live(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/** The local plugin's storage rooted at an absolute directory. */
export class LocalStorage implements ExternalStorage {
  readonly #staging: string;
  readonly #locks: string;
  readonly #chunk: number;
  readonly #fileParallel: number;
  readonly #parallel: number;
  #closed = false;

  /** `root` must be an absolute directory path (made by the first write when missing). */
  constructor(readonly root: string, opts: LocalStorageOptions = {}) {
    _openRoots.set(root, (_openRoots.get(root) ?? 0) + 1);
    this.#staging = join(root, STAGING_DIR);
    this.#locks = join(this.#staging, "locks");
    this.#chunk = Math.max(1, Math.floor(opts.readChunk ?? READ_CHUNK));
    this.#fileParallel = Math.max(1, Math.floor(opts.readParallel ?? READ_FILE_PARALLEL));
    this.#parallel = Math.max(1, Math.floor(opts.readParallel ?? READ_PARALLEL));
  }

  /**
   * Removes temp files older than `maxAgeMs` left by crashed writers (a write in progress is
   * never that old). Best effort: failures are ignored.
   */
  async sweepStaging(maxAgeMs = 24 * 3600_000): Promise<number> {
    let removed = 0;
    let names: string[];
    try {
      names = await readdir(this.#staging);
    } catch {
      return 0;
    }
    const now = Date.now();
    for (const n of names) {
      const p = join(this.#staging, n);
      try {
        const st = await stat(p);
        if (st.isFile() && now - st.mtimeMs > maxAgeMs) {
          await unlink(p);
          removed++;
        }
      } catch {
        // Raced with its writer finishing, or not ours to remove.
      }
    }
    return removed;
  }

  #path(name: string, op: string): string {
    checkName(name, op);
    if (name === STAGING_DIR || name.startsWith(`${STAGING_DIR}/`)) {
      throw new StorageError(`the name ${name} is reserved for temp files; choose another`, {
        code: "ConfigInvalid",
        operation: op,
        path: name,
      });
    }
    return join(this.root, name);
  }

  #err(err: unknown, op: string, name: string): Error {
    return fsError(err, op, name, this.uri());
  }

  /**
   * Runs `fn` with the staging directory in place, making it again when another storage on this
   * root (another process, or the last user in this one) removed it on close in between.
   */
  async #staged<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0;; attempt++) {
      try {
        // Inside the retry: a recursive mkdir fails with ENOENT too when another storage removes
        // the staging directory between making it and making `locks` in it.
        await mkdir(this.#locks, { recursive: true });
        return await fn();
      } catch (err) {
        if (errno(err) !== "ENOENT" || attempt >= 5) throw err;
      }
    }
  }

  #tempFile(): Promise<{ path: string; fh: FileHandle }> {
    const path = join(this.#staging, randomBytes(12).toString("hex"));
    return this.#staged(async () => ({ path, fh: await open(path, "wx", 0o644) }));
  }

  #lock(name: string, signal?: AbortSignal): Promise<() => Promise<void>> {
    const id = createHash("sha256").update(name).digest("hex").slice(0, 32);
    return this.#staged(() => lockFile(join(this.#locks, id), signal));
  }

  /**
   * Runs `place` (a link or rename into `full`), making the parent again when a delete pruned
   * it in between (deletes remove emptied directories, as object stores have none).
   */
  async #place(full: string, place: () => Promise<void>): Promise<void> {
    for (let attempt = 0;; attempt++) {
      try {
        return await place();
      } catch (err) {
        if (errno(err) !== "ENOENT" || attempt >= 3) throw err;
        await mkdir(dirname(full), { recursive: true });
      }
    }
  }

  /** Removes the emptied directories from `dir` up to (not including) the root. */
  async #prune(dir: string): Promise<void> {
    while (dir.length > this.root.length && dir.startsWith(this.root)) {
      try {
        await rmdir(dir);
      } catch {
        return;
      }
      dir = dirname(dir);
    }
  }

  /** Moves a finished temp file to `name` under the preconditions; returns the new stat. */
  async #commit(
    temp: string,
    name: string,
    full: string,
    tempStat: BigIntStats,
    opts: WriteOptions | undefined,
    op: string,
  ): Promise<ObjectStat> {
    await mkdir(dirname(full), { recursive: true });
    if (opts?.ifNoneMatch !== undefined) {
      try {
        await this.#place(full, () => link(temp, full));
      } catch (err) {
        if (errno(err) === "EEXIST") {
          throw new StorageError(`${this.uri()}/${name} already exists`, {
            code: "ConditionNotMatch",
            operation: op,
            path: name,
          });
        }
        throw err;
      }
      await unlink(temp).catch(() => {});
    } else {
      const unlock = await this.#lock(name, opts?.signal);
      try {
        if (opts?.ifMatch !== undefined) {
          let current: string | undefined;
          try {
            current = versionOf(await stat(full, { bigint: true }));
          } catch (err) {
            if (errno(err) !== "ENOENT") throw err;
          }
          if (current !== opts.ifMatch) {
            throw new StorageError(
              `${this.uri()}/${name} ${
                current === undefined ? "does not exist" : "changed"
              }: version ${opts.ifMatch} expected`,
              { code: "ConditionNotMatch", operation: op, path: name },
            );
          }
        }
        await this.#place(full, () => rename(temp, full));
      } finally {
        await unlock();
      }
    }
    await syncDir(dirname(full));
    return { size: Number(tempStat.size), version: versionOf(tempStat) };
  }

  async writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    live(opts?.signal);
    const full = this.#path(name, "writeFile");
    let temp: string | undefined;
    try {
      const t = await this.#tempFile();
      temp = t.path;
      let st: BigIntStats;
      try {
        await writeAll(t.fh, data);
        await t.fh.sync();
        st = await t.fh.stat({ bigint: true });
      } finally {
        await t.fh.close();
      }
      live(opts?.signal);
      const result = await this.#commit(temp, name, full, st, opts, "writeFile");
      temp = undefined;
      return result;
    } catch (err) {
      if (opts?.signal?.aborted) throw opts.signal.reason;
      throw this.#err(err, "writeFile", name);
    } finally {
      if (temp !== undefined) await unlink(temp).catch(() => {});
    }
  }

  async readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    live(opts?.signal);
    const full = this.#path(name, "readFile");
    let file: { fh: FileHandle; size: number };
    try {
      file = await openFile(full);
    } catch (err) {
      throw this.#missing(err, "readFile", name);
    }
    let reader: ChunkReader | undefined;
    try {
      // Objects are replaced by rename, never changed in place, so the size of the open inode
      // is final: read into one buffer of that size instead of growing one; into the caller's
      // when it fits (fresh memory costs a page fault per 4 KiB, as much as the read itself).
      const into = opts?.into;
      const useInto = into !== undefined && into.length >= file.size;
      const buf = useInto ? into.subarray(0, file.size) : alignedBuffer(file.size);
      reader = new ChunkReader(file.fh, 0, file.size, this.#chunk, this.#fileParallel, buf);
      let got = 0;
      for (let c = await reader.next(); c; c = await reader.next()) {
        got += c.length;
        live(opts?.signal);
      }
      // Shrunk behind our back: cut (the caller's buffer) or copy (so the unfilled tail of a
      // fresh one never leaves this function).
      if (got === buf.length) return buf;
      return useInto ? buf.subarray(0, got) : buf.slice(0, got);
    } catch (err) {
      if (opts?.signal?.aborted) throw opts.signal.reason;
      throw this.#missing(err, "readFile", name);
    } finally {
      await reader?.settle();
      await file.fh.close().catch(() => {});
    }
  }

  /** A missing object, a directory, or a file where a directory is expected: NotFound. */
  #missing(err: unknown, op: string, name: string): Error {
    const code = errno(err);
    if (code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR") {
      return new StorageError(`${this.uri()}/${name} does not exist`, {
        code: "NotFound",
        operation: op,
        path: name,
        cause: err,
      });
    }
    return this.#err(err, op, name);
  }

  async fileExists(name: string, opts?: CallOptions): Promise<boolean> {
    live(opts?.signal);
    try {
      return (await stat(this.#path(name, "fileExists"))).isFile();
    } catch (err) {
      const code = errno(err);
      if (code === "ENOENT" || code === "ENOTDIR") return false;
      throw this.#err(err, "fileExists", name);
    }
  }

  async stat(name: string, opts?: CallOptions): Promise<ObjectStat> {
    live(opts?.signal);
    try {
      const st = await stat(this.#path(name, "stat"), { bigint: true });
      if (!st.isFile()) throw Object.assign(new Error("not a file"), { code: "EISDIR" });
      return { size: Number(st.size), version: versionOf(st) };
    } catch (err) {
      throw this.#missing(err, "stat", name);
    }
  }

  async deleteFile(name: string, opts?: CallOptions): Promise<void> {
    live(opts?.signal);
    const full = this.#path(name, "deleteFile");
    let unlock: (() => Promise<void>) | undefined;
    try {
      unlock = await this.#lock(name, opts?.signal);
      await unlink(full);
      await this.#prune(dirname(full));
    } catch (err) {
      const code = errno(err);
      // Missing, or a directory of that name (not an object): nothing to delete.
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return;
      if (code === "EPERM" && (await stat(full).catch(() => undefined))?.isDirectory()) return;
      throw this.#err(err, "deleteFile", name);
    } finally {
      await unlock?.();
    }
  }

  async deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    for (const n of names) this.#path(n, "deleteFiles");
    const signal = opts?.signal;
    await forEachPool(names, { concurrency: 16, ...(signal ? { signal } : {}) }, (name) => {
      live(signal);
      return this.deleteFile(name, opts);
    });
  }

  async open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    live(opts?.signal);
    const full = this.#path(name, "open");
    let file: { fh: FileHandle; size: number };
    try {
      file = await openFile(full);
    } catch (err) {
      throw this.#missing(err, "open", name);
    }
    const { fh, size } = file;
    const end = Math.min(opts?.end ?? size, size);
    const start = Math.min(opts?.start ?? 0, end);
    const reader = new ChunkReader(fh, start, end, this.#chunk, this.#parallel);
    let closed: Promise<void> | undefined;
    const close = () => closed ??= reader.settle().then(() => fh.close().catch(() => {}));
    const signal = opts?.signal;
    const stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          live(signal);
          const chunk = await reader.next();
          if (chunk) {
            controller.enqueue(chunk);
            return;
          }
          await close();
          controller.close();
        } catch (err) {
          await close();
          throw signal?.aborted ? signal.reason : this.#err(err, "open", name);
        }
      },
      cancel: close,
      // The reader keeps its reads in flight ahead of the consumer; no more buffering here.
    }, { highWaterMark: 0 });
    return {
      size,
      stream,
      close: async () => {
        await stream.cancel().catch(() => {});
        await close();
      },
    };
  }

  async walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
    live(opts.signal);
    cleanSubDir(opts.subDir);
    const prefix = walkPrefix(opts);
    const after = opts.startAfter;
    const cut = prefix.lastIndexOf("/");
    const startDir = cut < 0 ? "" : prefix.slice(0, cut);
    const visit = async (rel: string): Promise<void> => {
      live(opts.signal);
      let entries;
      try {
        entries = await readdir(rel === "" ? this.root : join(this.root, rel), {
          withFileTypes: true,
        });
      } catch (err) {
        const code = errno(err);
        if (code === "ENOENT" || code === "ENOTDIR") return;
        throw this.#err(err, "walkDir", rel);
      }
      // Sorting directories as "name/" makes a depth-first walk come out in full-name order.
      const items = entries
        .filter((e) => !(rel === "" && e.name === STAGING_DIR))
        .map((e) => {
          const isDir = e.isDirectory();
          return { e, isDir, key: isDir ? `${e.name}/` : e.name };
        })
        .sort((a, b) => compareNames(a.key, b.key));
      for (const { e, isDir } of items) {
        const name = rel === "" ? e.name : `${rel}/${e.name}`;
        if (isDir) {
          const dir = `${name}/`;
          if (!dir.startsWith(prefix) && !prefix.startsWith(dir)) continue;
          // Every name under `dir` sorts before `after` when `dir` does and is not its prefix.
          if (after !== undefined && compareNames(dir, after) < 0 && !after.startsWith(dir)) {
            continue;
          }
          await visit(name);
          continue;
        }
        if (!name.startsWith(prefix)) continue;
        if (after !== undefined && compareNames(name, after) <= 0) continue;
        let size: number;
        try {
          const st = await stat(join(this.root, name));
          if (!st.isFile()) continue;
          size = st.size;
        } catch (err) {
          if (errno(err) === "ENOENT") continue;
          throw this.#err(err, "walkDir", name);
        }
        await fn(name, size);
      }
    };
    await visit(startDir);
  }

  uri(): string {
    return `local://${this.root}`;
  }

  async create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    live(opts?.signal);
    const full = this.#path(name, "create");
    let t: { path: string; fh: FileHandle };
    try {
      t = await this.#tempFile();
    } catch (err) {
      throw this.#err(err, "create", name);
    }
    const { path: temp, fh } = t;
    let state: "open" | "closed" | "aborted" = "open";
    const signal = opts?.signal;
    const abort = async () => {
      if (state !== "open") return;
      state = "aborted";
      await fh.close().catch(() => {});
      await unlink(temp).catch(() => {});
    };
    const usable = async () => {
      if (signal?.aborted) {
        await abort();
        throw signal.reason;
      }
      if (state !== "open") {
        throw new StorageError(`the writer of ${name} is already ${state}`, {
          code: "Unexpected",
          operation: "create",
          path: name,
        });
      }
    };
    return {
      write: async (chunk) => {
        await usable();
        try {
          await writeAll(fh, chunk);
        } catch (err) {
          await abort();
          throw this.#err(err, "create", name);
        }
      },
      close: async () => {
        await usable();
        state = "closed";
        try {
          await fh.sync();
          const st = await fh.stat({ bigint: true });
          await fh.close();
          return await this.#commit(temp, name, full, st, undefined, "create");
        } catch (err) {
          await fh.close().catch(() => {});
          await unlink(temp).catch(() => {});
          throw this.#err(err, "create", name);
        }
      },
      abort,
    };
  }

  async rename(from: string, to: string, opts?: CallOptions): Promise<void> {
    live(opts?.signal);
    const src = this.#path(from, "rename");
    const dst = this.#path(to, "rename");
    if (from === to) {
      if (!(await this.fileExists(from))) throw this.#missing({ code: "ENOENT" }, "rename", from);
      return;
    }
    // Lock in a fixed order so two opposite renames cannot deadlock.
    const [a, b] = compareNames(from, to) < 0 ? [from, to] : [to, from];
    const unlockA = await this.#lock(a, opts?.signal);
    try {
      const unlockB = await this.#lock(b, opts?.signal);
      try {
        const st = await stat(src).catch((err) => {
          throw this.#missing(err, "rename", from);
        });
        if (!st.isFile()) throw this.#missing({ code: "EISDIR" }, "rename", from);
        await mkdir(dirname(dst), { recursive: true });
        await rename(src, dst);
        await syncDir(dirname(dst));
      } finally {
        await unlockB();
      }
    } catch (err) {
      throw this.#err(err, "rename", from);
    } finally {
      await unlockA();
    }
  }

  capabilities(): StorageCapabilities {
    return {
      conditionalCreate: true,
      compareAndSwap: true,
      atomicReplace: true,
      strongConsistency: true,
      rangeRead: true,
      maxDeleteBatch: 1000,
    };
  }

  storageBackend(_sendCredentials: boolean): StorageBackendInit {
    return { backend: { case: "local", value: { path: this.root } } };
  }

  /**
   * Removes the (empty) staging directory when this is the last open storage on the root in
   * this process, so a finished backup root holds only its objects. Another process still
   * writing there makes it again (`#staged`).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const left = (_openRoots.get(this.root) ?? 1) - 1;
    if (left > 0) {
      _openRoots.set(this.root, left);
      return;
    }
    _openRoots.delete(this.root);
    await rmdir(this.#locks).catch(() => {});
    await rmdir(this.#staging).catch(() => {});
  }
}
