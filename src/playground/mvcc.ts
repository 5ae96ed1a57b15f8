/**
 * The playground's storage engine: TiKV's Percolator MVCC in memory.
 *
 * **One engine for the whole cluster.** The playground's stores (3 by default) are logical
 * replicas: they share this single engine, and region leadership (regions.ts) only decides which
 * store answers a request. So a write is visible through every store at once, as if Raft had
 * replicated it, and memory holds each key once.
 *
 * **Layout.** The three column families of TiKV are kept logically, per raw key:
 * - write + default CF: a list of committed versions, newest first. Each version is one byte
 *   string `commitTs(8) | startTs(8) | type | value` (types `P` put, `D` delete, `L` lock, `R`
 *   rollback; lower case = the record also carries an overlapped rollback). Whether the value
 *   sits inline in the write record or in the default CF is a function of its length
 *   (`SHORT_VALUE_MAX_LEN`), so TiKV's exact CF bytes are derived on demand (`writeCfEntries`,
 *   `defaultCfEntries`, `mvccKey`, `writeRecordOf`).
 * - lock CF: a separate, small tree of lock records.
 * - raw KV (TiKV's RawKV API): its own keyspace, one tree per CF, no versions.
 *
 * Keys are raw (TiDB's `t..._r...`, not memcomparable); TiKV orders data keys by the
 * memcomparable form, which sorts like the raw form, so scans here follow TiKV's order.
 *
 * **Semantics** follow TiKV: prewrite (optimistic and pessimistic, async commit, min_commit_ts
 * from the max read ts), commit, rollback with overlapped rollbacks, check_txn_status with TTL
 * expiry judged on the caller's current ts, check_secondary_locks, resolve_lock, pessimistic
 * lock/rollback, txn heartbeat, scan_lock, and SI reads that fail with `locked` when a lock at or
 * below the read ts blocks. Each command is atomic: it validates every key, then applies all of
 * them or none.
 * @module
 */
import { Buffer } from "node:buffer";
import { ChecksumAccumulator } from "../codec/crc64.ts";
import { physicalOf } from "../codec/tso.ts";
import { decodeVarNumber, putVarNumber } from "../codec/varint.ts";
import { concatBytes, encodeBytes, encodeUintDesc } from "../codec/bytes.ts";
import { encodeWriteValue, SHORT_VALUE_MAX_LEN, type WriteRecord } from "../codec/tikv.ts";
import {
  after,
  type BTree,
  endToStr,
  KEY_MAX,
  newTree,
  strBegin,
  strByte,
  strBytes,
  strFinish,
  strToTs,
  strTs,
  toBytes,
  toStr,
  tsToStr,
} from "./_bytes.ts";

/** Kind of a lock in the lock CF. */
export type LockType = "put" | "delete" | "lock" | "pessimistic";

/** kvrpcpb.Op numbers of each lock type, for LockInfo.lock_type. */
export const LOCK_TYPE_OP: Record<LockType, number> = {
  put: 0,
  delete: 1,
  lock: 2,
  pessimistic: 5,
};

/** A lock as kvrpcpb.LockInfo describes it. */
export interface LockInfo {
  primaryLock: Uint8Array;
  lockVersion: bigint;
  key: Uint8Array;
  /** ms, counted from the physical time of lockVersion. */
  lockTtl: bigint;
  txnSize: bigint;
  lockType: LockType;
  lockForUpdateTs: bigint;
  useAsyncCommit: boolean;
  minCommitTs: bigint;
  secondaries: Uint8Array[];
}

/** A per-key error, one case per kvrpcpb.KeyError field the engine produces. */
export type KeyError =
  | { kind: "locked"; lock: LockInfo }
  | {
    kind: "writeConflict";
    startTs: bigint;
    conflictTs: bigint;
    conflictCommitTs: bigint;
    key: Uint8Array;
    primary: Uint8Array;
    /** kvrpcpb.WriteConflict.Reason: 1 optimistic, 2 pessimistic retry, 3 self rolled back. */
    reason: number;
  }
  | { kind: "alreadyExist"; key: Uint8Array }
  | { kind: "txnNotFound"; startTs: bigint; primaryKey: Uint8Array }
  | {
    kind: "commitTsExpired";
    startTs: bigint;
    attemptedCommitTs: bigint;
    key: Uint8Array;
    minCommitTs: bigint;
  }
  | { kind: "primaryMismatch"; lock: LockInfo }
  /** KeyError.retryable: the client may retry (e.g. the txn's lock is gone). */
  | { kind: "retryable"; message: string }
  /** KeyError.abort: the client must give up (e.g. rolling back a committed txn). */
  | { kind: "abort"; message: string };

/** Thrown by the backup scan when a lock blocks reading at the backup ts. */
export class LockedError extends Error {
  /** The blocking lock. */
  readonly lock: LockInfo;
  constructor(lock: LockInfo) {
    super(
      `key is locked by txn ${lock.lockVersion} (ttl ${lock.lockTtl} ms); ` +
        `resolve the lock and retry`,
    );
    this.name = "LockedError";
    this.lock = lock;
  }
}

/** A write of prewrite. `insert` fails when the key exists; `checkNotExists` only checks. */
export interface Mutation {
  op: "put" | "delete" | "lock" | "insert" | "checkNotExists";
  key: Uint8Array;
  value?: Uint8Array;
}

/** Prewrite's parameters (kvrpcpb.PrewriteRequest). */
export interface PrewriteOptions {
  mutations: Mutation[];
  primary: Uint8Array;
  startTs: bigint;
  /** ms */
  lockTtl: bigint;
  txnSize?: bigint;
  /** Pessimistic txns: the for_update_ts (0 = optimistic). */
  forUpdateTs?: bigint;
  /** Per mutation: true when it must hold this txn's pessimistic lock. */
  pessimisticChecks?: boolean[];
  minCommitTs?: bigint;
  useAsyncCommit?: boolean;
  /** Async commit: the other keys of the txn, stored on the primary's lock. */
  secondaries?: Uint8Array[];
}

/** Prewrite's outcome: errors (nothing written), or the min commit ts for async commit. */
export interface PrewriteResult {
  errors: KeyError[];
  /** Async commit: the largest min_commit_ts of the locks written (0 otherwise). */
  minCommitTs: bigint;
}

/** kvrpcpb.Action of check_txn_status. */
export const TxnAction = {
  NoAction: 0,
  TTLExpireRollback: 1,
  LockNotExistRollback: 2,
  MinCommitTSPushed: 3,
  TTLExpirePessimisticRollback: 4,
  LockNotExistDoNothing: 5,
} as const;

/** check_txn_status's parameters (kvrpcpb.CheckTxnStatusRequest). */
export interface CheckTxnStatusOptions {
  primaryKey: Uint8Array;
  lockTs: bigint;
  callerStartTs: bigint;
  currentTs: bigint;
  rollbackIfNotExist?: boolean;
  forceSyncCommit?: boolean;
  resolvingPessimisticLock?: boolean;
  verifyIsPrimary?: boolean;
}

/**
 * check_txn_status's outcome (kvrpcpb.CheckTxnStatusResponse): lockTtl > 0 = still locked,
 * commitVersion > 0 = committed, both 0 = rolled back; or an error.
 */
export interface TxnStatus {
  error?: KeyError;
  lockTtl: bigint;
  commitVersion: bigint;
  action: number;
  lockInfo?: LockInfo;
}

