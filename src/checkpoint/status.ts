/**
 * What `tibr checkpoint status` and `tibr checkpoint clean` do: report a checkpoint's progress
 * and lock without the crypter key, and remove a checkpoint unless a live backup holds it.
 *
 * Without PD at hand, these judge the lock's expiry by the local clock, which PD's physical time
 * follows closely on a synchronized host.
 * @module
 */
import { compareBytes } from "../codec/bytes.ts";
import { controlLane } from "../storage/lane.ts";
import { methodName } from "../crypto/cipher.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { log } from "../log.ts";
import { CheckpointError } from "./errors.ts";
import {
  type CheckpointDataSummary,
  CHECKSUM_DIR,
  DATA_DIR,
  decodeRangeGroups,
  LOCK_PATH,
  type RangeGroups,
  summarizeCheckpointData,
} from "./files.ts";
import { describeHolder, formatUtc, physicalMs, readLock } from "./lock.ts";
import { loadCheckpointMeta, removeCheckpointData } from "./meta.ts";

/** The lock as `status` sees it. */
export interface LockStatus {
  /** `absent`, `live` (held), `expired` (its run is gone or stalled), `released`, `unreadable`. */
  state: "absent" | "live" | "expired" | "released" | "unreadable";
  lockId?: string;
  owner?: string;
  /** When the holder took the lock (from the id), ISO 8601. */
  startedAt?: string;
  /** ISO 8601. */
  expiresAt?: string;
  /** Seconds until expiry by the local clock (negative once expired). */
  expiresInS?: number;
  /** Why the lock is unreadable. */
  error?: string;
}

/** A checkpoint's state. */
export interface CheckpointStatus {
  /** The storage URL (no credentials). */
  storage: string;
  /** Whether anything of a checkpoint is there. */
  exists: boolean;
  meta?: {
    backupTs: string;
    backupTime: string;
    gcServiceId: string;
    configHash: string;
    /** Top-level ranges of the backup. */
    ranges: number;
    /** Encryption method name, when the checkpoint recorded it. */
    encryption?: string;
    /** The recorded options, as values (large integers as decimal strings). */
    options?: Record<string, unknown>;
  };
  /** `checkpoint.meta` exists but cannot be read. */
  metaError?: string;
  progress: {
    /**
     * The backup's key ranges (`meta.ranges`) and how many of them the checkpointed sub-ranges
     * cover whole; `done` is null when the groups are encrypted (their keys need the key).
     */
    ranges: { done: number | null; total: number };
    dataFiles: number;
    dataBytes: number;
    /** Group entries over all data files. */
    groups: number;
    /**
     * Checkpointed sub-ranges (one per region response, several per key range); null when
     * some are encrypted without counts (BR's files).
     */
    subRanges: number | null;
    /** Data files of the checkpointed sub-ranges; null as `subRanges`. */
    files: number | null;
    checksumFiles: number;
    /** Data files that cannot be parsed (a resume skips them). */
    unreadableFiles: number;
    /** Backup time over the runs so far, ms. */
    dureTimeMs: number;
    /** When the last data file was written (ISO 8601), if recorded. */
    lastFlush: string | null;
  };
  lock: LockStatus;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Judges a lock by `nowMs` (local clock). */
async function lockStatus(storage: ExternalStorage, nowMs: number): Promise<LockStatus> {
  let state;
  try {
    state = await readLock(storage);
  } catch (err) {
    if (!(err instanceof CheckpointError)) throw err;
    return { state: "unreadable", error: err.message };
  }
  if (!state) return { state: "absent" };
  const { info } = state;
  return {
    state: info.expireAt <= 0 ? "released" : info.expireAt > nowMs ? "live" : "expired",
    lockId: info.lockId.toString(),
    ...(info.owner === undefined ? {} : { owner: info.owner }),
    startedAt: iso(physicalMs(info.lockId)),
    ...(info.expireAt > 0
      ? { expiresAt: iso(info.expireAt), expiresInS: Math.round((info.expireAt - nowMs) / 1000) }
      : {}),
  };
}

/**
 * The recorded options as values (`"concurrency": 4`, `"filter": ["shop.*"]`) rather than the
 * canonical JSON text they are stored as; integers beyond 2^53 stay decimal strings.
 */
function _optionValues(config: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, text] of Object.entries(config)) {
    if (/^-?\d+$/.test(text) && !Number.isSafeInteger(Number(text))) {
      out[k] = text;
      continue;
    }
    try {
      out[k] = JSON.parse(text);
    } catch {
      out[k] = text;
    }
  }
  return out;
}

/** A key span; an empty end is the end of the key space. */
interface Span {
  startKey: Uint8Array;
  endKey: Uint8Array;
}

/** Whether end key `a` comes before end key `b` (empty: the end of the key space). */
function _endBefore(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length === 0) return false;
  return b.length === 0 || compareBytes(a, b) < 0;
}

