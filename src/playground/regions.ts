/**
 * The playground's region map and stores, as PD sees them.
 *
 * Region boundaries are ENCODED keys, as in metapb.Region and PD lookups: the memcomparable
 * `EncodeBytes(raw)` of a raw key (no `z` prefix); an empty start or end is unbounded. Regions
 * tile the key space without gaps. Every region has one peer on each of (up to) three stores and
 * one leader peer; epochs change like TiKV's (split: version += number of split keys on every
 * resulting region; merge: version = max + 1; leader transfer: unchanged).
 *
 * Region records are immutable snapshots: every change replaces the record, so a caller holding
 * an old one sees a stale epoch, as a client with a cached region would.
 * @module
 */
import { decodeBytes, encodeBytes } from "../codec/bytes.ts";
import { KEY_MAX, newTree, toBytes, toStr } from "./_bytes.ts";
import type { BTree } from "./_bytes.ts";

/** metapb.StoreState. */
export type StoreState = "Up" | "Offline" | "Tombstone";

/** metapb.StoreState numbers. */
export const STORE_STATE_NUMBER: Record<StoreState, number> = { Up: 0, Offline: 1, Tombstone: 2 };

/** A store label (metapb.StoreLabel). */
export interface StoreLabel {
  key: string;
  value: string;
}

/** A TiKV store as PD lists it (metapb.Store). */
export interface Store {
  id: bigint;
  address: string;
  statusAddress: string;
  state: StoreState;
  labels: StoreLabel[];
  version: string;
}

/** A replica of a region on a store (metapb.Peer). */
export interface Peer {
  readonly id: bigint;
  readonly storeId: bigint;
}

/** metapb.RegionEpoch. */
export interface RegionEpoch {
  readonly confVer: bigint;
  readonly version: bigint;
}

/** A region (metapb.Region) with its leader. Keys are encoded; empty = unbounded. */
export interface Region {
  readonly id: bigint;
  readonly startKey: Uint8Array;
  readonly endKey: Uint8Array;
  readonly epoch: RegionEpoch;
  readonly peers: readonly Peer[];
  readonly leader: Peer;
}

/** Hands out unique ids (PD's AllocID): region, peer and store ids share one sequence. */
export class IdAllocator {
  #next: bigint;
  /** Starts at `first`. */
  constructor(first = 1n) {
    this.#next = first;
  }
  /** A fresh id. */
  next(): bigint {
    return this.#next++;
  }
  /** The id the next call returns. */
  peek(): bigint {
    return this.#next;
  }
  /** Skips past `id` (after loading saved state). */
  advancePast(id: bigint): void {
    if (id >= this.#next) this.#next = id + 1n;
  }
}

/** The encoded form of a raw key, as region boundaries hold it. */
export function encodeRegionKey(raw: Uint8Array): Uint8Array {
  return encodeBytes(raw);
}

/**
 * The raw key where an encoded boundary falls: keys >= the result encode to >= the boundary.
 * An encoded key followed by extra bytes (a ts suffix) falls just after its raw key; a boundary
 * that is not a complete encoding keeps its whole groups and raw tail.
 */
export function rawBoundOf(encoded: Uint8Array): Uint8Array {
  if (encoded.length === 0) return encoded;
  try {
    const { value, next } = decodeBytes(encoded, 0);
    if (next === encoded.length) return value;
    const out = new Uint8Array(value.length + 1);
    out.set(value);
    return out;
  } catch {
    const parts: number[] = [];
    let pos = 0;
    while (pos + 9 <= encoded.length && encoded[pos + 8] === 0xff) {
      for (let i = 0; i < 8; i++) parts.push(encoded[pos + i]!);
      pos += 9;
    }
    for (; pos < encoded.length; pos++) parts.push(encoded[pos]!);
    return Uint8Array.from(parts);
  }
}

function inRegion(r: Region, key: string): boolean {
  return r.endKey.length === 0 || key < toStr(r.endKey);
}

/** Regions and stores of the cluster. */
export class RegionMap {
  #byStart: BTree<string, Region> = newTree<Region>();
  #byId = new Map<bigint, Region>();
  #stores = new Map<bigint, Store>();

