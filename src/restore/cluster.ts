/**
 * Preparing the target cluster for ingestion, and undoing it: BR's `RestorePreWork` and
 * `RestorePostWork`.
 *
 * - PD's schedulers that move regions and leaders are paused through PD's HTTP API with a delay
 *   (`POST /pd/api/v1/schedulers/{name}` `{"delay": s}`), and region merge is switched off with a
 *   TTL config (`POST /pd/api/v1/config?ttlSecond=s`); both are renewed while the restore runs, so
 *   a restore that crashes leaves them paused for one TTL at most.
 * - Every TiKV store is switched to import mode (ImportSST `SwitchMode`), renewed while running
 *   (TiKV drops back to normal after 10 minutes without a renewal).
 * - Regions are split at the restored ranges' boundaries with TiKV's `SplitRegion` and the new
 *   regions scattered through PD.
 * @module
 */
import { ConnectError } from "@connectrpc/connect";
import { isConnectionLost } from "../rpc/transport.ts";
import { compareBytes } from "../codec/bytes.ts";
import { SwitchMode } from "../gen/import_sstpb_pb.ts";
import type { Store } from "../gen/metapb_pb.ts";
import { log, logKey } from "../log.ts";
import type { PdClient, RegionInfo } from "../pd/client.ts";
import { regionContext } from "../tikv/region_request.ts";
import type { StoreConnections } from "../tikv/stores.ts";
import { Backoffer, BackoffExhaustedError, BO } from "../backoff.ts";

/** The schedulers BR pauses during a restore (`pdutil.Schedulers`). */
export const PAUSED_SCHEDULERS = [
  "balance-leader-scheduler",
  "balance-hot-region-scheduler",
  "balance-region-scheduler",
  "shuffle-leader-scheduler",
  "shuffle-region-scheduler",
  "shuffle-hot-region-scheduler",
] as const;

/** Schedule config switched off with a TTL while restoring (BR's `expectPDCfgGenerators`). */
export const PAUSED_CONFIG: Record<string, number> = {
  "schedule.max-merge-region-keys": 0,
  "schedule.max-merge-region-size": 0,
};

/** How long a pause lasts without renewal, s (BR's `pauseTimeGap` is a third of it). */
export const PAUSE_TTL_SECONDS = 300;
/** How often import mode is renewed, ms (BR: 5 min; TiKV drops it after 10). */
export const IMPORT_MODE_RENEW_MS = 5 * 60_000;

/** A store that is TiKV (TiFlash takes no SST ingestion). */
export function isTikv(store: Store): boolean {
  return !store.labels.some((l) => l.key === "engine" && l.value === "tiflash");
}

/** A failure to prepare the cluster, or to put it back. */
export class ClusterPrepareError extends Error {
  override name = "ClusterPrepareError";
}

/** How long PD's HTTP API may keep failing at the network level before restore gives up, ms. */
export const PD_HTTP_BUDGET_MS = 10_000;

function pdHttpBase(pd: PdClient): string {
  const leader = pd.leader.replace(/\/+$/, "");
  return /^https?:\/\//.test(leader) ? leader : `http://${leader}`;
}

