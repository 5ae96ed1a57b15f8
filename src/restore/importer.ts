/**
 * Ingesting backup files into the target cluster, as BR's `FileImporter`: each file of a range
 * is downloaded by every peer of each region it overlaps (ImportSST `Download`, which reads the
 * file from the backup storage, decrypts it, applies the rewrite rule and keeps the keys inside
 * the region), then the region's leader ingests them all at once (`MultiIngest`).
 *
 * Errors, as BR handles them: NotLeader with a new leader retries the ingest there (every peer
 * already holds the files); EpochNotMatch, RegionNotFound and KeyNotInRegion look the range's
 * regions up again and download again; ServerIsBusy backs off; an unreachable store is retried
 * within the backoff budget, then the restore fails naming the store.
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { isConnectionLost } from "../rpc/transport.ts";
import { randomBytes } from "node:crypto";
import { compareBytes, encodeBytes } from "../codec/bytes.ts";
import { type CipherInfo, EncryptionMethod } from "../crypto/cipher.ts";
import type { File, StorageBackend } from "../gen/brpb_pb.ts";
import type { Error as RegionError } from "../gen/errorpb_pb.ts";
import { type SSTMeta, SSTMetaSchema } from "../gen/import_sstpb_pb.ts";
import type { Peer } from "../gen/metapb_pb.ts";
import { log } from "../log.ts";
import type { PdClient, RegionInfo } from "../pd/client.ts";
import type { StoreConnections } from "../tikv/stores.ts";
import { Semaphore } from "../storage/concurrency.ts";
import { Backoffer, BackoffExhaustedError, BO } from "../backoff.ts";
import { encodeKeyPrefix, type RewriteRule } from "./rewrite.ts";

/** What one import covers: a merged range and its files. */
export interface ImportRange {
  files: File[];
  /** Rewritten (target) raw keys; an empty end is unbounded. */
  newStartKey: Uint8Array;
  newEndKey: Uint8Array;
  /** Undefined for raw and txn restores (keys unchanged). */
  rule: RewriteRule | undefined;
}

/** Options of a `FileImporter`. */
export interface ImporterOptions {
  pd: PdClient;
  stores: StoreConnections;
  backend: StorageBackend;
  cipher?: CipherInfo;
  isRawKv: boolean;
  /** Download/ingest calls in flight per store. */
  concurrencyPerStore: number;
  /** Retry budget of one range (store down, busy, stale regions), ms. */
  budgetMs: number;
  signal?: AbortSignal;
}

/** An import the cluster refused for good. */
export class ImportError extends Error {
  override name = "ImportError";
}

/** What came of one file's download to one region. */
interface Downloaded {
  file: File;
  meta: SSTMeta;
}

/** The result of importing a range. */
export interface ImportStats {
  /** Region imports (one MultiIngest each). */
  ingests: number;
}

const RETRY_REGION = Symbol("retry-region");

/** The last 8 bytes of a txn key are its timestamp; ingest ranges are compared without it. */
function truncateTs(key: Uint8Array): Uint8Array {
  return key.length > 8 ? key.subarray(0, key.length - 8) : key;
}

function clip(
  start: Uint8Array,
  end: Uint8Array,
  region: RegionInfo,
): { start: Uint8Array; end: Uint8Array } {
  const s = compareBytes(start, region.startKey) < 0 ? region.startKey : start;
  let e = end;
  if (region.endKey.length > 0 && (e.length === 0 || compareBytes(region.endKey, e) < 0)) {
    e = region.endKey;
  }
  return { start: s, end: e };
}

function regionErrorText(e: RegionError): string {
  return e.message || Object.keys(e).filter((k) => (e as unknown as Record<string, unknown>)[k])
    .join(",");
}

/**
 * The regions of `sorted` (key order, as `scanRegions` returns) that cover `[start, end)`
 * without a gap; undefined when they do not (the range then asks PD itself).
 */
export function regionsOf(
  sorted: readonly RegionInfo[],
  start: Uint8Array,
  end: Uint8Array,
): RegionInfo[] | undefined {
  let lo = 0;
  let hi = sorted.length;
  // The first region whose end lies after `start`.
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const e = sorted[mid]!.endKey;
    if (e.length > 0 && compareBytes(e, start) <= 0) lo = mid + 1;
    else hi = mid;
  }
  const first = sorted[lo];
  if (!first || compareBytes(first.startKey, start) > 0) return undefined;
  const out = [first];
  for (let i = lo;; i++) {
    const r = sorted[i]!;
    if (r.endKey.length === 0 || (end.length > 0 && compareBytes(r.endKey, end) >= 0)) return out;
    const next = sorted[i + 1];
    if (!next || compareBytes(next.startKey, r.endKey) !== 0) return undefined;
    out.push(next);
  }
}

