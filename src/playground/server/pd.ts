/**
 * The playground's PD: the `pdpb.PD` service over the cluster's region map, stores, TSO and GC
 * safe points. It is always the leader of a one-member PD cluster.
 *
 * As PD does, every RPC but GetMembers checks the header's cluster id and answers a mismatch
 * with gRPC status FailedPrecondition, `mismatch cluster id, need X but got Y`. A zero cluster
 * id is accepted, so tools that have not learned it yet (a bare grpcurl call) still work.
 *
 * During a simulated leader election (`PdLeadership.loseFor`) it answers like a PD that is not
 * the leader: gRPC Unavailable `not leader` for every RPC but GetMembers, which reports no
 * leader until the election is over.
 * @module
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { ErrorType, type PD, type RequestHeader } from "../../gen/pdpb_pb.ts";
import { log } from "../../log.ts";
import type { Cluster } from "../cluster.ts";
import type { Region } from "../regions.ts";
import { peerPb, regionPb, storePb } from "./_convert.ts";

/** Whether this PD leads; a lost leadership comes back by itself (an election). */
export class PdLeadership {
  #until = 0;

  /** Loses the leadership for `ms` (wall-clock) milliseconds. */
  loseFor(ms: number): void {
    this.#until = Date.now() + ms;
  }

  /** Whether this PD is the leader now. */
  get isLeader(): boolean {
    return Date.now() >= this.#until;
  }
}

/** Options of the PD service. */
export interface PdServiceOptions {
  /** The client URL this PD is reached at (`http://127.0.0.1:2379`), asked per call. */
  clientUrl: () => string;
  /** Member name (`pd-playground`). */
  name?: string;
  /** Leadership state (always the leader when absent). */
  leadership?: PdLeadership;
}