/** check_secondary_locks' outcome: every lock (still locked), or commit ts / 0 (rolled back). */
export interface SecondaryLocksStatus {
  error?: KeyError;
  locks: LockInfo[];
  commitTs: bigint;
}

/**
 * One committed version as the backup scan yields it. `key` and `value` may be views into shared
 * memory (mind `byteOffset`) and must not be mutated.
 */
export interface MvccEntry {
  /** Raw user key. */
  key: Uint8Array;
  commitTs: bigint;
  startTs: bigint;
  type: "put" | "delete";
  /** The value (empty for a delete). */
  value: Uint8Array;
  /** The write record also marks an overlapped rollback. */
  overlappedRollback: boolean;
}

/** A committed version to ingest (see `MvccStore.ingest`). */
export interface IngestVersion {
  /** Raw user key. */
  key: Uint8Array;
  commitTs: bigint;
  startTs: bigint;
  type: "put" | "delete" | "lock" | "rollback";
  /** The value of a put. */
  value?: Uint8Array;
  overlappedRollback?: boolean;
}

/** A key/value pair of a scan; `error` instead of a value when the key is locked. */
export interface KvPair {
  key: Uint8Array;
  value: Uint8Array;
  error?: KeyError;
}

/** Read options. */
export interface ReadOptions {
  /** Start ts of txns whose locks the reader ignores (kvrpcpb.Context.resolved_locks). */
  bypassLocks?: Iterable<bigint>;
}

/** Options of the backup scan. */
export interface BackupScanOptions extends ReadOptions {
  /** Only versions committed after this ts (incremental backup); 0 = all. */
  afterTs?: bigint;
  /** Yield deletes too (incremental backup). */
  includeDeletes?: boolean;
  /** Entries per batch. */
  batchSize?: number;
}

/** Counts of what the engine holds. */
export interface MvccStats {
  keys: number;
  versions: number;
  locks: number;
  rawKeys: number;
  /** Key bytes plus stored version bytes (approximate data size). */
  bytes: number;
}

/** Raw-KV column families. */
export type RawCf = "default" | "write" | "lock";

interface LockRecord {
  primary: Uint8Array;
  startTs: bigint;
  ttl: bigint;
  type: LockType;
  /** Put value; the caller's array is kept, not copied. */
  value: Uint8Array | undefined;
  forUpdateTs: bigint;
  txnSize: bigint;
  minCommitTs: bigint;
  useAsyncCommit: boolean;
  secondaries: Uint8Array[];
}

/**
 * A key's committed versions: one version string, or several oldest first, so that a new
 * version (nearly always the newest) is appended; newest first would make every commit to a hot
 * key (the schema version, the global id) move all its older versions.
 */
type Versions = string | string[];

const P = 0x50;
const D = 0x44;
const L = 0x4c;
const R = 0x52;
const LOWER = 0x20;
const HDR = 17;
// Returned from a tree walk's callback to stop it.
const BREAK = { break: true } as const;

function physical(ts: bigint): bigint {
  return BigInt(physicalOf(ts));
}

const NO_VALUE: Uint8Array = new Uint8Array(0);

/** A version's byte string, built flat (see _bytes.ts). */
function versionStr(
  commitTs: bigint,
  startTs: bigint,
  type: number,
  value: Uint8Array = NO_VALUE,
): string {
  strBegin();
  strTs(commitTs);
  strTs(startTs);
  strByte(type);
  strBytes(value);
  return strFinish();
}

/** Type byte with the overlapped-rollback mark cleared. */
function typeOf(v: string): number {
  const t = v.charCodeAt(16);
  return t >= 0x61 ? t - LOWER : t;
}

function isDataType(t: number): boolean {
  return t === P || t === D;
}

/** Calls `fn` on each version, newest first, until it returns true. */
function eachVersion(vs: Versions, fn: (v: string) => boolean): void {
  if (typeof vs === "string") {
    fn(vs);
    return;
  }
  for (let i = vs.length - 1; i >= 0; i--) if (fn(vs[i]!) === true) return;
}

/** The versions newest first, as a new array. */
function newestFirst(vs: Versions): string[] {
  return typeof vs === "string" ? [vs] : vs.slice().reverse();
}

function newestVersion(vs: Versions): string {
  return typeof vs === "string" ? vs : vs[vs.length - 1]!;
}

/** Newest put/delete committed at or below the ts whose successor string is `tsNext`. */
function visibleVersion(vs: Versions, tsNext: string): string | undefined {
  if (typeof vs === "string") return vs < tsNext && isDataType(typeOf(vs)) ? vs : undefined;
  for (let i = vs.length - 1; i >= 0; i--) {
    const v = vs[i]!;
    if (v < tsNext && isDataType(typeOf(v))) return v;
  }
  return undefined;
}

function nextTsStr(ts: bigint): string {
  return ts >= 0xffffffffffffffffn ? KEY_MAX : tsToStr(ts + 1n);
}

/** The commit record of the txn that started at `startTs`, if this key has one. */
function recordOfTxn(vs: Versions | undefined, startTs: bigint): string | undefined {
  if (vs === undefined) return undefined;
  const s = tsToStr(startTs);
  let found: string | undefined;
  eachVersion(vs, (v) => {
    if (v.startsWith(s, 8)) {
      found = v;
      return true;
    }
    // Versions are newest first: nothing older than the txn's start can be its record.
    return v.slice(0, 8) < s;
  });
  return found;
}

/** The version of `vs` committed at the ts whose 8-byte string is `commitTs`, if any. */
function recordAt(vs: Versions, commitTs: string): string | undefined {
  let found: string | undefined;
  eachVersion(vs, (v) => {
    if (v.startsWith(commitTs)) {
      found = v;
      return true;
    }
    return v.slice(0, 8) < commitTs;
  });
  return found;
}

/** A version at commit ts `startTs` marking the txn rolled back (own or overlapped). */
function rolledBackAt(vs: Versions | undefined, startTs: bigint): boolean {
  if (vs === undefined) return false;
  const s = tsToStr(startTs);
  let hit = false;
  eachVersion(vs, (v) => {
    if (v.startsWith(s)) {
      const t = v.charCodeAt(16);
      hit = t === R || t >= 0x61;
      return true;
    }
    return v.slice(0, 8) < s;
  });
  return hit;
}

/**
 * The in-memory MVCC engine. Timestamps are u64 TSOs as bigint; keys and values are bytes.
 * `maxTs` is TiKV's concurrency-manager max ts: every read raises it, and async-commit locks
 * take a min_commit_ts above it so a committed txn never lands below a completed read.
 */
export class MvccStore {
  #data: BTree<string, Versions> = newTree<Versions>();
  #locks: BTree<string, LockRecord> = newTree<LockRecord>();
  #raw = new Map<RawCf, BTree<string, string>>();
  #versions = 0;
  #bytes = 0;
  /** Largest ts any read used so far. */
  maxTs = 0n;

  // ---------------------------------------------------------------- internal state changes

