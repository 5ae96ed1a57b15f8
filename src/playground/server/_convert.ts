/**
 * Private: the engine's records as kvproto messages (regions, stores, locks, key errors), and
 * the region errors TiKV answers with, built the way TiKV fills them.
 * @module
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ErrorSchema } from "../../gen/errorpb_pb.ts";
import type { KeyErrorSchema, LockInfoSchema } from "../../gen/kvrpcpb_pb.ts";
import type { PeerSchema, RegionSchema, StoreSchema } from "../../gen/metapb_pb.ts";
import { hex } from "../../codec/bytes.ts";
import type { RegionErrorKind } from "../cluster.ts";
import { type KeyError, LOCK_TYPE_OP, type LockInfo } from "../mvcc.ts";
import { type Peer, type Region, type Store, STORE_STATE_NUMBER } from "../regions.ts";

/** errorpb.Error as an init object. */
export type RegionErrorInit = MessageInitShape<typeof ErrorSchema>;
/** kvrpcpb.KeyError as an init object. */
export type KeyErrorInit = MessageInitShape<typeof KeyErrorSchema>;

/** metapb.Peer of a peer (always a voter here). */
export function peerPb(p: Peer): MessageInitShape<typeof PeerSchema> {
  return { id: p.id, storeId: p.storeId };
}

/** metapb.Region of a region (encoded bounds, epoch, peers). */
export function regionPb(r: Region): MessageInitShape<typeof RegionSchema> {
  return {
    id: r.id,
    startKey: r.startKey,
    endKey: r.endKey,
    regionEpoch: { confVer: r.epoch.confVer, version: r.epoch.version },
    peers: r.peers.map(peerPb),
  };
}

/** metapb.Store of a store. */
export function storePb(s: Store): MessageInitShape<typeof StoreSchema> {
  return {
    id: s.id,
    address: s.address,
    peerAddress: s.address,
    statusAddress: s.statusAddress,
    state: STORE_STATE_NUMBER[s.state],
    labels: s.labels.map((l) => ({ key: l.key, value: l.value })),
    version: s.version,
  };
}

/** kvrpcpb.LockInfo of an engine lock. */
export function lockInfoPb(l: LockInfo): MessageInitShape<typeof LockInfoSchema> {
  return {
    primaryLock: l.primaryLock,
    lockVersion: l.lockVersion,
    key: l.key,
    lockTtl: l.lockTtl,
    txnSize: l.txnSize,
    lockType: LOCK_TYPE_OP[l.lockType],
    lockForUpdateTs: l.lockForUpdateTs,
    useAsyncCommit: l.useAsyncCommit,
    minCommitTs: l.minCommitTs,
    secondaries: l.secondaries,
  };
}

/** kvrpcpb.KeyError of an engine key error. */
export function keyErrorPb(e: KeyError): KeyErrorInit {
  switch (e.kind) {
    case "locked":
      return { locked: lockInfoPb(e.lock) };
    case "writeConflict":
      return {
        conflict: {
          startTs: e.startTs,
          conflictTs: e.conflictTs,
          conflictCommitTs: e.conflictCommitTs,
          key: e.key,
          primary: e.primary,
          reason: e.reason,
        },
      };
    case "alreadyExist":
      return { alreadyExist: { key: e.key } };
    case "txnNotFound":
      return { txnNotFound: { startTs: e.startTs, primaryKey: e.primaryKey } };
    case "commitTsExpired":
      return {
        commitTsExpired: {
          startTs: e.startTs,
          attemptedCommitTs: e.attemptedCommitTs,
          key: e.key,
          minCommitTs: e.minCommitTs,
        },
      };
    case "primaryMismatch":
      // kvproto's primary_mismatch field is outside tibr's proto subset; TiKV's message stands in.
      return {
        abort: `primary mismatch: lock of key ${hex(e.lock.key)} names primary ` +
          `${hex(e.lock.primaryLock)}`,
      };
    case "retryable":
      return { retryable: e.message };
    case "abort":
      return { abort: e.message };
  }
}

/** RegionNotFound, as a store without the region answers. */
export function regionNotFound(regionId: bigint): RegionErrorInit {
  return { message: `region ${regionId} is not found`, regionNotFound: { regionId } };
}

/** NotLeader naming the current leader (when this store knows one). */
export function notLeader(regionId: bigint, leader: Peer | undefined): RegionErrorInit {
  return {
    message: `peer is not leader for region ${regionId}, leader may be ` +
      (leader ? `store ${leader.storeId}` : "unknown"),
    notLeader: { regionId, ...(leader ? { leader: peerPb(leader) } : {}) },
  };
}

/** EpochNotMatch with the regions now covering the old one's keys. */
export function epochNotMatch(
  region: Region,
  sent: { confVer: bigint; version: bigint },
  current: Region[],
): RegionErrorInit {
  return {
    message: `mismatch epoch for region ${region.id}: current conf_ver ${region.epoch.confVer} ` +
      `version ${region.epoch.version}, but the request sent conf_ver ${sent.confVer} version ` +
      `${sent.version}`,
    epochNotMatch: { currentRegions: current.map(regionPb) },
  };
}

/** KeyNotInRegion for a raw key outside the region. */
export function keyNotInRegion(key: Uint8Array, region: Region): RegionErrorInit {
  return {
    message: `key ${hex(key)} is not in region ${region.id}`,
    keyNotInRegion: {
      key,
      regionId: region.id,
      startKey: region.startKey,
      endKey: region.endKey,
    },
  };
}

/** StoreNotMatch: the request was meant for another store. */
export function storeNotMatch(requested: bigint, actual: bigint): RegionErrorInit {
  return {
    message: `store not match: the request is for store ${requested}, this is store ${actual}`,
    storeNotMatch: { requestStoreId: requested, actualStoreId: actual },
  };
}

/** ServerIsBusy, with a backoff hint as TiKV's flow control gives. */
export function serverIsBusy(): RegionErrorInit {
  return {
    message: "server is busy",
    serverIsBusy: { reason: "server is busy (injected by the playground)", backoffMs: 100n },
  };
}

/**
 * The region error of an injected fault: the same shapes as the real ones, built from the
 * region's current state so a client that follows them makes progress.
 */
export function injectedError(
  kind: RegionErrorKind,
  region: Region,
  neighbours: () => Region[],
): RegionErrorInit {
  switch (kind) {
    case "notLeader":
      return notLeader(region.id, region.leader);
    case "epochNotMatch":
      return epochNotMatch(region, region.epoch, neighbours());
    case "regionNotFound":
      return regionNotFound(region.id);
    case "keyNotInRegion":
      return keyNotInRegion(new Uint8Array(0), region);
    case "serverIsBusy":
      return serverIsBusy();
    case "staleCommand":
      return { message: "stale command", staleCommand: {} };
  }
}