/** The `pdpb.PD` implementation over `cluster`. */
export function pdService(cluster: Cluster, opts: PdServiceOptions): ServiceImpl<typeof PD> {
  const header = () => ({ clusterId: cluster.clusterId });
  const check = (h: RequestHeader | undefined): void => {
    if (opts.leadership && !opts.leadership.isLeader) {
      throw new ConnectError("not leader", Code.Unavailable);
    }
    const got = h?.clusterId ?? 0n;
    if (got !== 0n && got !== cluster.clusterId) {
      throw new ConnectError(
        `mismatch cluster id, need ${cluster.clusterId} but got ${got}`,
        Code.FailedPrecondition,
      );
    }
  };
  const regionResponse = (r: Region | undefined) =>
    r ? { header: header(), region: regionPb(r), leader: peerPb(r.leader) } : { header: header() };
  const member = () => {
    const url = opts.clientUrl();
    return {
      name: opts.name ?? "pd-playground",
      memberId: cluster.clusterId ^ 0x5044n,
      peerUrls: [url],
      clientUrls: [url],
      binaryVersion: "v8.5.0",
    };
  };

  return {
    getMembers() {
      const m = member();
      if (opts.leadership && !opts.leadership.isLeader) return { header: header(), members: [m] };
      return { header: header(), members: [m], leader: m, etcdLeader: m };
    },

    async *tso(requests) {
      for await (const req of requests) {
        check(req.header);
        if (req.count === 0) {
          throw new ConnectError("tso count should be positive", Code.Unknown);
        }
        let t;
        try {
          t = cluster.tso.allocate(req.count);
        } catch (err) {
          throw new ConnectError((err as Error).message, Code.Unknown);
        }
        yield {
          header: header(),
          count: req.count,
          timestamp: { physical: BigInt(t.physical), logical: BigInt(t.logical), suffixBits: 0 },
        };
      }
    },

    allocID(req) {
      check(req.header);
      const count = Math.max(1, req.count);
      const first = cluster.ids.next();
      for (let i = 1; i < count; i++) cluster.ids.next();
      return { header: header(), id: first, count };
    },

    getStore(req) {
      check(req.header);
      const s = cluster.regions.getStore(req.storeId);
      if (!s) {
        throw new ConnectError(`invalid store ID ${req.storeId}, not found`, Code.Unknown);
      }
      if (s.state === "Tombstone") {
        return {
          header: {
            ...header(),
            error: { type: ErrorType.STORE_TOMBSTONE, message: `store ${s.id} is tombstone` },
          },
          store: storePb(s),
        };
      }
      return { header: header(), store: storePb(s) };
    },

    getAllStores(req) {
      check(req.header);
      const stores = cluster.regions.stores().filter((s) =>
        !(req.excludeTombstoneStores && s.state === "Tombstone")
      );
      return { header: header(), stores: stores.map(storePb) };
    },

    getRegion(req) {
      check(req.header);
      return regionResponse(cluster.regions.getRegion(req.regionKey));
    },

    getPrevRegion(req) {
      check(req.header);
      return regionResponse(cluster.regions.getPrevRegion(req.regionKey));
    },

    getRegionByID(req) {
      check(req.header);
      return regionResponse(cluster.regions.getRegionById(req.regionId));
    },

    scanRegions(req) {
      check(req.header);
      const regions = cluster.regions.scanRegions(req.startKey, req.endKey, Math.max(0, req.limit));
      return {
        header: header(),
        regionMetas: regions.map(regionPb),
        leaders: regions.map((r) => peerPb(r.leader)),
        regions: regions.map((r) => ({ region: regionPb(r), leader: peerPb(r.leader) })),
      };
    },

    scatterRegion(req) {
      check(req.header);
      const ids = req.regionsId.length > 0
        ? req.regionsId
        : [req.region?.id ?? req.regionId].filter((id) => id !== 0n);
      const failed: bigint[] = [];
      for (const id of ids) {
        const r = cluster.regions.getRegionById(id);
        if (!r) {
          failed.push(id);
          continue;
        }
        // Scattering moves replicas; with one replica per store, moving the leader is what a
        // client can observe.
        const i = r.peers.findIndex((p) => p.id === r.leader.id);
        const next = r.peers[(i + 1) % r.peers.length]!;
        cluster.regions.transferLeader(r.id, next.storeId);
      }
      const done = ids.length === 0
        ? 100
        : Math.round(100 * (ids.length - failed.length) / ids.length);
      return { header: header(), finishedPercentage: BigInt(done), failedRegionsId: failed };
    },

    getGCSafePoint(req) {
      check(req.header);
      return { header: header(), safePoint: cluster.gc.gcSafePoint };
    },

    updateGCSafePoint(req) {
      check(req.header);
      const sp = cluster.gc.updateGcSafePoint(req.safePoint);
      log("playground", "pd").info("GC safe point is now {sp}", { sp: String(sp) });
      return { header: header(), newSafePoint: sp };
    },

    updateServiceGCSafePoint(req) {
      check(req.header);
      const serviceId = new TextDecoder().decode(req.serviceId);
      if (serviceId === "") {
        throw new ConnectError("service id of a service safe point is empty", Code.Unknown);
      }
      let r;
      try {
        r = cluster.gc.updateServiceSafePoint(serviceId, Number(req.TTL), req.safePoint);
      } catch (err) {
        throw new ConnectError((err as Error).message, Code.Unknown);
      }
      log("playground", "pd").debug("service safe point {service} -> {sp} (ttl {ttl})", {
        service: serviceId,
        sp: String(req.safePoint),
        ttl: String(req.TTL),
        min: String(r.minSafePoint),
      });
      return {
        header: header(),
        serviceId: new TextEncoder().encode(r.serviceId),
        TTL: BigInt(Math.min(r.ttl, Number.MAX_SAFE_INTEGER)),
        minSafePoint: r.minSafePoint,
      };
    },

    splitRegions(req) {
      check(req.header);
      const created = cluster.regions.splitAt(req.splitKeys.filter((k) => k.length > 0));
      return { header: header(), finishedPercentage: 100n, regionsId: created.map((r) => r.id) };
    },
  };
}