  /** Draws region, peer and store ids from `ids`. */
  constructor(readonly ids: IdAllocator = new IdAllocator()) {}

  // ---------------------------------------------------------------- stores

  /** Adds a store in state Up. */
  addStore(
    o: { address: string; statusAddress?: string; labels?: StoreLabel[]; id?: bigint },
  ): Store {
    const id = o.id ?? this.ids.next();
    this.ids.advancePast(id);
    const s: Store = {
      id,
      address: o.address,
      statusAddress: o.statusAddress ?? "",
      state: "Up",
      labels: o.labels ?? [],
      version: "8.5.0",
    };
    this.#stores.set(id, s);
    return s;
  }

  /** Every store, by id. */
  stores(): Store[] {
    return [...this.#stores.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** One store, or undefined. */
  getStore(id: bigint): Store | undefined {
    return this.#stores.get(id);
  }

  /** Changes a store's state (Offline, Tombstone) or address. */
  updateStore(
    id: bigint,
    change: Partial<Pick<Store, "state" | "address" | "statusAddress" | "labels">>,
  ): Store {
    const s = this.#stores.get(id);
    if (!s) throw new Error(`store ${id} does not exist; list stores to see valid ids`);
    Object.assign(s, change);
    return s;
  }

  // ---------------------------------------------------------------- lookups

  /** Number of regions. */
  get size(): number {
    return this.#byId.size;
  }

  /** Creates the first region covering every key, with a peer on each of up to 3 Up stores. */
  bootstrap(): Region {
    if (this.#byId.size > 0) throw new Error("the region map is already bootstrapped");
    const stores = this.stores().filter((s) => s.state === "Up").slice(0, 3);
    if (stores.length === 0) throw new Error("cannot bootstrap regions without an Up store");
    const peers = stores.map((s) => ({ id: this.ids.next(), storeId: s.id }));
    const r: Region = {
      id: this.ids.next(),
      startKey: new Uint8Array(0),
      endKey: new Uint8Array(0),
      epoch: { confVer: BigInt(peers.length), version: 1n },
      peers,
      leader: peers[0]!,
    };
    this.#put(r);
    return r;
  }

  #put(r: Region): void {
    this.#byStart.set(toStr(r.startKey), r);
    this.#byId.set(r.id, r);
  }

  /** The region holding encoded `key`. */
  getRegion(key: Uint8Array): Region | undefined {
    const k = toStr(key);
    const pair = this.#byStart.getPairOrNextLower(k);
    if (pair === undefined) return undefined;
    return inRegion(pair[1], k) ? pair[1] : undefined;
  }

  /** The region holding raw `key` (encodes it first). */
  getRegionByRawKey(raw: Uint8Array): Region | undefined {
    return this.getRegion(encodeRegionKey(raw));
  }

  /** The region just before the one holding `key` (PD's GetPrevRegion). */
  getPrevRegion(key: Uint8Array): Region | undefined {
    const r = this.getRegion(key);
    if (r === undefined || r.startKey.length === 0) return undefined;
    return this.#byStart.nextLowerPair(toStr(r.startKey))?.[1];
  }

  /** A region by id. */
  getRegionById(id: bigint): Region | undefined {
    return this.#byId.get(id);
  }

  /**
   * Regions intersecting `[start, end)` in key order (empty end = unbounded), at most `limit`
   * (0 = all), as PD's ScanRegions.
   */
  scanRegions(start: Uint8Array, end: Uint8Array, limit = 0): Region[] {
    const out: Region[] = [];
    const first = this.getRegion(start);
    const from = first ? toStr(first.startKey) : toStr(start);
    const e = end.length === 0 ? KEY_MAX : toStr(end);
    this.#byStart.forRange(from, e, false, (_k, r) => {
      out.push(r);
      return limit > 0 && out.length >= limit ? { break: true } : undefined;
    });
    return out;
  }

