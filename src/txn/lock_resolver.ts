/**
 * Resolves the Percolator locks a reader (a backup at `callerStartTs`) runs into, following
 * client-go's lock resolver: ask the primary's status (CheckTxnStatus); a live lock is waited
 * out; an expired one is rolled back; committed or rolled-back transactions are cleaned up
 * with ResolveLock (one key for small transactions, the whole region for big ones); expired
 * async-commit locks are settled through CheckSecondaryLocks; pessimistic locks are removed with
 * PessimisticRollback.
 * @module
 */
import { Action, type LockInfo, Op } from "../gen/kvrpcpb_pb.ts";
import { log, logKey } from "../log.ts";
import type { PdClient } from "../pd/client.ts";
import { type RegionRequestOptions, sendToRegion } from "../tikv/region_request.ts";
import { Backoffer, BO } from "../backoff.ts";
import type { Clock } from "../storage/clock.ts";
import type { StoreConnections } from "../tikv/stores.ts";
import { compareBytes } from "../codec/bytes.ts";
import { physicalOf } from "../codec/tso.ts";

/** A transaction with more keys than this is "big": its locks are resolved region-wide. */
export const BIG_TXN_THRESHOLD = 16n;

/** A key error TiKV returned while resolving that is not about locks (fatal for the caller). */
export class LockResolveError extends Error {
  override name = "LockResolveError";
}

interface TxnStatus {
  /** > 0: the primary is still locked for this many ms from its start. */
  ttl: bigint;
  /** > 0: committed at this ts. ttl and commitTs both 0: rolled back. */
  commitTs: bigint;
  action: Action;
  primaryLock: LockInfo | undefined;
}

/** Milliseconds of PD's physical clock in a TSO. */
function physicalMs(ts: bigint): bigint {
  return BigInt(physicalOf(ts));
}

/** Options for the resolver. */
export interface LockResolverOptions {
  signal?: AbortSignal;
  /** Time for backoffs; the system clock by default. */
  clock?: Clock;
}

/** Resolves locks on behalf of readers. One per backup; caches settled transactions. */
export class LockResolver {
  #pd: PdClient;
  #stores: StoreConnections;
  #opts: LockResolverOptions;
  /** txn start ts → settled status (committed or rolled back). */
  #resolved = new Map<bigint, TxnStatus>();
  /** `${txn}/${region}` already resolved region-wide. */
  #cleanedRegions = new Set<string>();

  constructor(pd: PdClient, stores: StoreConnections, opts: LockResolverOptions = {}) {
    this.#pd = pd;
    this.#stores = stores;
    this.#opts = opts;
  }

  /**
   * Resolves `locks` for a reader at `callerStartTs`. Returns 0 when every lock is gone, or the
   * ms until the earliest live lock expires (the caller backs off that long and retries).
   */
  async resolveLocks(callerStartTs: bigint, locks: LockInfo[]): Promise<number> {
    let msBeforeExpired = 0n;
    for (const lock of locks) {
      const status = await this.#statusOf(lock, callerStartTs);
      if (status.ttl === 0n) {
        this.#resolved.set(lock.lockVersion, status);
        if (lock.lockType === Op.PessimisticLock) await this.#pessimisticRollback(lock);
        else await this.#resolve(lock, status);
        continue;
      }
      // Still locked. An async-commit transaction whose primary TTL has passed is settled from
      // its secondaries instead of waiting for a coordinator that may be gone.
      const remaining = await this.#msUntilExpired(lock.lockVersion, status.ttl);
      if (status.primaryLock?.useAsyncCommit && remaining <= 0n) {
        await this.#resolveAsyncCommit(lock, status);
        continue;
      }
      const wait = remaining > 0n ? remaining : 1n;
      if (msBeforeExpired === 0n || wait < msBeforeExpired) msBeforeExpired = wait;
    }
    return Number(msBeforeExpired);
  }

  async #msUntilExpired(lockTs: bigint, ttl: bigint): Promise<bigint> {
    const now = physicalMs(await this.#pd.getTS());
    return physicalMs(lockTs) + ttl - now;
  }

