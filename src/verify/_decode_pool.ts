/**
 * Private: worker threads that decode data files for `verify --level data` while the main
 * thread reads and hashes the next ones. File bytes are transferred, not copied. When workers
 * cannot start (a runtime or binary without worker support), `DecodePool.start` returns
 * undefined and the caller decodes in-thread.
 * @module
 */
import { Worker } from "node:worker_threads";
import type { CipherInfo } from "../crypto/cipher.ts";
import { log } from "../log.ts";
import { isCompiledBinary } from "../runtime.ts";
import { SstError, type SstErrorCode } from "../sst/errors.ts";
import type { DecodedPair, StoredBytes } from "./_decode.ts";

/** A request to a worker. */
export interface DecodeRequest {
  id: number;
  write: StoredBytes;
  default?: StoredBytes;
  start: Uint8Array;
  end: Uint8Array;
  cipher?: CipherInfo;
}

/**
 * A request as posted: file bytes as bare ArrayBuffers, which move cheaply; typed arrays inside
 * a transferred message were cloned byte by byte on Deno (seconds per file).
 */
export interface PostedRequest extends Omit<DecodeRequest, "write" | "default"> {
  write: Omit<StoredBytes, "bytes"> & { buf: ArrayBuffer };
  default?: Omit<StoredBytes, "bytes"> & { buf: ArrayBuffer };
}

/** A worker's answer. */
export interface DecodeResponse {
  id: number;
  result?: DecodedPair;
  error?: { sst: boolean; code: string; file: string | undefined; message: string };
}

/**
 * Where the worker's module is: in a binary built with it as a further entry point (see
 * scripts/build.ts), in Bun's embedded file system under the entry points' common root (`src/`);
 * from source, beside this module. Only the one that applies is tried: a failed try prints an
 * error on Deno.
 */
function workerUrl(): URL | string {
  return isCompiledBinary()
    ? "/$bunfs/root/verify/_decode_worker.js"
    : new URL("./_decode_worker.ts", import.meta.url);
}

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
      reject(new Error(`the decode worker at ${url} did not start in ${timeoutMs} ms`));
    }, timeoutMs);
    w.once("message", () => {
      clearTimeout(timer);
      w.removeAllListeners("error");
      w.removeAllListeners("exit");
      resolve(w);
    });
    w.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    w.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the decode worker at ${url} exited with code ${code}`));
    });
  });
}

interface Slot {
  worker: Worker;
  busy: number;
}

/** A few decode workers; requests go to the least busy. */
export class DecodePool {
  readonly #slots: Slot[];
  readonly #pending = new Map<
    number,
    { resolve: (r: DecodedPair) => void; reject: (e: Error) => void; slot: Slot }
  >();
  #next = 0;

  private constructor(workers: Worker[]) {
    this.#slots = workers.map((worker) => ({ worker, busy: 0 }));
    for (const s of this.#slots) {
      s.worker.on("message", (m: DecodeResponse) => this.#answer(m));
      s.worker.on("error", (err: unknown) => this.#failAll(s, err as Error));
      s.worker.on("exit", (code) => this.#failAll(s, new Error(`decode worker exited (${code})`)));
    }
  }

  /** Starts `n` workers, or returns undefined when workers cannot run here. */
  static async start(n: number): Promise<DecodePool | undefined> {
    for (const url of [workerUrl()]) {
      try {
        const first = await startWorker(url, 10_000);
        const rest = await Promise.all(
          Array.from({ length: n - 1 }, () => startWorker(url, 10_000)),
        );
        return new DecodePool([first, ...rest]);
      } catch (err) {
        // Try the next location; none means in-thread decoding.
        log("verify").debug("no decode worker from {url}: {error}", {
          url: String(url),
          error: (err as Error).message,
        });
      }
    }
    return undefined;
  }

  /** Decodes a range's files in a worker; their bytes are transferred (unusable afterwards). */
  decode(req: Omit<DecodeRequest, "id">): Promise<DecodedPair> {
    const slot = this.#slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = ++this.#next;
    const transfer: ArrayBuffer[] = [];
    const own = (f: StoredBytes) => {
      let bytes = f.bytes;
      // Only a buffer the bytes fill alone can move; a view into a shared one is copied.
      if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) {
        bytes = bytes.slice();
      }
      const buf = bytes.buffer as ArrayBuffer;
      transfer.push(buf);
      return { name: f.name, iv: f.iv, buf };
    };
    const msg: PostedRequest = {
      id,
      start: req.start,
      end: req.end,
      ...(req.cipher ? { cipher: req.cipher } : {}),
      write: own(req.write),
      ...(req.default ? { default: own(req.default) } : {}),
    };
    return new Promise<DecodedPair>((resolve, reject) => {
      slot.busy++;
      this.#pending.set(id, { resolve, reject, slot });
      slot.worker.postMessage(msg, transfer);
    });
  }

  #answer(m: DecodeResponse): void {
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    p.slot.busy--;
    if (m.result) return p.resolve(m.result);
    const e = m.error!;
    if (!e.sst) return p.reject(new Error(e.message));
    const err = new SstError(e.code as SstErrorCode, "", e.file ? { file: e.file } : {});
    // The worker's message already names file and offset.
    Object.defineProperty(err, "message", { value: e.message });
    p.reject(err);
  }

  #failAll(slot: Slot, err: Error): void {
    for (const [id, p] of this.#pending) {
      if (p.slot !== slot) continue;
      this.#pending.delete(id);
      p.reject(err);
    }
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.#slots.map((s) => {
      s.worker.removeAllListeners("exit");
      return s.worker.terminate();
    }));
  }
}
