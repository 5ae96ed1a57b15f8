/**
 * The checkpoint runner, as BR's: the backup loop `append`s each finished sub-range with its
 * files; every flush interval (30 s) the ranges gathered so far go to storage as one data file
 * (`checkpoints/backup/data/*.cpt`, see `files.ts`), each group encrypted with the backup's
 * cipher. A crash therefore redoes at most one interval of work. Table checksums go through the
 * checksum runner. The first error (a failed write, a lost lock) is kept and returned by every
 * later call.
 *
 * Every write is preceded by the lock's fencing check, so a run whose lock was taken over fails
 * its next flush instead of writing.
 *
 * ```ts
 * const lock = await CheckpointLock.acquire(storage, { now: () => pd.getTs() });
 * const runner = CheckpointRunner.start(storage, { lock, cipher });
 * await runner.append(groupKey, range.startKey, range.endKey, files); // per finished range
 * // success:
 * await runner.stop();                                  // last flush; the lock is still held
 * await metaWriter.finish(fields, { beforeWrite: () => runner.assertHeld() });
 * await runner.waitForFinish({ removeCheckpointData: true });
 * // failure: await runner.waitForFinish();             // flushed, kept, lock released
 * ```
 * @module
 */
import { controlLane } from "../storage/lane.ts";
import { createHash } from "node:crypto";
import { type CipherInfo, encrypt, isEncrypting, randomIv } from "../crypto/cipher.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { log } from "../log.ts";
import { ChecksumRunner } from "./checksum.ts";
import { CheckpointError } from "./errors.ts";
import {
  type CheckpointRange,
  dataFileName,
  encodeCheckpointData,
  encodeRangeGroups,
  type FileInput,
  type RangeGroupData,
} from "./files.ts";
import type { CheckpointLock } from "./lock.ts";
import { removeCheckpointData } from "./meta.ts";
import { systemTimers, type Timers } from "./timers.ts";
import { metrics } from "../metrics.ts";

/** BR's flush interval: 30 s. */
export const FLUSH_INTERVAL_MS = 30_000;

/** Options of `CheckpointRunner.start`. */
export interface RunnerOptions {
  /** The lock this run holds; checked before every write and released by `waitForFinish`. */
  lock: CheckpointLock;
  /** The backup's cipher; groups are written in plaintext without one. */
  cipher?: CipherInfo;
  /** Flush interval, ms (default `FLUSH_INTERVAL_MS`). */
  flushIntervalMs?: number;
  /** Backup time of the earlier runs (from `walkCheckpointData` on resume), ms. */
  previousDureTimeMs?: number;
  /** Checksum flush threshold, seconds of accumulated cost (default 60). */
  checksumMaxCostS?: number;
  /** Checksum files written at once (default 4). */
  checksumConcurrency?: number;
  /** `append` waits while this many flushes are queued (default 2). */
  maxPendingFlushes?: number;
  /** Ticker and monotonic clock (tests). */
  timers?: Timers;
  /** Wall clock for the files' `flush-time`, ms since epoch (default `Date.now`). */
  wallClock?: () => number;
}

/** What the runner has done. */
export interface RunnerStats {
  /** Ranges appended. */
  appended: number;
  /** Ranges written to storage. */
  flushedRanges: number;
  /** Data files written. */
  dataFiles: number;
  /** Bytes of data files written. */
  dataBytes: number;
}

const ENCODER = new TextEncoder();

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** Buffers finished ranges and flushes them to checkpoint files on a ticker. */
export class CheckpointRunner {
  readonly #storage: ExternalStorage;
  readonly #lock: CheckpointLock;
  readonly #cipher: CipherInfo | undefined;
  readonly #timers: Timers;
  readonly #wallClock: () => number;
  readonly #startedAt: number;
  readonly #previousMs: number;
  readonly #maxPending: number;
  readonly #checksums: ChecksumRunner;
  #batch = new Map<string, CheckpointRange<FileInput>[]>();
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #error: unknown;
  #stopTicker: (() => void) | undefined;
  #stopping: Promise<void> | undefined;
  #stats: RunnerStats = { appended: 0, flushedRanges: 0, dataFiles: 0, dataBytes: 0 };

