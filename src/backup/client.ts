/**
 * The backup client's core, as BR's: each range is pushed to every store at once (each store
 * backs up the regions it leads), then a fine-grained phase asks the leader of every region
 * still missing, region by region, until the range is complete, backing off as BR does.
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { BackupRequestSchema, BackupResponse } from "../gen/brpb_pb.ts";
import { KeyRangeSchema, type LockInfo } from "../gen/kvrpcpb_pb.ts";
import type { Store } from "../gen/metapb_pb.ts";
import { StoreState } from "../gen/metapb_pb.ts";
import type { KeyRange, Range, RangeTree } from "./rangetree.ts";
import { log, logKey } from "../log.ts";
import type { PdClient } from "../pd/client.ts";
import { type StoreConnections, StoreUnreachableError } from "../tikv/stores.ts";
import type { LockResolver } from "../txn/lock_resolver.ts";
import { Backoffer, BackoffExhaustedError, BO } from "../backoff.ts";
import { forEachPool } from "../pool.ts";
import { type Clock, systemClock } from "../storage/clock.ts";

/** A BackupRequest as an init object; keys and ranges are filled in per call. */
export type BackupRequestInit = MessageInitShape<typeof BackupRequestSchema>;

/** BR's total backoff budget of the fine-grained phase, per range (ms). */
export const FINE_GRAINED_MAX_BACKOFF_MS = 80_000;
/** Missing pieces of a range sent at once in the fine-grained phase (BR's 4 workers). */
export const FINE_GRAINED_WORKERS = 4;
/** Attempts of one backup stream before giving up on a store (BR's backupRetryTimes). */
export const BACKUP_RETRY_TIMES = 5;
/** Backoffs BR uses, ms. */
export const BACKOFF = {
  regionError: 1_000,
  retryableStorage: 3_000,
  noProgress: 10_000,
  storeUnreachable: 20_000,
  reconnect: 3_000,
} as const;

/** A backup failure to report as one line. */
export class BackupError extends Error {
  override name = "BackupError";
}

/** The range tree the client fills: BR's rtree (see rangetree.ts). */
export type RangeTreeLike = Pick<RangeTree, "put" | "getIncompleteRanges" | "ranges" | "stream">;

/** What `backupRange` starts from and where its finished ranges go. */
export interface BackupRangeOptions {
  /** The parts a resumed backup already has (from the checkpoint). */
  done?: RangeTreeLike;
  /**
   * Receives the range's finished sub-ranges in key order while the backup runs (the tree
   * streams, see rangetree.ts), so they need not all be held until the range is done.
   */
  sink?: (r: Range) => void;
}

/** Progress callbacks. */
export interface ProgressSink {
  /**
   * One region's response was accepted (put into the range tree): checkpoint it here. A response
   * overlapping what the tree already handed over is refused and not reported.
   */
  region?(resp: BackupResponse): void;
}

/** Options for the client. */
export interface BackupClientOptions {
  clusterId: bigint;
  /** Makes a fresh range tree (injected so the caller picks the implementation). */
  newTree: () => RangeTreeLike;
  /** Total fine-grained backoff per range before giving up, ms. */
  maxBackoffMs?: number;
  /** Time for backoffs; the system clock by default (a ManualClock in tests). */
  clock?: Clock;
  signal?: AbortSignal;
}

/** Storage messages from TiKV that BR retries (the store could not reach storage). */
const RETRYABLE_STORAGE_MESSAGES = [
  "server closed",
  "connection refused",
  "connection reset by peer",
  "channel closed",
  "error trying to connect",
  "connection closed before message completed",
  "body write aborted",
  "error during dispatch",
  "put object timeout",
  "internalerror",
  "not read from or written to within the timeout period",
  "<code>requesttimeout</code>",
  "<code>invalidpart</code>",
  "end of file before message length reached",
  "timed out",
  "slowdown",
];

/** Whether TiKV's error message describes a temporary storage failure. */
export function isRetryableStorageMessage(msg: string): boolean {
  const m = msg.toLowerCase();
  return RETRYABLE_STORAGE_MESSAGES.some((s) => m.includes(s));
}

