/**
 * Resumable backups: the checkpoint runner, its files, the lock two runs cannot both hold, and
 * the loader a resumed backup reads the checkpoint back with. See docs/CHECKPOINT.md.
 *
 * ```ts
 * import { CheckpointLock, CheckpointRunner, newCheckpointMeta, resumeCheckpoint,
 *   startCheckpoint } from "./mod.ts";
 * const lock = await CheckpointLock.acquire(storage, { now: () => pd.getTs() });
 * const resumed = await resumeCheckpoint(storage, { config, cipher }, (groupKey, range) => {
 *   done.put(range.startKey, range.endKey, range.files);
 * });
 * if (!resumed) await startCheckpoint(storage, newCheckpointMeta({ ...fresh, config, cipher }), lock);
 * const runner = CheckpointRunner.start(storage, {
 *   lock, cipher, previousDureTimeMs: resumed?.walk.dureTimeMs,
 * });
 * ```
 * @module
 */
export * from "./errors.ts";
export * from "./files.ts";
export * from "./lock.ts";
export * from "./meta.ts";
export * from "./checksum.ts";
export * from "./runner.ts";
export * from "./loader.ts";
export * from "./status.ts";
export * from "./timers.ts";