/** How many of `ranges` the union of `done` covers whole. */
export function coveredRanges(ranges: readonly Span[], done: readonly Span[]): number {
  const sorted = [...done].sort((x, y) => compareBytes(x.startKey, y.startKey));
  const merged: Span[] = [];
  for (const d of sorted) {
    const last = merged.at(-1);
    // Touching or overlapping spans join: a key range split at region boundaries is covered.
    const gap = last !== undefined && last.endKey.length > 0 &&
      compareBytes(last.endKey, d.startKey) < 0;
    if (last && !gap) {
      if (_endBefore(last.endKey, d.endKey)) last.endKey = d.endKey;
    } else merged.push({ startKey: d.startKey, endKey: d.endKey });
  }
  let n = 0;
  for (const r of ranges) {
    const span = merged.findLast((m) => compareBytes(m.startKey, r.startKey) <= 0);
    if (span && !_endBefore(span.endKey, r.endKey)) n++;
  }
  return n;
}

/** Reads a checkpoint's meta, data file headers, checksum files and lock. */
export async function checkpointStatus(
  storage: ExternalStorage,
  opts: { nowMs?: number; signal?: AbortSignal } = {},
): Promise<CheckpointStatus> {
  storage = controlLane(storage);
  const nowMs = opts.nowMs ?? Date.now();
  const signal = opts.signal;
  const status: CheckpointStatus = {
    storage: storage.uri(),
    exists: false,
    progress: {
      ranges: { done: null, total: 0 },
      dataFiles: 0,
      dataBytes: 0,
      groups: 0,
      subRanges: 0,
      files: 0,
      checksumFiles: 0,
      unreadableFiles: 0,
      dureTimeMs: 0,
      lastFlush: null,
    },
    lock: await lockStatus(storage, nowMs),
  };
  let keyRanges: Span[] = [];
  try {
    const meta = await loadCheckpointMeta(storage, signal);
    if (meta) {
      keyRanges = meta.ranges;
      status.meta = {
        backupTs: meta.backupTs.toString(),
        backupTime: iso(physicalMs(meta.backupTs)),
        gcServiceId: meta.gcServiceId,
        configHash: Array.from(meta.configHash, (b) => b.toString(16).padStart(2, "0")).join(""),
        ranges: meta.ranges.length,
        ...(meta.cipherMethod === undefined ? {} : { encryption: methodName(meta.cipherMethod) }),
        ...(meta.config ? { options: _optionValues(meta.config) } : {}),
      };
    }
  } catch (err) {
    if (!(err instanceof CheckpointError)) throw err;
    status.metaError = err.message;
  }
  const p = status.progress;
  let lastFlush = 0;
  const names: string[] = [];
  await storage.walkDir({ subDir: DATA_DIR, signal }, (name) => {
    if (name.endsWith(".cpt")) names.push(name);
  });
  const done: Span[] = [];
  // Coverage is known only while every group's ranges could be read.
  let readable = true;
  for (const name of names) {
    const bytes = await storage.readFile(name, { signal });
    p.dataFiles++;
    p.dataBytes += bytes.length;
    let summary: CheckpointDataSummary;
    let decoded: RangeGroups[];
    try {
      summary = summarizeCheckpointData(new TextDecoder().decode(bytes));
      decoded = summary.groups.flatMap((g) =>
        g.plain ? [decodeRangeGroups(new TextDecoder().decode(g.plain))] : []
      );
    } catch (err) {
      p.unreadableFiles++;
      log("checkpoint").warn("unreadable checkpoint file {name}: {error}", {
        name,
        error: (err as Error).message,
      });
      continue;
    }
    p.dureTimeMs = Math.max(p.dureTimeMs, summary.dureTimeNs / 1e6);
    lastFlush = Math.max(lastFlush, summary.flushTimeMs ?? 0);
    p.groups += summary.groups.length;
    for (const g of decoded) {
      for (const r of g.groups) done.push({ startKey: r.startKey, endKey: r.endKey });
    }
    for (const g of summary.groups) {
      if (g.plain) continue;
      readable = false;
      if (g.rangeCount === undefined || g.fileCount === undefined) {
        p.subRanges = null;
        p.files = null;
      } else {
        if (p.subRanges !== null) p.subRanges += g.rangeCount;
        if (p.files !== null) p.files += g.fileCount;
      }
    }
    if (p.subRanges !== null) {
      for (const g of decoded) p.subRanges += g.groups.length;
    }
    if (p.files !== null) {
      for (const g of decoded) p.files += g.groups.reduce((n, r) => n + r.files.length, 0);
    }
  }
  p.ranges = {
    done: readable && status.meta ? coveredRanges(keyRanges, done) : null,
    total: keyRanges.length,
  };
  p.lastFlush = lastFlush > 0 ? iso(lastFlush) : null;
  await storage.walkDir({ subDir: CHECKSUM_DIR, signal }, () => {
    p.checksumFiles++;
  });
  status.exists = status.meta !== undefined || status.metaError !== undefined ||
    p.dataFiles > 0 || p.checksumFiles > 0 || status.lock.state !== "absent";
  return status;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${m}m${s % 60}s` : m > 0 ? `${m}m${s % 60}s` : `${s}s`;
}

function utc(isoText: string | undefined): string {
  return isoText === undefined ? "-" : formatUtc(Date.parse(isoText));
}

/** The status as aligned `key  value` lines. */
export function formatStatus(s: CheckpointStatus): string {
  if (!s.exists) return `No checkpoint at ${s.storage}\n`;
  const rows: Array<[string, string]> = [["storage", s.storage]];
  if (s.meta) {
    rows.push(["backup ts", `${s.meta.backupTs} (${utc(s.meta.backupTime)})`]);
    rows.push(["gc service id", s.meta.gcServiceId]);
    if (s.meta.encryption) rows.push(["encryption", s.meta.encryption]);
    rows.push(["config hash", s.meta.configHash]);
  } else if (s.metaError) rows.push(["meta", `unreadable: ${s.metaError}`]);
  else rows.push(["meta", "missing"]);
  const p = s.progress;
  if (s.meta) {
    rows.push([
      "key ranges done",
      `${p.ranges.done === null ? "unknown (encrypted)" : p.ranges.done} of ${p.ranges.total}`,
    ]);
  }
  // The regions' sub-ranges of the key ranges above, as the stores answered them.
  rows.push([
    "sub-ranges done",
    p.subRanges === null ? "unknown (encrypted)" : String(p.subRanges),
  ]);
  rows.push(["files", p.files === null ? "unknown (encrypted)" : String(p.files)]);
  rows.push(["groups", String(p.groups)]);
  rows.push(["checkpoint files", `${p.dataFiles} (${p.dataBytes} bytes)`]);
  if (p.unreadableFiles > 0) rows.push(["unreadable files", String(p.unreadableFiles)]);
  rows.push(["checksum files", String(p.checksumFiles)]);
  rows.push(["time so far", duration(p.dureTimeMs)]);
  rows.push(["last flush", p.lastFlush === null ? "-" : utc(p.lastFlush)]);
  const l = s.lock;
  let lock: string = l.state;
  if (l.state === "unreadable") lock += `: ${l.error}`;
  else if (l.lockId !== undefined) {
    lock += ` (run ${l.lockId}${l.owner ? `, ${l.owner}` : ""}, started ${utc(l.startedAt)}`;
    if (l.expiresAt) {
      lock += l.state === "live"
        ? `, expires ${utc(l.expiresAt)}, in ${l.expiresInS} s`
        : `, expired ${utc(l.expiresAt)}`;
    }
    lock += ")";
  }
  rows.push(["lock", lock]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n";
}

/** Options of `cleanCheckpoint`. */
export interface CleanOptions {
  /** Remove even while a live lock says a backup is running. */
  force?: boolean;
  /** Remove only `checkpoint.lock` (to resume after a run died holding it). */
  lockOnly?: boolean;
  /** Local time to judge the lock by (default `Date.now()`). */
  nowMs?: number;
  signal?: AbortSignal;
}

/**
 * Refuses with `LockHeld` while a live lock says a backup is running (unless `force`), and
 * with `Corrupt` for an unreadable lock (unless `force`).
 */
export async function assertCleanable(
  storage: ExternalStorage,
  opts: CleanOptions = {},
): Promise<void> {
  storage = controlLane(storage);
  const nowMs = opts.nowMs ?? Date.now();
  let current;
  try {
    current = await readLock(storage, opts.signal);
  } catch (err) {
    // An unreadable lock says nothing about a live run; only --force removes it.
    if (!(err instanceof CheckpointError) || !opts.force) throw err;
  }
  if (current && current.info.expireAt > nowMs && !opts.force) {
    throw new CheckpointError(
      "LockHeld",
      `cannot clean the checkpoint at ${storage.uri()}: its lock is held by ` +
        `${describeHolder(current.info)} until ${formatUtc(current.info.expireAt)}; a backup ` +
        "may be running: wait for it to end, or if that run is gone, add --force",
    );
  }
}

/**
 * Removes the checkpoint (or only its lock), refusing with `LockHeld` while a live lock exists
 * unless `force`. Returns how many files were removed.
 */
export async function cleanCheckpoint(
  storage: ExternalStorage,
  opts: CleanOptions = {},
): Promise<number> {
  storage = controlLane(storage);
  await assertCleanable(storage, opts);
  if (opts.lockOnly) {
    if (!(await storage.fileExists(LOCK_PATH, { signal: opts.signal }))) return 0;
    await storage.deleteFile(LOCK_PATH, { signal: opts.signal });
    return 1;
  }
  const removed = await removeCheckpointData(storage, opts.signal ? { signal: opts.signal } : {});
  log("checkpoint").info("removed {n} checkpoint files from {uri}", {
    n: removed,
    uri: storage.uri(),
  });
  return removed;
}
