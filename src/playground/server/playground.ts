/**
 * `startPlayground`: one PD and N TiKV stores speaking kvproto's gRPC on 127.0.0.1, plus the
 * HTTP+JSON admin API, all over one in-process `Cluster`.
 *
 * Ports: with `pdPort` > 0 the stores take the ports after it and the admin API the one after
 * the stores (unless given); with `pdPort` 0 (the default here; the CLI uses 2379) the OS picks
 * every port. A stopped store closes its port; on restart it listens on the same one. After
 * `electionMs` the leaders of a stopped store move to live peers, as Raft elects new ones.
 *
 * With `dir`, the state is loaded from there when a save exists (then `data` is ignored) and
 * saved there by `stop()`.
 * @module
 */
import type { Interceptor } from "@connectrpc/connect";
import { availableParallelism } from "node:os";
import { Backup } from "../../gen/brpb_pb.ts";
import { ImportSST } from "../../gen/import_sstpb_pb.ts";
import { PD } from "../../gen/pdpb_pb.ts";
import { Tikv } from "../../gen/tikvpb_pb.ts";
import { log } from "../../log.ts";
import { Cluster } from "../cluster.ts";
import {
  Catalog,
  DEFAULT_SAMPLE,
  loadSample,
  parseSampleSpec,
  type SampleResult,
  type SampleSpec,
} from "../sample.ts";
import type { Clock } from "../tso.ts";
import {
  type AdminServer,
  PlaygroundAdmin,
  type PlaygroundHost,
  startAdminServer,
} from "./admin.ts";
import { backupService } from "./backup.ts";
import { RateLimiter, ServerStats, StoreGate } from "./_flow.ts";
import { GrpcServer } from "./_grpc.ts";
import { SstWorkerPool } from "./_sst_pool.ts";
import { SharedStorages } from "./_storage_cache.ts";
import { importService, ImportState } from "./import.ts";
import { PdLeadership, pdService } from "./pd.ts";
import { pdHttpHandler } from "./pd_http.ts";
import { PdScheduling } from "./scheduling.ts";
import { tikvService } from "./tikv.ts";
import { startTidbServer, type TidbServer } from "../tidb/server.ts";
import { KV } from "../../gen/etcd/rpc_pb.ts";
import { etcdKvService, EtcdStore } from "./etcd.ts";

/** Options of `startPlayground`. */
export interface PlaygroundOptions {
  /** Number of stores (3). Ignored when loading a saved state. */
  stores?: number;
  /** PD's port; 0 lets the OS pick every port (default 0). */
  pdPort?: number;
  /** Store ports by index (default: the ports after PD's, or OS-picked with pdPort 0). */
  storePorts?: number[];
  /** Admin HTTP port (default: after the stores, or OS-picked); -1 = no HTTP admin server. */
  adminPort?: number;
  /**
   * Data to load into a fresh cluster: a spec, `"default"` (the default sample), `"empty"`, or
   * JSON text of a spec (see sample.ts). Default: the default sample.
   */
  data?: SampleSpec | string;
  /** Split the data into about this many regions (after the sample's own splits). */
  regions?: number;
  /** Directory to load the state from and save it to on stop. */
  dir?: string;
  /** ms clock (Date.now by default). */
  clock?: Clock;
  /** Seed of the fault-injection random source. */
  seed?: number;
  /** PD's cluster id of a fresh cluster (random by default). */
  clusterId?: bigint;
  /** ms after a store stops before its leaders move to live peers (1000; 0 = never). */
  electionMs?: number;
  /**
   * PD members (1). Member 0 listens on `pdPort` and leads at first; the others take OS-picked
   * ports, follow, and answer `not leader` as PD followers do (see `POST /pd/election`).
   */
  pdMembers?: number;
  /**
   * Worker threads that build backup SST files (default: one per core beyond the first, at
   * most 4; 0 builds them on the main thread).
   */
  sstWorkers?: number;
  /**
   * Backups to noop storage skip building SST files: stores answer each region with Files that
   * have checksums but no bytes, so a benchmark measures the client (see backup.ts).
   */
  instantNoop?: boolean;
  /**
   * The import service answers at once: Download reads nothing (it answers the requested
   * range) and Ingest applies nothing, with every check kept, so a benchmark measures the
   * restore client alone (see import.ts).
   */
  instantImport?: boolean;
  /** How long a store's Import mode lasts without renewal, ms (10 minutes, as TiKV). */
  importModeTimeoutMs?: number;
  /** How long a scatter operator runs before it moves its region, ms (50). */
  scatterMs?: number;
  /** Use this cluster instead of creating or loading one (tests, benchmarks). */
  cluster?: Cluster;
  /** The sample catalog of `cluster`, when given with it (the workload needs it). */
  catalog?: Catalog;
  /**
   * Port of the TiDB SQL server (0 = any free port); undefined or -1 = no TiDB server (the CLI
   * starts one on 4000). See docs/TIDB.md.
   */
  tidbPort?: number;
  /** Port of TiDB's status API (default 0 = any free port; -1 = none). */
  tidbStatusPort?: number;
  /** root's password on the TiDB server (empty by default). */
  tidbPassword?: string;
}

