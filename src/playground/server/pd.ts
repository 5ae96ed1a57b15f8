/**
 * The playground's PD: the `pdpb.PD` service over the cluster's region map, stores, TSO and GC
 * safe points. One service per PD member; by default the playground runs one member, which is
 * always the leader.
 *
 * As PD does, every RPC but GetMembers checks the header's cluster id and answers a mismatch
 * with gRPC status FailedPrecondition, `mismatch cluster id, need X but got Y`. A zero cluster
 * id is accepted, so tools that have not learned it yet (a bare grpcurl call) still work.
 *
 * A member that does not lead (a follower, or every member during a simulated election, see
 * `PdLeadership.loseFor`) answers like PD: gRPC Unavailable `not leader` for every RPC but
 * GetMembers, which lists every member and names the leader, or none during an election.
 * @module
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { ErrorType, type PD, type RequestHeader } from "../../gen/pdpb_pb.ts";
import { log } from "../../log.ts";
import type { Cluster } from "../cluster.ts";
import type { Region } from "../regions.ts";
import { peerPb, regionPb, storePb } from "./_convert.ts";
import type { PdScheduling } from "./scheduling.ts";

/**
 * Which PD member leads. A lost leadership comes back by itself after the election, on the
 * member chosen for it.
 */
export class PdLeadership {
  #until = 0;
  #leader = 0;
  #next = 0;

  /** `members`: how many PD members there are (1). */
  constructor(readonly members = 1) {
    if (!(Number.isInteger(members) && members >= 1)) {
      throw new RangeError(`a PD cluster has at least one member, got ${members}`);
    }
  }

  /**
   * Starts an election of `ms` (wall-clock) milliseconds with no leader, after which member
   * `next` (the current leader by default) leads.
   */
  loseFor(ms: number, next = this.#leader): void {
    if (!(Number.isInteger(next) && next >= 0 && next < this.members)) {
      throw new RangeError(`PD member ${next} does not exist: members are 0..${this.members - 1}`);
    }
    this.#until = Date.now() + ms;
    this.#next = next;
  }

  /** The index of the leading member, or undefined during an election. */
  get leader(): number | undefined {
    if (Date.now() < this.#until) return undefined;
    this.#leader = this.#next;
    return this.#leader;
  }

  /** Whether some member leads now (no election under way). */
  get isLeader(): boolean {
    return this.leader !== undefined;
  }

  /** Whether member `index` leads now. */
  leads(index: number): boolean {
    return this.leader === index;
  }
}

/** A PD member as GetMembers lists it. */
export interface PdMemberInfo {
  /** Member name (`pd-playground`, `pd-1`). */
  name: string;
  /** The client URL it is reached at (`http://127.0.0.1:2379`). */
  clientUrl: string;
}

/** Options of the PD service. */
export interface PdServiceOptions {
  /** The client URL this PD is reached at (`http://127.0.0.1:2379`), asked per call. */
  clientUrl: () => string;
  /** Member name (`pd-playground`). */
  name?: string;
  /** Leadership state (always the leader when absent). */
  leadership?: PdLeadership;
  /** This member's index in `members` (0). */
  member?: number;
  /** Every member of the PD cluster, asked per call (just this one when absent). */
  members?: () => PdMemberInfo[];
  /**
   * Scatter operators (scheduling.ts): ScatterRegion moves peers and leaders through them and
   * GetOperator reports them. Without it, scatter moves each leader at once.
   */
  scheduling?: PdScheduling;
}

/** The `pdpb.PD` implementation over `cluster`. */
export function pdService(cluster: Cluster, opts: PdServiceOptions): ServiceImpl<typeof PD> {
  const header = () => ({ clusterId: cluster.clusterId });
  const self = opts.member ?? 0;
  const check = (h: RequestHeader | undefined): void => {
    if (opts.leadership && !opts.leadership.leads(self)) {
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
  const memberPb = (m: PdMemberInfo, i: number) => ({
    name: m.name,
    // Member 0 keeps the id a one-member playground always had.
    memberId: cluster.clusterId ^ (0x5044n + (BigInt(i) << 16n)),
    peerUrls: [m.clientUrl],
    clientUrls: [m.clientUrl],
    binaryVersion: "v8.5.0",
  });

  return {
    getMembers() {
      const infos = opts.members?.() ??
        [{ name: opts.name ?? "pd-playground", clientUrl: opts.clientUrl() }];
      const members = infos.map(memberPb);
      const leading = opts.leadership ? opts.leadership.leader : self;
      const leader = leading === undefined ? undefined : members[leading];
      if (!leader) return { header: header(), members };
      return { header: header(), members, leader, etcdLeader: leader };
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
      if (opts.scheduling && req.regionsId.length === 0) {
        // PD's deprecated one-region form: an unknown region is a header error (PD's text,
        // format verbs and all); otherwise 100 whether or not an operator was needed.
        const id = req.regionId !== 0n ? req.regionId : req.region?.id ?? 0n;
        if (!cluster.regions.getRegionById(id)) {
          return {
            header: {
              ...header(),
              error: { type: ErrorType.REGION_NOT_FOUND, message: "region %d not found" },
            },
          };
        }
        opts.scheduling.scatter([id], req.group);
        return { header: header(), finishedPercentage: 100n };
      }
      if (opts.scheduling) {
        const failedIds = opts.scheduling.scatter(ids, req.group);
        const pct = ids.length === 0
          ? 100
          : Math.round(100 * (ids.length - failedIds.length) / ids.length);
        return { header: header(), finishedPercentage: BigInt(pct), failedRegionsId: failedIds };
      }
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

    getOperator(req) {
      check(req.header);
      const op = opts.scheduling?.operator(req.regionId);
      if (!op) {
        // PD's answer for a region without an operator; clients read it as "nothing to wait".
        return {
          header: {
            ...header(),
            error: { type: ErrorType.REGION_NOT_FOUND, message: "Not Found" },
          },
        };
      }
      const enc = new TextEncoder();
      return {
        header: header(),
        regionId: req.regionId,
        desc: enc.encode(op.desc),
        kind: enc.encode(op.kind),
        status: op.status,
      };
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
