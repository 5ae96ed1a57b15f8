/**
 * The backup timestamp and its protection from GC, as BR: `--backupts` (a TSO or a datetime),
 * `--timeago`, or a fresh TSO; never below the GC safe point; held by a service safe point
 * (`br-<uuid>`) refreshed every TTL/3 for as long as the backup runs.
 * @module
 */
import { randomUUID } from "node:crypto";
import { log } from "../log.ts";
import type { PdClient } from "../pd/client.ts";
import { composeTs, LOGICAL_BITS, logicalOf, physicalOf } from "../codec/tso.ts";

export { composeTs, LOGICAL_BITS };
/** BR's default service safe point TTL, seconds. */
export const DEFAULT_GC_TTL_SECONDS = 300;

/** A timestamp or GC problem to report as one line. */
export class TimestampError extends Error {
  override name = "TimestampError";
}

/** The wall-clock time of a TSO. */
export function tsToDate(ts: bigint): Date {
  return new Date(physicalOf(ts));
}

/** A TSO's time as ISO 8601, or a note when it is beyond what a date can hold. */
export function tsText(ts: bigint): string {
  const ms = Number(ts >> LOGICAL_BITS);
  return ms <= 8.64e15 ? new Date(ms).toISOString() : "beyond any date";
}

/**
 * Parses `--backupts`: a TSO (digits) or a datetime (`2026-11-21 12:00:00`, optional zone
 * `+08:00`/`Z`; without one, UTC). Returns undefined for an empty value.
 */
export function parseBackupTs(value: string | undefined): bigint | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const ts = BigInt(v);
    if (ts <= 0n || ts > 0xffffffffffffffffn) {
      throw new TimestampError(`--backupts ${v} is out of range: give a TSO or a datetime`);
    }
    return ts;
  }
  const m = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?)\s*(Z|[+-]\d\d:?\d\d)?$/.exec(v);
  if (!m) {
    throw new TimestampError(
      `--backupts '${v}' is neither a TSO nor a datetime like '2026-11-21 12:00:00 +08:00'`,
    );
  }
  const zone = m[3] ? (m[3] === "Z" ? "Z" : m[3].replace(/^([+-]\d\d)(\d\d)$/, "$1:$2")) : "Z";
  const ms = Date.parse(`${m[1]}T${m[2]}${zone}`);
  if (Number.isNaN(ms)) throw new TimestampError(`--backupts '${v}' is not a valid datetime`);
  return composeTs(BigInt(ms), 0n);
}

/** Parses `--timeago` (`30s`, `5m`, `1h30m`, `2h`); negative values are an error. */
export function parseTimeAgo(value: string | undefined): number {
  if (value === undefined || value === "" || value === "0") return 0;
  const v = value.trim();
  if (v.startsWith("-")) throw new TimestampError("negative --timeago is not allowed");
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (const m of v.matchAll(re)) {
    const n = Number(m[1]);
    total += n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
    consumed += m[0].length;
  }
  if (consumed !== v.length || consumed === 0) {
    throw new TimestampError(`--timeago '${v}' is not a duration like 30s, 5m or 1h30m`);
  }
  return total;
}

/**
 * BR's GetTS: the given ts, or PD's current TSO moved back by `timeAgoMs` (keeping its logical
 * part); then checks it against the GC safe point.
 */
export async function resolveBackupTs(
  pd: PdClient,
  given: bigint | undefined,
  timeAgoMs: number,
): Promise<bigint> {
  let ts: bigint;
  if (given !== undefined) {
    // A snapshot above PD's current TSO is no snapshot: transactions that commit later may get
    // smaller commit ts than it and would be missing from the backup.
    const now = await pd.getTS();
    if (given > now) {
      throw new TimestampError(
        `--backupts ${given} (${tsText(given)}) is after PD's current TSO ${now} ` +
          `(${tsText(now)}): a backup ts must not be in the future; give an earlier one or leave ` +
          "--backupts out",
      );
    }
    ts = given;
  } else {
    const now = await pd.getTS();
    if (timeAgoMs < 0) throw new TimestampError("negative --timeago is not allowed");
    if (timeAgoMs > 0) {
      const physical = BigInt(physicalOf(now));
      const logical = logicalOf(now);
      const ago = BigInt(Math.round(timeAgoMs));
      if (ago >= physical) {
        throw new TimestampError("--timeago reaches before 1970: choose a smaller --timeago");
      }
      ts = composeTs(physical - ago, logical);
    } else {
      ts = now;
    }
  }
  await checkGCSafePoint(pd, ts);
  return ts;
}

/** Fails when `ts` is at or below the cluster's GC safe point (its data may be gone). */
export async function checkGCSafePoint(pd: PdClient, ts: bigint): Promise<void> {
  const safePoint = await pd.getGCSafePoint();
  if (ts <= safePoint) {
    throw new TimestampError(
      `backup ts ${ts} (${tsText(ts)}) is not after the GC safe point ` +
        `${safePoint} (${tsText(safePoint)}): data at that time may already ` +
        `be garbage-collected; choose a later --backupts or a smaller --timeago`,
    );
  }
}

/** A running service safe point keeper. */
export interface GcKeeper {
  readonly serviceId: string;
  /** Rejects once the keeper fails (the safe point passed the backup ts); never resolves. */
  readonly failed: Promise<never>;
  /** Stops refreshing (the safe point then expires after its TTL, as with BR). */
  stop(): void;
}

/**
 * Holds a service GC safe point at `backupTs - 1` for the backup's duration, refreshing it
 * every TTL/3. If PD reports a minimum safe point beyond the backup ts, `failed` rejects.
 */
export async function startGcKeeper(
  pd: PdClient,
  backupTs: bigint,
  ttlSeconds = DEFAULT_GC_TTL_SECONDS,
  serviceId = `br-${randomUUID()}`,
): Promise<GcKeeper> {
  if (ttlSeconds <= 0) ttlSeconds = DEFAULT_GC_TTL_SECONDS;
  let fail: (e: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {}); // observed by whoever awaits it; avoid an unhandled rejection
  const update = async () => {
    const min = await pd.updateServiceGCSafePoint(serviceId, BigInt(ttlSeconds), backupTs - 1n);
    if (min > backupTs - 1n) {
      throw new TimestampError(
        `the GC safe point ${min} passed the backup ts ${backupTs}: data of the backup may be ` +
          `garbage-collected; retry with a fresh backup ts or a larger --gcttl`,
      );
    }
  };
  await update();
  log("backup").info("GC service safe point {id} set at {ts} for {ttl} s", {
    id: serviceId,
    ts: String(backupTs - 1n),
    ttl: ttlSeconds,
  });
  const timer = setInterval(() => {
    update().catch((err) => {
      if (err instanceof TimestampError) {
        clearInterval(timer);
        fail(err);
      } else {
        log("backup").warn("refreshing the GC safe point failed: {msg}", { msg: err.message });
      }
    });
  }, (ttlSeconds * 1000) / 3);
  // The keeper must not keep the process alive on its own.
  (timer as unknown as { unref?: () => void }).unref?.();
  return { serviceId, failed, stop: () => clearInterval(timer) };
}