  async #statusOf(lock: LockInfo, callerStartTs: bigint): Promise<TxnStatus> {
    const cached = this.#resolved.get(lock.lockVersion);
    if (cached) return cached;
    // A lock with no TTL can be cleaned at once: ask with the largest current ts.
    const currentTs = lock.lockTtl === 0n ? 0xffffffffffffffffn : await this.#pd.getTS();
    let rollbackIfNotExist = false;
    // No budget of its own: the wait ends when the lock seen expires (then it is rolled back).
    const bo = new Backoffer({
      budgetMs: 0,
      ...(this.#opts.clock ? { clock: this.#opts.clock } : {}),
      ...(this.#opts.signal ? { signal: this.#opts.signal } : {}),
    });
    for (;;) {
      const status = await this.#checkTxnStatus(lock, callerStartTs, currentTs, rollbackIfNotExist);
      if (status) return status;
      // The primary has no lock and no commit record: the transaction may still be
      // prewriting it. Wait until the lock we saw expires, then roll it back for good.
      const remaining = await this.#msUntilExpired(lock.lockVersion, lock.lockTtl);
      if (remaining <= 0n) {
        rollbackIfNotExist = true;
        continue;
      }
      if (lock.lockType === Op.PessimisticLock) {
        return { ttl: 0n, commitTs: 0n, action: Action.NoAction, primaryLock: undefined };
      }
      // client-go's txnNotFound backoff, never past the lock's expiry; honours the run's signal.
      await bo.backoff(BO.txnNotFound, `primary lock of txn ${lock.lockVersion} not found`, {
        maxSleepMs: Number(remaining),
      });
    }
  }

  /** CheckTxnStatus on the primary; undefined means TxnNotFound. */
  async #checkTxnStatus(
    lock: LockInfo,
    callerStartTs: bigint,
    currentTs: bigint,
    rollbackIfNotExist: boolean,
  ): Promise<TxnStatus | undefined> {
    const { response } = await sendToRegion(
      this.#pd,
      this.#stores,
      lock.primaryLock,
      async (c, ctx) => {
        const r = await c.kvCheckTxnStatus({
          context: ctx,
          primaryKey: lock.primaryLock,
          lockTs: lock.lockVersion,
          callerStartTs,
          currentTs,
          rollbackIfNotExist,
          resolvingPessimisticLock: lock.lockType === Op.PessimisticLock,
        }, this.#callOpts());
        return { response: r, regionError: r.regionError };
      },
      this.#sendOpts(),
    );
    if (response.error?.txnNotFound) return undefined;
    if (response.error) {
      throw new LockResolveError(
        `CheckTxnStatus of txn ${lock.lockVersion} failed: ${JSON.stringify(response.error)}`,
      );
    }
    return {
      ttl: response.lockTtl,
      commitTs: response.commitVersion,
      action: response.action,
      primaryLock: response.lockInfo,
    };
  }

  async #resolve(lock: LockInfo, status: TxnStatus): Promise<void> {
    const lite = lock.txnSize < BIG_TXN_THRESHOLD;
    await sendToRegion(this.#pd, this.#stores, lock.key, async (c, ctx, region) => {
      const regionKey = `${lock.lockVersion}/${region.region.id}`;
      if (!lite && this.#cleanedRegions.has(regionKey)) {
        return { response: undefined, regionError: undefined };
      }
      const r = await c.kvResolveLock({
        context: ctx,
        startVersion: lock.lockVersion,
        commitVersion: status.commitTs,
        keys: lite ? [lock.key] : [],
      }, this.#callOpts());
      if (!r.regionError && !r.error && !lite) this.#cleanedRegions.add(regionKey);
      if (r.error) {
        throw new LockResolveError(
          `ResolveLock of txn ${lock.lockVersion} failed: ${JSON.stringify(r.error)}`,
        );
      }
      return { response: r, regionError: r.regionError };
    }, this.#sendOpts());
    log("txn").debug("resolved lock {key} of txn {txn} ({outcome})", {
      key: logKey(lock.key),
      txn: String(lock.lockVersion),
      outcome: status.commitTs > 0n ? `committed at ${status.commitTs}` : "rolled back",
    });
  }

  async #pessimisticRollback(lock: LockInfo): Promise<void> {
    await sendToRegion(this.#pd, this.#stores, lock.key, async (c, ctx) => {
      const r = await c.kVPessimisticRollback({
        context: ctx,
        startVersion: lock.lockVersion,
        forUpdateTs: lock.lockForUpdateTs,
        keys: [lock.key],
      }, this.#callOpts());
      return { response: r, regionError: r.regionError };
    }, this.#sendOpts());
  }

  /**
   * Settles an async-commit transaction: it is committed if any key was committed, rolled back
   * if any key's lock is gone without a commit, else committed at the largest min_commit_ts.
   */
  async #resolveAsyncCommit(lock: LockInfo, status: TxnStatus): Promise<void> {
    const primary = status.primaryLock!;
    const keys = [lock.primaryLock, ...primary.secondaries]
      .sort(compareBytes)
      .filter((k, i, a) => i === 0 || compareBytes(a[i - 1]!, k) !== 0);
    let committedAt = 0n;
    let missing = false;
    let maxMinCommit = primary.minCommitTs;
    for (const key of keys) {
      const { response } = await sendToRegion(this.#pd, this.#stores, key, async (c, ctx) => {
        const r = await c.kvCheckSecondaryLocks({
          context: ctx,
          keys: [key],
          startVersion: lock.lockVersion,
        }, this.#callOpts());
        return { response: r, regionError: r.regionError };
      }, this.#sendOpts());
      if (response.error) {
        throw new LockResolveError(`CheckSecondaryLocks failed: ${JSON.stringify(response.error)}`);
      }
      if (response.commitTs > 0n) committedAt = response.commitTs;
      if (response.locks.length === 0 && response.commitTs === 0n) missing = true;
      for (const l of response.locks) {
        if (l.minCommitTs > maxMinCommit) maxMinCommit = l.minCommitTs;
      }
    }
    const commitTs = committedAt > 0n ? committedAt : missing ? 0n : maxMinCommit;
    const settled: TxnStatus = { ttl: 0n, commitTs, action: Action.NoAction, primaryLock: primary };
    this.#resolved.set(lock.lockVersion, settled);
    for (const key of keys) {
      await this.#resolve({ ...lock, key, txnSize: 0n } as LockInfo, settled);
    }
  }

  #callOpts(): { timeoutMs: number; signal?: AbortSignal } {
    return { timeoutMs: 20_000, ...(this.#opts.signal ? { signal: this.#opts.signal } : {}) };
  }

  #sendOpts(): RegionRequestOptions {
    return {
      ...(this.#opts.signal ? { signal: this.#opts.signal } : {}),
      ...(this.#opts.clock ? { clock: this.#opts.clock } : {}),
    };
  }
}
