/**
 * Restore checkpoints (BR ≥ 7.1), through the same lock, runner and files as the backup's
 * (`src/checkpoint/`), in a storage of their own: `--checkpoint-storage URL`, by default
 * `checkpoints/restore-<target cluster id>/` inside the backup storage.
 *
 * - `checkpoint.meta` holds the restore's options (a rerun with other options cannot resume)
 *   and, in its `backup-ts` field, the restore ts: a resumed run ingests at the same ts.
 * - Data groups: `schema` (one range per table this restore created, its key the table's
 *   `db.table` name) and `ranges` (one per ingested range, by its backup keys).
 * - Checksum files: the tables whose checksum passed, by their backup table id.
 *
 * The lock keeps a second restore of the same backup into the same cluster from running at the
 * same time. On success everything is removed; on failure it stays for the rerun.
 * @module
 */
import type { CipherInfo } from "../crypto/cipher.ts";
import { EncryptionMethod } from "../crypto/cipher.ts";
import {
  type BackupConfig as CheckpointConfig,
  CheckpointLock,
  CheckpointRunner,
  newCheckpointMeta,
  resumeCheckpoint,
  startCheckpoint,
} from "../checkpoint/mod.ts";
import { log } from "../log.ts";
import type { PdClient } from "../pd/client.ts";
import { isStorageError } from "../storage/errors.ts";
import { openStorage } from "../storage/registry.ts";
import type { ExternalStorage } from "../storage/types.ts";

const ENC = new TextEncoder();
const DEC = new TextDecoder();

/** The two groups a restore checkpoint records. */
const SCHEMA = "schema";
const RANGES = "ranges";