async function pdHttp(
  pd: PdClient,
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<unknown> {
  const url = pdHttpBase(pd) + path;
  // A connection the client keeps alive can be closed by the server at any moment: the request
  // on it then fails at once (ECONNRESET), and so does one during a PD restart or election. The
  // calls are idempotent (pause for a TTL, set config), so network failures are retried with PD's
  // backoff within PD_HTTP_BUDGET_MS; an answer with an HTTP error status is not retried.
  const bo = new Backoffer({ budgetMs: PD_HTTP_BUDGET_MS, ...(signal ? { signal } : {}) });
  let res: Response;
  for (;;) {
    try {
      res = await fetch(url, {
        method,
        ...(body !== undefined
          ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } }
          : {}),
        ...(signal ? { signal } : {}),
      });
      break;
    } catch (err) {
      signal?.throwIfAborted();
      const message = `PD's HTTP API at ${url} failed: ${(err as Error).message}`;
      try {
        await bo.backoff(BO.pdRPC, message);
      } catch (e) {
        if (e instanceof BackoffExhaustedError) throw new ClusterPrepareError(message);
        throw e;
      }
    }
  }
  const text = await res.text();
  if (!res.ok) {
    throw new ClusterPrepareError(
      `PD's HTTP API answered ${res.status} to ${method} ${url}: ${text.trim()}`,
    );
  }
  try {
    return text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/** The names of PD's running schedulers (`GET /pd/api/v1/schedulers`). */
export async function listSchedulers(pd: PdClient, signal?: AbortSignal): Promise<string[]> {
  const out = await pdHttp(pd, "GET", "/pd/api/v1/schedulers", undefined, signal);
  return Array.isArray(out) ? out.map(String) : [];
}

/**
 * Pauses the schedulers and region merge with a TTL and renews them every third of it until
 * `resume` is called. `resume` undoes both; it never throws (a failure is logged and the TTL
 * lapses by itself).
 */
export class SchedulerPause {
  readonly paused: string[];
  readonly #pd: PdClient;
  readonly #ttl: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #done = false;

  private constructor(pd: PdClient, paused: string[], ttl: number) {
    this.#pd = pd;
    this.paused = paused;
    this.#ttl = ttl;
  }

  static async start(pd: PdClient, ttlSeconds = PAUSE_TTL_SECONDS): Promise<SchedulerPause> {
    const running = new Set(await listSchedulers(pd));
    const names = PAUSED_SCHEDULERS.filter((n) => running.has(n));
    const pause = new SchedulerPause(pd, names, ttlSeconds);
    await pause.#renew();
    pause.#timer = setInterval(() => {
      pause.#renew().catch((err) =>
        log("restore").warn("renewing the scheduler pause failed: {e}", { e: err.message })
      );
    }, Math.max(1000, (ttlSeconds * 1000) / 3));
    // A timer must not keep a finished process alive.
    (pause.#timer as { unref?: () => void }).unref?.();
    log("restore").info("paused PD schedulers {names} and region merge for {ttl} s at a time", {
      names: names.join(","),
      ttl: ttlSeconds,
    });
    return pause;
  }

  async #renew(): Promise<void> {
    if (this.#done) return;
    for (const name of this.paused) {
      await pdHttp(this.#pd, "POST", `/pd/api/v1/schedulers/${name}`, { delay: this.#ttl });
    }
    await pdHttp(this.#pd, "POST", `/pd/api/v1/config?ttlSecond=${this.#ttl}`, PAUSED_CONFIG);
  }

  /** Resumes the schedulers and drops the TTL config. */
  async resume(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    clearInterval(this.#timer);
    for (const name of this.paused) {
      try {
        await pdHttp(this.#pd, "POST", `/pd/api/v1/schedulers/${name}`, { delay: 0 });
      } catch (err) {
        log("restore").warn("resuming scheduler {name} failed ({e}); its pause lapses by itself", {
          name,
          e: (err as Error).message,
        });
      }
    }
    try {
      // A TTL of 0 removes the temporary values, and PD's own config applies again.
      await pdHttp(this.#pd, "POST", "/pd/api/v1/config?ttlSecond=0", PAUSED_CONFIG);
    } catch (err) {
      log("restore").warn("restoring the merge config failed ({e}); it lapses by itself", {
        e: (err as Error).message,
      });
    }
  }
}

/** Keeps every TiKV store in import mode until `stop`, which switches them back to normal. */
export class ImportModeKeeper {
  readonly #stores: StoreConnections;
  readonly #ids: bigint[];
  #timer: ReturnType<typeof setInterval> | undefined;
  #done = false;

  private constructor(stores: StoreConnections, ids: bigint[]) {
    this.#stores = stores;
    this.#ids = ids;
  }

  static async start(
    stores: StoreConnections,
    tikvs: Store[],
    renewMs = IMPORT_MODE_RENEW_MS,
  ): Promise<ImportModeKeeper> {
    const k = new ImportModeKeeper(stores, tikvs.map((s) => s.id));
    try {
      await k.#switch(SwitchMode.Import);
    } catch (err) {
      // Stores already switched go back now rather than when their import mode lapses.
      await k.stop();
      throw err;
    }
    k.#timer = setInterval(() => {
      k.#switch(SwitchMode.Import).catch((err) =>
        log("restore").warn("renewing import mode failed: {e}", { e: err.message })
      );
    }, renewMs);
    (k.#timer as { unref?: () => void }).unref?.();
    return k;
  }

  async #switch(mode: SwitchMode): Promise<void> {
    await Promise.all(this.#ids.map(async (id) => {
      try {
        const c = await this.#stores.importSst(id);
        await c.switchMode({ mode }, { timeoutMs: 10_000 });
      } catch (err) {
        throw new ClusterPrepareError(
          `cannot switch store ${id} to ${mode === SwitchMode.Import ? "import" : "normal"} ` +
            `mode (${ConnectError.from(err).rawMessage}): check that the store is up`,
        );
      }
    }));
  }

  /** Switches every store back to normal mode; never throws (TiKV lapses by itself). */
  async stop(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    clearInterval(this.#timer);
    await Promise.all(this.#ids.map(async (id) => {
      try {
        const c = await this.#stores.importSst(id);
        await c.switchMode({ mode: SwitchMode.Normal }, { timeoutMs: 10_000 });
      } catch (err) {
        log("restore").warn(
          "switching store {id} back to normal mode failed ({e}); TiKV leaves import mode by " +
            "itself after 10 minutes",
          { id: String(id), e: ConnectError.from(err).rawMessage },
        );
      }
    }));
  }
}