  #addVersion(k: string, v: string): void {
    this.#versions++;
    this.#bytes += v.length;
    if (this.#data.setIfNotPresent(k, v)) {
      this.#bytes += k.length;
      return;
    }
    const vs = this.#data.get(k)!;
    if (typeof vs === "string") {
      this.#data.set(k, v > vs ? [vs, v] : [v, vs]);
    } else {
      let i = vs.length;
      while (i > 0 && vs[i - 1]! > v) i--;
      if (i === vs.length) vs.push(v);
      else vs.splice(i, 0, v);
    }
  }

  #replaceVersion(k: string, old: string, v: string): void {
    const vs = this.#data.get(k)!;
    if (typeof vs === "string") this.#data.set(k, v);
    else vs[vs.indexOf(old)] = v;
    this.#bytes += v.length - old.length;
  }

  /** Writes a rollback record for `startTs`, or marks an overlapping commit record. */
  #writeRollback(k: string, startTs: bigint): void {
    const vs = this.#data.get(k);
    const s = tsToStr(startTs);
    let overlapped: string | undefined;
    if (vs !== undefined) {
      eachVersion(vs, (v) => {
        if (v.startsWith(s)) {
          overlapped = v;
          return true;
        }
        return v.slice(0, 8) < s;
      });
    }
    if (overlapped === undefined) {
      this.#addVersion(k, versionStr(startTs, startTs, R));
      return;
    }
    const t = overlapped.charCodeAt(16);
    if (t === R || t >= 0x61) return; // already rolled back
    const marked = overlapped.slice(0, 16) + String.fromCharCode(t + LOWER) + overlapped.slice(17);
    this.#replaceVersion(k, overlapped, marked);
  }

  #lockInfo(k: string, l: LockRecord): LockInfo {
    return {
      primaryLock: l.primary,
      lockVersion: l.startTs,
      key: toBytes(k),
      lockTtl: l.ttl,
      txnSize: l.txnSize,
      lockType: l.type,
      lockForUpdateTs: l.forUpdateTs,
      useAsyncCommit: l.useAsyncCommit,
      minCommitTs: l.minCommitTs,
      secondaries: l.secondaries,
    };
  }

  #blocks(l: LockRecord, ts: bigint, bypass: ReadonlySet<bigint> | undefined): boolean {
    if (l.startTs > ts || l.type === "lock" || l.type === "pessimistic") return false;
    if (l.minCommitTs > ts) return false;
    return !(bypass?.has(l.startTs) ?? false);
  }

  #observeRead(ts: bigint): void {
    if (ts > this.maxTs && ts !== 0xffffffffffffffffn) this.maxTs = ts;
  }

  /** Commits the lock at `k` (which must belong to the txn) as a record at `commitTs`. */
  #commitLock(k: string, l: LockRecord, commitTs: bigint): void {
    // A leftover pessimistic lock of a committed txn is committed as a lock record, as TiKV does.
    const type = l.type === "put" ? P : l.type === "delete" ? D : L;
    this.#addVersion(k, versionStr(commitTs, l.startTs, type, type === P ? l.value : undefined));
    this.#locks.delete(k);
  }

  #rollbackLock(k: string, l: LockRecord): void {
    this.#locks.delete(k);
    this.#writeRollback(k, l.startTs);
  }

  // ---------------------------------------------------------------- transactional writes

  /** Percolator prewrite: locks every mutation's key, or writes nothing and reports why. */
  prewrite(o: PrewriteOptions): PrewriteResult {
    const errors: KeyError[] = [];
    const forUpdateTs = o.forUpdateTs ?? 0n;
    let minCommitTs = o.minCommitTs ?? 0n;
    if (o.useAsyncCommit) {
      const floor = [this.maxTs + 1n, o.startTs + 1n, forUpdateTs + 1n];
      for (const f of floor) if (f > minCommitTs) minCommitTs = f;
    }
    const primaryStr = toStr(o.primary);
    const plan: { k: string; lock: LockRecord }[] = [];
    for (let i = 0; i < o.mutations.length; i++) {
      const m = o.mutations[i]!;
      const k = toStr(m.key);
      const pessimistic = o.pessimisticChecks?.[i] ?? false;
      const existing = this.#locks.get(k);
      if (existing !== undefined) {
        if (existing.startTs !== o.startTs) {
          errors.push({ kind: "locked", lock: this.#lockInfo(k, existing) });
          continue;
        }
        if (existing.type !== "pessimistic") continue; // already prewritten: idempotent
      } else if (pessimistic) {
        return {
          errors: [{
            kind: "retryable",
            message: `pessimistic lock not found for txn ${o.startTs}; acquire it again`,
          }],
          minCommitTs: 0n,
        };
      }
      const vs = this.#data.get(k);
      if (!pessimistic && vs !== undefined) {
        const newest = newestVersion(vs);
        const commitTs = strToTs(newest, 0);
        if (commitTs > o.startTs) {
          return { errors: [this.#conflict(newest, o, m.key, 1)], minCommitTs: 0n };
        }
        if (commitTs === o.startTs && (typeOf(newest) === R || newest.charCodeAt(16) >= 0x61)) {
          return { errors: [this.#conflict(newest, o, m.key, 3)], minCommitTs: 0n };
        }
      }
      if (m.op === "insert" || m.op === "checkNotExists") {
        const visible = vs === undefined ? undefined : visibleVersion(vs, KEY_MAX);
        if (visible !== undefined && typeOf(visible) === P) {
          return { errors: [{ kind: "alreadyExist", key: m.key }], minCommitTs: 0n };
        }
        if (m.op === "checkNotExists") continue;
      }
      const type: LockType = m.op === "delete" ? "delete" : m.op === "lock" ? "lock" : "put";
      plan.push({
        k,
        lock: {
          primary: o.primary,
          startTs: o.startTs,
          ttl: o.lockTtl,
          type,
          value: type === "put" ? (m.value ?? NO_VALUE) : undefined,
          forUpdateTs,
          txnSize: o.txnSize ?? BigInt(o.mutations.length),
          minCommitTs,
          useAsyncCommit: o.useAsyncCommit ?? false,
          secondaries: o.useAsyncCommit && k === primaryStr ? (o.secondaries ?? []) : [],
        },
      });
    }
    if (errors.length > 0) return { errors, minCommitTs: 0n };
    for (const p of plan) this.#locks.set(p.k, p.lock);
    return { errors, minCommitTs: o.useAsyncCommit ? minCommitTs : 0n };
  }

  #conflict(
    record: string,
    o: { startTs: bigint; primary: Uint8Array },
    key: Uint8Array,
    reason: number,
  ): KeyError {
    return {
      kind: "writeConflict",
      startTs: o.startTs,
      conflictTs: strToTs(record, 8),
      conflictCommitTs: strToTs(record, 0),
      key,
      primary: o.primary,
      reason,
    };
  }

  /** Commits the txn's locks on `keys` at `commitTs`; all or nothing. */
  commit(keys: Uint8Array[], startTs: bigint, commitTs: bigint): { error?: KeyError } {
    const todo: { k: string; l: LockRecord }[] = [];
    for (const key of keys) {
      const k = toStr(key);
      const l = this.#locks.get(k);
      if (l !== undefined && l.startTs === startTs) {
        if (commitTs < l.minCommitTs) {
          return {
            error: {
              kind: "commitTsExpired",
              startTs,
              attemptedCommitTs: commitTs,
              key,
              minCommitTs: l.minCommitTs,
            },
          };
        }
        todo.push({ k, l });
        continue;
      }
      const rec = recordOfTxn(this.#data.get(k), startTs);
      if (rec !== undefined && typeOf(rec) !== R) continue; // already committed
      return {
        error: {
          kind: "retryable",
          message: `txn lock not found: txn ${startTs} has no lock on the key (rolled back or ` +
            `expired); restart the transaction`,
        },
      };
    }
    for (const t of todo) this.#commitLock(t.k, t.l, commitTs);
    return {};
  }

  /** Rolls back the txn on `keys` (BatchRollback); fails if the txn committed any of them. */
  rollback(keys: Uint8Array[], startTs: bigint): { error?: KeyError } {
    for (const key of keys) {
      const k = toStr(key);
      const l = this.#locks.get(k);
      if (l !== undefined && l.startTs === startTs) continue;
      const rec = recordOfTxn(this.#data.get(k), startTs);
      if (rec !== undefined && typeOf(rec) !== R) {
        return {
          error: {
            kind: "abort",
            message: `txn ${startTs} already committed at ${strToTs(rec, 0)}; cannot roll it back`,
          },
        };
      }
    }
    for (const key of keys) {
      const k = toStr(key);
      const l = this.#locks.get(k);
      if (l !== undefined && l.startTs === startTs) this.#rollbackLock(k, l);
      else this.#writeRollback(k, startTs);
    }
    return {};
  }

  /** Acquires pessimistic locks on `keys` for the txn at `forUpdateTs`; all or nothing. */
  pessimisticLock(o: {
    keys: Uint8Array[];
    primary: Uint8Array;
    startTs: bigint;
    forUpdateTs: bigint;
    lockTtl: bigint;
  }): { errors: KeyError[] } {
    const errors: KeyError[] = [];
    const todo: string[] = [];
    for (const key of o.keys) {
      const k = toStr(key);
      const l = this.#locks.get(k);
      if (l !== undefined) {
        if (l.startTs !== o.startTs) errors.push({ kind: "locked", lock: this.#lockInfo(k, l) });
        else if (l.type === "pessimistic" && l.forUpdateTs < o.forUpdateTs) todo.push(k);
        continue;
      }
      const vs = this.#data.get(k);
      if (vs !== undefined) {
        const newest = newestVersion(vs);
        if (strToTs(newest, 0) > o.forUpdateTs) {
          return { errors: [this.#conflict(newest, o, key, 2)] };
        }
        if (rolledBackAt(vs, o.startTs)) return { errors: [this.#conflict(newest, o, key, 3)] };
      }
      todo.push(k);
    }
    if (errors.length > 0) return { errors };
    for (const k of todo) {
      this.#locks.set(k, {
        primary: o.primary,
        startTs: o.startTs,
        ttl: o.lockTtl,
        type: "pessimistic",
        value: undefined,
        forUpdateTs: o.forUpdateTs,
        txnSize: 0n,
        minCommitTs: 0n,
        useAsyncCommit: false,
        secondaries: [],
      });
    }
    return { errors };
  }

  /** Releases the txn's pessimistic locks on `keys` taken at or before `forUpdateTs`. */
  pessimisticRollback(keys: Uint8Array[], startTs: bigint, forUpdateTs: bigint): void {
    for (const key of keys) {
      const k = toStr(key);
      const l = this.#locks.get(k);
      if (l?.startTs === startTs && l.type === "pessimistic" && l.forUpdateTs <= forUpdateTs) {
        this.#locks.delete(k);
      }
    }
  }

  /** Extends the primary lock's TTL to `adviseTtl` (never shortens it); returns the TTL. */
  txnHeartBeat(primary: Uint8Array, startTs: bigint, adviseTtl: bigint): {
    error?: KeyError;
    lockTtl: bigint;
  } {
    const l = this.#locks.get(toStr(primary));
    if (l === undefined || l.startTs !== startTs) {
      return { error: { kind: "txnNotFound", startTs, primaryKey: primary }, lockTtl: 0n };
    }
    if (adviseTtl > l.ttl) l.ttl = adviseTtl;
    return { lockTtl: l.ttl };
  }

  /**
   * check_txn_status on the primary key: rolls back an expired lock (TTL measured from the lock's
   * physical time to `currentTs`'s), pushes min_commit_ts for the caller, reports commit or
   * rollback from the write records, and on a missing lock either rolls back
   * (`rollbackIfNotExist`) or answers txnNotFound. Async-commit locks are reported, never rolled
   * back here (unless `forceSyncCommit`).
   */
  checkTxnStatus(o: CheckTxnStatusOptions): TxnStatus {
    if (o.callerStartTs > this.maxTs && o.callerStartTs !== 0xffffffffffffffffn) {
      this.maxTs = o.callerStartTs;
    }
    const k = toStr(o.primaryKey);
    const l = this.#locks.get(k);
    if (l !== undefined && l.startTs === o.lockTs) {
      if (o.verifyIsPrimary && toStr(l.primary) !== k) {
        return {
          error: { kind: "primaryMismatch", lock: this.#lockInfo(k, l) },
          lockTtl: 0n,
          commitVersion: 0n,
          action: TxnAction.NoAction,
        };
      }
      if (l.useAsyncCommit && !o.forceSyncCommit) {
        return {
          lockTtl: l.ttl,
          commitVersion: 0n,
          action: TxnAction.NoAction,
          lockInfo: this.#lockInfo(k, l),
        };
      }
      if (physical(l.startTs) + l.ttl < physical(o.currentTs)) {
        if (l.type === "pessimistic") {
          this.#locks.delete(k);
          return {
            lockTtl: 0n,
            commitVersion: 0n,
            action: TxnAction.TTLExpirePessimisticRollback,
          };
        }
        this.#rollbackLock(k, l);
        return { lockTtl: 0n, commitVersion: 0n, action: TxnAction.TTLExpireRollback };
      }
      let action: number = TxnAction.NoAction;
      if (
        l.minCommitTs > 0n && o.callerStartTs !== 0xffffffffffffffffn &&
        o.callerStartTs >= l.minCommitTs
      ) {
        l.minCommitTs = o.callerStartTs + 1n > o.currentTs ? o.callerStartTs + 1n : o.currentTs;
        action = TxnAction.MinCommitTSPushed;
      }
      return { lockTtl: l.ttl, commitVersion: 0n, action, lockInfo: this.#lockInfo(k, l) };
    }
    const vs = this.#data.get(k);
    const rec = recordOfTxn(vs, o.lockTs);
    if (rec !== undefined && typeOf(rec) !== R) {
      return { lockTtl: 0n, commitVersion: strToTs(rec, 0), action: TxnAction.NoAction };
    }
    if (rec !== undefined || rolledBackAt(vs, o.lockTs)) {
      return { lockTtl: 0n, commitVersion: 0n, action: TxnAction.NoAction };
    }
    if (o.resolvingPessimisticLock) {
      return { lockTtl: 0n, commitVersion: 0n, action: TxnAction.LockNotExistDoNothing };
    }
    if (o.rollbackIfNotExist) {
      this.#writeRollback(k, o.lockTs);
      return { lockTtl: 0n, commitVersion: 0n, action: TxnAction.LockNotExistRollback };
    }
    return {
      error: { kind: "txnNotFound", startTs: o.lockTs, primaryKey: o.primaryKey },
      lockTtl: 0n,
      commitVersion: 0n,
      action: TxnAction.NoAction,
    };
  }

  /**
   * check_secondary_locks of an async-commit txn: the locks when all keys are still locked;
   * otherwise the commit ts (committed) or 0 (rolled back; a missing lock is rolled back so it
   * can never be prewritten later).
   */
  checkSecondaryLocks(keys: Uint8Array[], startTs: bigint): SecondaryLocksStatus {
    const locks: LockInfo[] = [];
    for (const key of keys) {
      const k = toStr(key);
      const l = this.#locks.get(k);
      if (l !== undefined && l.startTs === startTs) {
        if (l.type === "pessimistic") {
          this.#rollbackLock(k, l);
          return { locks: [], commitTs: 0n };
        }
        locks.push(this.#lockInfo(k, l));
        continue;
      }
      const vs = this.#data.get(k);
      const rec = recordOfTxn(vs, startTs);
      if (rec !== undefined && typeOf(rec) !== R) return { locks: [], commitTs: strToTs(rec, 0) };
      if (rec === undefined && !rolledBackAt(vs, startTs)) this.#writeRollback(k, startTs);
      return { locks: [], commitTs: 0n };
    }
    return { locks, commitTs: 0n };
  }

  /**
   * resolve_lock: commits (commitTs > 0) or rolls back the locks of txn `startTs` on `keys`, or
   * on every key of `range` when no keys are given. Keys without such a lock are skipped.
   * Returns how many locks it resolved.
   */
  resolveLock(o: {
    startTs: bigint;
    commitTs: bigint;
    keys?: Uint8Array[];
    range?: { start: Uint8Array; end: Uint8Array };
  }): { error?: KeyError; resolved: number } {
    const status = new Map([[o.startTs, o.commitTs]]);
    return this.resolveLocks(status, o.keys, o.range);
  }

  /** resolve_lock for several txns at once: `status` maps start ts to commit ts (0 = rollback). */
  resolveLocks(
    status: ReadonlyMap<bigint, bigint>,
    keys?: Uint8Array[],
    range?: { start: Uint8Array; end: Uint8Array },
  ): { error?: KeyError; resolved: number } {
    const targets: { k: string; l: LockRecord; commitTs: bigint }[] = [];
    const consider = (k: string, l: LockRecord) => {
      const commitTs = status.get(l.startTs);
      if (commitTs !== undefined) targets.push({ k, l, commitTs });
    };
    if (keys !== undefined && keys.length > 0) {
      for (const key of keys) {
        const k = toStr(key);
        const l = this.#locks.get(k);
        if (l !== undefined) consider(k, l);
      }
    } else {
      const start = range ? toStr(range.start) : "";
      const end = range ? endToStr(range.end) : KEY_MAX;
      this.#locks.forRange(start, end, false, consider);
    }
    for (const t of targets) {
      if (t.commitTs > 0n && t.commitTs < t.l.minCommitTs) {
        return {
          error: {
            kind: "commitTsExpired",
            startTs: t.l.startTs,
            attemptedCommitTs: t.commitTs,
            key: toBytes(t.k),
            minCommitTs: t.l.minCommitTs,
          },
          resolved: 0,
        };
      }
    }
    for (const t of targets) {
      if (t.commitTs > 0n) this.#commitLock(t.k, t.l, t.commitTs);
      else this.#rollbackLock(t.k, t.l);
    }
    return { resolved: targets.length };
  }

  /** Locks with start ts <= `maxTs` in `[start, end)`, at most `limit` (0 = all). */
  scanLock(maxTs: bigint, start: Uint8Array, end: Uint8Array, limit = 0): LockInfo[] {
    const out: LockInfo[] = [];
    this.#locks.forRange(toStr(start), endToStr(end), false, (k, l) => {
      if (l.startTs <= maxTs) out.push(this.#lockInfo(k, l));
      return limit > 0 && out.length >= limit ? BREAK : undefined;
    });
    return out;
  }

  // ---------------------------------------------------------------- reads

  /** SI point read at `ts`: the value, null when absent or deleted, or the blocking lock. */
  get(key: Uint8Array, ts: bigint, opts: ReadOptions = {}): {
    value: Uint8Array | null;
    error?: KeyError;
  } {
    this.#observeRead(ts);
    const k = toStr(key);
    const l = this.#locks.get(k);
    const bypass = opts.bypassLocks ? new Set(opts.bypassLocks) : undefined;
    if (l !== undefined && this.#blocks(l, ts, bypass)) {
      return { value: null, error: { kind: "locked", lock: this.#lockInfo(k, l) } };
    }
    const vs = this.#data.get(k);
    const v = vs === undefined ? undefined : visibleVersion(vs, nextTsStr(ts));
    if (v === undefined || typeOf(v) !== P) return { value: null };
    return { value: toBytes(v, HDR) };
  }

  /**
   * SI range read at `ts` over `[start, end)` (empty end = unbounded), at most `limit` pairs
   * (0 = no limit). A key whose lock blocks the read comes back with `error` instead of a
   * value, as TiKV's KvScan reports it. `reverse` walks from the end down.
   */
  scan(
    start: Uint8Array,
    end: Uint8Array,
    ts: bigint,
    limit = 0,
    opts: ReadOptions & { keyOnly?: boolean; reverse?: boolean } = {},
  ): KvPair[] {
    this.#observeRead(ts);
    const s = toStr(start);
    const e = endToStr(end);
    const tsNext = nextTsStr(ts);
    const bypass = opts.bypassLocks ? new Set(opts.bypassLocks) : undefined;
    const blocked = new Map<string, LockRecord>();
    this.#locks.forRange(s, e, false, (k, l) => {
      if (this.#blocks(l, ts, bypass)) blocked.set(k, l);
    });
    const empty = new Uint8Array(0);
    const keys: string[] = [];
    const out = new Map<string, KvPair>();
    const visit = (k: string, vs: Versions | undefined): boolean => {
      const l = blocked.get(k);
      if (l !== undefined) {
        keys.push(k);
        out.set(k, {
          key: toBytes(k),
          value: empty,
          error: { kind: "locked", lock: this.#lockInfo(k, l) },
        });
      } else if (vs !== undefined) {
        const v = visibleVersion(vs, tsNext);
        if (v === undefined || typeOf(v) !== P) return false;
        keys.push(k);
        out.set(k, { key: toBytes(k), value: opts.keyOnly ? empty : toBytes(v, HDR) });
      } else {
        return false;
      }
      return limit > 0 && keys.length >= limit;
    };
    // Locked keys may have no committed version yet, so walk the union of both key sets.
    const lockKeys = [...blocked.keys()];
    if (opts.reverse) lockKeys.reverse();
    let li = 0;
    const drainLocksBefore = (k: string | undefined): boolean => {
      while (li < lockKeys.length) {
        const lk = lockKeys[li]!;
        if (k !== undefined && (opts.reverse ? lk <= k : lk >= k)) break;
        li++;
        if (visit(lk, undefined)) return true;
      }
      return false;
    };
    let stopped = false;
    if (opts.reverse) {
      for (const [k, vs] of this.#data.entriesReversed(e === KEY_MAX ? undefined : e)) {
        if (k >= e) continue;
        if (k < s) break;
        if (drainLocksBefore(k)) {
          stopped = true;
          break;
        }
        if (li < lockKeys.length && lockKeys[li] === k) li++;
        if (visit(k, vs)) {
          stopped = true;
          break;
        }
      }
    } else {
      this.#data.forRange(s, e, false, (k, vs) => {
        if (drainLocksBefore(k)) {
          stopped = true;
          return BREAK;
        }
        if (li < lockKeys.length && lockKeys[li] === k) li++;
        if (visit(k, vs)) {
          stopped = true;
          return BREAK;
        }
        return undefined;
      });
    }
    if (!stopped) drainLocksBefore(undefined);
    return keys.map((k) => out.get(k)!);
  }

  /**
   * The backup scan: for every key of `[start, end)` the newest put (and, with
   * `includeDeletes`, delete) committed at or below `ts` and after `afterTs`, in key order and in
   * batches. Throws `LockedError` at the first lock that blocks reading at `ts`, after yielding
   * the entries before it, as TiKV's backup scanner fails.
   */
  *backupBatches(
    start: Uint8Array,
    end: Uint8Array,
    ts: bigint,
    opts: BackupScanOptions = {},
  ): Generator<MvccEntry[]> {
    this.#observeRead(ts);
    const afterTs = opts.afterTs ?? 0n;
    // commitTs > afterTs  <=>  version string >= tsToStr(afterTs + 1), without slicing.
    const afterNext = nextTsStr(afterTs);
    const tsNext = nextTsStr(ts);
    const batchSize = opts.batchSize ?? 1024;
    const bypass = opts.bypassLocks ? new Set(opts.bypassLocks) : undefined;
    const e = endToStr(end);
    let cursor = toStr(start);
    for (;;) {
      const batch: MvccEntry[] = [];
      let last: string | undefined;
      let count = 0;
      this.#data.forRange(cursor, e, false, (k, vs) => {
        last = k;
        count++;
        const v = visibleVersion(vs, tsNext);
        if (v !== undefined && v >= afterNext) {
          const t = typeOf(v);
          if (t === P || opts.includeDeletes) {
            batch.push({
              key: toBytes(k),
              commitTs: strToTs(v, 0),
              startTs: strToTs(v, 8),
              type: t === P ? "put" : "delete",
              value: t === P ? toBytes(v, HDR) : new Uint8Array(0),
              overlappedRollback: v.charCodeAt(16) >= 0x61,
            });
          }
        }
        return count >= batchSize ? BREAK : undefined;
      });
      const done = count < batchSize;
      // The locks of the stretch this batch covered (to the end when it is the last batch).
      const lockEnd = done || last === undefined ? e : after(last);
      let blocking: [string, LockRecord] | undefined;
      this.#locks.forRange(cursor, lockEnd, false, (k, l) => {
        if (!this.#blocks(l, ts, bypass)) return undefined;
        blocking = [k, l];
        return BREAK;
      });
      if (blocking !== undefined) {
        const lockKey = blocking[0];
        const before = batch.filter((en) => toStr(en.key) < lockKey);
        if (before.length > 0) yield before;
        throw new LockedError(this.#lockInfo(lockKey, blocking[1]));
      }
      if (batch.length > 0) yield batch;
      if (done || last === undefined) return;
      cursor = after(last);
    }
  }

  /** `backupBatches` one entry at a time. */
  *backupScan(
    start: Uint8Array,
    end: Uint8Array,
    ts: bigint,
    opts: BackupScanOptions = {},
  ): Generator<MvccEntry> {
    for (const batch of this.backupBatches(start, end, ts, opts)) yield* batch;
  }

  /**
   * Ground truth for checksums: crc64xor / total_kvs / total_bytes over (raw key, value) of the
   * newest put at or below `ts` of every key in `[start, end)`. Reads the trees directly, apart
   * from the scan paths the servers use; locks are ignored (they hold no committed data).
   */
  checksum(start: Uint8Array, end: Uint8Array, ts: bigint): ChecksumAccumulator {
    const acc = new ChecksumAccumulator();
    const tsNext = nextTsStr(ts);
    this.#data.forRange(toStr(start), endToStr(end), false, (k, vs) => {
      const v = visibleVersion(vs, tsNext);
      if (v !== undefined && typeOf(v) === P) acc.add(toBytes(k), toBytes(v, HDR));
    });
    return acc;
  }

  /** Every key with its committed versions, newest first (debugging and tests). */
  *versionsOf(key: Uint8Array): Generator<
    { commitTs: bigint; startTs: bigint; type: "put" | "delete" | "lock" | "rollback" }
  > {
    const vs = this.#data.get(toStr(key));
    if (vs === undefined) return;
    for (const v of newestFirst(vs)) {
      yield { commitTs: strToTs(v, 0), startTs: strToTs(v, 8), type: recordOf(v).type };
    }
  }

  /**
   * The write CF as TiKV holds it in `[start, end)`: `(EncodeBytes(raw) + EncodeUintDesc(commitTs),
   * write value)` for every version (rollback and lock records included), newest first per key.
   */
  *writeCfEntries(
    start: Uint8Array,
    end: Uint8Array,
  ): Generator<{ key: Uint8Array; value: Uint8Array }> {
    for (const [k, vs] of this.#rangeEntries(start, end)) {
      const raw = toBytes(k);
      for (const v of newestFirst(vs)) {
        yield { key: mvccKey(raw, strToTs(v, 0)), value: encodeWriteValue(recordOf(v)) };
      }
    }
  }

  /**
   * The default CF in `[start, end)`: `(EncodeBytes(raw) + EncodeUintDesc(startTs), value)` for
   * every value too long to sit inline in its write record.
   */
  *defaultCfEntries(
    start: Uint8Array,
    end: Uint8Array,
  ): Generator<{ key: Uint8Array; value: Uint8Array }> {
    for (const [k, vs] of this.#rangeEntries(start, end)) {
      const raw = toBytes(k);
      for (const v of newestFirst(vs)) {
        if (typeOf(v) === P && v.length - HDR > SHORT_VALUE_MAX_LEN) {
          yield { key: mvccKey(raw, strToTs(v, 8)), value: toBytes(v, HDR) };
        }
      }
    }
  }

  #rangeEntries(start: Uint8Array, end: Uint8Array): [string, Versions][] {
    const out: [string, Versions][] = [];
    this.#data.forRange(toStr(start), endToStr(end), false, (k, vs) => {
      out.push([k, typeof vs === "string" ? vs : vs.slice()]);
    });
    return out;
  }

  // ---------------------------------------------------------------- sizes, split points, GC

  /** Keys and bytes in `[start, end)` (bytes = key plus stored versions). */
  rangeStats(start: Uint8Array, end: Uint8Array): { keys: number; bytes: number } {
    let keys = 0;
    let bytes = 0;
    this.#data.forRange(toStr(start), endToStr(end), false, (k, vs) => {
      keys++;
      bytes += k.length;
      if (typeof vs === "string") bytes += vs.length;
      else for (const v of vs) bytes += v.length;
    });
    return { keys, bytes };
  }

  /**
   * Raw keys at which to split `[start, end)` so that each piece holds at most `maxBytes` bytes
   * and `maxKeys` keys (0 = no key limit). Each returned key starts a new piece.
   */
  splitKeys(start: Uint8Array, end: Uint8Array, maxBytes: number, maxKeys = 0): Uint8Array[] {
    const out: Uint8Array[] = [];
    let keys = 0;
    let bytes = 0;
    this.#data.forRange(toStr(start), endToStr(end), false, (k, vs) => {
      let size = k.length;
      if (typeof vs === "string") size += vs.length;
      else for (const v of vs) size += v.length;
      if (keys > 0 && (bytes + size > maxBytes || (maxKeys > 0 && keys + 1 > maxKeys))) {
        out.push(toBytes(k).slice());
        keys = 0;
        bytes = 0;
      }
      keys++;
      bytes += size;
    });
    return out;
  }

  /**
   * Garbage-collects versions no read at or above `safePoint` can see: keeps every version
   * newer than the safe point and the newest put at or below it; drops older versions, deletes
   * and lock/rollback records below it. Returns how many versions it removed.
   */
  gc(safePoint: bigint): number {
    const spNext = nextTsStr(safePoint);
    const removals: string[] = [];
    const rewrites: [string, Versions][] = [];
    let removed = 0;
    this.#data.forRange("", KEY_MAX, false, (k, vs) => {
      const list = newestFirst(vs);
      const keep: string[] = [];
      let kept = false;
      for (const v of list) {
        if (v >= spNext) keep.push(v);
        else if (!kept && isDataType(typeOf(v))) {
          kept = true;
          if (typeOf(v) === P) keep.push(v);
        }
      }
      if (keep.length === list.length) return;
      removed += list.length - keep.length;
      for (const v of list) if (!keep.includes(v)) this.#bytes -= v.length;
      if (keep.length === 0) removals.push(k);
      else rewrites.push([k, keep.length === 1 ? keep[0]! : keep.reverse()]);
    });
    for (const k of removals) {
      this.#data.delete(k);
      this.#bytes -= k.length;
    }
    for (const [k, vs] of rewrites) this.#data.set(k, vs);
    this.#versions -= removed;
    return removed;
  }

  // ---------------------------------------------------------------- ingest

  /**
   * Puts committed versions straight into the write and default CFs, as an ingested SST does
   * (TiKV's import service): no locks, no conflict checks; a version with the same key and
   * commit ts is replaced, as the newer SST's entry shadows the older one. All or nothing: the
   * whole list is applied in one step, so no reader sees part of it.
   */
  ingest(versions: readonly IngestVersion[]): void {
    const TYPE: Record<IngestVersion["type"], number> = { put: P, delete: D, lock: L, rollback: R };
    const prepared = versions.map((v) => {
      let t = TYPE[v.type];
      if (v.overlappedRollback) t += LOWER;
      return [toStr(v.key), versionStr(v.commitTs, v.startTs, t, v.value)] as const;
    });
    for (const [k, v] of prepared) {
      const vs = this.#data.get(k);
      const same = vs === undefined ? undefined : recordAt(vs, v.slice(0, 8));
      if (same === undefined) this.#addVersion(k, v);
      else this.#replaceVersion(k, same, v);
    }
  }

  // ---------------------------------------------------------------- raw KV

  #rawTree(cf: RawCf): BTree<string, string> {
    let t = this.#raw.get(cf);
    if (t === undefined) {
      t = newTree<string>();
      this.#raw.set(cf, t);
    }
    return t;
  }

  /** RawPut. */
  rawPut(key: Uint8Array, value: Uint8Array, cf: RawCf = "default"): void {
    this.#rawTree(cf).set(toStr(key), toStr(value));
  }

  /** RawGet: the value or null. */
  rawGet(key: Uint8Array, cf: RawCf = "default"): Uint8Array | null {
    const v = this.#rawTree(cf).get(toStr(key));
    return v === undefined ? null : toBytes(v);
  }

  /** RawDelete. */
  rawDelete(key: Uint8Array, cf: RawCf = "default"): void {
    this.#rawTree(cf).delete(toStr(key));
  }

  /** RawDeleteRange over `[start, end)`. */
  rawDeleteRange(start: Uint8Array, end: Uint8Array, cf: RawCf = "default"): number {
    return this.#rawTree(cf).deleteRange(toStr(start), endToStr(end), false);
  }

  /** RawScan over `[start, end)`, at most `limit` pairs (0 = all). */
  rawScan(
    start: Uint8Array,
    end: Uint8Array,
    limit = 0,
    cf: RawCf = "default",
    keyOnly = false,
  ): { key: Uint8Array; value: Uint8Array }[] {
    const out: { key: Uint8Array; value: Uint8Array }[] = [];
    const empty = new Uint8Array(0);
    this.#rawTree(cf).forRange(toStr(start), endToStr(end), false, (k, v) => {
      out.push({ key: toBytes(k), value: keyOnly ? empty : toBytes(v) });
      return limit > 0 && out.length >= limit ? BREAK : undefined;
    });
    return out;
  }

  /** Raw pairs of `[start, end)` in batches (raw-KV backup). */
  *rawBatches(
    start: Uint8Array,
    end: Uint8Array,
    cf: RawCf = "default",
    batchSize = 1024,
  ): Generator<{ key: Uint8Array; value: Uint8Array }[]> {
    const e = endToStr(end);
    let cursor = toStr(start);
    const tree = this.#rawTree(cf);
    for (;;) {
      const batch: { key: Uint8Array; value: Uint8Array }[] = [];
      let last: string | undefined;
      tree.forRange(cursor, e, false, (k, v) => {
        last = k;
        batch.push({ key: toBytes(k), value: toBytes(v) });
        return batch.length >= batchSize ? BREAK : undefined;
      });
      if (batch.length > 0) yield batch;
      if (batch.length < batchSize || last === undefined) return;
      cursor = after(last);
    }
  }

  /** Ground truth of a raw range: crc64xor / total_kvs / total_bytes over (key, value). */
  rawChecksum(start: Uint8Array, end: Uint8Array, cf: RawCf = "default"): ChecksumAccumulator {
    const acc = new ChecksumAccumulator();
    this.#rawTree(cf).forRange(toStr(start), endToStr(end), false, (k, v) => {
      acc.add(toBytes(k), toBytes(v));
    });
    return acc;
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * The whole engine (versions, locks, raw KV, max ts) as a stream of chunks of about
   * `chunkBytes`, for saving to disk; `restore` reads it back. Records never span chunks.
   */
  *snapshot(chunkBytes = 1 << 20): Generator<Uint8Array> {
    const w = new SnapshotWriter(chunkBytes);
    w.begin(REC_MAX_TS, 8);
    w.ts(this.maxTs);
    const data: [string, Versions][] = [];
    let cursor = "";
    for (;;) {
      data.length = 0;
      let last: string | undefined;
      this.#data.forRange(cursor, KEY_MAX, false, (k, vs) => {
        data.push([k, vs]);
        last = k;
        return data.length >= 4096 ? BREAK : undefined;
      });
      for (const [k, vs] of data) {
        // Newest first on disk, the order saves have always had.
        const list = newestFirst(vs);
        let size = 10 + k.length;
        for (const v of list) size += 5 + v.length;
        w.begin(REC_DATA, size);
        w.str(k);
        w.varint(list.length);
        for (const v of list) w.str(v);
      }
      yield* w.drain(false);
      if (data.length < 4096 || last === undefined) break;
      cursor = after(last);
    }
    this.#locks.forRange("", KEY_MAX, false, (k, l) => {
      w.begin(
        REC_LOCK,
        128 + k.length + l.primary.length + (l.value?.length ?? 0) +
          l.secondaries.reduce((n, x) => n + x.length + 5, 0),
      );
      w.str(k);
      w.bytes(l.primary);
      w.ts(l.startTs);
      w.ts(l.ttl);
      w.u8(LOCK_TYPE_OP[l.type]);
      w.u8(l.value === undefined ? 0 : 1);
      if (l.value !== undefined) w.bytes(l.value);
      w.ts(l.forUpdateTs);
      w.ts(l.txnSize);
      w.ts(l.minCommitTs);
      w.u8(l.useAsyncCommit ? 1 : 0);
      w.varint(l.secondaries.length);
      for (const x of l.secondaries) w.bytes(x);
    });
    for (const [cf, tree] of this.#raw) {
      tree.forRange("", KEY_MAX, false, (k, v) => {
        w.begin(REC_RAW, 20 + k.length + v.length);
        w.u8(RAW_CFS.indexOf(cf));
        w.str(k);
        w.str(v);
      });
    }
    w.end();
    yield* w.drain(true);
  }

  /** An engine holding what `snapshot` saved. Throws on a damaged or truncated snapshot. */
  static restore(chunks: Iterable<Uint8Array>): MvccStore {
    const s = new MvccStore();
    const data = s.#data;
    let ended = false;
    for (const chunk of chunks) {
      const r = new SnapshotReader(chunk);
      while (!r.done()) {
        const type = r.u8();
        if (type === REC_END) {
          ended = true;
        } else if (type === REC_MAX_TS) {
          s.maxTs = r.ts();
        } else if (type === REC_DATA) {
          const k = r.str();
          const n = r.varint();
          const list: string[] = [];
          for (let i = 0; i < n; i++) list.push(r.str());
          data.set(k, n === 1 ? list[0]! : list.reverse());
          s.#versions += n;
          s.#bytes += k.length + list.reduce((x, v) => x + v.length, 0);
        } else if (type === REC_LOCK) {
          const k = r.str();
          const primary = r.bytes();
          const startTs = r.ts();
          const ttl = r.ts();
          const op = r.u8();
          const value = r.u8() === 1 ? r.bytes() : undefined;
          const forUpdateTs = r.ts();
          const txnSize = r.ts();
          const minCommitTs = r.ts();
          const useAsyncCommit = r.u8() === 1;
          const secondaries: Uint8Array[] = [];
          for (let i = r.varint(); i > 0; i--) secondaries.push(r.bytes());
          const type = (Object.keys(LOCK_TYPE_OP) as LockType[]).find((t) =>
            LOCK_TYPE_OP[t] === op
          );
          if (type === undefined) {
            throw new Error(`engine snapshot has a lock of unknown type ${op}`);
          }
          s.#locks.set(k, {
            primary,
            startTs,
            ttl,
            type,
            value,
            forUpdateTs,
            txnSize,
            minCommitTs,
            useAsyncCommit,
            secondaries,
          });
        } else if (type === REC_RAW) {
          const cf = RAW_CFS[r.u8()];
          if (cf === undefined) throw new Error("engine snapshot has a raw KV pair of unknown CF");
          s.#rawTree(cf).set(r.str(), r.str());
        } else {
          throw new Error(
            `engine snapshot has an unknown record type ${type}; the file is damaged`,
          );
        }
      }
    }
    if (!ended) {
      throw new Error("engine snapshot is truncated (no end record); the save was cut short");
    }
    return s;
  }

  /** What the engine holds. */
  stats(): MvccStats {
    let rawKeys = 0;
    for (const t of this.#raw.values()) rawKeys += t.size;
    return {
      keys: this.#data.size,
      versions: this.#versions,
      locks: this.#locks.size,
      rawKeys,
      bytes: this.#bytes,
    };
  }
}

