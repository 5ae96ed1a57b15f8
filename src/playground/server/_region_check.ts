/**
 * Private: TiKV's checks of a request's kvrpcpb.Context against the region it names, in TiKV's
 * order: the region exists on this store, the request is for this store, this store leads it,
 * the epoch matches, the keys lie inside it; then any injected fault.
 * @module
 */
import { compareBytes, encodeBytes } from "../../codec/bytes.ts";
import type { Context } from "../../gen/kvrpcpb_pb.ts";
import type { Cluster } from "../cluster.ts";
import type { Region } from "../regions.ts";
import type { ServerStats } from "./_flow.ts";
import {
  epochNotMatch,
  injectedError,
  keyNotInRegion,
  notLeader,
  type RegionErrorInit,
  regionNotFound,
  storeNotMatch,
} from "./_convert.ts";

/** A region a request may touch, with its raw-key bounds (empty end = unbounded). */
export interface RegionScope {
  region: Region;
  start: Uint8Array;
  end: Uint8Array;
}

/** The outcome of the checks: the scope, or the region error to answer with. */
export type CheckResult = { scope: RegionScope; error?: undefined } | {
  scope?: undefined;
  error: RegionErrorInit;
};

/** Whether raw `key` lies in the region (compared in the encoded form regions are cut in). */
export function keyInRegion(region: Region, key: Uint8Array): boolean {
  const enc = encodeBytes(key);
  if (region.startKey.length > 0 && compareBytes(enc, region.startKey) < 0) return false;
  return region.endKey.length === 0 || compareBytes(enc, region.endKey) < 0;
}

/** `[start, end)` cut to the scope (raw keys, empty end = unbounded). */
export function clampToScope(
  scope: RegionScope,
  start: Uint8Array,
  end: Uint8Array,
): { start: Uint8Array; end: Uint8Array } {
  const s = compareBytes(start, scope.start) < 0 ? scope.start : start;
  let e = end;
  if (scope.end.length > 0 && (e.length === 0 || compareBytes(scope.end, e) < 0)) e = scope.end;
  return { start: s, end: e };
}

/** The region and the ones around it: what a client needs after an epoch change. */
export function regionsAround(cluster: Cluster, region: Region): Region[] {
  const out = [region];
  const prev = cluster.regions.getPrevRegion(region.startKey);
  if (prev) out.unshift(prev);
  if (region.endKey.length > 0) {
    const next = cluster.regions.getRegion(region.endKey);
    if (next) out.push(next);
  }
  return out;
}

/**
 * Runs TiKV's context checks for a request to `storeId` touching `keys`; a region error is
 * counted in `stats` when given. `rpc` names the call for fault rules limited to one.
 */
export function checkContext(
  cluster: Cluster,
  storeId: bigint,
  ctx: Context | undefined,
  keys: readonly Uint8Array[] = [],
  stats?: ServerStats,
  rpc?: string,
): CheckResult {
  const r = check(cluster, storeId, ctx, keys, rpc);
  if (r.error) stats?.regionError(r.error);
  return r;
}

function check(
  cluster: Cluster,
  storeId: bigint,
  ctx: Context | undefined,
  keys: readonly Uint8Array[],
  rpc?: string,
): CheckResult {
  const regionId = ctx?.regionId ?? 0n;
  const region = cluster.regions.getRegionById(regionId);
  if (!region || !region.peers.some((p) => p.storeId === storeId)) {
    return { error: regionNotFound(regionId) };
  }
  const peerStore = ctx?.peer?.storeId ?? 0n;
  if (peerStore !== 0n && peerStore !== storeId) {
    return { error: storeNotMatch(peerStore, storeId) };
  }
  if (region.leader.storeId !== storeId) return { error: notLeader(region.id, region.leader) };
  const sent = {
    confVer: ctx?.regionEpoch?.confVer ?? 0n,
    version: ctx?.regionEpoch?.version ?? 0n,
  };
  if (sent.version !== region.epoch.version || sent.confVer !== region.epoch.confVer) {
    return { error: epochNotMatch(region, sent, regionsAround(cluster, region)) };
  }
  for (const k of keys) {
    if (!keyInRegion(region, k)) return { error: keyNotInRegion(k, region) };
  }
  const injected = cluster.faults.pickRegionError(storeId, region.id, rpc);
  if (injected) {
    return { error: injectedError(injected, region, () => regionsAround(cluster, region)) };
  }
  const { start, end } = cluster.rawRangeOf(region);
  return { scope: { region, start, end } };
}
