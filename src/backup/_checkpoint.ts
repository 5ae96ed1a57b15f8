/**
 * The backup task's side of the checkpoint (src/checkpoint/): takes the lock, resumes or starts
 * the checkpoint, hands the backup loop the ranges earlier runs finished, records each finished
 * region and table checksum, and at the end either removes the checkpoint (success) or leaves it
 * flushed for the next run (failure). The order of writes keeps the storage resumable at every
 * point: `checkpoint.meta` before `backup.lock`, `backupmeta` only after the last flush and a
 * fencing check.
 * @module
 */
import { randomUUID } from "node:crypto";
import { hex } from "../codec/bytes.ts";
import type { CipherInfo } from "../crypto/cipher.ts";
import type { BackupResponse } from "../gen/brpb_pb.ts";
import {
  type BackupConfig as CheckpointConfig,
  checkCipher,
  checkConfig,
  CheckpointError,
  CheckpointLock,
  CheckpointRunner,
  type ChecksumItem,
  loadCheckpointMeta,
  newCheckpointMeta,
  removeCheckpointData,
  resumeCheckpoint,
  startCheckpoint,
} from "../checkpoint/mod.ts";
import { log } from "../log.ts";
import type { PdClient } from "../pd/client.ts";
import type { ExternalStorage } from "../storage/types.ts";
import type { TableChecksum } from "./metawriter.ts";
import { type KeyRange, RangeTree } from "./rangetree.ts";

/** What a run starts from: the checkpoint's backup ts and GC service id, or fresh ones. */
export interface CheckpointStart {
  /** Set when resuming: the earlier runs' backup ts. */
  backupTs?: bigint;
  gcServiceId: string;
  /** Backup time of the earlier runs, ms. */
  previousMs: number;
}

/** Options of `BackupCheckpoint.open`. */
export interface CheckpointOptions {
  config: CheckpointConfig;
  cipher?: CipherInfo;
  /** Flush interval, ms (default 30 s). */
  flushIntervalMs?: number;
  signal?: AbortSignal;
}

/** The group key of a top-level range: its start key in hex (unique among a plan's ranges). */
export function groupKeyOf(range: KeyRange): string {
  return hex(range.startKey);
}

/**
 * When `backupmeta` exists beside a checkpoint of the same backup, an earlier run was killed
 * after writing `backupmeta` but before removing its checkpoint: the backup is complete. Removes
 * the leftover checkpoint under the lock and returns true; false when there is no checkpoint
 * (the storage holds some other finished backup). Throws `ConfigMismatch` or `WrongKey` when the
 * checkpoint belongs to a backup with other options.
 */
export async function finishLeftover(
  storage: ExternalStorage,
  pd: PdClient,
  opts: CheckpointOptions,
): Promise<boolean> {
  const meta = await loadCheckpointMeta(storage, opts.signal);
  if (!meta) return false;
  checkConfig(storage, meta, opts.config);
  checkCipher(storage, meta, opts.cipher);
  const lock = await CheckpointLock.acquire(storage, { now: () => pd.getTS() });
  try {
    await lock.assertHeld();
    const n = await removeCheckpointData(storage, { keepLock: true, signal: opts.signal });
    log("backup").info(
      "{uri} holds this backup, finished by an earlier run; removed its {n} checkpoint files",
      { uri: storage.uri(), n },
    );
  } finally {
    await lock.release();
  }
  return true;
}

/** One backup run's checkpoint. */
export class BackupCheckpoint {
  readonly #storage: ExternalStorage;
  readonly #lock: CheckpointLock;
  readonly #opts: CheckpointOptions;
  readonly #done = new Map<string, RangeTree>();
  #checksums = new Map<bigint, ChecksumItem>();
  #resumed = false;
  #resumedRanges = 0;
  #runner: CheckpointRunner | undefined;
  #start: CheckpointStart = { gcServiceId: `br-${randomUUID()}`, previousMs: 0 };

  private constructor(storage: ExternalStorage, lock: CheckpointLock, opts: CheckpointOptions) {
    this.#storage = storage;
    this.#lock = lock;
    this.#opts = opts;
  }

