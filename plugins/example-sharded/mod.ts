/**
 * An example custom storage plugin: `sharded:///abs/dir?shards=16` keeps each object as one
 * file in one of N shard directories (picked by a hash of the name), so a directory never
 * holds millions of entries. It is written as an out-of-tree plugin would be: it imports only
 * types from tibr (erased at run time) and gets `StorageError` and `checkName` from the
 * context, so the file works when loaded by `--storage-plugin` from the compiled binary.
 *
 * Guarantees: atomic writes (temp file + fsync + rename), create-if-absent (`link` fails when
 * the name exists), ranged reads. It does not declare compare-and-swap, so `ifMatch` writes are
 * refused with `Unsupported` (the conformance suite checks that). TiKV stores cannot write in
 * this layout, so `storageBackend` says so.
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { link, mkdir, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type {
  CallOptions,
  ExternalStorage,
  ObjectStat,
  PluginContext,
  ReadFileOptions,
  ReadOptions,
  StoragePlugin,
  StorageReader,
  StorageTarget,
  StorageWriter,
  WalkFn,
  WalkOptions,
  WriteOptions,
} from "../../mod.ts";

const TMP = ".tmp";

function errno(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

/** Objects in `root/<shard>/<encoded name>`. */
class ShardedStorage implements ExternalStorage {
  constructor(
    private readonly root: string,
    private readonly shards: number,
    private readonly ctx: PluginContext,
  ) {}