/** Whether `key` is in `[start, end)` of the region. */
function containsKey(r: RegionInfo, key: Uint8Array): boolean {
  return compareBytes(key, r.startKey) >= 0 &&
    (r.endKey.length === 0 || compareBytes(key, r.endKey) < 0);
}

function inRegion(key: Uint8Array, r: RegionInfo): boolean {
  return compareBytes(key, r.startKey) > 0 &&
    (r.endKey.length === 0 || compareBytes(key, r.endKey) < 0);
}

/** Options of `splitAndScatter`. */
export interface SplitOptions {
  /** Retry budget per batch of keys, ms. */
  budgetMs?: number;
  /** Keys per SplitRegion request (BR: 1024? its batch is bounded by size too). */
  batch?: number;
  signal?: AbortSignal;
  /** How long to wait for scatter operators, ms (BR: 3 min; then it goes on). */
  scatterWaitMs?: number;
  /** Called with each region created, for progress. */
  onSplit?: (n: number) => void;
}

/**
 * Splits regions at `keys` (raw keys, sorted) with TiKV's SplitRegion on each region's leader,
 * retrying stale epochs and moved leaders, then scatters the new regions through PD and waits
 * for the scatter operators to finish. Keys already at a region boundary are skipped. Returns the
 * ids of the new regions.
 */
