/**
 * Private: worker threads that build the stores' backup SST files, so a backup uses more than
 * one core: the main thread scans the MVCC engine and packs KVs into buffers that are handed
 * over (transferred, not copied) to a worker, which does the SST blocks, compression, SHA-256
 * and storage writes (`_sst_worker.ts`).
 *
 * A file is opened in its worker only when its first batch goes out, so an empty CF file never
 * exists, as with the in-thread writer. At most a few batches per file are in flight; `add`
 * waits when the worker falls behind. When workers cannot start (a runtime or binary without
 * worker support), `SstWorkerPool.start` returns undefined and the stores write in-thread.
 * @module
 */
import { Worker } from "node:worker_threads";
import { log } from "../../log.ts";
import type { MvccEntry } from "../mvcc.ts";
import { isCompiledBinary } from "../../runtime.ts";
import { mvccKeyLength, putMvccKey, putWriteValue, writeValueMaxLength } from "./_encode.ts";
import type { OpenMessage, WorkerIn, WorkerOut } from "./_sst_worker.ts";

/**
 * Where the worker's module is: beside this one when running from source; in a binary built
 * with `bun build --compile src/cli/main.ts src/playground/server/_sst_worker.ts`, under the
 * entry points' common root (`src/`), as JavaScript. Only the one that applies is tried: a
 * failed try prints a type-check error on Deno.
 */
function workerUrl(): URL | string {
  return isCompiledBinary()
    ? "/$bunfs/root/playground/server/_sst_worker.js"
    : new URL("./_sst_worker.ts", import.meta.url);
}