const REC_END = 0;
const REC_DATA = 1;
const REC_LOCK = 2;
const REC_RAW = 3;
const REC_MAX_TS = 4;
const RAW_CFS: RawCf[] = ["default", "write", "lock"];

/** Writes snapshot records into chunks (Buffer, so byte strings copy natively). */
class SnapshotWriter {
  #buf: Buffer;
  #at = 0;
  #done: Uint8Array[] = [];
  constructor(readonly chunkBytes: number) {
    this.#buf = Buffer.allocUnsafe(chunkBytes);
  }
  /** Starts a record of at most `size` bytes (after its type byte). */
  begin(type: number, size: number): void {
    if (this.#at + size + 1 > this.#buf.length) {
      if (this.#at > 0) this.#done.push(this.#buf.subarray(0, this.#at));
      this.#buf = Buffer.allocUnsafe(Math.max(this.chunkBytes, size + 1));
      this.#at = 0;
    }
    this.u8(type);
  }
  u8(b: number): void {
    this.#buf[this.#at++] = b;
  }
  varint(n: number): void {
    this.#at = putVarNumber(this.#buf, this.#at, n);
  }
  ts(v: bigint): void {
    this.#buf.writeBigUInt64BE(v, this.#at);
    this.#at += 8;
  }
  str(s: string): void {
    this.varint(s.length);
    this.#at += this.#buf.write(s, this.#at, "latin1");
  }
  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.#buf.set(b, this.#at);
    this.#at += b.length;
  }
  end(): void {
    this.begin(REC_END, 0);
  }
  /** The chunks filled so far, plus the current one when `all` is set. */
  drain(all: boolean): Uint8Array[] {
    const out = this.#done;
    this.#done = [];
    if (all && this.#at > 0) {
      out.push(this.#buf.subarray(0, this.#at));
      this.#buf = Buffer.allocUnsafe(this.chunkBytes);
      this.#at = 0;
    }
    return out;
  }
}

/** Reads records of one snapshot chunk. */
class SnapshotReader {
  #buf: Buffer;
  #at = 0;
  constructor(chunk: Uint8Array) {
    this.#buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  done(): boolean {
    return this.#at >= this.#buf.length;
  }
  #need(n: number): void {
    if (this.#at + n > this.#buf.length) {
      throw new Error("engine snapshot chunk is truncated; the file is damaged");
    }
  }
  u8(): number {
    this.#need(1);
    return this.#buf[this.#at++]!;
  }
  varint(): number {
    let v: { value: number; next: number };
    try {
      v = decodeVarNumber(this.#buf, this.#at);
    } catch {
      throw new Error("engine snapshot chunk is truncated; the file is damaged");
    }
    this.#at = v.next;
    return v.value;
  }
  ts(): bigint {
    this.#need(8);
    const v = this.#buf.readBigUInt64BE(this.#at);
    this.#at += 8;
    return v;
  }
  str(): string {
    const n = this.varint();
    this.#need(n);
    const s = this.#buf.toString("latin1", this.#at, this.#at + n);
    this.#at += n;
    return s;
  }
  bytes(): Uint8Array {
    const n = this.varint();
    this.#need(n);
    const b = this.#buf.slice(this.#at, this.#at + n);
    this.#at += n;
    return new Uint8Array(b);
  }
}

/** TiKV's MVCC key without the `z` data prefix: `EncodeBytes(raw) + EncodeUintDesc(ts)`. */
export function mvccKey(raw: Uint8Array, ts: bigint): Uint8Array {
  return concatBytes(encodeBytes(raw), encodeUintDesc(ts));
}

function recordOf(v: string): WriteRecord {
  const t = typeOf(v);
  const type = t === P ? "put" : t === D ? "delete" : t === L ? "lock" : "rollback";
  const rec: WriteRecord = { type, startTs: strToTs(v, 8) };
  if (t === P && v.length - HDR <= SHORT_VALUE_MAX_LEN) rec.shortValue = toBytes(v, HDR);
  if (v.charCodeAt(16) >= 0x61) rec.hasOverlappedRollback = true;
  return rec;
}

/**
 * The write-CF record of an entry: type, start ts and the value inline when it is short (a long
 * value lives in the default CF under `mvccKey(key, startTs)`).
 */
export function writeRecordOf(e: MvccEntry): WriteRecord {
  const rec: WriteRecord = { type: e.type, startTs: e.startTs };
  if (e.type === "put" && e.value.length <= SHORT_VALUE_MAX_LEN) rec.shortValue = e.value;
  if (e.overlappedRollback) rec.hasOverlappedRollback = true;
  return rec;
}

/** True when the entry's value goes to the default CF (longer than `SHORT_VALUE_MAX_LEN`). */
export function hasDefaultCfValue(e: MvccEntry): boolean {
  return e.type === "put" && e.value.length > SHORT_VALUE_MAX_LEN;
}
