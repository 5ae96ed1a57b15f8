/**
 * Reading a checkpoint back on resume: the finished ranges from `data/*.cpt` and the table
 * checksums from `checksum/`. Every group is decrypted and checked against the sha256 of its
 * plaintext; a group that fails (or a file that cannot be parsed) is logged and skipped, never
 * trusted, so its ranges are simply backed up again. A wrong crypter key is a clear error: the
 * meta's key check catches it first, and for checkpoints without one, every encrypted group
 * failing its sha256 does.
 *
 * ```ts
 * const resumed = await resumeCheckpoint(storage, { cipher, config }, (groupKey, range) => {
 *   rangeTree.put(range.startKey, range.endKey, range.files);
 * });
 * if (resumed) backupTs = resumed.meta.backupTs;
 * ```
 * @module
 */
import { controlLane } from "../storage/lane.ts";
import { createHash } from "node:crypto";
import { type CipherInfo, decrypt, isEncrypting } from "../crypto/cipher.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { log } from "../log.ts";
import { Base64Arena } from "./_json.ts";
import { scanRangeGroups } from "./_scan.ts";
import { CheckpointError } from "./errors.ts";
import {
  type CheckpointData,
  type CheckpointRange,
  CHECKSUM_DIR,
  type ChecksumItem,
  DATA_DIR,
  decodeCheckpointData,
  decodeChecksumFile,
  decodeRangeGroups,
  equalBytes,
} from "./files.ts";
import {
  type BackupConfig,
  checkCipher,
  checkConfig,
  type CheckpointMeta,
  loadCheckpointMeta,
} from "./meta.ts";

/** Called once per checkpointed range; may be async (awaited before the next). */
export type RangeFn = (groupKey: string, range: CheckpointRange) => void | Promise<void>;

/** Options of `walkCheckpointData`. */
export interface WalkDataOptions {
  /** The backup's cipher (needed when the checkpoint is encrypted). */
  cipher?: CipherInfo;
  /**
   * The key is known right (the meta's key check passed): sha256 failures are then corruption,
   * not a wrong key, even when every group fails.
   */
  keyChecked?: boolean;
  /** Files read ahead of the one being decoded (default 4). */
  prefetch?: number;
  signal?: AbortSignal;
}

/** What a walk found. */
export interface WalkResult {
  /** Backup time of the earlier runs (the largest `dure-time`), ms. */
  dureTimeMs: number;
  /** Data files read. */
  dataFiles: number;
  /** Bytes of data files read. */
  bytes: number;
  /** Groups loaded. */
  groups: number;
  /** Ranges passed to the callback. */
  ranges: number;
  /** Data files in those ranges. */
  files: number;
  /** Groups skipped: sha256 mismatch or malformed. */
  skippedGroups: number;
  /** Data files skipped whole: unparseable. */
  skippedFiles: number;
}

const DECODER = new TextDecoder();

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * Reads every data file in name order and calls `fn` for each range of each group that passes
 * its sha256 check. Throws `WrongKey` for an encrypted checkpoint read without a key, or (unless
 * `keyChecked`) when every encrypted group fails its check.
 */