  /**
   * Takes the checkpoint lock and reads back an existing checkpoint (config and key checked);
   * throws `LockHeld`, `ConfigMismatch`, `WrongKey` as one-line errors.
   */
  static async open(
    storage: ExternalStorage,
    pd: PdClient,
    opts: CheckpointOptions,
  ): Promise<BackupCheckpoint> {
    const lock = await CheckpointLock.acquire(storage, { now: () => pd.getTS() });
    const cp = new BackupCheckpoint(storage, lock, opts);
    try {
      const resumed = await resumeCheckpoint(storage, {
        config: opts.config,
        ...(opts.cipher ? { cipher: opts.cipher } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      }, (groupKey, range) => {
        let tree = cp.#done.get(groupKey);
        if (!tree) cp.#done.set(groupKey, tree = new RangeTree());
        tree.put(range.startKey, range.endKey, range.files);
      });
      if (resumed) {
        cp.#resumed = true;
        cp.#resumedRanges = resumed.walk.ranges;
        cp.#checksums = resumed.checksums;
        cp.#start = {
          backupTs: resumed.meta.backupTs,
          gcServiceId: resumed.meta.gcServiceId,
          previousMs: resumed.walk.dureTimeMs,
        };
        log("backup").info(
          "resuming the checkpoint at {uri}: backup ts {ts}, {ranges} ranges done ({skipped} " +
            "groups skipped as corrupt)",
          {
            uri: storage.uri(),
            ts: String(resumed.meta.backupTs),
            ranges: resumed.walk.ranges,
            skipped: resumed.walk.skippedGroups,
          },
        );
      }
    } catch (err) {
      await lock.release().catch(() => {});
      throw err;
    }
    return cp;
  }

  /** Whether an earlier run's checkpoint is being resumed. */
  get resumed(): boolean {
    return this.#resumed;
  }

  /** Ranges loaded from the checkpoint. */
  get resumedRanges(): number {
    return this.#resumedRanges;
  }

  /** Backup ts (when resuming), GC service id and earlier runs' time. */
  get start(): CheckpointStart {
    return this.#start;
  }

  /**
   * Writes `checkpoint.meta` for a fresh backup (removing what an abandoned checkpoint left) and
   * starts the flush runner. A resumed backup only starts the runner.
   */
  async begin(backupTs: bigint, ranges: readonly KeyRange[]): Promise<void> {
    if (!this.#resumed) {
      await startCheckpoint(
        this.#storage,
        newCheckpointMeta({
          gcServiceId: this.#start.gcServiceId,
          backupTs,
          ranges,
          config: this.#opts.config,
          ...(this.#opts.cipher ? { cipher: this.#opts.cipher } : {}),
        }),
        this.#lock,
      );
    }
    this.#runner = CheckpointRunner.start(this.#storage, {
      lock: this.#lock,
      ...(this.#opts.cipher ? { cipher: this.#opts.cipher } : {}),
      ...(this.#opts.flushIntervalMs ? { flushIntervalMs: this.#opts.flushIntervalMs } : {}),
      previousDureTimeMs: this.#start.previousMs,
    });
  }

  /** The tree of what earlier runs finished of `range` (empty when nothing). */
  doneTree(range: KeyRange): RangeTree {
    const key = groupKeyOf(range);
    let tree = this.#done.get(key);
    if (!tree) this.#done.set(key, tree = new RangeTree());
    return tree;
  }

  /** Records a region the stores finished (for the next flush). */
  record(range: KeyRange, resp: BackupResponse): void {
    // Failures surface through `check()`, after each range.
    this.#runner?.append(groupKeyOf(range), resp.startKey, resp.endKey, resp.files).catch(() => {});
  }

  /** Throws the runner's first error (a failed flush, a lost lock). */
  check(): void {
    const err = this.#runner?.error;
    if (err !== undefined) throw err;
  }

  /** A table's cluster checksum saved by an earlier run. */
  savedChecksum(tableId: bigint): TableChecksum | undefined {
    const c = this.#checksums.get(tableId);
    return c && { crc64xor: c.crc64xor, totalKvs: c.totalKvs, totalBytes: c.totalBytes };
  }

  /** Saves a table's cluster checksum, so a resumed run need not compute it again. */
  async saveChecksum(tableId: bigint, sum: TableChecksum, seconds: number): Promise<void> {
    await this.#runner?.flushChecksum(
      tableId,
      sum.crc64xor,
      sum.totalKvs,
      sum.totalBytes,
      seconds,
    );
  }

  /** Backup time of every run so far, ms. */
  dureTimeMs(sinceMs: number): number {
    return Math.round(this.#start.previousMs + (Date.now() - sinceMs));
  }

  /** Last flush before `backupmeta`; the lock stays held. */
  async flush(): Promise<void> {
    await this.#runner?.stop();
  }

  /** Fencing check before `backupmeta`. */
  assertHeld(): Promise<void> {
    return this.#runner ? this.#runner.assertHeld() : this.#lock.assertHeld();
  }

  /** After `backupmeta`: removes the checkpoint and releases the lock. */
  async complete(): Promise<void> {
    if (this.#runner) await this.#runner.waitForFinish({ removeCheckpointData: true });
    else await this.#lock.release();
  }

  /**
   * After a failure: flushes what was finished, keeps the checkpoint and releases the lock.
   * Never throws (the backup's own error is what the user needs).
   */
  async abandon(): Promise<void> {
    try {
      if (this.#runner) await this.#runner.waitForFinish();
      else await this.#lock.release();
    } catch (err) {
      if (!(err instanceof CheckpointError && err.code === "LockLost")) {
        log("backup").warn("could not save the checkpoint at the end: {error}", {
          error: (err as Error).message,
        });
      }
    }
  }
}
