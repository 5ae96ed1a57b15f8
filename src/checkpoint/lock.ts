/**
 * `checkpoints/backup/checkpoint.lock`: the lock that keeps two backups from writing to the same
 * storage at once. Its content is BR's `{"lock-id", "expire-at"}` (plus `owner`): the id is a PD
 * TSO taken when the run acquired it, the expiry is PD physical time (ms) + TTL (5 min). The
 * holder renews it every 4 minutes; all expiry judgements use PD time, never a local clock.
 *
 * On a storage that declares `conditionalCreate` and `compareAndSwap`, two runs can never both
 * hold it: it is created only if absent, renewed and taken over only by compare-and-swap on its
 * version, and `assertHeld` (called before each checkpoint flush and before `backupmeta` is
 * written) checks the version is still ours with at least `fenceMarginMs` of TTL left, renewing
 * first if less. A run whose lock was taken over fails its next check instead of writing.
 *
 * On a storage without them (possible for custom plugins), BR's protocol is used with a loud
 * warning: check, write, wait 3 s, re-read. Two runs that start within the same few seconds can
 * then, rarely, both proceed.
 *
 * ```ts
 * const lock = await CheckpointLock.acquire(storage, { now: () => pd.getTs() });
 * try {
 *   // ... flushes call lock.assertHeld() first ...
 * } finally {
 *   await lock.release();
 * }
 * ```
 * @module
 */
import { controlLane } from "../storage/lane.ts";
import { physicalOf } from "../codec/tso.ts";
import { hostname } from "node:os";
import process from "node:process";
import { isStorageError, StorageError } from "../storage/errors.ts";
import type { ExternalStorage, ObjectStat } from "../storage/types.ts";
import { log } from "../log.ts";
import { CheckpointError } from "./errors.ts";
import { decodeLock, encodeLock, LOCK_PATH, type LockInfo } from "./files.ts";
import { isGoneHere, thisProcess } from "./_process.ts";
import { systemTimers, type Timers } from "./timers.ts";
import { objectUri } from "../storage/url.ts";
import { metrics } from "../metrics.ts";

/** BR's lock TTL: 5 minutes. */
export const LOCK_TTL_MS = 5 * 60_000;
/** BR's renewal interval: 4 minutes. */
export const LOCK_RENEW_MS = 4 * 60_000;
/** How long the fallback protocol waits before re-reading the lock (BR's 3 s). */
export const SETTLE_MS = 3000;

/** Options of `CheckpointLock.acquire`. */
export interface LockOptions {
  /** PD's current TSO (the lock id and the clock expiry is judged by). */
  now: () => Promise<bigint>;
  /** Lock time-to-live, ms (default `LOCK_TTL_MS`). */
  ttlMs?: number;
  /** Renewal interval, ms (default 4/5 of the TTL); 0 disables the background renewal. */
  renewIntervalMs?: number;
  /** Least TTL left that `assertHeld` accepts without renewing (default 1/5 of the TTL). */
  fenceMarginMs?: number;
  /** Fallback protocol's wait before re-reading, ms (default `SETTLE_MS`). */
  settleMs?: number;
  /**
   * When another live run holds the lock, wait up to this long (ms, PD time) for it to expire
   * or be released instead of failing at once (default 0).
   */
  waitMs?: number;
  /** Who holds the lock, shown to other runs (default `<hostname> pid <pid>`). */
  owner?: string;
  /** Timers for the renewal ticker and waits (tests). */
  timers?: Timers;
}

/** A lock as read from storage. */
export interface LockState {
  info: LockInfo;
  /** The object's version tag. */
  version: string;
}

/** PD physical time of a TSO, ms since epoch. */
export const physicalMs: (ts: bigint) => number = physicalOf;