/** The outcome of handling one BackupResponse. */
export interface ResponseOutcome {
  /** The response to record, when it carries files. */
  response?: BackupResponse;
  /** How long to back off before retrying what it did not cover, ms. */
  backoffMs: number;
  /** Why it backs off, for the message when the retries run out. */
  reason?: string;
  /** What the user can do about it, for the same message. */
  hint?: string;
}

/** Where a request's storage backend points, without credentials (`s3://bucket/prefix`). */
export function backendLocation(req: BackupRequestInit): string {
  const b = req.storageBackend?.backend;
  switch (b?.case) {
    case "local":
      return `local://${b.value.path ?? ""}`;
    case "noop":
      return "noop://";
    case "s3":
      return `s3://${b.value.bucket ?? ""}/${b.value.prefix ?? ""}`;
    case "gcs":
      return `gcs://${b.value.bucket ?? ""}/${b.value.prefix ?? ""}`;
    case "azureBlobStorage":
      return `azure://${b.value.bucket ?? ""}/${b.value.prefix ?? ""}`;
    default:
      return "the backup storage";
  }
}

/**
 * The error for a store that could not write the backup: TiKV writes the files itself, so a
 * permission problem is the stores' (their user, credentials or IAM role), not this process's.
 */
function storeStorageError(storeId: bigint, msg: string, location: string): BackupError {
  const denied = /permission|denied|forbidden|unauthori[sz]ed|access/i.test(msg);
  return new BackupError(
    `store ${storeId} could not write the backup to ${location}: ${msg}` +
      (denied ? "; make that storage writable by every TiKV store, or choose another" : ""),
  );
}

/** One line about a lock that holds up the backup. */
function lockReason(lock: LockInfo, msLeft: number): string {
  return `key ${logKey(lock.key)} is locked by transaction ${lock.lockVersion} (primary key ` +
    `${logKey(lock.primaryLock)}), whose lock lasts another ${Math.ceil(msLeft / 1000)} s`;
}

/**
 * BR's OnBackupResponse: a locked key is resolved and retried after the lock's remaining TTL;
 * the listed region errors back off 1 s; retryable storage messages 3 s; a cluster id mismatch
 * and any other error are fatal.
 */
export async function onBackupResponse(
  storeId: bigint,
  backupTs: bigint,
  resolver: LockResolver,
  resp: BackupResponse,
  location = "the backup storage",
): Promise<ResponseOutcome> {
  const err = resp.error;
  if (!err) return { response: resp, backoffMs: 0 };
  switch (err.detail.case) {
    case "kvError": {
      const locked = err.detail.value.locked;
      if (locked) {
        const ms = await resolver.resolveLocks(backupTs, [locked]);
        if (ms <= 0) return { backoffMs: 0 };
        return {
          backoffMs: ms,
          reason: lockReason(locked, ms),
          hint: "wait until that transaction commits or rolls back (or end the session holding it)",
        };
      }
      throw new BackupError(
        `store ${storeId} failed the backup with a KV error: ${JSON.stringify(err.detail.value)}`,
      );
    }
    case "regionError": {
      const r = err.detail.value;
      const retryable = r.epochNotMatch || r.notLeader || r.regionNotFound || r.serverIsBusy ||
        r.staleCommand || r.storeNotMatch || r.readIndexNotReady || r.proposalInMergingMode;
      if (!retryable) {
        throw new BackupError(
          `store ${storeId} failed the backup with a region error: ${r.message || "unknown"}`,
        );
      }
      log("backup").warn("store {store} answered a region error: {msg}; retrying", {
        store: String(storeId),
        msg: r.message,
      });
      return {
        backoffMs: BACKOFF.regionError,
        reason: `store ${storeId} answered a region error: ${r.message || "unknown"}`,
      };
    }
    case "clusterIdError":
      throw clusterIdError(storeId, err.detail.value.current, err.detail.value.request);
    default:
      if (isRetryableStorageMessage(err.msg)) {
        log("backup").warn("store {store} could not write to storage: {msg}; retrying", {
          store: String(storeId),
          msg: err.msg,
        });
        return {
          backoffMs: BACKOFF.retryableStorage,
          reason: `store ${storeId} could not write to ${location}: ${err.msg}`,
          hint: "check that every store can reach that storage",
        };
      }
      throw storeStorageError(storeId, err.msg, location);
  }
}