/** Starts one worker from `url` and waits for its `ready`. */
function startWorker(url: URL | string, timeoutMs: number): Promise<Worker> {
  return new Promise<Worker>((resolve, reject) => {
    let w: Worker;
    try {
      w = new Worker(url);
    } catch (err) {
      return reject(err);
    }
    const timer = setTimeout(() => {
      void w.terminate();
      reject(new Error(`the SST worker at ${url} did not start in ${timeoutMs} ms`));
    }, timeoutMs);
    w.once("message", () => {
      clearTimeout(timer);
      resolve(w);
    });
    w.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    w.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the SST worker at ${url} exited with code ${code}`));
    });
  });
}

/** Bytes packed before a batch goes to the worker. */
const BATCH_BYTES = 256 * 1024;
/** A file's first pack; it doubles up to a batch, so a file of a few KVs costs a few KB. */
const FIRST_PACK = 4096;
/** A full pack: a batch and room for the entry that crosses it. */
const FULL_PACK = BATCH_BYTES + 4096;
/** Batches of one file in flight before `add` waits for the worker. */
const MAX_IN_FLIGHT = 3;

/** What a file needs besides its data (the open message without ids). */
export type RemoteFileSpec = Omit<OpenMessage, "type" | "file" | "request">;

/** The result of a finished file. */
export interface RemoteFileResult {
  size: number;
  sha256: Uint8Array;
}

/** A file being built in a worker; the same calls as the in-thread writer. */
export class RemoteSstFile {
  entries = 0;
  #buf = new Uint8Array(FIRST_PACK);
  #dv = new DataView(this.#buf.buffer);
  #pos = 0;
  /** The size of the pack after a send: a file that filled one batch likely fills more. */
  #nextPack = FIRST_PACK;
  #opened = false;
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  #error: Error | undefined;
  #done: { resolve: (r: RemoteFileResult) => void; reject: (e: Error) => void } | undefined;
  #closed = false;

  constructor(
    readonly pool: SstWorkerPool,
    readonly worker: Worker,
    readonly id: number,
    readonly request: number,
    readonly spec: RemoteFileSpec,
    /** Called before the first batch leaves; may throw to fail the file (injected faults). */
    readonly beforeFirstWrite: () => void,
  ) {}

  /** Room for `n` more bytes in the pack, sending the current one first when needed. */
  async #reserve(n: number): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#pos + n <= this.#buf.length) return;
    if (this.#pos + n <= FULL_PACK) {
      // Grow the pack rather than send it: a small file still goes in one batch.
      const len = this.#buf.length;
      const grown = new Uint8Array(
        Math.min(FULL_PACK, Math.max(len * 2, this.#pos + n, len === 0 ? this.#nextPack : 0)),
      );
      grown.set(this.#buf.subarray(0, this.#pos));
      this.#buf = grown;
      this.#dv = new DataView(grown.buffer);
      return;
    }
    if (this.#pos > 0) await this.#send();
    if (n > this.#buf.length) {
      this.#buf = new Uint8Array(Math.max(n, this.#nextPack));
      this.#dv = new DataView(this.#buf.buffer);
    }
  }

  #header(kl: number, vl: number): void {
    this.#dv.setUint32(this.#pos, kl, true);
    this.#dv.setUint32(this.#pos + 4, vl, true);
    this.#pos += 8;
  }

  #afterEntry(): Promise<void> | undefined {
    this.entries++;
    return this.#pos >= BATCH_BYTES ? this.#send() : undefined;
  }

  /** Adds a KV as given. */
  async add(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.#reserve(8 + key.length + value.length);
    this.#header(key.length, value.length);
    this.#buf.set(key, this.#pos);
    this.#pos += key.length;
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
    await this.#afterEntry();
  }

  /** Adds an entry's write-CF KV (commit ts key, write record), encoded in place. */
  async addWrite(e: MvccEntry): Promise<void> {
    const kl = mvccKeyLength(e.key);
    await this.#reserve(8 + kl + writeValueMaxLength(e));
    const at = this.#pos;
    this.#pos += 8;
    this.#pos = putMvccKey(this.#buf, this.#pos, e.key, e.commitTs);
    const v = this.#pos;
    this.#pos = putWriteValue(this.#buf, this.#pos, e);
    this.#dv.setUint32(at, kl, true);
    this.#dv.setUint32(at + 4, this.#pos - v, true);
    await this.#afterEntry();
  }

  /** Adds an entry's default-CF KV (start ts key, the value), encoded in place. */
  async addDefault(e: MvccEntry): Promise<void> {
    const kl = mvccKeyLength(e.key);
    await this.#reserve(8 + kl + e.value.length);
    this.#header(kl, e.value.length);
    this.#pos = putMvccKey(this.#buf, this.#pos, e.key, e.startTs);
    this.#buf.set(e.value, this.#pos);
    this.#pos += e.value.length;
    await this.#afterEntry();
  }

  /** Adds a raw-KV entry: `z + key` → value. */
  async addRaw(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.#reserve(9 + key.length + value.length);
    this.#header(1 + key.length, value.length);
    this.#buf[this.#pos++] = 0x7a;
    this.#buf.set(key, this.#pos);
    this.#pos += key.length;
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
    await this.#afterEntry();
  }

  #post(m: WorkerIn, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(m, transfer);
  }

  async #send(): Promise<void> {
    if (!this.#opened) {
      this.beforeFirstWrite();
      this.#opened = true;
      this.#post({ type: "open", file: this.id, request: this.request, ...this.spec });
    }
    const buf = this.#buf.buffer as ArrayBuffer;
    const len = this.#pos;
    // The next pack is made when an entry needs it: the last send of a file makes none.
    this.#nextPack = len >= BATCH_BYTES ? FULL_PACK : FIRST_PACK;
    this.#buf = new Uint8Array(0);
    this.#dv = new DataView(this.#buf.buffer);
    this.#pos = 0;
    this.#inFlight++;
    this.#post({ type: "add", file: this.id, buf, len }, [buf]);
    while (this.#inFlight >= MAX_IN_FLIGHT && !this.#error) {
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    if (this.#error) throw this.#error;
  }

  /** Sends what is left and waits for the file's size and SHA-256. */
  async finish(): Promise<RemoteFileResult> {
    if (this.#pos > 0 || !this.#opened) await this.#send();
    if (this.#error) throw this.#error;
    const done = new Promise<RemoteFileResult>((resolve, reject) => {
      this.#done = { resolve, reject };
    });
    this.#post({ type: "finish", file: this.id });
    try {
      return await done;
    } finally {
      this.#close();
    }
  }

  /** Gives the file up; the worker removes what it wrote. Idempotent. */
  abort(): Promise<void> {
    if (!this.#closed) {
      if (this.#opened) this.#post({ type: "abort", file: this.id });
      this.#close();
    }
    return Promise.resolve();
  }

  #close(): void {
    this.#closed = true;
    this.pool.forget(this.id);
  }

  /** Handles the worker's answer about this file. */
  onMessage(m: WorkerOut): void {
    switch (m.type) {
      case "ack":
        this.#inFlight--;
        this.#waiters.shift()?.();
        return;
      case "done":
        this.#done?.resolve({ size: m.size, sha256: m.sha256 });
        return;
      case "error":
        this.#error = new Error(m.message);
        for (const w of this.#waiters.splice(0)) w();
        this.#done?.reject(this.#error);
        return;
    }
  }
}

/** Worker threads that build backup SST files. */
export class SstWorkerPool {
  #workers: Worker[];
  /** The workers that got files of each running request (only they hold its storage). */
  readonly #requestWorkers = new Map<number, Set<Worker>>();
  #next = 0;
  #files = new Map<number, RemoteSstFile>();
  #fileSeq = 0;
  #requestSeq = 0;
  #broken = false;

  private constructor(workers: Worker[]) {
    this.#workers = workers;
    for (const w of workers) {
      w.on("message", (m: WorkerOut) => {
        if (m.type !== "ready") this.#files.get(m.file)?.onMessage(m);
      });
      w.on("error", (err) => {
        // A worker that died fails its files; later regions are written in-thread.
        this.#broken = true;
        log("playground", "backup").warn("SST worker failed: {err}; writing in-thread", {
          err: String(err),
        });
        for (const f of this.#files.values()) {
          if (f.worker === w) f.onMessage({ type: "error", file: f.id, message: String(err) });
        }
      });
      w.unref();
    }
  }

  /**
   * Starts `n` workers and waits until each has loaded; undefined when worker threads are
   * unavailable or a worker fails to start within `timeoutMs`.
   */
  static async start(n: number, timeoutMs = 30_000): Promise<SstWorkerPool | undefined> {
    if (n <= 0) return undefined;
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < n; i++) workers.push(await startWorker(workerUrl(), timeoutMs));
      return new SstWorkerPool(workers);
    } catch (err) {
      await Promise.all(workers.splice(0).map((w) => w.terminate().catch(() => 0)));
      log("playground", "backup").info(
        "SST worker threads unavailable ({err}); stores build backup files in-thread",
        { err: String(err) },
      );
      return undefined;
    }
  }

  /** Whether files can go to the workers. */
  get usable(): boolean {
    return !this.#broken;
  }

  /** A new request id (its storage is opened once per worker and closed by `endRequest`). */
  newRequest(): number {
    return ++this.#requestSeq;
  }

  /** Tells the workers that built files of the request that it is over. */
  endRequest(request: number): void {
    const workers = this.#requestWorkers.get(request);
    this.#requestWorkers.delete(request);
    for (const w of workers ?? []) w.postMessage({ type: "end", request } satisfies WorkerIn);
  }

  /** A file built by the next worker in turn. */
  open(request: number, spec: RemoteFileSpec, beforeFirstWrite: () => void): RemoteSstFile {
    const worker = this.#workers[this.#next++ % this.#workers.length]!;
    let workers = this.#requestWorkers.get(request);
    if (!workers) this.#requestWorkers.set(request, workers = new Set());
    workers.add(worker);
    const f = new RemoteSstFile(this, worker, ++this.#fileSeq, request, spec, beforeFirstWrite);
    this.#files.set(f.id, f);
    return f;
  }

  /** Drops a finished or aborted file. */
  forget(id: number): void {
    this.#files.delete(id);
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
