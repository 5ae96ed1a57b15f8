/**
 * The innermost layer: checks arguments the same way for every plugin before the plugin sees
 * them (names, preconditions against declared capabilities, ranges, an already-aborted signal),
 * so a custom plugin that forgets a check cannot let `..` escape the storage root.
 * @module
 */
import { StorageError } from "./errors.ts";
import { ForwardingStorage } from "./_forward.ts";
import { checkName, cleanSubDir } from "./names.ts";
import type {
  CallOptions,
  CreateOptions,
  ExternalStorage,
  ObjectStat,
  ReadFileOptions,
  ReadOptions,
  StorageReader,
  StorageWriter,
  WalkFn,
  WalkOptions,
  WriteOptions,
} from "./types.ts";

function live(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/**
 * Checks the preconditions of a `writeFile` against the capabilities; throws ConfigInvalid for
 * a malformed precondition and Unsupported for one the storage cannot honour.
 */
export function checkWriteOptions(storage: ExternalStorage, name: string, opts?: WriteOptions) {
  if (!opts) return;
  if (opts.ifNoneMatch !== undefined && opts.ifMatch !== undefined) {
    throw new StorageError("writeFile takes ifNoneMatch or ifMatch, not both", {
      code: "ConfigInvalid",
      operation: "writeFile",
      path: name,
    });
  }
  if (opts.ifNoneMatch !== undefined && opts.ifNoneMatch !== "*") {
    throw new StorageError('ifNoneMatch must be "*"', {
      code: "ConfigInvalid",
      operation: "writeFile",
      path: name,
    });
  }
  const caps = storage.capabilities();
  if (opts.ifNoneMatch !== undefined && !caps.conditionalCreate) {
    throw new StorageError(
      `${storage.uri()} cannot create ${name} only-if-absent (no conditionalCreate); ` +
        "use a storage that supports conditional writes",
      { code: "Unsupported", operation: "writeFile", path: name },
    );
  }
  if (opts.ifMatch !== undefined && !caps.compareAndSwap) {
    throw new StorageError(
      `${storage.uri()} cannot replace ${name} only-if-unchanged (no compareAndSwap); ` +
        "use a storage that supports conditional writes",
      { code: "Unsupported", operation: "writeFile", path: name },
    );
  }
}

/** Wraps `inner` with the argument checks every call gets. */
export function withGuard(inner: ExternalStorage): ExternalStorage {
  return new GuardedStorage(inner);
}

class GuardedStorage extends ForwardingStorage {
  override writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      checkName(name, "writeFile");
      checkWriteOptions(this.inner, name, opts);
      return this.inner.writeFile(name, data, opts);
    });
  }
  override readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    return this.#named("readFile", name, opts, () => this.inner.readFile(name, opts));
  }
  override fileExists(name: string, opts?: CallOptions): Promise<boolean> {
    return this.#named("fileExists", name, opts, () => this.inner.fileExists(name, opts));
  }
  override stat(name: string, opts?: CallOptions): Promise<ObjectStat> {
    return this.#named("stat", name, opts, () => this.inner.stat(name, opts));
  }
  override deleteFile(name: string, opts?: CallOptions): Promise<void> {
    return this.#named("deleteFile", name, opts, () => this.inner.deleteFile(name, opts));
  }
  override deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      for (const name of names) checkName(name, "deleteFiles");
      return names.length === 0 ? undefined : this.inner.deleteFiles(names, opts);
    });
  }
  override open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    return this.#named("open", name, opts, () => {
      const start = opts?.start ?? 0;
      const end = opts?.end;
      if (
        !Number.isSafeInteger(start) || start < 0 ||
        (end !== undefined && (!Number.isSafeInteger(end) || end < start))
      ) {
        throw new StorageError(
          `invalid range [${start}, ${end ?? "end"}) for ${name}; need 0 <= start <= end`,
          { code: "ConfigInvalid", operation: "open", path: name },
        );
      }
      return this.inner.open(name, opts);
    });
  }
  override walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
    return Promise.resolve().then(() => {
      live(opts.signal);
      cleanSubDir(opts.subDir);
      return this.inner.walkDir(opts, fn);
    });
  }
  override create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    return this.#named("create", name, opts, () => this.inner.create(name, opts));
  }
  override rename(from: string, to: string, opts?: CallOptions): Promise<void> {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      checkName(from, "rename");
      checkName(to, "rename");
      return this.inner.rename(from, to, opts);
    });
  }

  #named<T>(op: string, name: string, opts: CallOptions | undefined, call: () => Promise<T>) {
    return Promise.resolve().then(() => {
      live(opts?.signal);
      checkName(name, op);
      return call();
    });
  }
}