/** `2026-11-21 12:05:31 UTC`. */
export function formatUtc(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return "(released)";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function lockUri(storage: ExternalStorage): string {
  return objectUri(storage.uri(), LOCK_PATH);
}

/** Who holds `info`, for messages: `run 4431... (host pid 12, started 2026-... UTC)`. */
export function describeHolder(info: LockInfo): string {
  const started = formatUtc(physicalMs(info.lockId));
  return `run ${info.lockId} (${info.owner ? `${info.owner}, ` : ""}started ${started})`;
}

/**
 * The one-line message for a live lock of another run: who holds it, until when, how to remove
 * it if its owner is gone.
 */
export function lockHeldMessage(storage: ExternalStorage, info: LockInfo, nowMs: number): string {
  const left = Math.max(0, Math.ceil((info.expireAt - nowMs) / 1000));
  return `cannot take the checkpoint lock at ${lockUri(storage)}: held by ` +
    `${describeHolder(info)} until ${formatUtc(info.expireAt)} (${left} s from now); another ` +
    `backup to this storage may be running: wait for it to end or its lock to expire, or if ` +
    `that run is gone, remove the lock with 'tibr checkpoint clean -s ${storage.uri()} ` +
    `--lock-only --force' (the checkpoint is kept)`;
}

/** Reads the lock; undefined when there is none. Throws Corrupt when it cannot be parsed. */
export async function readLock(
  storage: ExternalStorage,
  signal?: AbortSignal,
): Promise<LockState | undefined> {
  storage = controlLane(storage);
  // stat, read, stat: the content belongs to the version only if nothing wrote in between.
  for (let attempt = 0; attempt < 5; attempt++) {
    let before: ObjectStat;
    let data: Uint8Array;
    let after: ObjectStat;
    try {
      before = await storage.stat(LOCK_PATH, { signal });
      data = await storage.readFile(LOCK_PATH, { signal });
      after = await storage.stat(LOCK_PATH, { signal });
    } catch (err) {
      if (!isStorageError(err, "NotFound")) throw err;
      // Missing, or deleted meanwhile: no lock, unless one was created since.
      try {
        await storage.stat(LOCK_PATH, { signal });
      } catch (again) {
        if (isStorageError(again, "NotFound")) return undefined;
        throw again;
      }
      continue;
    }
    if (before.version !== after.version) continue;
    let info: LockInfo;
    try {
      info = decodeLock(data);
    } catch (err) {
      throw new CheckpointError(
        "Corrupt",
        `the checkpoint lock at ${lockUri(storage)} is unreadable (${(err as Error).message}); ` +
          `if no backup to this storage is running, remove it with 'tibr checkpoint clean -s ` +
          `${storage.uri()} --lock-only --force'`,
        { cause: err },
      );
    }
    return { info, version: after.version };
  }
  throw new StorageError(`the checkpoint lock at ${lockUri(storage)} kept changing while read`, {
    code: "Unexpected",
    operation: "readLock",
    path: LOCK_PATH,
    temporary: true,
  });
}

function isConflict(err: unknown): boolean {
  return isStorageError(err, "ConditionNotMatch") || isStorageError(err, "AlreadyExists");
}

/** The checkpoint lock held by this run. */
export class CheckpointLock {
  readonly #storage: ExternalStorage;
  readonly #now: () => Promise<bigint>;
  readonly #ttl: number;
  readonly #margin: number;
  readonly #settle: number;
  readonly #timers: Timers;
  readonly #owner: string;
  readonly #id: bigint;
  /** Whether the storage honours conditional writes (the safe protocol). */
  readonly conditional: boolean;
  #version = "";
  #expireAt = 0;
  #lost: CheckpointError | undefined;
  #released = false;
  #stopRenewal: (() => void) | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #assert: Promise<void> | undefined;

  private constructor(storage: ExternalStorage, opts: LockOptions, id: bigint) {
    this.#storage = controlLane(storage);
    this.#now = opts.now;
    this.#ttl = opts.ttlMs ?? LOCK_TTL_MS;
    if (!(this.#ttl > 0)) throw new RangeError(`lock TTL must be positive, got ${this.#ttl}`);
    this.#margin = opts.fenceMarginMs ?? Math.floor(this.#ttl / 5);
    this.#settle = opts.settleMs ?? SETTLE_MS;
    this.#timers = opts.timers ?? systemTimers;
    this.#owner = opts.owner ?? `${hostname()} pid ${process.pid}`;
    this.#id = id;
    const caps = storage.capabilities();
    this.conditional = caps.conditionalCreate && caps.compareAndSwap;
  }

  /**
   * Takes the lock: creates it, or takes over an expired one. Throws `LockHeld` (with who holds
   * it, until when and how to remove it) when another live run has it, after waiting up to
   * `waitMs`. Starts renewing it in the background every `renewIntervalMs`.
   */
  static async acquire(storage: ExternalStorage, opts: LockOptions): Promise<CheckpointLock> {
    const id = await opts.now();
    const lock = new CheckpointLock(storage, opts, id);
    const waitUntil = physicalMs(id) + (opts.waitMs ?? 0);
    for (;;) {
      try {
        if (lock.conditional) await lock.#acquireConditional();
        else await lock.#acquireFallback();
        break;
      } catch (err) {
        if (!(err instanceof CheckpointError && err.code === "LockHeld")) throw err;
        const now = physicalMs(await opts.now());
        if (now >= waitUntil) throw err;
        log("checkpoint").info("waiting for the checkpoint lock: {reason}", {
          reason: err.message,
        });
        await lock.#timers.sleep(Math.min(5000, Math.max(100, waitUntil - now)));
      }
    }
    const every = opts.renewIntervalMs ?? Math.floor(lock.#ttl * 4 / 5);
    if (every > 0) lock.#stopRenewal = lock.#timers.every(every, () => lock.#renewTick());
    log("checkpoint").info("took the checkpoint lock {id} until {until} at {uri}", {
      id: String(id),
      until: formatUtc(lock.#expireAt),
      uri: lockUri(storage),
    });
    return lock;
  }

  /** This run's lock id (a PD TSO). */
  get id(): bigint {
    return this.#id;
  }

  /** Expiry of the lock as last written, PD physical ms. */
  get expireAt(): number {
    return this.#expireAt;
  }

  /** Set once the lock is known to be lost: every later write must fail with it. */
  get lost(): CheckpointError | undefined {
    return this.#lost;
  }

  #info(physical: number): LockInfo {
    const proc = thisProcess();
    return {
      lockId: this.#id,
      expireAt: physical + this.#ttl,
      owner: this.#owner,
      ...(proc ? { process: proc } : {}),
    };
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #acquireConditional(): Promise<void> {
    for (let attempt = 0; attempt < 16; attempt++) {
      const physical = physicalMs(await this.#now());
      const info = this.#info(physical);
      try {
        const st = await this.#storage.writeFile(LOCK_PATH, encodeLock(info), {
          ifNoneMatch: "*",
        });
        this.#held(st.version, info.expireAt);
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
      const current = await readLock(this.#storage);
      if (!current) continue; // released meanwhile: try to create again
      if (current.info.lockId === this.#id) {
        // An earlier attempt of ours landed (e.g. a retried request).
        this.#held(current.version, current.info.expireAt);
        return;
      }
      const gone = isGoneHere(current.info.process);
      if (current.info.expireAt > physical && !gone) {
        throw new CheckpointError(
          "LockHeld",
          lockHeldMessage(this.#storage, current.info, physical),
        );
      }
      // Expired, released, or its holder died on this host: take it over, unless another run
      // does so first.
      try {
        const st = await this.#storage.writeFile(LOCK_PATH, encodeLock(info), {
          ifMatch: current.version,
        });
        if (current.info.expireAt > physical) {
          log("checkpoint").warn(
            "took over the checkpoint lock of {holder}: that process no longer runs on this host",
            { holder: describeHolder(current.info) },
          );
        } else if (current.info.expireAt > 0) {
          log("checkpoint").warn(
            "took over the expired checkpoint lock of {holder}, which expired at {at}",
            { holder: describeHolder(current.info), at: formatUtc(current.info.expireAt) },
          );
        }
        this.#held(st.version, info.expireAt);
        return;
      } catch (err) {
        if (!isConflict(err) && !isStorageError(err, "NotFound")) throw err;
      }
    }
    throw new StorageError(
      `the checkpoint lock at ${lockUri(this.#storage)} kept changing; retry the backup`,
      { code: "Unexpected", operation: "acquireLock", path: LOCK_PATH, temporary: true },
    );
  }

  /** Checks a lock read in the fallback protocol against ours (BR's checkLockFile). */
  #checkFallback(current: LockInfo, physical: number): void {
    if (current.lockId === this.#id) return;
    if (current.expireAt > physical && !isGoneHere(current.process)) {
      throw new CheckpointError("LockHeld", lockHeldMessage(this.#storage, current, physical));
    }
    if (current.lockId > this.#id && !isGoneHere(current.process)) {
      throw new CheckpointError(
        "LockHeld",
        `cannot take the checkpoint lock at ${lockUri(this.#storage)}: ` +
          `${describeHolder(current)} started after this run (${this.#id}) but set the lock ` +
          `first; check whether it is running, and if not, retry`,
      );
    }
  }

  async #acquireFallback(): Promise<void> {
    log("checkpoint").warn(
      "STORAGE {uri} DOES NOT DECLARE CONDITIONAL WRITES: the checkpoint lock falls back to " +
        "write, wait {settle} ms, re-read, which cannot fully rule out two backups running to " +
        "the same storage at once; make sure only one runs",
      { uri: this.#storage.uri(), settle: this.#settle },
    );
    const physical = physicalMs(await this.#now());
    const before = await readLock(this.#storage);
    if (before) this.#checkFallback(before.info, physical);
    const info = this.#info(physical);
    const st = await this.#storage.writeFile(LOCK_PATH, encodeLock(info));
    await this.#timers.sleep(this.#settle);
    const after = await readLock(this.#storage);
    if (!after) {
      throw new CheckpointError(
        "LockHeld",
        `the checkpoint lock at ${lockUri(this.#storage)} was removed right after this run ` +
          `wrote it; another backup or 'tibr checkpoint clean' may be running: retry`,
      );
    }
    this.#checkFallback(after.info, physicalMs(await this.#now()));
    if (after.info.lockId !== this.#id) {
      // Expired and older: overwritten by a run that has since given up; ours is gone too.
      throw new CheckpointError(
        "LockHeld",
        `the checkpoint lock at ${lockUri(this.#storage)} was overwritten by ` +
          `${describeHolder(after.info)}; retry`,
      );
    }
    this.#held(after.version || st.version, info.expireAt);
  }

  #held(version: string, expireAt: number): void {
    this.#version = version;
    this.#expireAt = expireAt;
  }

  #loseTo(current: LockInfo | undefined, why: string): CheckpointError {
    const by = current
      ? `it is now held by ${describeHolder(current)} until ${formatUtc(current.expireAt)}`
      : "it was removed";
    this.#lost ??= new CheckpointError(
      "LockLost",
      `this backup lost the checkpoint lock at ${lockUri(this.#storage)} (${why}; ${by}); it ` +
        `stops so that two runs never write the same backup: make sure the other run is gone, ` +
        `then rerun to resume from the checkpoint`,
    );
    this.#stopRenewal?.();
    log("checkpoint").error("{message}", { message: this.#lost.message });
    return this.#lost;
  }

  /** Extends the lock by a TTL from PD's now. Throws `LockLost` when it is no longer ours. */
  renew(): Promise<void> {
    return this.#serial(() => this.#renew());
  }

  async #renew(): Promise<void> {
    if (this.#lost) throw this.#lost;
    metrics.lockRenewal();
    if (this.#released) throw new CheckpointError("Closed", "the checkpoint lock was released");
    const physical = physicalMs(await this.#now());
    if (physical >= this.#expireAt) {
      log("checkpoint").warn("the checkpoint lock expired at {at} before it was renewed", {
        at: formatUtc(this.#expireAt),
      });
    }
    const info = this.#info(physical);
    if (this.conditional) {
      try {
        const st = await this.#storage.writeFile(LOCK_PATH, encodeLock(info), {
          ifMatch: this.#version,
        });
        this.#held(st.version, info.expireAt);
        return;
      } catch (err) {
        if (!isConflict(err) && !isStorageError(err, "NotFound")) throw err;
      }
      const current = await readLock(this.#storage);
      if (current?.info.lockId === this.#id && current.info.expireAt > 0) {
        this.#held(current.version, current.info.expireAt);
        return;
      }
      throw this.#loseTo(current?.info, "it changed under this run");
    }
    const current = await readLock(this.#storage);
    if (!current || current.info.lockId !== this.#id) {
      throw this.#loseTo(current?.info, "it was overwritten");
    }
    const st = await this.#storage.writeFile(LOCK_PATH, encodeLock(info));
    this.#held(st.version, info.expireAt);
  }

  async #renewTick(): Promise<void> {
    for (let attempt = 0; attempt < 5 && !this.#lost && !this.#released; attempt++) {
      try {
        await this.renew();
        return;
      } catch (err) {
        if (err instanceof CheckpointError) return;
        log("checkpoint").warn("cannot renew the checkpoint lock (attempt {n}): {error}", {
          n: attempt + 1,
          error: (err as Error).message,
        });
        await this.#timers.sleep(1000 * 2 ** attempt).catch(() => {});
      }
    }
  }

  /**
   * Fencing: resolves only if this run still holds the lock with at least the fence margin of
   * TTL left by PD time (renewing first when less is left), so a write that follows within the
   * margin cannot overlap another run's. Throws `LockLost` otherwise. Call it before every
   * checkpoint flush and before writing `backupmeta`. Concurrent calls share one check.
   */
  assertHeld(): Promise<void> {
    if (this.#lost) return Promise.reject(this.#lost);
    this.#assert ??= this.#serial(() => this.#assertHeld()).finally(() => {
      this.#assert = undefined;
    });
    return this.#assert;
  }

  async #assertHeld(): Promise<void> {
    if (this.#lost) throw this.#lost;
    if (this.#released) throw new CheckpointError("Closed", "the checkpoint lock was released");
    if (this.conditional) {
      let st: ObjectStat | undefined;
      try {
        st = await this.#storage.stat(LOCK_PATH);
      } catch (err) {
        if (!isStorageError(err, "NotFound")) throw err;
      }
      if (st?.version !== this.#version) {
        const current = await readLock(this.#storage);
        if (current?.info.lockId === this.#id && current.info.expireAt > 0) {
          this.#held(current.version, current.info.expireAt);
        } else throw this.#loseTo(current?.info, "it changed under this run");
      }
    } else {
      const current = await readLock(this.#storage);
      if (!current || current.info.lockId !== this.#id) {
        throw this.#loseTo(current?.info, "it was overwritten");
      }
    }
    const physical = physicalMs(await this.#now());
    if (this.#expireAt - physical < this.#margin) await this.#renew();
  }

  /** Stops the background renewal (the lock stays until it expires or is released). */
  stopRenewal(): void {
    this.#stopRenewal?.();
    this.#stopRenewal = undefined;
  }

  /**
   * Gives the lock up: marks it released (expired) by compare-and-swap, then deletes it if it is
   * still that version. Does nothing when the lock was lost. Idempotent.
   */
  release(): Promise<void> {
    this.stopRenewal();
    return this.#serial(async () => {
      if (this.#released || this.#lost) return;
      this.#released = true;
      if (this.conditional) {
        const released = { lockId: this.#id, expireAt: 0, owner: this.#owner };
        let st: ObjectStat;
        try {
          st = await this.#storage.writeFile(LOCK_PATH, encodeLock(released), {
            ifMatch: this.#version,
          });
        } catch (err) {
          if (isConflict(err) || isStorageError(err, "NotFound")) return;
          throw err;
        }
        // Nobody may take over between this stat and the delete only in a tiny window; a lost
        // race deletes a lock that was just taken, which its holder's next check reports.
        const now = await this.#storage.stat(LOCK_PATH).catch(() => undefined);
        if (now?.version === st.version) await this.#storage.deleteFile(LOCK_PATH);
      } else {
        const current = await readLock(this.#storage);
        if (current?.info.lockId === this.#id) await this.#storage.deleteFile(LOCK_PATH);
      }
      log("checkpoint").info("released the checkpoint lock {id}", { id: String(this.#id) });
    });
  }
}
