/**
 * The streaming writer the cloud plugins share: bytes are cut into fixed-size parts that are
 * uploaded `concurrency` at a time (S3 multipart parts, Azure blocks), then committed. An object
 * smaller than one part is written with a single whole-object request instead.
 *
 * Memory: at most `concurrency` parts in flight plus the one being filled, each `partSize`
 * bytes; buffers are recycled, so a long upload allocates `concurrency + 1` of them in total.
 * @module
 */
import { Pool } from "../../src/pool.ts";
import { sleep } from "../../src/sleep.ts";
import { isStorageError, StorageError } from "../../src/storage/errors.ts";
import type { ObjectStat, StorageWriter } from "../../src/storage/types.ts";

/** What a backend supplies to the part writer. */
export interface PartSink {
  /**
   * Uploads part `index` (0-based, in order of the bytes). `data` is only valid until the
   * promise settles; it is reused afterwards. Called concurrently for different indexes.
   */
  uploadPart(index: number, data: Uint8Array, signal: AbortSignal): Promise<void>;
  /** Commits the `count` uploaded parts, `size` bytes in all, as the object. */
  complete(count: number, size: number, signal: AbortSignal): Promise<ObjectStat>;
  /** Writes `data` as the whole object in one request (used when it fits in one part). */
  putWhole(data: Uint8Array, signal: AbortSignal): Promise<ObjectStat>;
  /** Releases uploaded parts after a failure or abort. Best effort; must not throw. */
  abort(): Promise<void>;
  /**
   * When set, the last part (possibly empty) goes here instead of `uploadPart` + `complete`:
   * for protocols whose final request carries the total size (GCS resumable uploads).
   */
  finish?(index: number, data: Uint8Array, size: number, signal: AbortSignal): Promise<ObjectStat>;
}

/** Tuning of a part writer. */
export interface PartWriterOptions {
  /** Bytes per part (every part but the last has exactly this size). */
  partSize: number;
  /** Parts uploaded at once. */
  concurrency: number;
  /** Most parts the backend accepts (S3: 10000, Azure: 50000). */
  maxParts: number;
  /** Attempts per part for temporary errors (a part is in memory, so it can be resent). */
  partAttempts: number;
  /** Cancels the whole upload. */
  signal?: AbortSignal;
  /** Names the object in errors. */
  describe: string;
  /** The object name (for error paths). */
  path: string;
}

/** A `StorageWriter` that uploads fixed-size parts concurrently through a `PartSink`. */
export class PartWriter implements StorageWriter {
  readonly #sink: PartSink;
  readonly #opts: PartWriterOptions;
  /** Aborted on failure, `abort()`, or the caller's signal: stops every in-flight request. */
  readonly #ctl = new AbortController();
  /** Part uploads in flight; stops at the first failure (which also aborts the writer). */
  readonly #uploads: Pool;
  readonly #free: Uint8Array[] = [];
  #buf: Uint8Array | undefined;
  #fill = 0;
  #parts = 0;
  #bytes = 0;
  #error: unknown;
  #state: "open" | "closing" | "closed" | "aborted" = "open";
  #aborting: Promise<void> | undefined;
  readonly #onAbort = () => void this.abort(this.#opts.signal?.reason);

