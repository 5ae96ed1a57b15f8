/**
 * Reads the cluster at one timestamp through KvGet/KvScan, region by region, resolving the
 * locks it meets: what the backup uses to read TiDB's schema at the backup ts.
 * @module
 */
import { Backoffer, BO } from "../backoff.ts";
import { compareBytes } from "../codec/bytes.ts";
import type { KeyError, LockInfo } from "../gen/kvrpcpb_pb.ts";
import type { PdClient } from "../pd/client.ts";
import type { KvReader } from "../tidb/meta.ts";
import type { LockResolver } from "../txn/lock_resolver.ts";
import { sendToRegion } from "./region_request.ts";
import type { StoreConnections } from "./stores.ts";

/** A KV error other than a lock while reading. */
export class SnapshotReadError extends Error {
  override name = "SnapshotReadError";
}

function lockOf(err: KeyError | undefined): LockInfo | undefined {
  return err?.locked;
}

/** A KvReader over TiKV at a timestamp given per call. */
export class TikvSnapshot implements KvReader {
  #pd: PdClient;
  #stores: StoreConnections;
  #resolver: LockResolver;
  #signal: AbortSignal | undefined;

  constructor(
    pd: PdClient,
    stores: StoreConnections,
    resolver: LockResolver,
    signal?: AbortSignal,
  ) {
    this.#pd = pd;
    this.#stores = stores;
    this.#resolver = resolver;
    this.#signal = signal;
  }

  /** A backoffer for one read: lock waits have no budget of their own (a lock expires). */
  #backoffer(): Backoffer {
    return new Backoffer({ budgetMs: 0, ...(this.#signal ? { signal: this.#signal } : {}) });
  }

  /** Resolves `lock`; while it lives, waits as client-go's reads do (txnLockFast, capped). */
  async #waitOut(ts: bigint, lock: LockInfo, bo: Backoffer): Promise<void> {
    const ms = await this.#resolver.resolveLocks(ts, [lock]);
    if (ms > 0) await bo.backoff(BO.txnLockFast, "key is locked", { maxSleepMs: ms });
  }

  #opts(): { timeoutMs: number; signal?: AbortSignal } {
    return { timeoutMs: 20_000, ...(this.#signal ? { signal: this.#signal } : {}) };
  }

  /** The value of `key` at `ts`, or null. */
  async get(key: Uint8Array, ts: bigint): Promise<Uint8Array | null> {
    const bo = this.#backoffer();
    for (;;) {
      const { response } = await sendToRegion(this.#pd, this.#stores, key, async (c, ctx) => {
        const r = await c.kvGet({ context: ctx, key, version: ts }, this.#opts());
        return { response: r, regionError: r.regionError };
      }, this.#signal ? { signal: this.#signal } : {});
      const lock = lockOf(response.error);
      if (lock) {
        await this.#waitOut(ts, lock, bo);
        continue;
      }
      if (response.error) {
        throw new SnapshotReadError(`KvGet failed: ${JSON.stringify(response.error)}`);
      }
      return response.notFound ? null : response.value;
    }
  }

  /** Up to `limit` pairs of `[start, end)` at `ts` (empty end = unbounded), in key order. */
  async scan(
    start: Uint8Array,
    end: Uint8Array,
    ts: bigint,
    limit: number,
  ): Promise<{ key: Uint8Array; value: Uint8Array }[]> {
    const out: { key: Uint8Array; value: Uint8Array }[] = [];
    const bo = this.#backoffer();
    let cur = start;
    while (out.length < limit) {
      if (end.length > 0 && compareBytes(cur, end) >= 0) break;
      const { response, region } = await sendToRegion(
        this.#pd,
        this.#stores,
        cur,
        async (c, ctx, region) => {
          const regionEnd = region.endKey;
          const stop = end.length === 0
            ? regionEnd
            : regionEnd.length === 0 || compareBytes(end, regionEnd) < 0
            ? end
            : regionEnd;
          const r = await c.kvScan({
            context: ctx,
            startKey: cur,
            endKey: stop,
            limit: limit - out.length,
            version: ts,
          }, this.#opts());
          return { response: r, regionError: r.regionError };
        },
        this.#signal ? { signal: this.#signal } : {},
      );
      const lock = lockOf(response.error) ?? response.pairs.find((p) => p.error?.locked)?.error
        ?.locked;
      if (lock) {
        await this.#waitOut(ts, lock, bo);
        continue;
      }
      if (response.error) {
        throw new SnapshotReadError(`KvScan failed: ${JSON.stringify(response.error)}`);
      }
      for (const p of response.pairs) out.push({ key: p.key, value: p.value });
      if (out.length >= limit) break;
      if (region.endKey.length === 0) break;
      cur = region.endKey;
    }
    return out;
  }
}