/** A running playground. */
export interface Playground {
  /** PD's `host:port` (member 0, the first leader), for `tibr backup -u`. */
  readonly pdAddress: string;
  /** Every PD member's `host:port`, by member index (`-u` takes them comma-separated). */
  readonly pdAddresses: string[];
  /** The admin API's base URL (empty when `adminPort` was -1). */
  readonly adminUrl: string;
  /** The in-process cluster behind the servers. */
  readonly cluster: Cluster;
  /** The admin API in-process. */
  readonly admin: PlaygroundAdmin;
  /** The sample's catalog (undefined for empty data or a save without one). */
  readonly catalog: Catalog | undefined;
  /** What the sample loader wrote (fresh clusters with data only). */
  readonly sample: SampleResult | undefined;
  /** Whether the state was loaded from `dir`. */
  readonly loaded: boolean;
  /** What the stores answered (region errors by kind, backup responses and files). */
  readonly stats: ServerStats;
  /** The stores' import service state: modes, speed limits, staged files, Download faults. */
  readonly imports: ImportState;
  /** PD's schedulers, schedule config and scatter operators. */
  readonly scheduling: PdScheduling;
  /** The TiDB SQL server's `host:port` ("" when none was started). */
  readonly tidbAddress: string;
  /** The TiDB status API's `host:port` ("" when none). */
  readonly tidbStatusAddress: string;
  /** The TiDB server, when started. */
  readonly tidb: TidbServer | undefined;
  /** PD's embedded etcd (served as etcd v3 `KV.Range` on PD's port). */
  readonly etcd: EtcdStore;
  /** Store id → `host:port`. */
  storeAddresses(): Map<bigint, string>;
  /** Stops every server (saving the state to `dir` first when given). Idempotent. */
  stop(): Promise<void>;
}

function specOf(data: SampleSpec | string | undefined): SampleSpec {
  if (data === undefined) return DEFAULT_SAMPLE;
  return typeof data === "string" ? parseSampleSpec(data) : data;
}

/** Splits the data into about `n` regions by size, then spreads leaders over the stores. */
function splitInto(cluster: Cluster, n: number): void {
  const bytes = cluster.mvcc.stats().bytes;
  if (n <= cluster.regions.size || bytes === 0) return;
  cluster.splitBySize(Math.max(1, Math.floor(bytes / n)));
  cluster.regions.scatterLeaders();
}

interface StoreRuntime {
  id: bigint;
  server: GrpcServer;
  gate: StoreGate;
  /** The last start/stop, awaited before the next. */
  transition: Promise<void>;
  election: ReturnType<typeof setTimeout> | undefined;
}