  constructor(sink: PartSink, opts: PartWriterOptions) {
    this.#sink = sink;
    this.#opts = opts;
    this.#uploads = new Pool({ concurrency: opts.concurrency, signal: this.#ctl.signal });
    opts.signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  async write(chunk: Uint8Array): Promise<void> {
    await this.#checkOpen("write");
    const size = this.#opts.partSize;
    let off = 0;
    try {
      while (off < chunk.length) {
        this.#buf ??= this.#free.pop() ?? new Uint8Array(size);
        const n = Math.min(size - this.#fill, chunk.length - off);
        this.#buf.set(chunk.subarray(off, off + n), this.#fill);
        this.#fill += n;
        this.#bytes += n;
        off += n;
        if (this.#fill === size) await this.#dispatch();
      }
    } catch (err) {
      await this.abort(err);
      throw this.#error ?? err;
    }
  }

  async close(): Promise<ObjectStat> {
    await this.#checkOpen("close");
    this.#state = "closing";
    const signal = this.#ctl.signal;
    try {
      if (this.#parts === 0) {
        const data = this.#buf?.subarray(0, this.#fill) ?? new Uint8Array(0);
        const stat = await this.#sink.putWhole(data, signal);
        this.#finish("closed");
        return stat;
      }
      let stat: ObjectStat;
      if (this.#sink.finish) {
        await this.#drain();
        this.#throwIfFailed();
        const last = this.#buf?.subarray(0, this.#fill) ?? new Uint8Array(0);
        const index = this.#parts;
        stat = await this.#withRetry(() => this.#sink.finish!(index, last, this.#bytes, signal));
      } else {
        if (this.#fill > 0) await this.#dispatch();
        await this.#drain();
        this.#throwIfFailed();
        stat = await this.#sink.complete(this.#parts, this.#bytes, signal);
      }
      this.#finish("closed");
      return stat;
    } catch (err) {
      await this.abort(err);
      throw this.#error ?? err;
    }
  }

  abort(reason?: unknown): Promise<void> {
    if (this.#aborting) return this.#aborting;
    if (this.#state === "closed") return Promise.resolve();
    this.#error ??= reason ?? new StorageError(`upload of ${this.#opts.describe} was aborted`, {
      code: "Unexpected",
      operation: "writer.abort",
      path: this.#opts.path,
    });
    this.#state = "aborted";
    this.#ctl.abort(this.#error);
    this.#aborting = (async () => {
      await this.#drain();
      this.#finish("aborted");
      if (this.#parts > 0) await this.#sink.abort();
    })();
    return this.#aborting;
  }

  #finish(state: "closed" | "aborted"): void {
    this.#state = state;
    this.#buf = undefined;
    this.#free.length = 0;
    this.#opts.signal?.removeEventListener("abort", this.#onAbort);
  }

  /** Throws unless open; after an abort, once its clean-up is done, so parts are released. */
  async #checkOpen(op: string): Promise<void> {
    if (this.#state === "open") return;
    if (this.#state === "aborted" && this.#error !== undefined) {
      await this.#aborting;
      throw this.#error;
    }
    throw new StorageError(`cannot ${op}: the writer of ${this.#opts.describe} is ${this.#state}`, {
      code: "Unexpected",
      operation: `writer.${op}`,
      path: this.#opts.path,
    });
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  /** Waits for every part upload under way, whatever its outcome. */
  #drain(): Promise<void> {
    return this.#uploads.settled();
  }

  /** Sends the filled buffer as the next part, first waiting for a free upload slot. */
  async #dispatch(): Promise<void> {
    await this.#uploads.waitForSlot();
    this.#throwIfFailed();
    if (this.#parts >= this.#opts.maxParts) {
      throw new StorageError(
        `${this.#opts.describe} needs more than ${this.#opts.maxParts} parts of ` +
          `${this.#opts.partSize} bytes; write it with a larger partSize`,
        { code: "ConfigInvalid", operation: "writer.write", path: this.#opts.path },
      );
    }
    const index = this.#parts++;
    const data = this.#buf!.subarray(0, this.#fill);
    const whole = this.#buf!;
    this.#buf = undefined;
    this.#fill = 0;
    await this.#uploads.submit(async () => {
      try {
        await this.#uploadWithRetry(index, data);
      } catch (err) {
        // The first failure aborts the whole upload; later writes and close() rethrow it.
        void this.abort(err);
        throw err;
      }
      if (this.#state === "open" || this.#state === "closing") this.#free.push(whole);
    });
  }

  #uploadWithRetry(index: number, data: Uint8Array): Promise<void> {
    return this.#withRetry(() => this.#sink.uploadPart(index, data, this.#ctl.signal));
  }

  async #withRetry<T>(fn: () => Promise<T>): Promise<T> {
    const signal = this.#ctl.signal;
    for (let attempt = 1;; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (signal.aborted || attempt >= this.#opts.partAttempts) throw err;
        if (!isStorageError(err) || !err.temporary) throw err;
        // Full jitter on 200 ms × 2^n: parts of one upload should not retry in lockstep.
        await sleep(Math.random() * 200 * 2 ** attempt, signal);
      }
    }
  }
}
