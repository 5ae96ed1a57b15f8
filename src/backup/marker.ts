/**
 * BR's `backup.lock` marker at the storage root: written when a backup claims a storage, it tells
 * other backups (BR's too) that the path is taken. It is not a lock with an owner or an expiry;
 * that is the checkpoint lock (`checkpoints/backup/checkpoint.lock`, src/checkpoint/lock.ts),
 * which decides who may write. A failed run's marker is removed by `tibr checkpoint clean`
 * (src/backup/clean.ts).
 * @module
 */
import type { ExternalStorage } from "../storage/types.ts";
import { BackupConfigError } from "./errors.ts";
import { BACKUP_LOCK_FILE, BACKUP_META_FILE } from "./metawriter.ts";
import { objectUri } from "../storage/url.ts";

/** BR's text of the marker. */
const LOCK_TEXT = "DO NOT DELETE\nThis file exists to remind other backup jobs won't use this path";

/** Refuses a storage that already holds a finished backup. */
export async function refuseFinishedBackup(storage: ExternalStorage): Promise<void> {
  if (await storage.fileExists(BACKUP_META_FILE)) {
    throw new BackupConfigError(
      `${
        objectUri(storage.uri(), BACKUP_META_FILE)
      } exists: that storage already holds a backup; ` +
        `choose an empty directory or prefix`,
    );
  }
}

/**
 * Claims the storage: refuses one that holds a finished backup, or another run's `backup.lock`
 * unless `resuming` (the checkpoint being resumed proves the lock is this backup's own).
 */
export async function claimStorage(storage: ExternalStorage, resuming = false): Promise<void> {
  await refuseFinishedBackup(storage);
  if (await storage.fileExists(BACKUP_LOCK_FILE)) {
    if (resuming) return;
    throw lockFileError(storage);
  }
  await storage.writeFile(BACKUP_LOCK_FILE, new TextEncoder().encode(LOCK_TEXT));
}

export function lockFileError(storage: ExternalStorage): BackupConfigError {
  return new BackupConfigError(
    `${
      objectUri(storage.uri(), BACKUP_LOCK_FILE)
    } exists: another backup uses that storage, or an ` +
      `earlier one failed there; choose another location, or if no backup runs there, start ` +
      `afresh with 'tibr checkpoint clean -s ${storage.uri()}'`,
  );
}