  /** Every region in key order. */
  all(): Region[] {
    return this.#byStart.valuesArray();
  }

  // ---------------------------------------------------------------- changes

  /**
   * Splits the region at encoded `keys` (those strictly inside it; others are ignored), as TiKV
   * does with right-derive: the region keeps its id for the rightmost piece and new regions take
   * the left ones. Returns every resulting region, left to right.
   */
  splitRegion(regionId: bigint, keys: Uint8Array[]): Region[] {
    const r = this.#byId.get(regionId);
    if (!r) throw new Error(`region ${regionId} does not exist; it may have been merged`);
    const start = toStr(r.startKey);
    const inside = [...new Set(keys.map(toStr))]
      .filter((k) => k > start && inRegion(r, k))
      .sort();
    if (inside.length === 0) return [r];
    const version = r.epoch.version + BigInt(inside.length);
    const leaderStore = r.leader.storeId;
    const bounds = [start, ...inside];
    const out: Region[] = [];
    for (let i = 0; i < bounds.length; i++) {
      const last = i === bounds.length - 1;
      const peers = last
        ? r.peers
        : r.peers.map((p) => ({ id: this.ids.next(), storeId: p.storeId }));
      const nr: Region = {
        id: last ? r.id : this.ids.next(),
        startKey: toBytes(bounds[i]!).slice(),
        endKey: last ? r.endKey : toBytes(bounds[i + 1]!).slice(),
        epoch: { confVer: r.epoch.confVer, version },
        peers,
        leader: peers.find((p) => p.storeId === leaderStore) ?? peers[0]!,
      };
      out.push(nr);
    }
    for (const nr of out) this.#put(nr);
    return out;
  }

  /**
   * Splits whichever regions hold the encoded `keys` (keys that already start a region are
   * skipped). Returns the regions that start at the keys it split at.
   */
  splitAt(keys: Uint8Array[]): Region[] {
    const groups = new Map<bigint, Uint8Array[]>();
    for (const k of keys) {
      const r = this.getRegion(k);
      if (r === undefined || toStr(r.startKey) === toStr(k)) continue;
      const g = groups.get(r.id);
      if (g) g.push(k);
      else groups.set(r.id, [k]);
    }
    const out: Region[] = [];
    for (const [id, ks] of groups) out.push(...this.splitRegion(id, ks).slice(1));
    return out;
  }

  /**
   * Splits every region by `splitKeysOf`, which returns the encoded keys to cut it at (e.g. from
   * the engine's sizes). Returns how many regions were added.
   */
  splitAll(splitKeysOf: (r: Region) => Uint8Array[]): number {
    const before = this.size;
    for (const r of this.all()) {
      const keys = splitKeysOf(r);
      if (keys.length > 0) this.splitRegion(r.id, keys);
    }
    return this.size - before;
  }

  /** Merges region `sourceId` into its neighbour `targetId`; the target survives. */
  merge(sourceId: bigint, targetId: bigint): Region {
    const src = this.#byId.get(sourceId);
    const tgt = this.#byId.get(targetId);
    if (!src || !tgt) {
      throw new Error(`cannot merge region ${sourceId} into ${targetId}: no such region`);
    }
    const srcBeforeTgt = src.endKey.length > 0 && toStr(src.endKey) === toStr(tgt.startKey);
    const tgtBeforeSrc = tgt.endKey.length > 0 && toStr(tgt.endKey) === toStr(src.startKey);
    if (!srcBeforeTgt && !tgtBeforeSrc) {
      throw new Error(
        `regions ${sourceId} and ${targetId} are not adjacent; only neighbours merge`,
      );
    }
    const version =
      (src.epoch.version > tgt.epoch.version ? src.epoch.version : tgt.epoch.version) + 1n;
    const merged: Region = {
      ...tgt,
      startKey: srcBeforeTgt ? src.startKey : tgt.startKey,
      endKey: srcBeforeTgt ? tgt.endKey : src.endKey,
      epoch: { confVer: tgt.epoch.confVer, version },
    };
    this.#byStart.delete(toStr(src.startKey));
    this.#byStart.delete(toStr(tgt.startKey));
    this.#byId.delete(src.id);
    this.#put(merged);
    return merged;
  }