  private constructor(storage: ExternalStorage, opts: RunnerOptions) {
    storage = controlLane(storage);
    this.#storage = storage;
    this.#lock = opts.lock;
    this.#cipher = isEncrypting(opts.cipher) ? opts.cipher : undefined;
    this.#timers = opts.timers ?? systemTimers;
    this.#wallClock = opts.wallClock ?? Date.now;
    this.#startedAt = this.#timers.now();
    this.#previousMs = opts.previousDureTimeMs ?? 0;
    this.#maxPending = Math.max(1, opts.maxPendingFlushes ?? 2);
    this.#checksums = new ChecksumRunner(storage, {
      ...(opts.checksumMaxCostS === undefined ? {} : { maxTotalCostS: opts.checksumMaxCostS }),
      ...(opts.checksumConcurrency === undefined ? {} : { concurrency: opts.checksumConcurrency }),
      beforeWrite: () => this.#lock.assertHeld(),
    });
  }

  /** Starts a runner: the flush ticker runs until `stop`. */
  static start(storage: ExternalStorage, opts: RunnerOptions): CheckpointRunner {
    const runner = new CheckpointRunner(storage, opts);
    const every = opts.flushIntervalMs ?? FLUSH_INTERVAL_MS;
    if (!(every > 0)) throw new RangeError(`flush interval must be positive, got ${every}`);
    runner.#stopTicker = runner.#timers.every(every, () => runner.flush());
    return runner;
  }

  /** The first error, if any: every later call fails with it. */
  get error(): unknown {
    return this.#error ?? this.#lock.lost;
  }

  /** Counters so far. */
  get stats(): Readonly<RunnerStats> {
    return { ...this.#stats };
  }

  /** Backup time over every run so far, ms. */
  dureTimeMs(): number {
    return this.#previousMs + (this.#timers.now() - this.#startedAt);
  }

  #fail(err: unknown): void {
    if (this.#error !== undefined) return;
    this.#error = err;
    this.#checksums.recordError(err);
    log("checkpoint").error("checkpoint runner stopped: {error}", {
      error: (err as Error)?.message ?? String(err),
    });
  }

  #check(): void {
    if (this.#error === undefined && this.#lock.lost) this.#fail(this.#lock.lost);
    if (this.#error !== undefined) throw this.#error;
    if (this.#stopping) throw new CheckpointError("Closed", "the checkpoint runner is stopped");
  }

  /**
   * Records a finished sub-range of the group `groupKey` (the original range's key) with its
   * files. Do not change the arguments afterwards. Resolves at once unless flushes are backed
   * up; rejects with the first error.
   */
  append(
    groupKey: string,
    startKey: Uint8Array,
    endKey: Uint8Array,
    files: readonly FileInput[],
  ): Promise<void> {
    try {
      this.#check();
    } catch (err) {
      return Promise.reject(err);
    }
    let ranges = this.#batch.get(groupKey);
    if (!ranges) this.#batch.set(groupKey, ranges = []);
    ranges.push({ startKey, endKey, files: files as FileInput[] });
    this.#stats.appended++;
    if (this.#queued < this.#maxPending) return Promise.resolve();
    return this.#chain.then(() => {
      if (this.error !== undefined) throw this.error;
    });
  }

  /**
   * Records a table's checksum and the seconds computing it took (BR's `FlushChecksum`);
   * written in batches. Rejects with the first error.
   */
  flushChecksum(
    tableId: bigint,
    crc64xor: bigint,
    totalKvs: bigint,
    totalBytes: bigint,
    timeCostS: number,
  ): Promise<void> {
    try {
      this.#check();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#checksums.add({ tableId, crc64xor, totalKvs, totalBytes }, timeCostS);
  }

  /**
   * Writes the ranges appended so far now (the ticker calls this). Resolves when they are
   * written; never rejects (see `error`).
   */
  flush(): Promise<void> {
    if (this.#batch.size === 0 || this.#error !== undefined) return this.#chain;
    const batch = this.#batch;
    this.#batch = new Map();
    this.#queued++;
    this.#chain = this.#chain
      .then(() => this.#write(batch))
      .catch((err) => this.#fail(err))
      .finally(() => this.#queued--);
    return this.#chain;
  }

  async #write(batch: Map<string, CheckpointRange<FileInput>[]>): Promise<void> {
    if (this.#error !== undefined) return;
    const started = performance.now();
    const groups: RangeGroupData[] = [];
    let first: [string, Uint8Array] | undefined;
    let ranges = 0;
    for (const [groupKey, list] of batch) {
      if (list.length === 0) continue;
      first ??= [groupKey, list[0]!.startKey];
      const plain = ENCODER.encode(encodeRangeGroups(groupKey, list));
      const iv = this.#cipher ? randomIv() : new Uint8Array(0);
      groups.push({
        encrypted: this.#cipher ? encrypt(this.#cipher, iv, plain) : plain,
        checksum: sha256(plain),
        cipherIv: iv,
        size: plain.length,
        rangeCount: list.length,
        fileCount: list.reduce((n, r) => n + r.files.length, 0),
      });
      ranges += list.length;
    }
    if (!first) return;
    const data = ENCODER.encode(encodeCheckpointData({
      dureTimeNs: Math.round(this.dureTimeMs() * 1e6),
      flushTimeMs: this.#wallClock(),
      groups,
    }));
    const name = dataFileName(first[0], first[1]);
    await this.#lock.assertHeld();
    await this.#storage.writeFile(name, data);
    this.#stats.flushedRanges += ranges;
    this.#stats.dataFiles++;
    this.#stats.dataBytes += data.length;
    metrics.checkpointFlush();
    log("checkpoint").debug("flushed {ranges} ranges to {name} ({bytes} bytes, {ms} ms)", {
      ranges,
      name,
      bytes: data.length,
      ms: Math.round(performance.now() - started),
    });
  }

  /**
   * Fencing before a write outside the runner (`backupmeta`): throws unless this run still
   * holds the lock (see `CheckpointLock.assertHeld`), or the runner's first error.
   */
  async assertHeld(): Promise<void> {
    if (this.error !== undefined) throw this.error;
    await this.#lock.assertHeld();
  }

  /**
   * Stops taking ranges, writes what is buffered (ranges and checksums) and waits for every
   * write. The lock stays held and renewed. Idempotent; throws the first error.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopTicker?.();
      this.#stopTicker = undefined;
      await this.flush();
      try {
        await this.#checksums.finish();
      } catch (err) {
        this.#fail(err);
      }
      if (this.error !== undefined) throw this.error;
    })();
    return this.#stopping;
  }

  /**
   * Ends the run: `stop`, then, with `removeCheckpointData` (after a successful backup), deletes
   * the checkpoint files, and finally releases the lock. Without it (a failed backup), what was
   * flushed stays for the next run to resume from. Throws the first error (after releasing).
   */
  async waitForFinish(opts: { removeCheckpointData?: boolean } = {}): Promise<void> {
    let failure: unknown;
    try {
      await this.stop();
      if (opts.removeCheckpointData) {
        await this.#lock.assertHeld();
        await removeCheckpointData(this.#storage, { keepLock: true });
      }
    } catch (err) {
      failure = err;
    }
    try {
      await this.#lock.release();
    } catch (err) {
      log("checkpoint").warn("cannot release the checkpoint lock: {error}", {
        error: (err as Error).message,
      });
    }
    if (failure !== undefined) throw failure;
  }
}
