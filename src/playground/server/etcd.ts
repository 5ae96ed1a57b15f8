/**
 * The etcd that PD embeds, as far as tools use it to discover a cluster: an in-memory revisioned
 * key-value store with leases, and etcd v3's `KV.Range` served on PD's client port (the same
 * port as pdpb, as PD serves both). The playground's TiDB registers itself here as TiDB's info
 * syncer does (`/topology/tidb/<ip:port>/info` and `/ttl`, under a 45 s lease), so TiUP-style
 * discovery through PD finds it.
 * @module
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { KeyValue } from "../../gen/etcd/kv_pb.ts";
import type { KV } from "../../gen/etcd/rpc_pb.ts";
import type { Clock } from "../tso.ts";

interface Entry {
  value: Uint8Array;
  createRevision: bigint;
  modRevision: bigint;
  version: bigint;
  lease: bigint;
  /** Clock ms after which the lease has expired (undefined: no lease). */
  expiresAt: number | undefined;
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

function bytesOf(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** An in-memory etcd keyspace: revisions, versions and leases as etcd keeps them. */
export class EtcdStore {
  #data = new Map<string, Entry>();
  #revision = 1n;
  #nextLease = 0x694d7b3a00000000n;
  #leases = new Map<bigint, { ttlMs: number; expiresAt: number }>();

  /** `clock` gives ms (the cluster's clock). */
  constructor(readonly clock: Clock = Date.now) {}

  /** The store's current revision. */
  get revision(): bigint {
    return this.#revision;
  }

  /** Grants a lease of `ttlSeconds`; returns its id. */
  grant(ttlSeconds: number): bigint {
    const id = this.#nextLease++;
    const ttlMs = ttlSeconds * 1000;
    this.#leases.set(id, { ttlMs, expiresAt: this.clock() + ttlMs });
    return id;
  }

  /** Renews a lease (KeepAlive); false when it has expired or never existed. */
  keepAlive(lease: bigint): boolean {
    this.#expire();
    const l = this.#leases.get(lease);
    if (!l) return false;
    l.expiresAt = this.clock() + l.ttlMs;
    return true;
  }

  /** Revokes a lease and deletes its keys. */
  revoke(lease: bigint): void {
    this.#leases.delete(lease);
    let changed = false;
    for (const [k, e] of this.#data) {
      if (e.lease === lease) {
        this.#data.delete(k);
        changed = true;
      }
    }
    if (changed) this.#revision++;
  }

  /** Puts `key` = `value`, attached to `lease` (0 = none). */
  put(key: string | Uint8Array, value: string | Uint8Array, lease = 0n): void {
    this.#expire();
    const k = typeof key === "string" ? latin1(new TextEncoder().encode(key)) : latin1(key);
    const v = typeof value === "string" ? new TextEncoder().encode(value) : value;
    const rev = ++this.#revision;
    const old = this.#data.get(k);
    this.#data.set(k, {
      value: v,
      createRevision: old?.createRevision ?? rev,
      modRevision: rev,
      version: (old?.version ?? 0n) + 1n,
      lease,
      expiresAt: undefined,
    });
  }

  /** Deletes `key`. */
  delete(key: string): void {
    if (this.#data.delete(latin1(new TextEncoder().encode(key)))) this.#revision++;
  }

  #expire(): void {
    const now = this.clock();
    for (const [id, l] of this.#leases) {
      if (l.expiresAt <= now) this.revoke(id);
    }
  }

  /**
   * etcd's range: `end` empty = the key alone; `end` = "\0" = every key >= `key` (both "\0" =
   * every key); otherwise `[key, end)`. Sorted by key; `limit` 0 = no limit.
   */
  range(
    key: Uint8Array,
    end: Uint8Array,
    limit = 0,
  ): { kvs: KeyValue[]; more: boolean; count: number } {
    this.#expire();
    const start = latin1(key);
    const stop = latin1(end);
    const all = key.length === 1 && key[0] === 0 && stop === "\0";
    const hits = [...this.#data.keys()].filter((k) => {
      if (all) return true;
      if (stop === "") return k === start;
      if (stop === "\0") return k >= start;
      return k >= start && k < stop;
    }).sort();
    const count = hits.length;
    const taken = limit > 0 ? hits.slice(0, limit) : hits;
    return {
      kvs: taken.map((k) => {
        const e = this.#data.get(k)!;
        return {
          $typeName: "mvccpb.KeyValue",
          key: bytesOf(k),
          createRevision: e.createRevision,
          modRevision: e.modRevision,
          version: e.version,
          value: e.value,
          lease: e.lease,
        };
      }),
      more: taken.length < count,
      count,
    };
  }
}

/** etcd's `KV` service (Range only) over `store`, answering with PD's cluster and member ids. */
export function etcdKvService(
  store: EtcdStore,
  o: { clusterId: bigint; memberId: bigint },
): Partial<ServiceImpl<typeof KV>> {
  return {
    range(req) {
      const r = store.range(req.key, req.rangeEnd, Number(req.limit));
      const header = {
        clusterId: o.clusterId,
        memberId: o.memberId,
        revision: store.revision,
        raftTerm: 1n,
      };
      if (req.countOnly) return { header, kvs: [], more: false, count: BigInt(r.count) };
      const kvs = req.keysOnly ? r.kvs.map((kv) => ({ ...kv, value: new Uint8Array(0) })) : r.kvs;
      return { header, kvs, more: r.more, count: BigInt(r.count) };
    },
  };
}

/** TiDB's topology path in etcd (`infosync.TopologyInformationPath`). */
export const TIDB_TOPOLOGY_PATH = "/topology/tidb";
/** The lease of TiDB's topology keys (`TopologySessionTTL`), seconds. */
export const TIDB_TOPOLOGY_TTL_S = 45;