/** Starts PD, the stores and the admin API over a new, loaded or given cluster. */
export async function startPlayground(opts: PlaygroundOptions = {}): Promise<Playground> {
  const t0 = performance.now();
  let cluster: Cluster;
  let catalog: Catalog | undefined = opts.catalog;
  let sample: SampleResult | undefined;
  let loaded = false;
  if (opts.cluster) {
    cluster = opts.cluster;
  } else {
    const saved = opts.dir
      ? await Cluster.load(opts.dir, {
        ...(opts.clock ? { clock: opts.clock } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      })
      : undefined;
    if (saved) {
      cluster = saved.cluster;
      catalog = saved.extra ? Catalog.deserialize(cluster, saved.extra) : undefined;
      loaded = true;
    } else {
      const spec = specOf(opts.data);
      cluster = new Cluster({
        stores: opts.stores ?? 3,
        ...(opts.clock ? { clock: opts.clock } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        ...(opts.clusterId !== undefined ? { clusterId: opts.clusterId } : {}),
      });
      if ((spec.databases?.length ?? 0) > 0 || (spec.rawKv?.keys ?? 0) > 0) {
        sample = loadSample(cluster, spec);
        catalog = sample.catalog;
      }
    }
  }
  if (opts.regions !== undefined && opts.regions > 0 && !loaded) splitInto(cluster, opts.regions);

  const storeIds = cluster.regions.stores().map((s) => s.id);
  const pdPort = opts.pdPort ?? 0;
  const portOf = (i: number) => opts.storePorts?.[i] ?? (pdPort > 0 ? pdPort + 1 + i : 0);
  const electionMs = opts.electionMs ?? 1000;

  const imports = new ImportState(cluster, {
    ...(opts.instantImport ? { instant: true } : {}),
    ...(opts.importModeTimeoutMs !== undefined
      ? { importModeTimeoutMs: opts.importModeTimeoutMs }
      : {}),
  });
  const scheduling = new PdScheduling(cluster, {
    ...(opts.scatterMs !== undefined ? { scatterMs: opts.scatterMs } : {}),
  });
  const pdHttp = pdHttpHandler(cluster, scheduling);
  const memberCount = opts.pdMembers ?? 1;
  const leadership = new PdLeadership(memberCount);
  const pdServers: GrpcServer[] = [];
  // PD embeds etcd: its KV service shares PD's client port (TiDB registers there).
  const etcd = new EtcdStore(cluster.clock);
  const pdName = (i: number) => (memberCount === 1 ? "pd-playground" : `pd-${i}`);
  const pdMembers = () =>
    pdServers.map((m, i) => ({ name: pdName(i), clientUrl: `http://${m.address}` }));
  for (let i = 0; i < memberCount; i++) {
    pdServers.push(
      new GrpcServer({
        name: memberCount === 1 ? "pd" : `pd member ${i}`,
        port: i === 0 ? pdPort : 0,
        http1: pdHttp,
        routes: (router) => {
          router.service(
            PD,
            pdService(cluster, {
              clientUrl: () => `http://${pdServers[i]!.address}`,
              name: pdName(i),
              leadership,
              member: i,
              members: pdMembers,
              scheduling,
            }),
          );
          router.service(
            KV,
            etcdKvService(etcd, {
              clusterId: cluster.clusterId,
              memberId: cluster.clusterId ^ (0x5044n + (BigInt(i) << 16n)),
            }),
          );
        },
      }),
    );
  }
  const pdServer = pdServers[0]!;
  const stats = new ServerStats();
  // Started with the first backup, so a playground that never backs up runs no threads.
  let workersStarting: Promise<SstWorkerPool | undefined> | undefined;
  const workers = () =>
    workersStarting ??= SstWorkerPool.start(
      opts.sstWorkers ?? Math.max(0, Math.min(4, availableParallelism() - 1)),
    );
  // A backup client asks every store at once: they share the storages their requests open.
  const backupStorages = new SharedStorages();
  const stores = new Map<bigint, StoreRuntime>();
  storeIds.forEach((id, i) => {
    const gate = new StoreGate(cluster.faults, id);
    const gateInterceptor: Interceptor = (next) => async (req) => {
      await gate.pass(req.signal);
      return await next(req);
    };
    const storeLimiter = new RateLimiter(() => cluster.faults.store(id).bytesPerSecond);
    const server = new GrpcServer({
      name: `store ${id}`,
      port: portOf(i),
      interceptors: [gateInterceptor],
      routes: (router) => {
        router.service(Tikv, tikvService(cluster, id, stats));
        router.service(
          Backup,
          backupService(cluster, id, {
            gate,
            storeLimiter,
            stats,
            workers,
            storages: backupStorages,
            ...(opts.instantNoop ? { instantNoop: true } : {}),
          }),
        );
        router.service(ImportSST, importService(imports, id, stats));
      },
    });
    stores.set(id, { id, server, gate, transition: Promise.resolve(), election: undefined });
  });

  /** Moves the leaders of a stopped store to live peers, as Raft would elect new ones. */
  const elect = (down: bigint) => {
    const live = (sid: bigint) => sid !== down && !cluster.faults.store(sid).stopped;
    let moved = 0;
    for (const r of cluster.regions.all()) {
      if (r.leader.storeId !== down) continue;
      const peer = r.peers.find((p) => live(p.storeId));
      if (peer) {
        cluster.regions.transferLeader(r.id, peer.storeId);
        moved++;
      }
    }
    log("playground").info("store {store} is down: {moved} leaders moved to live stores", {
      store: String(down),
      moved,
    });
  };

  const unsubscribe = cluster.faults.onStoreChange((id, fault) => {
    const st = stores.get(id);
    if (!st) return;
    st.gate.notify();
    if (fault.stopped && st.server.listening) {
      st.transition = st.transition.then(() => st.server.stop());
      if (electionMs > 0) {
        clearTimeout(st.election);
        st.election = setTimeout(() => {
          st.election = undefined;
          if (cluster.faults.store(id).stopped) elect(id);
        }, electionMs);
      }
    } else if (!fault.stopped && !st.server.listening) {
      clearTimeout(st.election);
      st.election = undefined;
      st.transition = st.transition.then(() => st.server.start());
    }
  });

  let adminServer: AdminServer | undefined;
  let tidb: TidbServer | undefined;
  const started: GrpcServer[] = [];
  const host: PlaygroundHost = {
    cluster,
    leadership,
    stats,
    imports,
    scheduling,
    get catalog() {
      return catalog;
    },
    pdAddress: () => pdServer.address,
    pdAddresses: () => pdServers.map((m) => m.address),
    adminUrl: () => adminServer?.url ?? "",
    async stopStore(id) {
      cluster.faults.setStore(id, { stopped: true });
      await stores.get(id)?.transition;
    },
    async restartStore(id) {
      cluster.faults.setStore(id, { stopped: false });
      await stores.get(id)?.transition;
    },
    pdMemberUp: (i) => pdServers[i]!.listening,
    async stopPdMember(i) {
      await pdServers[i]!.stop();
    },
    async restartPdMember(i) {
      await pdServers[i]!.start();
    },
    async save() {
      if (!opts.dir) return false;
      await cluster.save(opts.dir, catalog?.serialize());
      return true;
    },
  };
  const admin = new PlaygroundAdmin(host);

  try {
    for (const m of pdServers) {
      await m.start();
      started.push(m);
    }
    for (const st of stores.values()) {
      if (cluster.faults.store(st.id).stopped) continue;
      await st.server.start();
      started.push(st.server);
      cluster.regions.updateStore(st.id, { address: st.server.address });
    }
    const adminPort = opts.adminPort ?? (pdPort > 0 ? pdPort + 1 + storeIds.length : 0);
    if (adminPort >= 0) adminServer = await startAdminServer(admin, adminPort);
    if (opts.tidbPort !== undefined && opts.tidbPort >= 0) {
      tidb = await startTidbServer({
        cluster,
        port: opts.tidbPort,
        statusPort: opts.tidbStatusPort ?? 0,
        password: opts.tidbPassword ?? "",
        etcd,
      });
    }
  } catch (err) {
    unsubscribe();
    for (const s of started) await s.stop();
    await adminServer?.close();
    throw err;
  }
  log("playground").info(
    "playground up in {ms} ms: PD {pd}, {stores} stores, {regions} regions, admin {admin}, TiDB {tidb}",
    {
      ms: Math.round(performance.now() - t0),
      pd: pdServer.address,
      stores: stores.size,
      regions: cluster.regions.size,
      admin: adminServer?.url ?? "none",
      tidb: tidb?.address ?? "none",
    },
  );

  let stopping: Promise<void> | undefined;
  return {
    pdAddress: pdServer.address,
    pdAddresses: pdServers.map((m) => m.address),
    adminUrl: adminServer?.url ?? "",
    cluster,
    admin,
    catalog,
    sample,
    loaded,
    stats,
    imports,
    scheduling,
    tidbAddress: tidb?.address ?? "",
    tidbStatusAddress: tidb?.statusAddress ?? "",
    tidb,
    etcd,
    storeAddresses: () => new Map([...stores.values()].map((s) => [s.id, s.server.address])),
    stop() {
      stopping ??= (async () => {
        unsubscribe();
        scheduling.close();
        await tidb?.stop();
        admin.stopWorkload();
        for (const st of stores.values()) {
          clearTimeout(st.election);
          await st.transition.catch(() => {});
          await st.server.stop();
        }
        for (const m of pdServers) await m.stop();
        await imports.close();
        await adminServer?.close();
        await (await workersStarting)?.close();
        if (opts.dir) await cluster.save(opts.dir, catalog?.serialize());
        log("playground").info("playground stopped");
      })();
      return stopping;
    },
  };
}
