/**
 * `tibr checkpoint clean`: leaves a storage where an unfinished backup failed so that the same
 * backup command starts afresh. Under the checkpoint lock (refused while a live run holds it),
 * it removes the checkpoint and, unless the storage holds a finished backup, what the failed
 * run wrote besides: its `backup.lock` marker, its data files (TiKV-named SSTs) and its
 * metadata parts (`backupmeta.*`). A finished backup's files are never touched.
 * @module
 */
import { CheckpointLock, LOCK_PATH } from "../checkpoint/mod.ts";
import { CHECKPOINT_DIR } from "../checkpoint/files.ts";
import { assertCleanable, cleanCheckpoint, type CleanOptions } from "../checkpoint/status.ts";
import { removeCheckpointData } from "../checkpoint/meta.ts";
import { log } from "../log.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { BACKUP_LOCK_FILE, BACKUP_META_FILE } from "./metawriter.ts";
import { isBackupDataFile } from "./files_check.ts";

/** What `cleanStorage` removed. */
export interface CleanResult {
  /** Files under `checkpoints/backup/`. */
  checkpointFiles: number;
  /** The failed run's `backup.lock`, data files and metadata parts. */
  backupFiles: number;
  /** Whether the storage holds a finished backup (whose files stay). */
  finished: boolean;
}

/** The local clock as a TSO: `clean` runs without PD (see status.ts). */
function localTs(): Promise<bigint> {
  return Promise.resolve(BigInt(Date.now()) << 18n);
}

/** No checkpoint file and no `backup.lock` marker: nothing a clean would remove. */
async function _nothingToClean(storage: ExternalStorage, signal?: AbortSignal): Promise<boolean> {
  if (await storage.fileExists(BACKUP_LOCK_FILE, { signal })) return false;
  let any = false;
  await storage.walkDir({ subDir: CHECKPOINT_DIR, signal }, () => {
    any = true;
  });
  return !any;
}

/** Removes an unfinished backup's checkpoint and files; see the module doc. */
export async function cleanStorage(
  storage: ExternalStorage,
  opts: CleanOptions = {},
): Promise<CleanResult> {
  if (opts.lockOnly) {
    return {
      checkpointFiles: await cleanCheckpoint(storage, opts),
      backupFiles: 0,
      finished: false,
    };
  }
  await assertCleanable(storage, opts);
  if (await _nothingToClean(storage, opts.signal)) {
    // Read-only then: no lock is taken, so a path that does not exist is not created.
    return { checkpointFiles: 0, backupFiles: 0, finished: false };
  }
  // With --force the holder is gone by the user's word: its lock goes first, then ours is taken.
  const hadLock = await storage.fileExists(LOCK_PATH, { signal: opts.signal });
  if (opts.force) await storage.deleteFile(LOCK_PATH, { signal: opts.signal });
  const lock = await CheckpointLock.acquire(storage, { now: localTs, renewIntervalMs: 0 });
  try {
    const finished = await storage.fileExists(BACKUP_META_FILE, { signal: opts.signal });
    let backupFiles = 0;
    if (!finished && await storage.fileExists(BACKUP_LOCK_FILE, { signal: opts.signal })) {
      const names: string[] = [];
      await storage.walkDir({ signal: opts.signal }, (name) => {
        if (isBackupDataFile(name) || name.startsWith(`${BACKUP_META_FILE}.`)) names.push(name);
      });
      await lock.assertHeld();
      await storage.deleteFiles(names, { signal: opts.signal });
      // The marker goes last: a clean cut short still shows the storage as an unfinished backup.
      await storage.deleteFile(BACKUP_LOCK_FILE, { signal: opts.signal });
      backupFiles = names.length + 1;
    }
    await lock.assertHeld();
    // The lock an earlier run left counts as removed: ours replaces it and is released below.
    const checkpointFiles = (hadLock ? 1 : 0) + await removeCheckpointData(storage, {
      keepLock: true,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    log("checkpoint").info("cleaned {uri}: {cp} checkpoint files, {bk} files of the backup", {
      uri: storage.uri(),
      cp: checkpointFiles,
      bk: backupFiles,
    });
    return { checkpointFiles, backupFiles, finished };
  } finally {
    await lock.release();
  }
}