export async function walkCheckpointData(
  storage: ExternalStorage,
  opts: WalkDataOptions,
  fn: RangeFn,
): Promise<WalkResult> {
  storage = controlLane(storage);
  const logger = log("checkpoint");
  const cipher = isEncrypting(opts.cipher) ? opts.cipher : undefined;
  const names: string[] = [];
  await storage.walkDir({ subDir: DATA_DIR, signal: opts.signal }, (name) => {
    if (name.endsWith(".cpt")) names.push(name);
  });
  const result: WalkResult = {
    dureTimeMs: 0,
    dataFiles: 0,
    bytes: 0,
    groups: 0,
    ranges: 0,
    files: 0,
    skippedGroups: 0,
    skippedFiles: 0,
  };
  let encrypted = 0;
  let encryptedBad = 0;
  const arena = new Base64Arena();
  const ahead = Math.max(1, opts.prefetch ?? 4);
  const reads: Promise<Uint8Array>[] = [];
  const read = (i: number) => {
    const p = storage.readFile(names[i]!, { signal: opts.signal });
    // Handled when awaited; this keeps an early exit from leaving an unhandled rejection.
    p.catch(() => {});
    reads[i] = p;
  };
  for (let i = 0; i < Math.min(ahead, names.length); i++) read(i);
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const bytes = await reads[i]!;
    delete reads[i];
    if (i + ahead < names.length) read(i + ahead);
    result.dataFiles++;
    result.bytes += bytes.length;
    let data: CheckpointData;
    try {
      data = decodeCheckpointData(DECODER.decode(bytes));
    } catch (err) {
      result.skippedFiles++;
      logger.error("skipping unreadable checkpoint file {name}: {error}; its ranges are redone", {
        name,
        error: (err as Error).message,
      });
      continue;
    }
    result.dureTimeMs = Math.max(result.dureTimeMs, data.dureTimeNs / 1e6);
    for (const [index, g] of data.groups.entries()) {
      let plain = g.encrypted;
      if (g.cipherIv.length > 0) {
        if (!cipher) {
          throw new CheckpointError(
            "WrongKey",
            `the checkpoint at ${storage.uri()} is encrypted but no crypter key was given; ` +
              "pass the same --crypter.method and --crypter.key as the interrupted backup",
          );
        }
        encrypted++;
        plain = decrypt(cipher, g.cipherIv, g.encrypted);
      }
      const sum = sha256(plain);
      if (!equalBytes(sum, g.checksum)) {
        result.skippedGroups++;
        if (g.cipherIv.length > 0) encryptedBad++;
        logger.error(
          "checkpoint group {index} of {name} fails its sha256 check (expected {expect}, got " +
            "{got}); skipping it, its ranges are redone",
          { index, name, expect: hex(g.checksum), got: hex(sum) },
        );
        continue;
      }
      let ranges: CheckpointRange[];
      let groupKey: string;
      try {
        ({ groupKey, groups: ranges } = scanRangeGroups(plain, arena) ??
          decodeRangeGroups(DECODER.decode(plain), arena));
      } catch (err) {
        result.skippedGroups++;
        logger.error("checkpoint group {index} of {name} is malformed ({error}); skipping it", {
          index,
          name,
          error: (err as Error).message,
        });
        continue;
      }
      result.groups++;
      for (const range of ranges) {
        result.ranges++;
        result.files += range.files.length;
        const p = fn(groupKey, range);
        if (p !== undefined) await p;
      }
    }
  }
  if (!opts.keyChecked && encrypted > 0 && encryptedBad === encrypted) {
    throw new CheckpointError(
      "WrongKey",
      `every encrypted group of the checkpoint at ${storage.uri()} fails its sha256 check: the ` +
        "crypter key is not the one the interrupted backup used; pass the same --crypter.key, " +
        `or start afresh with 'tibr checkpoint clean -s ${storage.uri()}'`,
    );
  }
  logger.info(
    "loaded {ranges} checkpointed ranges ({files} files) from {n} checkpoint files; skipped " +
      "{sg} groups and {sf} files",
    {
      ranges: result.ranges,
      files: result.files,
      n: result.dataFiles,
      sg: result.skippedGroups,
      sf: result.skippedFiles,
    },
  );
  return result;
}

/**
 * The table checksums saved so far, by physical table id (a later file wins). Files that fail
 * their sha256 or cannot be parsed are logged and skipped.
 */
export async function loadCheckpointChecksums(
  storage: ExternalStorage,
  signal?: AbortSignal,
): Promise<Map<bigint, ChecksumItem>> {
  storage = controlLane(storage);
  const out = new Map<bigint, ChecksumItem>();
  const names: string[] = [];
  await storage.walkDir({ subDir: CHECKSUM_DIR, signal }, (name) => {
    names.push(name);
  });
  for (const name of names) {
    let items: ChecksumItem[];
    try {
      items = decodeChecksumFile(DECODER.decode(await storage.readFile(name, { signal })));
    } catch (err) {
      if (!(err instanceof SyntaxError || err instanceof RangeError)) throw err;
      log("checkpoint").error("skipping checkpoint checksum file {name}: {error}", {
        name,
        error: err.message,
      });
      continue;
    }
    for (const item of items) out.set(item.tableId, item);
  }
  return out;
}

/** Options of `resumeCheckpoint`. */
export interface ResumeOptions {
  /** This run's options; must hash as the checkpoint's. */
  config: BackupConfig;
  /** This run's cipher; must be the checkpoint's. */
  cipher?: CipherInfo;
  prefetch?: number;
  signal?: AbortSignal;
}

/** A checkpoint read back. */
export interface Resumed {
  meta: CheckpointMeta;
  walk: WalkResult;
  /** Table checksums saved by the earlier runs. */
  checksums: Map<bigint, ChecksumItem>;
}

/**
 * Everything a resumed backup needs, in order: the meta (undefined when there is no
 * checkpoint), the config and cipher checks (`ConfigMismatch`, `WrongKey`), every checkpointed
 * range through `fn`, and the saved table checksums. Call it while holding the lock.
 */
export async function resumeCheckpoint(
  storage: ExternalStorage,
  opts: ResumeOptions,
  fn: RangeFn,
): Promise<Resumed | undefined> {
  storage = controlLane(storage);
  const meta = await loadCheckpointMeta(storage, opts.signal);
  if (!meta) return undefined;
  checkConfig(storage, meta, opts.config);
  checkCipher(storage, meta, opts.cipher);
  const walk = await walkCheckpointData(storage, {
    ...(opts.cipher ? { cipher: opts.cipher } : {}),
    keyChecked: meta.cipherCheck !== undefined,
    ...(opts.prefetch === undefined ? {} : { prefetch: opts.prefetch }),
    ...(opts.signal ? { signal: opts.signal } : {}),
  }, fn);
  const checksums = await loadCheckpointChecksums(storage, opts.signal);
  return { meta, walk, checksums };
}