  /** Moves the region's leadership to its peer on `storeId`. */
  transferLeader(regionId: bigint, storeId: bigint): Region {
    const r = this.#byId.get(regionId);
    if (!r) throw new Error(`region ${regionId} does not exist`);
    const peer = r.peers.find((p) => p.storeId === storeId);
    if (!peer) throw new Error(`region ${regionId} has no peer on store ${storeId}`);
    const nr: Region = { ...r, leader: peer };
    this.#put(nr);
    return nr;
  }

  /**
   * Moves a region's replicas to `storeIds` and its leadership to `leaderStoreId` (one of them),
   * as a finished scatter operator leaves it: peers that stay keep their ids, new ones get fresh
   * ids, and conf_ver grows by one per peer added or removed, as each conf change bumps it.
   */
  movePeers(regionId: bigint, storeIds: readonly bigint[], leaderStoreId: bigint): Region {
    const r = this.#byId.get(regionId);
    if (!r) throw new Error(`region ${regionId} does not exist`);
    if (new Set(storeIds).size !== storeIds.length || storeIds.length === 0) {
      throw new Error(`region ${regionId} needs distinct stores for its peers`);
    }
    for (const id of storeIds) {
      if (!this.#stores.has(id)) throw new Error(`store ${id} does not exist`);
    }
    if (!storeIds.includes(leaderStoreId)) {
      throw new Error(`the leader store ${leaderStoreId} holds no peer of region ${regionId}`);
    }
    const kept = r.peers.filter((p) => storeIds.includes(p.storeId));
    const added = storeIds.filter((id) => !r.peers.some((p) => p.storeId === id))
      .map((storeId) => ({ id: this.ids.next(), storeId }));
    const removed = r.peers.length - kept.length;
    const peers = [...kept, ...added].sort((a, b) => (a.storeId < b.storeId ? -1 : 1));
    const nr: Region = {
      ...r,
      peers,
      leader: peers.find((p) => p.storeId === leaderStoreId)!,
      epoch: {
        confVer: r.epoch.confVer + BigInt(added.length + removed),
        version: r.epoch.version,
      },
    };
    this.#put(nr);
    return nr;
  }

  /** Spreads leaders round-robin over the stores that are Up (PD's balance-leader, at once). */
  scatterLeaders(): void {
    const up = new Set(this.stores().filter((s) => s.state === "Up").map((s) => s.id));
    let i = 0;
    for (const r of this.all()) {
      const candidates = r.peers.filter((p) => up.has(p.storeId));
      if (candidates.length === 0) continue;
      const peer = candidates[i++ % candidates.length]!;
      if (peer.id !== r.leader.id) this.#put({ ...r, leader: peer });
    }
  }

  /** Replaces all stores (loading saved state). */
  loadStores(stores: Store[]): void {
    this.#stores.clear();
    for (const st of stores) {
      this.#stores.set(st.id, { ...st });
      this.ids.advancePast(st.id);
    }
  }

  /** Replaces all regions (loading saved state). Each must carry its own peers and leader. */
  load(regions: Region[]): void {
    this.#byStart = newTree<Region>();
    this.#byId.clear();
    for (const r of regions) {
      this.#put(r);
      this.ids.advancePast(r.id);
      for (const p of r.peers) this.ids.advancePast(p.id);
    }
  }
}
