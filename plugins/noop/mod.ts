/**
 * The noop plugin (`noop://`), for benchmarks: writes succeed and are discarded, reads find
 * nothing. TiKV stores are sent `StorageBackend.noop` and discard their files too, which
 * measures a backup without storage costs (as BR's noop storage).
 * @module
 */
import { definePlugin, type StoragePlugin } from "../../src/storage/plugin.ts";
import { StorageError } from "../../src/storage/errors.ts";
import { checkName } from "../../src/storage/names.ts";
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

function live(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

function missing(name: string, op: string): StorageError {
  return new StorageError(`noop:// stores nothing, so ${name} does not exist`, {
    code: "NotFound",
    operation: op,
    path: name,
  });
}

/** A storage that discards writes and finds nothing. */
export class NoopStorage implements ExternalStorage {
  writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      checkName(name, "writeFile");
      if (opts?.ifNoneMatch !== undefined || opts?.ifMatch !== undefined) {
        throw new StorageError("noop:// cannot honour conditional writes", {
          code: "Unsupported",
          operation: "writeFile",
          path: name,
        });
      }
      return { size: data.length, version: "noop" };
    });
  }
  readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    return this.#fail(name, "readFile", opts);
  }
  fileExists(name: string, opts?: CallOptions): Promise<boolean> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      checkName(name, "fileExists");
      return false;
    });
  }
  stat(name: string, opts?: CallOptions): Promise<ObjectStat> {
    return this.#fail(name, "stat", opts);
  }
  deleteFile(name: string, opts?: CallOptions): Promise<void> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      checkName(name, "deleteFile");
    });
  }
  deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      for (const n of names) checkName(n, "deleteFiles");
    });
  }
  open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    return this.#fail(name, "open", opts);
  }
  walkDir(opts: WalkOptions, _fn: WalkFn): Promise<void> {
    return Promise.resolve().then(() => live(opts.signal));
  }
  uri(): string {
    // BR's FormatBackendURL of a noop backend.
    return "noop:///";
  }
  create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      checkName(name, "create");
      let size = 0;
      return {
        write: (chunk) =>
          Promise.resolve().then(() => {
            live(opts?.signal);
            size += chunk.length;
          }),
        close: () => Promise.resolve({ size, version: "noop" }),
        abort: () => Promise.resolve(),
      };
    });
  }
  rename(from: string, to: string, opts?: CallOptions): Promise<void> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      checkName(to, "rename");
      checkName(from, "rename");
      throw missing(from, "rename");
    });
  }
  capabilities(): StorageCapabilities {
    return {
      conditionalCreate: false,
      compareAndSwap: false,
      // Nothing is ever readable, so no reader can see either version.
      atomicReplace: false,
      strongConsistency: false,
      rangeRead: true,
      maxDeleteBatch: 1000,
      discardsWrites: true,
    };
  }
  storageBackend(_sendCredentials: boolean): StorageBackendInit {
    return { backend: { case: "noop", value: {} } };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }

  #fail<T>(name: string, op: string, opts: CallOptions | undefined): Promise<T> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      checkName(name, op);
      throw missing(name, op);
    });
  }
}

/** The noop plugin. */
export const plugin: StoragePlugin = definePlugin({
  name: "noop",
  schemes: ["noop"],
  options: [],
  open: () => Promise.resolve(new NoopStorage()),
});

export default plugin;
