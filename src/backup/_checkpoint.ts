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
import { BACKUP_META_FILE, type TableChecksum } from "./metawriter.ts";
import { MetaReader } from "./metareader.ts";
import { fileProblem, StoredFiles } from "./files_check.ts";
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
  /** On resume, also compare each checkpointed file's sha256 (`--verify-files`). */
  verifyFiles?: boolean;
  signal?: AbortSignal;
}

/** How long the last checkpoint save of a failed or interrupted run may take, ms. */
export const FINAL_SAVE_MS = 15_000;

/** What `abandon` saved. */
export interface SavedCheckpoint {
  /** Whether the checkpoint was flushed (false: the save failed or timed out). */
  saved: boolean;
  /** Ranges the checkpoint holds, earlier runs' included. */
  ranges: number;
}

/**
 * PD time for the lock. Once the run is stopped (its signal fired), the last save still needs PD
 * time for its fencing checks: `final` then carries that save's own deadline.
 */
class LockClock {
  final: AbortSignal | undefined;
  constructor(readonly pd: PdClient) {}
  now = (): Promise<bigint> => this.pd.getTS(this.final);
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
  // Only a readable backupmeta of this very backup (same backup ts) makes the checkpoint a
  // leftover; anything else keeps it, so the backup can still be resumed.
  let endVersion: bigint;
  try {
    const reader = await MetaReader.open(storage, {
      ...(opts.cipher ? { cipher: opts.cipher } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    endVersion = reader.meta.endVersion;
  } catch (err) {
    throw new CheckpointError(
      "Corrupt",
      `${storage.uri()}/${BACKUP_META_FILE} is unreadable (${(err as Error).message}) next to ` +
        `the checkpoint of an unfinished backup; remove ${BACKUP_META_FILE} and rerun the same ` +
        "command to resume from the checkpoint",
      { cause: err },
    );
  }
  if (endVersion !== meta.backupTs) {
    throw new CheckpointError(
      "ConfigMismatch",
      `${storage.uri()}/${BACKUP_META_FILE} is a backup at ts ${endVersion}, but the checkpoint ` +
        `beside it is of a backup at ts ${meta.backupTs}; remove ${BACKUP_META_FILE} and rerun ` +
        `the same command to resume from the checkpoint, or choose another storage`,
    );
  }
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
  readonly #clock: LockClock;
  readonly #opts: CheckpointOptions;
  readonly #done = new Map<string, RangeTree>();
  #checksums = new Map<bigint, ChecksumItem>();
  #resumed = false;
  #resumedRanges = 0;
  #redoneRanges = 0;
  #runner: CheckpointRunner | undefined;
  #start: CheckpointStart = { gcServiceId: `br-${randomUUID()}`, previousMs: 0 };
  #startMs: number | undefined;

  private constructor(
    storage: ExternalStorage,
    lock: CheckpointLock,
    clock: LockClock,
    opts: CheckpointOptions,
  ) {
    this.#storage = storage;
    this.#lock = lock;
    this.#clock = clock;
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
    const clock = new LockClock(pd);
    const lock = await CheckpointLock.acquire(storage, { now: clock.now });
    const cp = new BackupCheckpoint(storage, lock, clock, opts);
    const signal = opts.signal;
    try {
      // Every checkpointed file is confirmed in the storage (one listing, made when the first
      // range is read); a range with a file missing, short or (with verifyFiles) damaged is
      // left out, so it is backed up again.
      let stored: StoredFiles | undefined;
      const resumed = await resumeCheckpoint(storage, {
        config: opts.config,
        ...(opts.cipher ? { cipher: opts.cipher } : {}),
        ...(signal ? { signal } : {}),
      }, async (groupKey, range) => {
        stored ??= await StoredFiles.list(storage, signal);
        for (const f of range.files) {
          const problem = await fileProblem(storage, stored, f, opts.verifyFiles ?? false, signal);
          if (problem) {
            cp.#redoneRanges++;
            log("backup").warn(
              "checkpointed file {name} is {problem}: its range is backed up again",
              { name: f.name, problem },
            );
            return;
          }
        }
        let tree = cp.#done.get(groupKey);
        if (!tree) cp.#done.set(groupKey, tree = new RangeTree());
        tree.put(range.startKey, range.endKey, range.files);
      });
      if (resumed) {
        cp.#resumed = true;
        cp.#resumedRanges = resumed.walk.ranges - cp.#redoneRanges;
        cp.#startMs = resumed.meta.startMs;
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

  /** Ranges loaded from the checkpoint (those whose files are all in the storage). */
  get resumedRanges(): number {
    return this.#resumedRanges;
  }

  /** Checkpointed ranges whose files were missing or damaged, backed up again. */
  get redoneRanges(): number {
    return this.#redoneRanges;
  }

  /**
   * PD physical time (ms) the backup's first run started: set by `begin` on a fresh backup,
   * read from `checkpoint.meta` on resume (undefined for checkpoints that did not record it).
   */
  get startMs(): number | undefined {
    return this.#startMs;
  }

  /** Backup ts (when resuming), GC service id and earlier runs' time. */
  get start(): CheckpointStart {
    return this.#start;
  }

  /**
   * Writes `checkpoint.meta` for a fresh backup (removing what an abandoned checkpoint left) and
   * starts the flush runner. A resumed backup only starts the runner.
   */
  async begin(backupTs: bigint, ranges: readonly KeyRange[], startMs: number): Promise<void> {
    if (!this.#resumed) {
      this.#startMs = startMs;
      await startCheckpoint(
        this.#storage,
        newCheckpointMeta({
          gcServiceId: this.#start.gcServiceId,
          backupTs,
          ranges,
          startMs,
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

  /**
   * The tree of what earlier runs finished of `range` (empty when nothing), handed over once:
   * the checkpoint forgets it, so a run of 300k ranges does not keep a tree per range.
   */
  doneTree(range: KeyRange): RangeTree {
    const key = groupKeyOf(range);
    const tree = this.#done.get(key);
    if (!tree) return new RangeTree();
    this.#done.delete(key);
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
   * After a failure or an interrupt: flushes what was finished, keeps the checkpoint and
   * releases the lock, within FINAL_SAVE_MS of its own (the run's signal may have fired). Never
   * throws (the backup's own error is what the user needs); says what it saved.
   */
  async abandon(deadlineMs = FINAL_SAVE_MS): Promise<SavedCheckpoint> {
    const deadline = AbortSignal.timeout(deadlineMs);
    this.#clock.final = deadline;
    const ranges = () => this.#resumedRanges + (this.#runner?.stats.flushedRanges ?? 0);
    try {
      const finish = this.#runner ? this.#runner.waitForFinish() : this.#lock.release();
      await new Promise<void>((resolve, reject) => {
        const onTimeout = () =>
          reject(new Error(`the last checkpoint save took more than ${deadlineMs / 1000} s`));
        deadline.addEventListener("abort", onTimeout, { once: true });
        finish.then(resolve, reject).finally(() =>
          deadline.removeEventListener("abort", onTimeout)
        );
      });
      log("backup").info("saved the checkpoint at {uri}: {ranges} ranges done", {
        uri: this.#storage.uri(),
        ranges: ranges(),
      });
      return { saved: this.#runner !== undefined, ranges: ranges() };
    } catch (err) {
      if (!(err instanceof CheckpointError && err.code === "LockLost")) {
        log("backup").warn("could not save the checkpoint at the end: {error}", {
          error: (err as Error).message,
        });
      }
      return { saved: false, ranges: ranges() };
    }
  }
}
