/**
 * A playground store's `tikvpb.Tikv` service: transactional KV reads and writes, lock
 * resolution, region splits and the coprocessor checksum, over the cluster's shared MVCC engine.
 *
 * Every request's Context is checked as TiKV checks it (see `_region_check.ts`); a failed check
 * is answered with the response's `region_error` and nothing else, and key errors travel in the
 * response's `error`/`errors` fields, never as gRPC statuses.
 * @module
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { compareBytes, encodeBytes } from "../../codec/bytes.ts";
import {
  type Mutation as MutationPb,
  Op,
  PrewriteRequest_PessimisticAction,
} from "../../gen/kvrpcpb_pb.ts";
import type { Tikv } from "../../gen/tikvpb_pb.ts";
import type { Cluster } from "../cluster.ts";
import type { Mutation } from "../mvcc.ts";
import { keyErrorPb, lockInfoPb, regionPb } from "./_convert.ts";
import type { ServerStats } from "./_flow.ts";
import { checkContext, clampToScope } from "./_region_check.ts";
import { handleCoprocessor } from "./coprocessor.ts";

function mutationOf(m: MutationPb): Mutation | string {
  switch (m.op) {
    case Op.Put:
      return { op: "put", key: m.key, value: m.value };
    case Op.Del:
      return { op: "delete", key: m.key };
    case Op.Lock:
      return { op: "lock", key: m.key };
    case Op.Insert:
      return { op: "insert", key: m.key, value: m.value };
    case Op.CheckNotExists:
      return { op: "checkNotExists", key: m.key };
    default:
      return `mutation op ${Op[m.op] ?? m.op} is not supported by the playground`;
  }
}

/** The `tikvpb.Tikv` implementation of store `storeId`, counting region errors in `stats`. */
export function tikvService(
  cluster: Cluster,
  storeId: bigint,
  stats?: ServerStats,
): ServiceImpl<typeof Tikv> {
  const mvcc = cluster.mvcc;
  const check = (ctx: Parameters<typeof checkContext>[2], keys: readonly Uint8Array[] = []) =>
    checkContext(cluster, storeId, ctx, keys, stats);

  return {
    kvGet(req) {
      const c = check(req.context, [req.key]);
      if (c.error) return { regionError: c.error };
      const r = mvcc.get(req.key, req.version, { bypassLocks: req.context?.resolvedLocks ?? [] });
      if (r.error) return { error: keyErrorPb(r.error) };
      return r.value === null ? { notFound: true } : { value: r.value };
    },

    kvBatchGet(req) {
      const c = check(req.context, req.keys);
      if (c.error) return { regionError: c.error };
      const bypassLocks = req.context?.resolvedLocks ?? [];
      const pairs = [];
      for (const key of req.keys) {
        const r = mvcc.get(key, req.version, { bypassLocks });
        if (r.error) pairs.push({ key, error: keyErrorPb(r.error) });
        else if (r.value !== null) pairs.push({ key, value: r.value });
      }
      return { pairs };
    },

    kvScan(req) {
      // A reverse scan reads down from start_key (exclusive) to end_key (inclusive).
      const probe = req.reverse ? [] : [req.startKey];
      const c = check(req.context, probe);
      if (c.error) return { regionError: c.error };
      const lower = req.reverse ? req.endKey : req.startKey;
      const upper = req.reverse ? req.startKey : req.endKey;
      const { start, end } = clampToScope(c.scope, lower, upper);
      if (end.length > 0 && compareBytes(start, end) >= 0) return { pairs: [] };
      const pairs = mvcc.scan(start, end, req.version, req.limit, {
        keyOnly: req.keyOnly,
        reverse: req.reverse,
        bypassLocks: req.context?.resolvedLocks ?? [],
      });
      return {
        pairs: pairs.map((p) =>
          p.error ? { key: p.key, error: keyErrorPb(p.error) } : { key: p.key, value: p.value }
        ),
      };
    },

    kvPrewrite(req) {
      const c = check(req.context, req.mutations.map((m) => m.key));
      if (c.error) return { regionError: c.error };
      const mutations: Mutation[] = [];
      for (const m of req.mutations) {
        const mu = mutationOf(m);
        if (typeof mu === "string") return { errors: [{ abort: mu }] };
        mutations.push(mu);
      }
      const r = mvcc.prewrite({
        mutations,
        primary: req.primaryLock,
        startTs: req.startVersion,
        lockTtl: req.lockTtl,
        txnSize: req.txnSize,
        forUpdateTs: req.forUpdateTs,
        pessimisticChecks: req.pessimisticActions.map((a) =>
          a === PrewriteRequest_PessimisticAction.DO_PESSIMISTIC_CHECK
        ),
        minCommitTs: req.minCommitTs,
        useAsyncCommit: req.useAsyncCommit,
        secondaries: req.secondaries,
      });
      return { errors: r.errors.map(keyErrorPb), minCommitTs: r.minCommitTs };
    },

    kvCommit(req) {
      const c = check(req.context, req.keys);
      if (c.error) return { regionError: c.error };
      const r = mvcc.commit(req.keys, req.startVersion, req.commitVersion);
      return r.error ? { error: keyErrorPb(r.error) } : { commitVersion: req.commitVersion };
    },

    kvScanLock(req) {
      const c = check(req.context, [req.startKey]);
      if (c.error) return { regionError: c.error };
      const { start, end } = clampToScope(c.scope, req.startKey, req.endKey);
      const locks = end.length > 0 && compareBytes(start, end) >= 0
        ? []
        : mvcc.scanLock(req.maxVersion, start, end, req.limit);
      return { locks: locks.map(lockInfoPb) };
    },

    kvCheckTxnStatus(req) {
      const c = check(req.context, [req.primaryKey]);
      if (c.error) return { regionError: c.error };
      const s = mvcc.checkTxnStatus({
        primaryKey: req.primaryKey,
        lockTs: req.lockTs,
        callerStartTs: req.callerStartTs,
        currentTs: req.currentTs,
        rollbackIfNotExist: req.rollbackIfNotExist,
        forceSyncCommit: req.forceSyncCommit,
        resolvingPessimisticLock: req.resolvingPessimisticLock,
        verifyIsPrimary: req.verifyIsPrimary,
      });
      return {
        ...(s.error ? { error: keyErrorPb(s.error) } : {}),
        lockTtl: s.lockTtl,
        commitVersion: s.commitVersion,
        action: s.action,
        ...(s.lockInfo ? { lockInfo: lockInfoPb(s.lockInfo) } : {}),
      };
    },

    kvCheckSecondaryLocks(req) {
      const c = check(req.context, req.keys);
      if (c.error) return { regionError: c.error };
      const s = mvcc.checkSecondaryLocks(req.keys, req.startVersion);
      return {
        ...(s.error ? { error: keyErrorPb(s.error) } : {}),
        locks: s.locks.map(lockInfoPb),
        commitTs: s.commitTs,
      };
    },

    kvResolveLock(req) {
      const c = check(req.context, req.keys);
      if (c.error) return { regionError: c.error };
      const status = req.txnInfos.length > 0
        ? new Map(req.txnInfos.map((t) => [t.txn, t.status]))
        : new Map([[req.startVersion, req.commitVersion]]);
      const range = { start: c.scope.start, end: c.scope.end };
      const r = mvcc.resolveLocks(status, req.keys.length > 0 ? req.keys : undefined, range);
      return r.error ? { error: keyErrorPb(r.error) } : {};
    },

    kVPessimisticRollback(req) {
      const c = check(req.context, req.keys);
      if (c.error) return { regionError: c.error };
      mvcc.pessimisticRollback(req.keys, req.startVersion, req.forUpdateTs);
      return { errors: [] };
    },

    splitRegion(req) {
      const raw = req.splitKeys.length > 0 ? req.splitKeys : [req.splitKey].filter((k) => k.length);
      const c = check(req.context, raw);
      if (c.error) return { regionError: c.error };
      // TiKV refuses a split at the region's own start key: it would create an empty region.
      const keys = raw.filter((k) => compareBytes(k, c.scope.start) !== 0).map(encodeBytes);
      if (keys.length === 0) {
        return { regions: [regionPb(c.scope.region)], errors: [] };
      }
      const regions = cluster.regions.splitRegion(c.scope.region.id, keys);
      return {
        regions: regions.map(regionPb),
        ...(regions.length === 2
          ? { left: regionPb(regions[0]!), right: regionPb(regions[1]!) }
          : {}),
      };
    },

    coprocessor(req) {
      return handleCoprocessor(cluster, storeId, req, stats);
    },
  };
}
