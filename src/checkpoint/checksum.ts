/**
 * The checksum runner: per-table checksums of a backup kept in memory and written to
 * `checkpoints/backup/checksum/` once the time spent computing them passes a threshold (60 s by
 * default, as BR), by at most 4 writes at a time. A resumed backup reuses the tables found there
 * instead of checksumming them again.
 * @module
 */
import { controlLane } from "../storage/lane.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { log } from "../log.ts";
import { Pool } from "../pool.ts";
import { checksumFileName, type ChecksumItem, encodeChecksumFile } from "./files.ts";

/** BR's threshold of accumulated checksum time before a flush, seconds. */
export const MAX_CHECKSUM_TOTAL_COST_S = 60;
/** Checksum files written at once. */
export const CHECKSUM_WRITERS = 4;

/** Options of `ChecksumRunner`. */
export interface ChecksumRunnerOptions {
  /** Flush once the accumulated cost passes this many seconds (default 60). */
  maxTotalCostS?: number;
  /** Writes at once (default 4). */
  concurrency?: number;
  /** Called before each write; throwing fails it (the lock's fencing check). */
  beforeWrite?: () => Promise<void>;
}

/** Accumulates table checksums and flushes them in batches. */
export class ChecksumRunner {
  readonly #storage: ExternalStorage;
  readonly #maxCost: number;
  readonly #beforeWrite: (() => Promise<void>) | undefined;
  #items: ChecksumItem[] = [];
  #cost = 0;
  #error: unknown;
  /** The writes; the first failure stops the ones not yet started. */
  readonly #writes: Pool;
  /** Batches handed to the pool and not yet started (waiting for a slot). */
  readonly #queued = new Set<Promise<void>>();

  constructor(storage: ExternalStorage, opts: ChecksumRunnerOptions = {}) {
    this.#storage = controlLane(storage);
    this.#maxCost = opts.maxTotalCostS ?? MAX_CHECKSUM_TOTAL_COST_S;
    this.#writes = new Pool({ concurrency: opts.concurrency ?? CHECKSUM_WRITERS });
    this.#beforeWrite = opts.beforeWrite;
  }

  /** The first error of a write, if any. */
  get error(): unknown {
    return this.#error;
  }

  /** Makes every later call fail with `err` (the checkpoint runner's first error). */
  recordError(err: unknown): void {
    this.#error ??= err;
  }

  /**
   * Records one table's checksum and the seconds it took; starts a flush of the batch when the
   * batch's total passes the threshold. Rejects with the first error of an earlier write.
   */
  add(item: ChecksumItem, timeCostS: number): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    this.#items.push(item);
    this.#cost += timeCostS;
    if (this.#cost > this.#maxCost) this.#flushBatch();
    return Promise.resolve();
  }

  /** Items not yet handed to a write. */
  get buffered(): number {
    return this.#items.length;
  }

  #flushBatch(): void {
    if (this.#items.length === 0) return;
    const items = this.#items;
    this.#items = [];
    this.#cost = 0;
    const p = this.#writes.submit(() =>
      this.#write(items).catch((err) => {
        this.recordError(err);
        log("checkpoint").error("cannot write table checksums to the checkpoint: {error}", {
          error: (err as Error).message,
        });
        throw err;
      })
    ).catch(() => {
      // Not started: an earlier write failed, and its error is the one reported.
    });
    this.#queued.add(p);
    void p.finally(() => this.#queued.delete(p));
  }

  async #write(items: ChecksumItem[]): Promise<void> {
    if (this.#error !== undefined) return;
    await this.#beforeWrite?.();
    const name = checksumFileName(items[items.length - 1]!.tableId);
    await this.#storage.writeFile(name, new TextEncoder().encode(encodeChecksumFile(items)));
    log("checkpoint").debug("wrote {n} table checksums to {name}", { n: items.length, name });
  }

  /**
   * Flushes what is buffered (whatever its cost) and waits for every write. Throws the first
   * error.
   */
  async finish(): Promise<void> {
    if (this.#error === undefined) this.#flushBatch();
    while (this.#queued.size > 0) await Promise.all([...this.#queued]);
    await this.#writes.settled();
    if (this.#error !== undefined) throw this.#error;
  }
}
