/**
 * The base of every layer: forwards each method to the wrapped storage, so a layer overrides
 * only what it changes.
 * @module
 */
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
} from "./types.ts";

/** The contract methods a layer can observe, plus the calls on readers and writers. */
export type StorageOp =
  | "writeFile"
  | "readFile"
  | "fileExists"
  | "stat"
  | "deleteFile"
  | "deleteFiles"
  | "open"
  | "walkDir"
  | "create"
  | "rename"
  | "reader.read"
  | "writer.write"
  | "writer.close";

/** An ExternalStorage that forwards every call to `inner`. */
export class ForwardingStorage implements ExternalStorage {
  /** Forwards to `inner`. */
  constructor(protected readonly inner: ExternalStorage) {}

  writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    return this.inner.writeFile(name, data, opts);
  }
  readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    return this.inner.readFile(name, opts);
  }
  fileExists(name: string, opts?: CallOptions): Promise<boolean> {
    return this.inner.fileExists(name, opts);
  }
  stat(name: string, opts?: CallOptions): Promise<ObjectStat> {
    return this.inner.stat(name, opts);
  }
  deleteFile(name: string, opts?: CallOptions): Promise<void> {
    return this.inner.deleteFile(name, opts);
  }
  deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    return this.inner.deleteFiles(names, opts);
  }
  open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    return this.inner.open(name, opts);
  }
  walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
    return this.inner.walkDir(opts, fn);
  }
  uri(): string {
    return this.inner.uri();
  }
  create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    return this.inner.create(name, opts);
  }
  rename(from: string, to: string, opts?: CallOptions): Promise<void> {
    return this.inner.rename(from, to, opts);
  }
  capabilities(): StorageCapabilities {
    return this.inner.capabilities();
  }
  storageBackend(sendCredentials: boolean): StorageBackendInit {
    return this.inner.storageBackend(sendCredentials);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Wraps a reader's stream with `transform`, keeping size and close. */
export function mapReader(
  reader: StorageReader,
  stream: ReadableStream<Uint8Array>,
  onClose?: () => void,
): StorageReader {
  let closed = false;
  return {
    size: reader.size,
    stream,
    close: async () => {
      if (closed) return;
      closed = true;
      onClose?.();
      await stream.cancel().catch(() => {});
      await reader.close();
    },
  };
}

/** A stream that pulls from `source` through `pull`, which may delay, count or fail. */
export function pullThrough(
  source: ReadableStream<Uint8Array>,
  pull: (read: () => Promise<ReadableStreamReadResult<Uint8Array>>) => Promise<
    ReadableStreamReadResult<Uint8Array>
  >,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await pull(() => reader.read());
      } catch (err) {
        await reader.cancel(err).catch(() => {});
        throw err;
      }
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
