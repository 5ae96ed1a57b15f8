/**
 * The concurrency-limit layer: at most N data-lane requests run against the backend at once.
 * Control-lane calls (`lane: "control"`, which lock and checkpoint code ask for through
 * `controlLane`) bypass the limit entirely, so a lock refresh never waits behind a queue of
 * uploads (restic exempts its lock files the same way).
 *
 * A slot is held for one request: a whole-object call, one chunk pulled from a reader, or one
 * `write`/`close` of a writer; never across a caller's think time, so holding many open
 * readers or writers cannot deadlock the limit. `walkDir` takes no slot: its callback often
 * reads the objects it lists, and a slot held across the callback would deadlock at limit 1.
 * @module
 */
import { ForwardingStorage, mapReader, pullThrough } from "./_forward.ts";
import { laneOf } from "./lane.ts";
import type {
  CallOptions,
  CreateOptions,
  ExternalStorage,
  ObjectStat,
  ReadFileOptions,
  ReadOptions,
  StorageReader,
  StorageWriter,
  WriteOptions,
} from "./types.ts";

/** A FIFO counting semaphore whose waits can be aborted. */
export class Semaphore {
  #free: number;
  readonly #queue: Array<{ grant: () => void }> = [];

  /** A semaphore with `limit` slots. */
  constructor(limit: number) {
    this.#free = limit;
  }

  /** Callers waiting for a slot (for tests and metrics). */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Takes a slot, waiting in FIFO order; rejects with the signal's reason if it aborts. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.#queue.indexOf(entry);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(entry);
    });
  }

  /** Returns a slot, handing it straight to the oldest waiter. */
  release(): void {
    const next = this.#queue.shift();
    if (next) next.grant();
    else this.#free++;
  }

  /** Runs `fn` holding a slot. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}

/** Wraps `inner` so at most `limit` data-lane requests run at once. */
export function withConcurrencyLimit(inner: ExternalStorage, limit: number): ExternalStorage {
  if (!(limit > 0) || !Number.isFinite(limit)) return inner;
  return new LimitedStorage(inner, new Semaphore(Math.floor(limit)));
}

class LimitedStorage extends ForwardingStorage {
  constructor(inner: ExternalStorage, private readonly sem: Semaphore) {
    super(inner);
  }

  #gate<T>(opts: CallOptions | undefined, fn: () => Promise<T>) {
    if (laneOf(opts) === "control") return fn();
    return this.sem.run(fn, opts?.signal);
  }

  override writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    return this.#gate(opts, () => this.inner.writeFile(name, data, opts));
  }
  override readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    return this.#gate(opts, () => this.inner.readFile(name, opts));
  }
  override fileExists(name: string, opts?: CallOptions): Promise<boolean> {
    return this.#gate(opts, () => this.inner.fileExists(name, opts));
  }
  override stat(name: string, opts?: CallOptions): Promise<ObjectStat> {
    return this.#gate(opts, () => this.inner.stat(name, opts));
  }
  override deleteFile(name: string, opts?: CallOptions): Promise<void> {
    return this.#gate(opts, () => this.inner.deleteFile(name, opts));
  }
  override deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    const control = names.length > 0 && laneOf(opts) === "control";
    return control
      ? this.inner.deleteFiles(names, opts)
      : this.sem.run(() => this.inner.deleteFiles(names, opts), opts?.signal);
  }
  override rename(from: string, to: string, opts?: CallOptions): Promise<void> {
    return this.#gate(opts, () => this.inner.rename(from, to, opts));
  }
  override async open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    const reader = await this.#gate(opts, () => this.inner.open(name, opts));
    if (laneOf(opts) === "control") return reader;
    const stream = pullThrough(reader.stream, (read) => this.sem.run(read, opts?.signal));
    return mapReader(reader, stream);
  }
  override async create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    const writer = await this.#gate(opts, () => this.inner.create(name, opts));
    if (laneOf(opts) === "control") return writer;
    return {
      write: (chunk) => this.sem.run(() => writer.write(chunk), opts?.signal),
      close: () => this.sem.run(() => writer.close(), opts?.signal),
      abort: (reason) => writer.abort(reason),
    };
  }
}