/** A range key as recorded: start and end in hex. */
export function rangeKey(start: Uint8Array, end: Uint8Array): string {
  const h = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h(start)}-${h(end)}`;
}

/** Where a restore checkpoint lives and what it says about earlier runs. */
export interface RestoreCheckpointOptions {
  /** `--checkpoint-storage`, or undefined for the default under the backup storage. */
  url?: string;
  backupStorage: ExternalStorage;
  storageFlags?: Record<string, string>;
  storagePlugins?: string[];
  pd: PdClient;
  config: CheckpointConfig;
  cipher?: CipherInfo;
  flushIntervalMs?: number;
  signal?: AbortSignal;
}

/** A restore checkpoint in use. */
export class RestoreCheckpoint {
  /** Tables (lower-case `db.table`) created by earlier runs of this restore. */
  readonly createdTables: Set<string>;
  /** Ranges ingested by earlier runs (`rangeKey`). */
  readonly doneRanges: Set<string>;
  /** Backup table ids whose checksum passed in earlier runs. */
  readonly checksummed: Set<bigint>;
  /** The restore ts of the earlier runs, if resumed. */
  readonly restoreTs: bigint | undefined;
  readonly storage: ExternalStorage;
  readonly #lock: CheckpointLock;
  readonly #opts: RestoreCheckpointOptions;
  #runner: CheckpointRunner | undefined;

  private constructor(
    storage: ExternalStorage,
    lock: CheckpointLock,
    opts: RestoreCheckpointOptions,
    resumed: { created: Set<string>; done: Set<string>; sums: Set<bigint>; ts?: bigint },
  ) {
    this.storage = storage;
    this.#lock = lock;
    this.#opts = opts;
    this.createdTables = resumed.created;
    this.doneRanges = resumed.done;
    this.checksummed = resumed.sums;
    this.restoreTs = resumed.ts;
  }

  /** Whether an earlier run left this checkpoint. */
  get resumed(): boolean {
    return this.restoreTs !== undefined;
  }

  /**
   * Opens the checkpoint storage, takes the lock and reads what earlier runs did. A storage
   * that refuses writes is one line naming `--checkpoint-storage`.
   */
  static async open(opts: RestoreCheckpointOptions): Promise<RestoreCheckpoint> {
    const base = opts.backupStorage.uri().replace(/\/+$/, "");
    const url = opts.url ?? `${base}/checkpoints/restore-${opts.pd.clusterId}`;
    // A storage that refuses writes may say so when opened (the local plugin checks that a
    // missing directory can be created) or at the first write (the lock): one line either way.
    const readOnly = (err: unknown): unknown =>
      isStorageError(err, "PermissionDenied")
        ? new RestoreCheckpointError(
          opts.url
            ? `cannot write the restore checkpoint to ${url} (permission denied): give a ` +
              "writable --checkpoint-storage, or --use-checkpoint=false"
            : `the backup storage ${base} is read-only, so the restore checkpoint cannot be ` +
              "kept there: give a writable --checkpoint-storage URL, or --use-checkpoint=false",
        )
        : err;
    let storage: ExternalStorage;
    try {
      storage = await openStorage(url, {
        ...(opts.storageFlags ? { flags: opts.storageFlags } : {}),
        ...(opts.storagePlugins ? { plugins: opts.storagePlugins } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      throw readOnly(err);
    }
    let lock: CheckpointLock;
    try {
      lock = await CheckpointLock.acquire(storage, { now: () => opts.pd.getTS() });
    } catch (err) {
      await storage.close();
      throw readOnly(err);
    }
    const created = new Set<string>();
    const done = new Set<string>();
    try {
      const r = await resumeCheckpoint(storage, {
        config: opts.config,
        ...(opts.cipher ? { cipher: opts.cipher } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      }, (group, range) => {
        if (group === SCHEMA) created.add(DEC.decode(range.startKey));
        else if (group === RANGES) done.add(rangeKey(range.startKey, range.endKey));
      });
      const sums = new Set<bigint>(r ? r.checksums.keys() : []);
      const cp = new RestoreCheckpoint(storage, lock, opts, {
        created,
        done,
        sums,
        ...(r ? { ts: r.meta.backupTs } : {}),
      });
      if (r) {
        log("restore").info(
          "resuming from the checkpoint at {uri}: {t} tables created, {r} ranges ingested, {c} " +
            "checksums done",
          { uri: storage.uri(), t: created.size, r: done.size, c: sums.size },
        );
      }
      return cp;
    } catch (err) {
      await lock.release().catch(() => {});
      await storage.close();
      throw err;
    }
  }

  /** Starts recording: a fresh checkpoint writes its meta with `restoreTs` first. */
  async begin(restoreTs: bigint): Promise<void> {
    if (!this.resumed) {
      await startCheckpoint(
        this.storage,
        newCheckpointMeta({
          gcServiceId: "",
          backupTs: restoreTs,
          config: this.#opts.config,
          ...(this.#opts.cipher ? { cipher: this.#opts.cipher } : {}),
        }),
        this.#lock,
      );
    }
    this.#runner = CheckpointRunner.start(this.storage, {
      lock: this.#lock,
      ...(this.#opts.cipher && this.#opts.cipher.method !== EncryptionMethod.PLAINTEXT
        ? { cipher: this.#opts.cipher }
        : {}),
      ...(this.#opts.flushIntervalMs ? { flushIntervalMs: this.#opts.flushIntervalMs } : {}),
    });
  }

  /** Records a table created by this restore. */
  tableCreated(name: string): Promise<void> {
    const k = ENC.encode(name.toLowerCase());
    this.createdTables.add(name.toLowerCase());
    return this.#runner!.append(SCHEMA, k, k, []);
  }

  /** Records an ingested range (by its backup keys). */
  rangeDone(start: Uint8Array, end: Uint8Array): Promise<void> {
    return this.#runner!.append(RANGES, start, end, []);
  }

  /** Records a table whose checksum passed. */
  checksumDone(tableId: bigint, sum: { crc64xor: bigint; totalKvs: bigint; totalBytes: bigint }) {
    return this.#runner!.flushChecksum(tableId, sum.crc64xor, sum.totalKvs, sum.totalBytes, 1);
  }

  /** Writes what was recorded so far; throws the runner's first error, if any. */
  async flush(): Promise<void> {
    await this.#runner?.flush();
    const err = this.#runner?.error;
    if (err !== undefined) throw err;
  }

  /** The restore finished: removes the checkpoint and releases the lock. */
  async complete(): Promise<void> {
    try {
      if (this.#runner) await this.#runner.waitForFinish({ removeCheckpointData: true });
      else await this.#lock.release();
    } finally {
      await this.storage.close();
    }
  }

  /** The restore failed: keeps what was flushed for the rerun and releases the lock. */
  async abandon(): Promise<void> {
    try {
      if (this.#runner) await this.#runner.waitForFinish();
      else await this.#lock.release();
    } catch (err) {
      log("restore").warn("could not write the last restore checkpoint: {e}", {
        e: (err as Error).message,
      });
    } finally {
      await this.storage.close();
    }
  }
}

/** The checkpoint storage cannot be used. */
export class RestoreCheckpointError extends Error {
  override name = "RestoreCheckpointError";
}