  #file(name: string, op: string): string {
    this.ctx.checkName(name, op);
    const h = createHash("sha256").update(name).digest();
    const shard = (h.readUInt16BE(0) % this.shards).toString(16).padStart(2, "0");
    // One flat file per object: '%' and '/' are escaped, so names map back exactly.
    return join(this.root, shard, encodeURIComponent(name));
  }

  #fail(err: unknown, op: string, name: string): Error {
    const { StorageError } = this.ctx;
    if (err instanceof Error && err.name === "StorageError") return err;
    const code = errno(err);
    if (code === "ENOENT") {
      return new StorageError(`${this.uri()}: ${name} does not exist`, {
        code: "NotFound",
        operation: op,
        path: name,
      });
    }
    return new StorageError(`${this.uri()}: ${op} ${name} failed (${code ?? String(err)})`, {
      code: code === "EACCES" || code === "EPERM" ? "PermissionDenied" : "Unexpected",
      operation: op,
      path: name,
      temporary: code === "EMFILE" || code === "EAGAIN",
      cause: err,
    });
  }

  async #temp(data: Uint8Array[]): Promise<string> {
    await mkdir(join(this.root, TMP), { recursive: true });
    const path = join(this.root, TMP, randomBytes(12).toString("hex"));
    const fh = await open(path, "wx");
    try {
      for (const d of data) {
        for (let off = 0; off < d.length;) off += (await fh.write(d, off)).bytesWritten;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    return path;
  }

  async #commit(temp: string, file: string, createOnly: boolean, name: string, op: string) {
    const { StorageError } = this.ctx;
    try {
      await mkdir(join(file, ".."), { recursive: true });
      if (createOnly) {
        try {
          await link(temp, file);
        } catch (err) {
          if (errno(err) === "EEXIST") {
            throw new StorageError(`${this.uri()}: ${name} already exists`, {
              code: "ConditionNotMatch",
              operation: op,
              path: name,
            });
          }
          throw err;
        }
        await unlink(temp);
      } else {
        await rename(temp, file);
      }
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
    return await this.stat(name);
  }

  async writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    opts?.signal?.throwIfAborted();
    const file = this.#file(name, "writeFile");
    if (opts?.ifMatch !== undefined) {
      throw new this.ctx.StorageError("sharded:// has no compare-and-swap", {
        code: "Unsupported",
        operation: "writeFile",
        path: name,
      });
    }
    try {
      const temp = await this.#temp([data]);
      return await this.#commit(temp, file, opts?.ifNoneMatch === "*", name, "writeFile");
    } catch (err) {
      throw this.#fail(err, "writeFile", name);
    }
  }

  async readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    opts?.signal?.throwIfAborted();
    try {
      return new Uint8Array(await readFile(this.#file(name, "readFile")));
    } catch (err) {
      throw this.#fail(err, "readFile", name);
    }
  }

  async fileExists(name: string, opts?: CallOptions): Promise<boolean> {
    opts?.signal?.throwIfAborted();
    return await stat(this.#file(name, "fileExists")).then(() => true, () => false);
  }

  async stat(name: string, opts?: CallOptions): Promise<ObjectStat> {
    opts?.signal?.throwIfAborted();
    try {
      const st = await stat(this.#file(name, "stat"), { bigint: true });
      return { size: Number(st.size), version: `${st.ino}-${st.mtimeNs}` };
    } catch (err) {
      throw this.#fail(err, "stat", name);
    }
  }

  async deleteFile(name: string, opts?: CallOptions): Promise<void> {
    opts?.signal?.throwIfAborted();
    await unlink(this.#file(name, "deleteFile")).catch((err) => {
      if (errno(err) !== "ENOENT") throw this.#fail(err, "deleteFile", name);
    });
  }

  async deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    for (const n of names) this.#file(n, "deleteFiles");
    for (const n of names) await this.deleteFile(n, opts);
  }

  async open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    opts?.signal?.throwIfAborted();
    const fh = await open(this.#file(name, "open"), "r").catch((err) => {
      throw this.#fail(err, "open", name);
    });
    const size = (await fh.stat()).size;
    const end = Math.min(opts?.end ?? size, size);
    let pos = Math.min(opts?.start ?? 0, end);
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (opts?.signal?.aborted) {
          await fh.close();
          throw opts.signal.reason;
        }
        if (pos >= end) {
          await fh.close();
          return controller.close();
        }
        const buf = new Uint8Array(Math.min(1 << 20, end - pos));
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        pos += bytesRead;
        controller.enqueue(buf.subarray(0, bytesRead));
      },
      cancel: () => fh.close(),
    }, { highWaterMark: 0 });
    return { size, stream, close: () => stream.cancel().catch(() => {}) };
  }

  async walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
    opts.signal?.throwIfAborted();
    const dir = (opts.subDir ?? "").replace(/^\/+|\/+$/g, "");
    if (dir) this.ctx.checkName(dir, "walkDir");
    const prefix = (dir ? `${dir}/` : "") + (opts.objPrefix ?? "");
    // Shards scatter names, so gather the matches and sort them (by code point = UTF-8 order).
    const found: Array<[string, string]> = [];
    for (const shard of await readdir(this.root).catch(() => [] as string[])) {
      if (shard === TMP) continue;
      for (const file of await readdir(join(this.root, shard)).catch(() => [] as string[])) {
        const name = decodeURIComponent(file);
        if (
          name.startsWith(prefix) &&
          (opts.startAfter === undefined || cmp(name, opts.startAfter) > 0)
        ) {
          found.push([name, join(this.root, shard, file)]);
        }
      }
    }
    found.sort((a, b) => cmp(a[0], b[0]));
    for (const [name, path] of found) {
      opts.signal?.throwIfAborted();
      const st = await stat(path).catch(() => undefined);
      if (st) await fn(name, st.size);
    }
  }

  uri(): string {
    return `sharded://${this.root}`;
  }

  async create(name: string, opts?: CallOptions): Promise<StorageWriter> {
    opts?.signal?.throwIfAborted();
    const file = this.#file(name, "create");
    // A small example: stage parts in a temp file as they arrive.
    await mkdir(join(this.root, TMP), { recursive: true });
    const temp = join(this.root, TMP, randomBytes(12).toString("hex"));
    const fh = await open(temp, "wx");
    let done = false;
    const abort = async () => {
      if (done) return;
      done = true;
      await fh.close().catch(() => {});
      await unlink(temp).catch(() => {});
    };
    return {
      write: async (chunk) => {
        if (opts?.signal?.aborted) {
          await abort();
          throw opts.signal.reason;
        }
        if (done) {
          throw new this.ctx.StorageError("writer is finished", {
            code: "Unexpected",
            operation: "create",
            path: name,
          });
        }
        for (let off = 0; off < chunk.length;) off += (await fh.write(chunk, off)).bytesWritten;
      },
      close: async () => {
        if (opts?.signal?.aborted) {
          await abort();
          throw opts.signal.reason;
        }
        if (done) {
          throw new this.ctx.StorageError("writer is finished", {
            code: "Unexpected",
            operation: "create",
            path: name,
          });
        }
        done = true;
        await fh.sync();
        await fh.close();
        return await this.#commit(temp, file, false, name, "create");
      },
      abort,
    };
  }

  async rename(from: string, to: string, opts?: CallOptions): Promise<void> {
    opts?.signal?.throwIfAborted();
    const src = this.#file(from, "rename");
    const dst = this.#file(to, "rename");
    try {
      await mkdir(join(dst, ".."), { recursive: true });
      await rename(src, dst);
    } catch (err) {
      throw this.#fail(err, "rename", from);
    }
  }

  capabilities() {
    return {
      conditionalCreate: true,
      compareAndSwap: false,
      atomicReplace: true,
      strongConsistency: true,
      rangeRead: true,
      maxDeleteBatch: 1000,
    };
  }

  storageBackend(): never {
    throw new this.ctx.StorageError(
      `TiKV stores cannot write to ${this.uri()} (a custom layout); back up to local or s3`,
      { code: "Unsupported", operation: "storageBackend" },
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Compares by code point, which is UTF-8 byte order. */
function cmp(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** The plugin object; tibr takes the default export (or a named `plugin`). */
const plugin: StoragePlugin = {
  name: "example-sharded",
  schemes: ["sharded"],
  options: ["shards"],
  async open(target: StorageTarget, ctx: PluginContext): Promise<ExternalStorage> {
    const shards = Number(target.options.shards ?? "16");
    if (!Number.isInteger(shards) || shards < 1 || shards > 256) {
      throw new ctx.StorageError(
        `shards must be an integer from 1 to 256, not ${target.options.shards}`,
        { code: "ConfigInvalid", operation: "open" },
      );
    }
    // `sharded:///abs/dir`: the directory is the URL path (bucket empty).
    if (target.bucket !== "" || !target.prefix) {
      throw new ctx.StorageError("write sharded:///absolute/dir (three slashes)", {
        code: "ConfigInvalid",
        operation: "open",
      });
    }
    const root = `/${target.prefix}`;
    await mkdir(root, { recursive: true });
    return new ShardedStorage(root, shards, ctx);
  },
};

export default plugin;
