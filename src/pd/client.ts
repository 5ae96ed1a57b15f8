/**
 * A PD client: finds the leader among the given endpoints, learns the cluster id, follows
 * leader changes, and offers what backup needs (TSO, stores, regions, GC safe points).
 * @module
 */
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { decodeBytes, encodeBytes } from "../codec/bytes.ts";
import { composeTs } from "../codec/tso.ts";
import type { Peer, Region, Store } from "../gen/metapb_pb.ts";
import { StoreState } from "../gen/metapb_pb.ts";
import {
  ErrorType,
  OperatorStatus,
  PD,
  type RequestHeader,
  type ResponseHeader,
  type TsoRequest,
  TsoRequestSchema,
} from "../gen/pdpb_pb.ts";
import { log } from "../log.ts";
import { createConnection, type RpcConnection, type TlsOptions } from "../rpc/transport.ts";
import { Backoffer, BO } from "../backoff.ts";
import { type Clock, systemClock } from "../storage/clock.ts";

/** A PD failure that is not about connectivity (bad cluster, PD-side error). */
export class PdError extends Error {
  override name = "PdError";
}

/** No PD endpoint answered with a leader (all unreachable, or an election under way). */
export class PdUnreachableError extends PdError {
  override name = "PdUnreachableError";
  constructor(readonly failures: string[]) {
    super(
      `cannot reach any PD endpoint (${failures.join("; ")}): check -u/--pd and that PD is up`,
    );
  }
}

/** How long `PdClient.connect` keeps looking for a PD leader before it gives up, ms. */
export const DEFAULT_DISCOVER_TIMEOUT_MS = 10_000;

/** A region with raw (decoded) key bounds, and its leader. */
export interface RegionInfo {
  region: Region;
  leader: Peer | undefined;
  /** Raw start key (decoded from PD's memcomparable form); empty = -inf. */
  startKey: Uint8Array;
  /** Raw end key; empty = +inf. */
  endKey: Uint8Array;
}

/** Options for `PdClient.connect`. */
export interface PdClientOptions {
  /** PD endpoints (`host:port` or URLs), as given to `-u/--pd`, comma-separated upstream. */
  endpoints: string[];
  tls?: TlsOptions;
  /** Deadline of each unary call, ms. */
  timeoutMs?: number;
  /** How many times a call is retried after the leader changed or was unreachable. */
  maxRetries?: number;
  /**
   * How long `connect` keeps retrying while no endpoint answers with a leader (PD restarting
   * or electing), ms; default DEFAULT_DISCOVER_TIMEOUT_MS.
   */
  discoverTimeoutMs?: number;
  signal?: AbortSignal;
  /** Time for backoffs and the discovery deadline; the system clock by default. */
  clock?: Clock;
  /** Opens a connection to an endpoint; `createConnection` by default (tests pass in-memory ones). */
  dial?: (endpoint: string, tls: TlsOptions | undefined) => RpcConnection;
}

// A reset connection comes as Aborted (see `isConnectionLost`).
const RETRYABLE = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.Unknown,
  Code.Internal,
  Code.Aborted,
]);

/** Decodes a PD (memcomparable) region boundary to the raw key; empty stays empty. */
export function decodeRegionKey(key: Uint8Array): Uint8Array {
  return key.length === 0 ? key : decodeBytes(key).value;
}

/** Encodes a raw key for PD look-ups; empty stays empty (unbounded). */
export function encodeRegionKey(raw: Uint8Array): Uint8Array {
  return raw.length === 0 ? raw : encodeBytes(raw);
}