export async function splitAndScatter(
  pd: PdClient,
  stores: StoreConnections,
  keys: Uint8Array[],
  opts: SplitOptions = {},
): Promise<bigint[]> {
  const created: bigint[] = [];
  let i = 0;
  const batch = opts.batch ?? 1024;
  // Regions from one ScanRegions, in key order: keys that are boundaries already (a rerun, or
  // a cluster split before) are walked past without one PD round trip per key.
  let page: RegionInfo[] = [];
  while (i < keys.length) {
    const bo = new Backoffer({
      budgetMs: opts.budgetMs ?? 60_000,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    for (;;) {
      const key = keys[i]!;
      let p = 0;
      while (p < page.length && !containsKey(page[p]!, key)) p++;
      if (p >= page.length) page = await pd.scanRegions(key, new Uint8Array(), 128);
      else if (p > 0) page = page.slice(p);
      const region = page[0];
      if (!region || !containsKey(region, key)) page = [];
      if (!region?.leader || page.length === 0) {
        page = [];
        await bo.backoff(BO.regionMiss, `no leader for the region of ${logKey(keys[i]!)}`);
        continue;
      }
      // The keys that fall inside this region (a key equal to its start is already a boundary).
      const mine: Uint8Array[] = [];
      let j = i;
      while (j < keys.length && mine.length < batch) {
        const k = keys[j]!;
        if (compareBytes(k, region.startKey) === 0) {
          j++;
          continue;
        }
        if (!inRegion(k, region)) break;
        mine.push(k);
        j++;
      }
      if (mine.length === 0) {
        i = j;
        break;
      }
      try {
        const c = await stores.tikv(region.leader.storeId);
        const res = await c.splitRegion({
          context: regionContext(region),
          splitKeys: mine,
          isRawKv: false,
        }, { timeoutMs: 30_000, ...(opts.signal ? { signal: opts.signal } : {}) });
        // The split region is stale now; the page's later regions are not.
        page = page.slice(1);
        if (res.regionError) {
          page = [];
          const e = res.regionError;
          const kind = e.serverIsBusy ? BO.tikvServerBusy : BO.regionMiss;
          await bo.backoff(kind, `split of region ${region.region.id}: ${e.message}`);
          continue;
        }
        for (const r of res.regions) if (r.id !== region.region.id) created.push(r.id);
        opts.onSplit?.(res.regions.length > 0 ? res.regions.length - 1 : mine.length);
        i = j;
        break;
      } catch (err) {
        page = [];
        const ce = ConnectError.from(err);
        if (opts.signal?.aborted) throw err;
        if (isConnectionLost(ce, opts.signal)) {
          stores.reset(region.leader.storeId);
          await bo.backoff(BO.tikvRPC, `store ${region.leader.storeId}: ${ce.rawMessage}`);
          continue;
        }
        throw new ClusterPrepareError(
          `split of region ${region.region.id} failed: ${ce.rawMessage}`,
        );
      }
    }
  }
  if (created.length > 0) await scatter(pd, created, opts);
  return created;
}

/** Scatters regions through PD, retrying the ones PD reports as failed a few times. */
async function scatter(pd: PdClient, ids: bigint[], opts: SplitOptions): Promise<void> {
  let left = ids;
  for (let attempt = 0; attempt < 3 && left.length > 0; attempt++) {
    try {
      left = await pd.scatterRegions(left);
    } catch (err) {
      // BR goes on without scatter: the data is still correct, only less balanced.
      log("restore").warn("scatter failed ({e}); the restore goes on", {
        e: (err as Error).message,
      });
      return;
    }
  }
  if (left.length > 0) {
    log("restore").warn("PD could not scatter {n} regions; the restore goes on", {
      n: left.length,
    });
  }
  await waitScatter(pd, ids, opts);
}

/** Waits until no scatter operator runs on `ids`, at most `scatterWaitMs` (then goes on). */
async function waitScatter(pd: PdClient, ids: bigint[], opts: SplitOptions): Promise<void> {
  const deadline = Date.now() + (opts.scatterWaitMs ?? 180_000);
  let pending = ids;
  const bo = new Backoffer({ budgetMs: 0, ...(opts.signal ? { signal: opts.signal } : {}) });
  while (pending.length > 0 && Date.now() < deadline) {
    const still: bigint[] = [];
    for (const id of pending) if (await pd.scatterRunning(id)) still.push(id);
    pending = still;
    if (pending.length > 0) await bo.backoff(BO.regionScheduling, "waiting for scatter");
  }
  if (pending.length > 0) {
    log("restore").warn("{n} regions were still being scattered after the wait; going on", {
      n: pending.length,
    });
  }
}
