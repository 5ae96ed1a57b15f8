/**
 * The memory plugin (`memory://name/prefix`), for tests: objects live in this process, shared by
 * every storage opened with the same name, with every capability honoured. TiKV stores cannot
 * reach it, so `storageBackend` throws Unsupported.
 * @module
 */
import { definePlugin, type StoragePlugin } from "../../src/storage/plugin.ts";
import { StorageError } from "../../src/storage/errors.ts";
import { checkName, compareNames, joinKey, walkPrefix } from "../../src/storage/names.ts";
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

interface Entry {
  data: Uint8Array;
  version: string;
}

/** Named in-process buckets; `memory://a` and `memory://a/x` share bucket `a`. */
const buckets = new Map<string, Map<string, Entry>>();
let versions = 0;

/** Drops the named bucket (or all of them), for test isolation. */
export function clearMemoryStorage(name?: string): void {
  if (name === undefined) buckets.clear();
  else buckets.delete(name);
}

function live(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/** A prefix of one in-process bucket. */
export class MemoryStorage implements ExternalStorage {
  readonly #objects: Map<string, Entry>;

  /** The objects under `prefix` in the in-process bucket `bucket`. */
  constructor(readonly bucket: string, readonly prefix: string) {
    let b = buckets.get(bucket);
    if (!b) buckets.set(bucket, b = new Map());
    this.#objects = b;
  }

  #key(name: string, op: string): string {
    checkName(name, op);
    return joinKey(this.prefix, name);
  }

  #notFound(name: string, op: string): StorageError {
    return new StorageError(`${this.uri()}/${name} does not exist`, {
      code: "NotFound",
      operation: op,
      path: name,
    });
  }

  #get(name: string, op: string): Entry {
    const e = this.#objects.get(this.#key(name, op));
    if (!e) throw this.#notFound(name, op);
    return e;
  }

  #put(key: string, data: Uint8Array): ObjectStat {
    const entry = { data, version: `m${++versions}` };
    this.#objects.set(key, entry);
    return { size: data.length, version: entry.version };
  }

  writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      const key = this.#key(name, "writeFile");
      const current = this.#objects.get(key);
      if (opts?.ifNoneMatch !== undefined && current) {
        throw new StorageError(`${this.uri()}/${name} already exists`, {
          code: "ConditionNotMatch",
          operation: "writeFile",
          path: name,
        });
      }
      if (opts?.ifMatch !== undefined && current?.version !== opts.ifMatch) {
        throw new StorageError(`${this.uri()}/${name} changed: version ${opts.ifMatch} expected`, {
          code: "ConditionNotMatch",
          operation: "writeFile",
          path: name,
        });
      }
      return this.#put(key, data.slice());
    });
  }

  readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      return this.#get(name, "readFile").data.slice();
    });
  }

  fileExists(name: string, opts?: CallOptions): Promise<boolean> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      return this.#objects.has(this.#key(name, "fileExists"));
    });
  }

  stat(name: string, opts?: CallOptions): Promise<ObjectStat> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      const e = this.#get(name, "stat");
      return { size: e.data.length, version: e.version };
    });
  }

  deleteFile(name: string, opts?: CallOptions): Promise<void> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      this.#objects.delete(this.#key(name, "deleteFile"));
    });
  }

  deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      const keys = names.map((n) => this.#key(n, "deleteFiles"));
      for (const k of keys) this.#objects.delete(k);
    });
  }

  open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      const { data } = this.#get(name, "open");
      const end = Math.min(opts?.end ?? data.length, data.length);
      let pos = Math.min(opts?.start ?? 0, end);
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          live(opts?.signal);
          if (pos >= end) return controller.close();
          const n = Math.min(1 << 20, end - pos);
          controller.enqueue(data.slice(pos, pos + n));
          pos += n;
        },
      }, { highWaterMark: 0 });
      return { size: data.length, stream, close: () => stream.cancel().catch(() => {}) };
    });
  }

  async walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
    live(opts.signal);
    const base = this.prefix === "" ? "" : `${this.prefix}/`;
    const want = base + walkPrefix(opts);
    const names = [...this.#objects.keys()]
      .filter((k) => k.startsWith(want))
      .map((k) => k.slice(base.length))
      .filter((n) => opts.startAfter === undefined || compareNames(n, opts.startAfter) > 0)
      .sort(compareNames);
    for (const n of names) {
      live(opts.signal);
      const e = this.#objects.get(base + n);
      if (e) await fn(n, e.data.length);
    }
  }

  uri(): string {
    return `memory://${this.bucket}${this.prefix === "" ? "" : `/${this.prefix}`}`;
  }

  create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      const key = this.#key(name, "create");
      const parts: Uint8Array[] = [];
      let state: "open" | "closed" | "aborted" = "open";
      const usable = () => {
        if (opts?.signal?.aborted) {
          state = "aborted";
          throw opts.signal.reason;
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
        write: (chunk) =>
          Promise.resolve().then(() => {
            usable();
            parts.push(chunk.slice());
          }),
        close: () =>
          Promise.resolve().then(() => {
            usable();
            state = "closed";
            const size = parts.reduce((n, p) => n + p.length, 0);
            const data = new Uint8Array(size);
            let off = 0;
            for (const p of parts) {
              data.set(p, off);
              off += p.length;
            }
            parts.length = 0;
            return this.#put(key, data);
          }),
        abort: () => {
          if (state === "open") state = "aborted";
          parts.length = 0;
          return Promise.resolve();
        },
      };
    });
  }

  rename(from: string, to: string, opts?: CallOptions): Promise<void> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      const src = this.#key(from, "rename");
      const dst = this.#key(to, "rename");
      const e = this.#objects.get(src);
      if (!e) throw this.#notFound(from, "rename");
      this.#objects.delete(src);
      this.#objects.set(dst, e);
    });
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
    throw new StorageError(
      `TiKV stores cannot write to ${this.uri()} (in-process memory); use local, s3, gcs or azure`,
      { code: "Unsupported", operation: "storageBackend" },
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The memory plugin. */
export const plugin: StoragePlugin = definePlugin({
  name: "memory",
  schemes: ["memory"],
  options: [],
  open(target) {
    return Promise.resolve(new MemoryStorage(target.bucket || "default", target.prefix));
  },
});

export default plugin;