function clusterIdError(storeId: bigint, current: bigint, request: bigint): BackupError {
  return new BackupError(
    `store ${storeId} belongs to cluster ${current}, not ${request}: PD and this store are of ` +
      `different clusters; check -u/--pd names the PD of the cluster to back up`,
  );
}

/** Whether a gRPC failure means no connection could be made at all (nothing listens there). */
function isConnectFailure(err: ConnectError): boolean {
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && CONNECT_FAILURES.has(code);
}

const CONNECT_FAILURES = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND"]);

/** Raised when a store cannot be reached at all (BR's ErrFailedToConnect). */
export class FailedToConnectError extends Error {
  override name = "FailedToConnectError";
}

/** The BR backup client. */
export class BackupClient {
  #pd: PdClient;
  #stores: StoreConnections;
  #resolver: LockResolver;
  #opts: BackupClientOptions;
  #clock: Clock;

  constructor(
    pd: PdClient,
    stores: StoreConnections,
    resolver: LockResolver,
    opts: BackupClientOptions,
  ) {
    this.#pd = pd;
    this.#stores = stores;
    this.#resolver = resolver;
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  #callOpts(): { signal?: AbortSignal } {
    return this.#opts.signal ? { signal: this.#opts.signal } : {};
  }

  /**
   * Sends one BackupRequest to a store and feeds every response to `onResponse`. Retries the
   * stream up to BACKUP_RETRY_TIMES on `Unavailable`, resetting the connection (as BR's
   * SendBackup); other gRPC failures are FailedToConnectError. So is a store that refuses the
   * connection itself: BR's client fails to connect before it has a stream to retry, and the
   * caller's backoff (20 s in the fine-grained phase) is the one that waits for the store.
   */
  async sendBackup(
    storeId: bigint,
    req: BackupRequestInit,
    onResponse: (r: BackupResponse) => Promise<void>,
  ): Promise<void> {
    const signal = this.#opts.signal;
    const bo = new Backoffer({ budgetMs: 0, clock: this.#clock, ...(signal ? { signal } : {}) });
    for (let attempt = 0; attempt < BACKUP_RETRY_TIMES; attempt++) {
      let client;
      try {
        client = await this.#stores.backup(storeId);
      } catch (err) {
        if (err instanceof StoreUnreachableError) throw new FailedToConnectError(err.message);
        throw err;
      }
      try {
        for await (const resp of client.backup(req, this.#callOpts())) await onResponse(resp);
        return;
      } catch (err) {
        if (err instanceof BackupError || err instanceof FailedToConnectError) throw err;
        if (!(err instanceof ConnectError) && !(err instanceof Error && "code" in err)) throw err;
        const ce = ConnectError.from(err);
        if (ce.code === Code.Canceled && this.#opts.signal?.aborted) throw err;
        // Canceled without our signal: another stream's reset dropped the shared connection,
        // which is as retryable as the Unavailable that caused it.
        if (ce.code !== Code.Unavailable && ce.code !== Code.Canceled) {
          throw new FailedToConnectError(
            `backup stream to store ${storeId} failed: ${ce.rawMessage} (${Code[ce.code]})`,
          );
        }
        if (isConnectFailure(ce)) {
          this.#stores.reset(storeId);
          throw new FailedToConnectError(`store ${storeId} cannot be reached: ${ce.rawMessage}`);
        }
        log("backup").warn("store {store} unavailable ({msg}); reconnecting", {
          store: String(storeId),
          msg: ce.rawMessage,
        });
        // BR's SendBackup waits a fixed 3 s before reconnecting.
        await bo.sleepFor(BACKOFF.reconnect, ce.rawMessage, "reconnect");
        // A dropped stream rides on the connection that replaced it; resetting that one too
        // would drop its siblings in turn.
        if (ce.code !== Code.Canceled) this.#stores.reset(storeId);
      }
    }
    throw new FailedToConnectError(
      `store ${storeId} stayed unavailable after ${BACKUP_RETRY_TIMES} attempts`,
    );
  }

  /**
   * Pushes the range to every store that is Up; puts what they backed up into `tree` (a new one
   * when not given) and returns it. Region and KV errors are left to the fine-grained phase; a
   * cluster id error or an unknown error fails the backup.
   */
  async pushBackup(
    req: BackupRequestInit,
    stores: Store[],
    progress: ProgressSink,
    tree: RangeTreeLike = this.#opts.newTree(),
  ): Promise<RangeTreeLike> {
    const sends = stores
      .filter((s) => {
        if (s.state !== StoreState.Up) {
          log("backup").warn("skipping store {store} in state {state}", {
            store: String(s.id),
            state: StoreState[s.state],
          });
          return false;
        }
        return true;
      })
      .map((s) =>
        this.sendBackup(s.id, req, (resp) => {
          if (!resp.error) {
            if (tree.put(resp.startKey, resp.endKey, resp.files) >= 0) progress.region?.(resp);
            return Promise.resolve();
          }
          const d = resp.error.detail;
          if (d.case === "kvError" || d.case === "regionError") {
            log("backup").warn("push-down: store {store} answered {kind}; left to fine-grained", {
              store: String(s.id),
              kind: d.case,
            });
            return Promise.resolve();
          }
          if (d.case === "clusterIdError") {
            throw clusterIdError(s.id, d.value.current, d.value.request);
          }
          // As BR's push-down: a store that could not reach storage for a while gets the
          // range again in the fine-grained phase.
          if (isRetryableStorageMessage(resp.error.msg)) {
            log("backup").warn("push-down: store {store} could not write to storage: {msg}", {
              store: String(s.id),
              msg: resp.error.msg,
            });
            return Promise.resolve();
          }
          throw storeStorageError(s.id, resp.error.msg, backendLocation(req));
        }).catch((err) => {
          // A store we cannot reach now is retried region by region in the fine-grained phase.
          if (err instanceof FailedToConnectError) {
            log("backup").warn("push-down: {msg}; left to fine-grained", { msg: err.message });
            return;
          }
          throw err;
        })
      );
    await Promise.all(sends);
    return tree;
  }

  /**
   * Backs up one range completely; returns its tree. `opts.done` holds the parts a resumed
   * backup already has (from the checkpoint): only the rest is pushed down, as the request's
   * `sub_ranges` (BR's resume), and a range with nothing left is not sent at all. With
   * `opts.sink`, finished sub-ranges go there as the backup runs, and the tree returned holds
   * none of them.
   */
  async backupRange(
    range: KeyRange,
    template: BackupRequestInit,
    stores: Store[],
    progress: ProgressSink,
    opts: BackupRangeOptions = {},
  ): Promise<RangeTreeLike> {
    const { done, sink } = opts;
    const tree = done ?? this.#opts.newTree();
    if (sink) tree.stream(range.startKey, sink);
    const missing = done?.getIncompleteRanges(range.startKey, range.endKey);
    if (!done || missing === undefined) {
      await this.pushBackup(
        {
          ...template,
          clusterId: this.#opts.clusterId,
          startKey: range.startKey,
          endKey: range.endKey,
        },
        stores,
        progress,
        tree,
      );
    } else {
      if (missing.length > 0) {
        await this.pushBackup(
          {
            ...template,
            clusterId: this.#opts.clusterId,
            startKey: range.startKey,
            endKey: range.endKey,
            subRanges: missing.map((r) =>
              create(KeyRangeSchema, { startKey: r.startKey, endKey: r.endKey })
            ),
          },
          stores,
          progress,
          tree,
        );
      }
    }
    await this.fineGrainedBackup(range, template, tree, progress);
    return tree;
  }

  /**
   * Until no part of the range is missing: send each missing piece to its region's leader with
   * four workers, then back off the longest time any of them asked for, within the budget.
   */
  async fineGrainedBackup(
    range: KeyRange,
    template: BackupRequestInit,
    tree: RangeTreeLike,
    progress: ProgressSink,
  ): Promise<void> {
    const budget = this.#opts.maxBackoffMs ?? FINE_GRAINED_MAX_BACKOFF_MS;
    const signal = this.#opts.signal;
    const bo = new Backoffer({
      budgetMs: budget,
      clock: this.#clock,
      ...(signal ? { signal } : {}),
    });
    for (;;) {
      const incomplete = tree.getIncompleteRanges(range.startKey, range.endKey);
      if (incomplete.length === 0) return;
      log("backup").info("fine-grained backup of {n} missing ranges", { n: incomplete.length });
      let maxBackoff = 0;
      let lastReason = "";
      let lastHint = "";
      const workers = { concurrency: FINE_GRAINED_WORKERS, ...(signal ? { signal } : {}) };
      await forEachPool(incomplete, workers, async (rg) => {
        const out = await this.#handleFineGrained(rg, template, (resp) => {
          if (tree.put(resp.startKey, resp.endKey, resp.files) >= 0) progress.region?.(resp);
        });
        if (out.backoffMs > maxBackoff) {
          maxBackoff = out.backoffMs;
          lastReason = out.reason;
          lastHint = out.hint;
        }
      });
      if (maxBackoff === 0) continue;
      try {
        // BR's fine-grained backoffer: sleep the longest delay asked for, within the budget.
        await bo.sleepFor(maxBackoff, lastReason);
      } catch (err) {
        if (!(err instanceof BackoffExhaustedError)) throw err;
        throw new BackupError(
          `backup of range [${logKey(range.startKey)}, ${logKey(range.endKey)}) gave up after ` +
            `${Math.round(bo.sleptMs / 1000)} s of its ${Math.round(budget / 1000)} s retry ` +
            `budget: ${lastReason}; ${lastHint || "fix that"}, then run the backup again`,
          { cause: err },
        );
      }
    }
  }

  async #handleFineGrained(
    rg: KeyRange,
    template: BackupRequestInit,
    accept: (resp: BackupResponse) => void,
  ): Promise<{ backoffMs: number; reason: string; hint: string }> {
    const region = await this.#findRegion(rg.startKey);
    if (!region) {
      return {
        backoffMs: BACKOFF.regionError,
        reason: `PD knows no leader for key ${logKey(rg.startKey)}`,
        hint: "check the cluster's health with pd-ctl",
      };
    }
    const storeId = region.storeId;
    const req: BackupRequestInit = {
      ...template,
      clusterId: this.#opts.clusterId,
      startKey: rg.startKey,
      endKey: rg.endKey,
    };
    let backoffMs = 0;
    let reason = "";
    let hint = "";
    let progressed = false;
    const location = backendLocation(template);
    try {
      await this.sendBackup(storeId, req, async (resp) => {
        const out = await onBackupResponse(
          storeId,
          template.endVersion ?? 0n,
          this.#resolver,
          resp,
          location,
        );
        if (out.backoffMs > backoffMs) {
          backoffMs = out.backoffMs;
          reason = out.reason ?? (resp.error?.msg || resp.error?.detail.case || "");
          hint = out.hint ?? "";
        }
        if (out.response) accept(out.response);
        progressed = true;
      });
    } catch (err) {
      if (err instanceof FailedToConnectError) {
        return {
          backoffMs: BACKOFF.storeUnreachable,
          reason: err.message,
          hint: `bring store ${storeId} back, or wait until its regions elect leaders on ` +
            `live stores`,
        };
      }
      throw err;
    }
    if (!progressed) {
      return {
        backoffMs: BACKOFF.noProgress,
        reason: `store ${storeId} made no progress`,
        hint: "",
      };
    }
    return { backoffMs, reason, hint };
  }

  /** The leader's store of `key`'s region; undefined after 5 look-ups found none. */
  async #findRegion(key: Uint8Array): Promise<{ storeId: bigint } | undefined> {
    const signal = this.#opts.signal;
    const bo = new Backoffer({ budgetMs: 0, clock: this.#clock, ...(signal ? { signal } : {}) });
    for (let i = 0; i < 5; i++) {
      try {
        const r = await this.#pd.getRegion(key);
        if (r?.leader) return { storeId: r.leader.storeId };
        if (i < 4) await bo.backoff(BO.regionMiss, "region has no leader");
      } catch (err) {
        if (signal?.aborted) throw err;
        log("backup").warn("GetRegion failed: {msg}", { msg: (err as Error).message });
        if (i < 4) await bo.backoff(BO.pdRPC, (err as Error).message);
      }
    }
    return undefined;
  }
}
