/**
 * The outermost layer: counts calls, failures, bytes and time per operation, and logs each call
 * at debug level. It sits outside retry, so one logical call counts once however many attempts
 * it took (the retry layer logs attempts itself).
 * @module
 */
import { isStorageError } from "./errors.ts";
import { ForwardingStorage, mapReader, pullThrough, type StorageOp } from "./_forward.ts";
import { log } from "../log.ts";
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
import { metrics as processMetrics } from "../metrics.ts";

/** Counters for one operation. */
export interface OpMetrics {
  /** Calls made. */
  calls: number;
  /** Calls that failed. */
  errors: number;
  /** Bytes sent to storage. */
  bytesWritten: number;
  /** Bytes received from storage. */
  bytesRead: number;
  /** Sum of call durations, ms. */
  totalMs: number;
  /** Longest call, ms. */
  maxMs: number;
}

/** Per-operation counters shared by every storage wrapped with it. */
export class StorageMetrics {
  readonly #ops = new Map<string, OpMetrics>();

  /** The counters of `op`, created on first use. */
  op(op: StorageOp): OpMetrics {
    let m = this.#ops.get(op);
    if (!m) {
      m = { calls: 0, errors: 0, bytesWritten: 0, bytesRead: 0, totalMs: 0, maxMs: 0 };
      this.#ops.set(op, m);
    }
    return m;
  }

  /** A copy of every counter, keyed by operation. */
  snapshot(): Record<string, OpMetrics> {
    return Object.fromEntries([...this.#ops].map(([k, v]) => [k, { ...v }]));
  }

  /** Totals over all operations. */
  totals(): OpMetrics {
    const t: OpMetrics = {
      calls: 0,
      errors: 0,
      bytesWritten: 0,
      bytesRead: 0,
      totalMs: 0,
      maxMs: 0,
    };
    for (const m of this.#ops.values()) {
      t.calls += m.calls;
      t.errors += m.errors;
      t.bytesWritten += m.bytesWritten;
      t.bytesRead += m.bytesRead;
      t.totalMs += m.totalMs;
      t.maxMs = Math.max(t.maxMs, m.maxMs);
    }
    return t;
  }
}

const logger = log("storage");

/** Wraps `inner` so every call is counted in `metrics` and logged at debug level. */
export function withMetrics(inner: ExternalStorage, metrics: StorageMetrics): ExternalStorage {
  return new MeteredStorage(inner, metrics);
}

class MeteredStorage extends ForwardingStorage {
  /** The plugin label of the process metrics: the URI's scheme. */
  readonly #plugin: string;

  constructor(inner: ExternalStorage, private readonly metrics: StorageMetrics) {
    super(inner);
    this.#plugin = /^([a-z][a-z0-9+.-]*):/i.exec(inner.uri())?.[1] ?? "unknown";
  }

  async #time<T>(
    op: StorageOp,
    name: string | undefined,
    call: () => Promise<T>,
    bytes?: (r: T) => { written?: number; read?: number },
  ): Promise<T> {
    const m = this.metrics.op(op);
    m.calls++;
    const t0 = performance.now();
    let b: { written?: number; read?: number } | undefined;
    try {
      const r = await call();
      b = bytes?.(r);
      m.bytesWritten += b?.written ?? 0;
      m.bytesRead += b?.read ?? 0;
      return r;
    } catch (err) {
      m.errors++;
      logger.debug("{op} {name} failed: {error}", {
        op,
        name: name ?? "",
        code: isStorageError(err) ? err.code : "",
        error: err instanceof Error ? err.message : String(err),
      });
      throw err;
    } finally {
      const ms = performance.now() - t0;
      m.totalMs += ms;
      m.maxMs = Math.max(m.maxMs, ms);
      processMetrics.storage(this.#plugin, op, ms / 1000, b?.read ?? 0, b?.written ?? 0);
      logger.debug("{op} {name} in {ms} ms", { op, name: name ?? "", ms: Math.round(ms) });
    }
  }

  override writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    return this.#time(
      "writeFile",
      name,
      () => this.inner.writeFile(name, data, opts),
      () => ({ written: data.length }),
    );
  }
  override readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    return this.#time("readFile", name, () => this.inner.readFile(name, opts), (d) => ({
      read: d.length,
    }));
  }
  override fileExists(name: string, opts?: CallOptions): Promise<boolean> {
    return this.#time("fileExists", name, () => this.inner.fileExists(name, opts));
  }
  override stat(name: string, opts?: CallOptions): Promise<ObjectStat> {
    return this.#time("stat", name, () => this.inner.stat(name, opts));
  }
  override deleteFile(name: string, opts?: CallOptions): Promise<void> {
    return this.#time("deleteFile", name, () => this.inner.deleteFile(name, opts));
  }
  override deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    return this.#time(
      "deleteFiles",
      `${names.length} names`,
      () => this.inner.deleteFiles(names, opts),
    );
  }
  override walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
    return this.#time("walkDir", opts.subDir ?? "", () => this.inner.walkDir(opts, fn));
  }
  override rename(from: string, to: string, opts?: CallOptions): Promise<void> {
    return this.#time("rename", `${from} -> ${to}`, () => this.inner.rename(from, to, opts));
  }
  override async open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    const reader = await this.#time("open", name, () => this.inner.open(name, opts));
    const m = this.metrics.op("reader.read");
    const stream = pullThrough(reader.stream, async (read) => {
      m.calls++;
      try {
        const r = await read();
        if (!r.done) {
          m.bytesRead += r.value.length;
          processMetrics.storageBytes(this.#plugin, r.value.length, 0);
        }
        return r;
      } catch (err) {
        m.errors++;
        throw err;
      }
    });
    return mapReader(reader, stream);
  }
  override async create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    const writer = await this.#time("create", name, () => this.inner.create(name, opts));
    return {
      write: (chunk) =>
        this.#time("writer.write", name, () => writer.write(chunk), () => ({
          written: chunk.length,
        })),
      close: () => this.#time("writer.close", name, () => writer.close()),
      abort: (reason) => writer.abort(reason),
    };
  }
}