/** `host:port` of an endpoint or URL, to compare endpoints with members' client URLs. */
function hostPort(endpoint: string): string {
  return endpoint.trim().replace(/^https?:\/\//, "").replace(/\/+$/, "");
}

function toInfo(region: Region | undefined, leader: Peer | undefined): RegionInfo | undefined {
  if (!region) return undefined;
  return {
    region,
    leader,
    startKey: decodeRegionKey(region.startKey),
    endKey: decodeRegionKey(region.endKey),
  };
}

/** A connected PD client. Create with `PdClient.connect`. */
export class PdClient {
  #endpoints: string[];
  /** Client URLs of every PD member, learned from GetMembers: tried after `#endpoints`. */
  #members: string[] = [];
  #opts: PdClientOptions;
  #conn!: RpcConnection;
  #client!: Client<typeof PD>;
  #clusterId = 0n;
  #leader = "";
  /** The discovery under way: concurrent calls that lost the leader share it. */
  #discovering: Promise<void> | undefined;

  private constructor(opts: PdClientOptions) {
    this.#opts = opts;
    this.#endpoints = opts.endpoints.map((e) => e.trim()).filter((e) => e.length > 0);
  }

  /**
   * Connects to the PD leader, retrying for `discoverTimeoutMs` while no endpoint answers with
   * one (PD restarting, or electing a leader). Fails with one clear line after that, or at
   * once when the endpoints belong to different clusters.
   */
  static async connect(opts: PdClientOptions): Promise<PdClient> {
    const pd = new PdClient(opts);
    if (pd.#endpoints.length === 0) throw new PdError("no PD endpoint given: pass -u host:port");
    const budget = opts.discoverTimeoutMs ?? DEFAULT_DISCOVER_TIMEOUT_MS;
    const clock = pd.#clock;
    const deadline = clock.now() + budget;
    const bo = pd.#backoffer();
    for (;;) {
      try {
        await pd.#discover();
        return pd;
      } catch (err) {
        if (!(err instanceof PdUnreachableError)) throw err;
        // The deadline counts the discovery attempts too (each may wait for its timeout).
        const left = deadline - clock.now();
        const gaveUp = new PdError(
          `cannot reach any PD endpoint in ${Math.round(budget / 1000)} s ` +
            `(${err.failures.join("; ")}): check -u/--pd and that PD is up`,
        );
        if (left <= 0) throw gaveUp;
        log("pd").warn("no PD leader found ({msg}); retrying", { msg: err.failures.join("; ") });
        await bo.backoff(BO.pdRPC, err.failures.join("; "), { maxSleepMs: left });
      }
    }
  }

  get #clock(): Clock {
    return this.#opts.clock ?? systemClock;
  }

  /** A backoffer for one call: PD's kind, no budget (calls count attempts instead). */
  #backoffer(signal: AbortSignal | undefined = this.#opts.signal): Backoffer {
    return new Backoffer({ budgetMs: 0, clock: this.#clock, ...(signal ? { signal } : {}) });
  }

  #dial(endpoint: string): RpcConnection {
    const tls = this.#opts.tls;
    if (this.#opts.dial) return this.#opts.dial(endpoint, tls);
    return createConnection(endpoint, tls ? { tls } : {});
  }

  /** The cluster id, learned from GetMembers. */
  get clusterId(): bigint {
    return this.#clusterId;
  }

  /** The leader's client URL currently in use. */
  get leader(): string {
    return this.#leader;
  }

  #header(): RequestHeader {
    return { clusterId: this.#clusterId, senderId: 0n } as RequestHeader;
  }

  #checkHeader(h: ResponseHeader | undefined, what: string): void {
    if (!h) return;
    if (this.#clusterId !== 0n && h.clusterId !== 0n && h.clusterId !== this.#clusterId) {
      throw new PdError(
        `PD answered ${what} for cluster ${h.clusterId}, but this client is connected to cluster ` +
          `${this.#clusterId}: check that every -u endpoint belongs to the same cluster`,
      );
    }
    if (h.error && h.error.type !== ErrorType.OK) {
      throw new PdError(`PD ${what} failed: ${ErrorType[h.error.type]} ${h.error.message}`);
    }
  }

  /**
   * Asks the endpoints, then the members learned earlier, for the members until one answers,
   * then connects to the leader. Learning the members lets the client follow the leader to a
   * member not given in `-u` after the given ones went away, as PD's own client does.
   */
  async #discover(): Promise<void> {
    const failures: string[] = [];
    const given = new Set(this.#endpoints.map(hostPort));
    const candidates = [
      ...this.#endpoints,
      ...this.#members.filter((u) => !given.has(hostPort(u))),
    ];
    for (const ep of candidates) {
      const conn = this.#dial(ep);
      try {
        const members = await createClient(PD, conn.transport).getMembers({}, {
          timeoutMs: this.#opts.timeoutMs ?? 10_000,
          ...(this.#opts.signal ? { signal: this.#opts.signal } : {}),
        });
        const clusterId = members.header?.clusterId ?? 0n;
        if (this.#clusterId !== 0n && clusterId !== this.#clusterId) {
          throw new PdError(
            `PD endpoint ${ep} belongs to cluster ${clusterId}, not ${this.#clusterId}: ` +
              `pass endpoints of one cluster only`,
          );
        }
        const url = members.leader?.clientUrls[0];
        const learned = members.members.flatMap((m) => m.clientUrls);
        if (learned.length > 0) this.#members = learned;
        if (!url) {
          failures.push(`${ep}: no leader elected`);
          conn.close();
          continue;
        }
        this.#clusterId = clusterId;
        const leaderAddr = url.replace(/^https?:\/\//, "");
        const sameAsEp = ep.replace(/^https?:\/\//, "") === leaderAddr;
        this.#conn?.close();
        if (sameAsEp) {
          this.#conn = conn;
        } else {
          conn.close();
          this.#conn = this.#dial(url);
        }
        this.#client = createClient(PD, this.#conn.transport);
        this.#leader = url;
        log("pd").info("connected to PD leader {leader}, cluster {cluster}", {
          leader: url,
          cluster: String(clusterId),
        });
        return;
      } catch (err) {
        conn.close();
        if (err instanceof PdError) throw err;
        failures.push(`${ep}: ${ConnectError.from(err).rawMessage}`);
      }
    }
    throw new PdUnreachableError(failures);
  }

  /** Runs `fn` against the leader, re-discovering it after connectivity or leadership errors. */
  async #call<T>(
    what: string,
    fn: (c: Client<typeof PD>) => Promise<T>,
    signal: AbortSignal | undefined = this.#opts.signal,
  ): Promise<T> {
    const max = this.#opts.maxRetries ?? 10;
    const bo = this.#backoffer(signal);
    for (let attempt = 0;; attempt++) {
      try {
        return await fn(this.#client);
      } catch (err) {
        if (err instanceof PdError) throw err;
        const ce = ConnectError.from(err);
        if (ce.code === Code.Canceled && signal?.aborted) throw err;
        // Canceled without our signal: another call's rediscovery closed the connection.
        const dropped = ce.code === Code.Canceled;
        const notLeader = /not leader|mismatch leader/i.test(ce.rawMessage);
        if (ce.code === Code.FailedPrecondition && /cluster id/i.test(ce.rawMessage)) {
          throw new PdError(`PD rejected ${what}: ${ce.rawMessage}`);
        }
        if (!(RETRYABLE.has(ce.code) || notLeader || dropped)) {
          throw new PdError(`PD ${what} failed: ${ce.rawMessage} (code ${Code[ce.code]})`);
        }
        if (attempt >= max) {
          throw new PdError(
            `PD ${what} failed ${attempt + 1} times, last with ${ce.rawMessage} ` +
              `(code ${Code[ce.code]}): check that PD (${this.#leader || "-u/--pd"}) is up`,
          );
        }
        log("pd").warn("PD {what} failed ({msg}); finding the leader again", {
          what,
          msg: ce.rawMessage,
        });
        await bo.backoff(BO.pdRPC, ce.rawMessage);
        try {
          await (this.#discovering ??= this.#discover().finally(() => {
            this.#discovering = undefined;
          }));
        } catch (e) {
          // Endpoints of another cluster are fatal; no leader yet is retried as the call is.
          if (!(e instanceof PdUnreachableError) || attempt >= max) throw e;
        }
      }
    }
  }

  #opt(signal: AbortSignal | undefined = this.#opts.signal): {
    timeoutMs: number;
    signal?: AbortSignal;
  } {
    return {
      timeoutMs: this.#opts.timeoutMs ?? 10_000,
      ...(signal ? { signal } : {}),
    };
  }

  /**
   * A fresh timestamp from PD's TSO (physical ms << 18 | logical). `signal` replaces the
   * client's own: the last checkpoint save of an interrupted run still needs PD time for its
   * fencing check after the run's signal has fired.
   */
  async getTS(signal?: AbortSignal): Promise<bigint> {
    const sig = signal ?? this.#opts.signal;
    return await this.#call("Tso", async (c) => {
      const header = this.#header();
      async function* one(): AsyncIterable<TsoRequest> {
        yield create(TsoRequestSchema, { header, count: 1 });
      }
      for await (const res of c.tso(one(), this.#opt(sig))) {
        this.#checkHeader(res.header, "Tso");
        const ts = res.timestamp;
        if (!ts) throw new PdError("PD Tso answered without a timestamp");
        return composeTs(ts.physical, ts.logical);
      }
      throw new PdError("PD closed the Tso stream without answering");
    }, sig);
  }

  /** All stores that are not tombstones. */
  async getAllStores(): Promise<Store[]> {
    const res = await this.#call(
      "GetAllStores",
      (c) => c.getAllStores({ header: this.#header(), excludeTombstoneStores: true }, this.#opt()),
    );
    this.#checkHeader(res.header, "GetAllStores");
    return res.stores.filter((s) => s.state !== StoreState.Tombstone);
  }

  /** One store by id. */
  async getStore(id: bigint): Promise<Store | undefined> {
    const res = await this.#call(
      "GetStore",
      (c) => c.getStore({ header: this.#header(), storeId: id }, this.#opt()),
    );
    this.#checkHeader(res.header, "GetStore");
    return res.store;
  }

  /** The region containing the raw key. */
  async getRegion(rawKey: Uint8Array): Promise<RegionInfo | undefined> {
    const res = await this.#call(
      "GetRegion",
      (c) => c.getRegion({ header: this.#header(), regionKey: encodeBytes(rawKey) }, this.#opt()),
    );
    this.#checkHeader(res.header, "GetRegion");
    return toInfo(res.region, res.leader);
  }

  /**
   * Regions intersecting the raw range `[start, end)` (empty end = +inf), at most `limit`, in
   * key order, each with its leader.
   */
  async scanRegions(start: Uint8Array, end: Uint8Array, limit: number): Promise<RegionInfo[]> {
    const res = await this.#call("ScanRegions", (c) =>
      c.scanRegions({
        header: this.#header(),
        startKey: encodeRegionKey(start),
        endKey: encodeRegionKey(end),
        limit,
      }, this.#opt()));
    this.#checkHeader(res.header, "ScanRegions");
    if (res.regions.length > 0) {
      return res.regions.map((r) => toInfo(r.region, r.leader)).filter((r) => r !== undefined);
    }
    return res.regionMetas.map((r, i) => toInfo(r, res.leaders[i])).filter((r) => r !== undefined);
  }

  /** The cluster's GC safe point. */
  async getGCSafePoint(): Promise<bigint> {
    const res = await this.#call(
      "GetGCSafePoint",
      (c) => c.getGCSafePoint({ header: this.#header() }, this.#opt()),
    );
    this.#checkHeader(res.header, "GetGCSafePoint");
    return res.safePoint;
  }

  /**
   * Sets (or with ttl 0 removes) a service GC safe point; returns the cluster's minimum service
   * safe point after the update.
   */
  async updateServiceGCSafePoint(
    serviceId: string,
    ttlSeconds: bigint,
    safePoint: bigint,
  ): Promise<bigint> {
    const res = await this.#call("UpdateServiceGCSafePoint", (c) =>
      c.updateServiceGCSafePoint({
        header: this.#header(),
        serviceId: new TextEncoder().encode(serviceId),
        TTL: ttlSeconds,
        safePoint,
      }, this.#opt()));
    this.#checkHeader(res.header, "UpdateServiceGCSafePoint");
    return res.minSafePoint;
  }

  /**
   * Asks PD to scatter regions across stores (ScatterRegion with `regions_id`, as BR's
   * ScatterRegions); returns the ids PD reported as failed.
   */
  async scatterRegions(ids: bigint[], retryLimit = 3n): Promise<bigint[]> {
    const res = await this.#call(
      "ScatterRegion",
      (c) => c.scatterRegion({ header: this.#header(), regionsId: ids, retryLimit }, this.#opt()),
    );
    this.#checkHeader(res.header, "ScatterRegion");
    return res.failedRegionsId;
  }

  /**
   * Whether a scatter operator still runs on the region (GetOperator: desc `scatter-region`,
   * status RUNNING), as BR waits for scatter.
   */
  async scatterRunning(regionId: bigint): Promise<boolean> {
    const res = await this.#call(
      "GetOperator",
      (c) => c.getOperator({ header: this.#header(), regionId }, this.#opt()),
    );
    // PD answers REGION_NOT_FOUND when no operator exists: nothing runs.
    if (res.header?.error && res.header.error.type !== ErrorType.OK) return false;
    return new TextDecoder().decode(res.desc) === "scatter-region" &&
      res.status === OperatorStatus.RUNNING;
  }

  /** Closes the connection to PD. */
  close(): void {
    this.#conn?.close();
  }
}