/** Downloads and ingests ranges of backup files. */
export class FileImporter {
  readonly #o: ImporterOptions;
  readonly #slots = new Map<bigint, Semaphore>();

  constructor(opts: ImporterOptions) {
    this.#o = opts;
  }

  #slot(storeId: bigint): Semaphore {
    let s = this.#slots.get(storeId);
    if (!s) this.#slots.set(storeId, s = new Semaphore(Math.max(1, this.#o.concurrencyPerStore)));
    return s;
  }

  async #onStore<T>(storeId: bigint, fn: () => Promise<T>): Promise<T> {
    const slot = this.#slot(storeId);
    await slot.acquire(this.#o.signal);
    try {
      return await fn();
    } finally {
      slot.release();
    }
  }

  /** Sets every store's download speed limit (bytes/s; 0 = none), as BR's `--ratelimit`. */
  async setDownloadSpeedLimit(storeIds: bigint[], bytesPerSecond: bigint): Promise<void> {
    await Promise.all(storeIds.map(async (id) => {
      const c = await this.#o.stores.importSst(id);
      await c.setDownloadSpeedLimit({ speedLimit: bytesPerSecond }, { timeoutMs: 10_000 });
    }));
  }

  /**
   * Imports one range: every region it overlaps gets the files downloaded to each peer and
   * ingested on the leader. Regions that changed meanwhile are looked up and done again.
   * `regions`, when given, are the range's regions as just looked up (`regionsOf` over
   * `scanRegions`): the first pass uses them instead of asking PD again.
   */
  async importRange(range: ImportRange, regions?: RegionInfo[]): Promise<ImportStats> {
    const bo = new Backoffer({
      budgetMs: this.#o.budgetMs,
      ...(this.#o.signal ? { signal: this.#o.signal } : {}),
    });
    const stats: ImportStats = { ingests: 0 };
    const pending = [{ start: range.newStartKey, end: range.newEndKey }];
    let hint = regions;
    while (pending.length > 0) {
      const part = pending.shift()!;
      const found = hint ?? await this.#regions(part.start, part.end);
      hint = undefined;
      for (const region of found) {
        const sub = clip(part.start, part.end, region);
        const r = await this.#importRegion(range, region, bo);
        if (r === RETRY_REGION) pending.push(sub);
        else stats.ingests += r;
      }
    }
    return stats;
  }

  /**
   * The regions of `[start, end)` in key order, in pages, or undefined when there are more than
   * `max` (a batch spread over the key space: its ranges look their regions up one by one).
   */
  async scanRegions(
    start: Uint8Array,
    end: Uint8Array,
    max: number,
  ): Promise<RegionInfo[] | undefined> {
    const out: RegionInfo[] = [];
    let cur = start;
    for (;;) {
      const page = await this.#o.pd.scanRegions(cur, end, 1024);
      if (page.length === 0) return out;
      out.push(...page);
      if (out.length > max) return undefined;
      const last = page[page.length - 1]!;
      if (last.endKey.length === 0 || (end.length > 0 && compareBytes(last.endKey, end) >= 0)) {
        return out;
      }
      cur = last.endKey;
    }
  }

  async #regions(start: Uint8Array, end: Uint8Array): Promise<RegionInfo[]> {
    const out: RegionInfo[] = [];
    let cur = start;
    for (;;) {
      const page = await this.#o.pd.scanRegions(cur, end, 128);
      if (page.length === 0) break;
      out.push(...page);
      const last = page[page.length - 1]!;
      if (last.endKey.length === 0 || (end.length > 0 && compareBytes(last.endKey, end) >= 0)) {
        break;
      }
      cur = last.endKey;
    }
    if (out.length === 0) {
      throw new ImportError("PD knows no region for a restored range; check PD's health");
    }
    return out;
  }

  /** The SST meta of a file's download into `region` (BR's `GetSSTMetaFromFile`). */
  #sstMeta(range: ImportRange, file: File, region: RegionInfo): SSTMeta {
    const regionStart = region.region.startKey;
    const regionEnd = region.region.endKey;
    let start: Uint8Array;
    let end: Uint8Array;
    if (range.rule) {
      // Legacy rewrite mode: the SST's keys are memcomparable, so are the region's bounds.
      const prefix = encodeKeyPrefix(range.rule.newKeyPrefix);
      start = prefix;
      end = Uint8Array.from([...prefix, ...new Array(10).fill(0xff)]);
    } else if (this.#o.isRawKv) {
      start = file.startKey;
      end = file.endKey;
    } else {
      start = encodeBytes(file.startKey);
      end = file.endKey.length > 0 ? encodeBytes(file.endKey) : new Uint8Array();
    }
    if (compareBytes(start, regionStart) < 0) start = regionStart;
    if (regionEnd.length > 0 && (end.length === 0 || compareBytes(end, regionEnd) > 0)) {
      end = regionEnd;
    }
    const cf = file.cf || (file.name.includes("write") ? "write" : "default");
    return create(SSTMetaSchema, {
      uuid: new Uint8Array(randomBytes(16)),
      range: { start, end },
      length: file.size,
      cfName: cf,
      regionId: region.region.id,
      ...(region.region.regionEpoch ? { regionEpoch: region.region.regionEpoch } : {}),
      cipherIv: file.cipherIv,
    });
  }

  /** Downloads and ingests one region's part; a count of ingests, or RETRY_REGION. */
  async #importRegion(
    range: ImportRange,
    region: RegionInfo,
    bo: Backoffer,
  ): Promise<number | typeof RETRY_REGION> {
    const peers = region.region.peers;
    if (!region.leader || peers.length === 0) {
      await bo.backoff(BO.regionMiss, `region ${region.region.id} has no leader`);
      return RETRY_REGION;
    }
    // The files download at once (BR's errgroup per region); each store's slots bound them.
    const leader = region.leader;
    const got = await Promise.all(
      range.files.map((file) =>
        this.#downloadAll(range, file, this.#sstMeta(range, file, region), peers, leader, bo)
      ),
    );
    const downloaded: Downloaded[] = [];
    for (const d of got) {
      if (d === RETRY_REGION) return RETRY_REGION;
      if (d) downloaded.push(d);
    }
    if (downloaded.length === 0) return 0;
    return await this.#ingest(region, region.leader, downloaded, bo);
  }

  /** Downloads one file to every peer; undefined when the file has no key in the region. */
  async #downloadAll(
    range: ImportRange,
    file: File,
    meta: SSTMeta,
    peers: Peer[],
    leader: Peer,
    bo: Backoffer,
  ): Promise<Downloaded | undefined | typeof RETRY_REGION> {
    const o = this.#o;
    const cipher = o.cipher && o.cipher.method !== EncryptionMethod.PLAINTEXT
      ? { cipherType: o.cipher.method, cipherKey: o.cipher.key }
      : undefined;
    const rule = range.rule
      ? {
        oldKeyPrefix: encodeKeyPrefix(range.rule.oldKeyPrefix),
        newKeyPrefix: encodeKeyPrefix(range.rule.newKeyPrefix),
        newTimestamp: range.rule.newTimestamp,
      }
      : undefined;
    for (;;) {
      let retry: string | undefined;
      let storeDown: bigint | undefined;
      const results = await Promise.all(peers.map(async (peer) => {
        try {
          return await this.#onStore(peer.storeId, async () => {
            const c = await o.stores.importSst(peer.storeId);
            return await c.download({
              sst: meta,
              storageBackend: o.backend,
              name: file.name,
              ...(rule ? { rewriteRule: rule } : {}),
              isRawKv: o.isRawKv,
              ...(cipher ? { cipherInfo: cipher } : {}),
            }, { timeoutMs: 10 * 60_000, ...(o.signal ? { signal: o.signal } : {}) });
          });
        } catch (err) {
          if (o.signal?.aborted) throw err;
          const ce = ConnectError.from(err);
          if (isConnectionLost(ce, o.signal)) {
            o.stores.reset(peer.storeId);
            storeDown = peer.storeId;
            retry = `store ${peer.storeId} is unreachable (${ce.rawMessage})`;
            return undefined;
          }
          throw new ImportError(
            `Download of ${file.name} on store ${peer.storeId} failed: ${ce.rawMessage}`,
          );
        }
      }));
      if (retry === undefined) {
        for (const [i, r] of results.entries()) {
          const e = r?.error;
          if (!e) continue;
          if (e.storeError) {
            retry = `Download on store ${peers[i]!.storeId}: ${regionErrorText(e.storeError)}`;
            if (e.storeError.epochNotMatch || e.storeError.regionNotFound) {
              await bo.backoff(BO.regionMiss, retry);
              return RETRY_REGION;
            }
          } else {
            retry = `Download of ${file.name} on store ${peers[i]!.storeId}: ${e.message}`;
          }
        }
      }
      if (retry !== undefined) {
        try {
          await bo.backoff(storeDown !== undefined ? BO.tikvRPC : BO.tikvServerBusy, retry);
        } catch (err) {
          if (err instanceof BackoffExhaustedError && storeDown !== undefined) {
            throw new ImportError(
              `store ${storeDown} stayed unreachable for the whole retry budget ` +
                `(${Math.round(bo.budgetMs / 1000)} s): bring it back or remove it from the ` +
                "cluster, then run the same restore again",
            );
          }
          if (err instanceof BackoffExhaustedError) throw new ImportError(retry);
          throw err;
        }
        continue;
      }
      const leaderIdx = peers.findIndex((p) => p.storeId === leader.storeId);
      const lr = results[leaderIdx >= 0 ? leaderIdx : 0]!;
      if (results.every((r) => r?.isEmpty)) return undefined;
      if (!lr.range) return undefined;
      const ingestMeta = create(SSTMetaSchema, {
        uuid: meta.uuid,
        length: meta.length,
        cfName: meta.cfName,
        regionId: meta.regionId,
        ...(meta.regionEpoch ? { regionEpoch: meta.regionEpoch } : {}),
        cipherIv: meta.cipherIv,
        range: {
          start: o.isRawKv ? lr.range.start : truncateTs(lr.range.start),
          end: o.isRawKv ? lr.range.end : truncateTs(lr.range.end),
        },
      });
      return { file, meta: ingestMeta };
    }
  }

  /** MultiIngest on the leader, following a moved leader in place. */
  async #ingest(
    region: RegionInfo,
    leader: Peer,
    files: Downloaded[],
    bo: Backoffer,
  ): Promise<number | typeof RETRY_REGION> {
    const o = this.#o;
    let target = leader;
    for (;;) {
      let res;
      try {
        res = await this.#onStore(target.storeId, async () => {
          const c = await o.stores.importSst(target.storeId);
          return await c.multiIngest({
            context: {
              regionId: region.region.id,
              ...(region.region.regionEpoch ? { regionEpoch: region.region.regionEpoch } : {}),
              peer: target,
            },
            ssts: files.map((f) => f.meta),
          }, { timeoutMs: 10 * 60_000, ...(o.signal ? { signal: o.signal } : {}) });
        });
      } catch (err) {
        if (o.signal?.aborted) throw err;
        const ce = ConnectError.from(err);
        if (isConnectionLost(ce, o.signal)) {
          o.stores.reset(target.storeId);
          try {
            await bo.backoff(BO.tikvRPC, `store ${target.storeId}: ${ce.rawMessage}`);
          } catch (e) {
            if (e instanceof BackoffExhaustedError) {
              throw new ImportError(
                `store ${target.storeId} stayed unreachable for the whole retry budget ` +
                  `(${Math.round(bo.budgetMs / 1000)} s): bring it back or remove it from the ` +
                  "cluster, then run the same restore again",
              );
            }
            throw e;
          }
          return RETRY_REGION;
        }
        throw new ImportError(
          `MultiIngest into region ${region.region.id} on store ${target.storeId} failed: ` +
            ce.rawMessage,
        );
      }
      const e = res.error;
      if (!e) return 1;
      const why = `MultiIngest into region ${region.region.id}: ${regionErrorText(e)}`;
      if (e.notLeader) {
        const next = e.notLeader.leader;
        await bo.backoff(BO.regionScheduling, why);
        if (next && next.storeId !== 0n && region.region.peers.some((p) => p.id === next.id)) {
          log("restore").debug("leader of region {id} moved to store {s}; ingesting there", {
            id: String(region.region.id),
            s: String(next.storeId),
          });
          target = next;
          continue;
        }
        return RETRY_REGION;
      }
      if (e.serverIsBusy) {
        await this.#backoffOrFail(bo, BO.tikvServerBusy, why);
        continue;
      }
      if (e.epochNotMatch || e.regionNotFound || e.keyNotInRegion || e.staleCommand) {
        await this.#backoffOrFail(bo, BO.regionMiss, why);
        return RETRY_REGION;
      }
      throw new ImportError(why);
    }
  }

  async #backoffOrFail(bo: Backoffer, kind: typeof BO.regionMiss, why: string): Promise<void> {
    try {
      await bo.backoff(kind, why);
    } catch (err) {
      if (err instanceof BackoffExhaustedError) throw new ImportError(err.message);
      throw err;
    }
  }
}
