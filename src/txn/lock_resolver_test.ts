import assert from "node:assert/strict";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Action, type LockInfo, LockInfoSchema } from "../gen/kvrpcpb_pb.ts";
import type { PdClient, RegionInfo } from "../pd/client.ts";
import { ManualClock } from "../storage/clock.ts";
import type { StoreConnections } from "../tikv/stores.ts";
import { LockResolver } from "./lock_resolver.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
/** A TSO at `ms` of PD's physical clock (18 logical bits). */
const tsAt = (ms: number) => BigInt(ms) << 18n;

type Handler = (req: Record<string, unknown>) => Record<string, unknown>;

/**
 * A one-region cluster whose TiKV answers the lock-resolving RPCs with `handlers`, and a PD
 * whose TSO follows `clock` (physical ms = clock ms). Records every RPC as `name key...`.
 */
function cluster(clock: ManualClock, handlers: Record<string, Handler>) {
  const calls: string[] = [];
  const pd = {
    getTS: () => Promise.resolve(tsAt(clock.now())),
    getRegion: () =>
      Promise.resolve(
        {
          region: { id: 1n },
          leader: { id: 11n, storeId: 1n },
          startKey: new Uint8Array(),
          endKey: new Uint8Array(),
        } as unknown as RegionInfo,
      ),
  } as unknown as PdClient;
  const rpc = (name: string) => (req: Record<string, unknown>) => {
    const keys = (req.keys as Uint8Array[] | undefined) ?? [req.primaryKey as Uint8Array];
    calls.push(`${name} ${keys.map(dec).join(",")}`.trim());
    const h = handlers[name];
    if (!h) throw new Error(`unexpected ${name}`);
    return Promise.resolve(h(req));
  };
  const client = {
    kvCheckTxnStatus: rpc("CheckTxnStatus"),
    kvResolveLock: rpc("ResolveLock"),
    kvCheckSecondaryLocks: rpc("CheckSecondaryLocks"),
    kVPessimisticRollback: rpc("PessimisticRollback"),
  };
  const stores = {
    tikv: () => Promise.resolve(client),
    reset: () => {},
  } as unknown as StoreConnections;
  return { pd, stores, calls };
}

function lock(init: MessageInitShape<typeof LockInfoSchema>): LockInfo {
  return create(LockInfoSchema, {
    primaryLock: enc("p"),
    key: enc("k"),
    lockVersion: tsAt(1000),
    lockTtl: 3000n,
    txnSize: 1n,
    ...init,
  });
}

Deno.test("an expired lock is rolled back and the reader goes on at once", async () => {
  const clock = new ManualClock(10_000);
  const { pd, stores, calls } = cluster(clock, {
    CheckTxnStatus: () => ({ lockTtl: 0n, commitVersion: 0n, action: Action.TTLExpireRollback }),
    ResolveLock: (req) => {
      assert.equal(req.commitVersion, 0n, "rolled back, not committed");
      return {};
    },
  });
  const r = new LockResolver(pd, stores, { clock });
  assert.equal(await r.resolveLocks(tsAt(9000), [lock({})]), 0);
  assert.deepEqual(calls, ["CheckTxnStatus p", "ResolveLock k"]);
  assert.deepEqual(clock.sleeps, []);
});

Deno.test("a live lock is left alone and the reader is told how long it lasts", async () => {
  const clock = new ManualClock(10_000);
  const { pd, stores, calls } = cluster(clock, {
    // Locked at 9000 ms for 3000 ms: 2000 ms left at 10 000 ms.
    CheckTxnStatus: () => ({ lockTtl: 3000n, commitVersion: 0n, action: Action.NoAction }),
  });
  const r = new LockResolver(pd, stores, { clock });
  assert.equal(await r.resolveLocks(tsAt(10_000), [lock({ lockVersion: tsAt(9000) })]), 2000);
  assert.deepEqual(calls, ["CheckTxnStatus p"]);
});

Deno.test("an expired async-commit lock is committed at the largest min_commit_ts of its keys", async () => {
  const clock = new ManualClock(10_000);
  const resolved: Array<[string, bigint]> = [];
  const { pd, stores, calls } = cluster(clock, {
    CheckTxnStatus: () => ({
      lockTtl: 3000n,
      commitVersion: 0n,
      action: Action.NoAction,
      lockInfo: {
        primaryLock: enc("p"),
        useAsyncCommit: true,
        secondaries: [enc("s")],
        minCommitTs: 50n,
      },
    }),
    CheckSecondaryLocks: (req) => ({
      locks: [{
        key: (req.keys as Uint8Array[])[0],
        minCommitTs: dec((req.keys as Uint8Array[])[0]!) === "s" ? 60n : 55n,
      }],
      commitTs: 0n,
    }),
    ResolveLock: (req) => {
      resolved.push([dec((req.keys as Uint8Array[])[0]!), req.commitVersion as bigint]);
      return {};
    },
  });
  const r = new LockResolver(pd, stores, { clock });
  // Locked at 1000 ms for 3000 ms: expired long before 10 000 ms.
  assert.equal(await r.resolveLocks(tsAt(10_000), [lock({ key: enc("s") })]), 0);
  assert.deepEqual(calls.slice(0, 3), [
    "CheckTxnStatus p",
    "CheckSecondaryLocks p",
    "CheckSecondaryLocks s",
  ]);
  assert.deepEqual(resolved, [["p", 60n], ["s", 60n]]);
});

Deno.test("a primary not yet written is waited for on the clock, then rolled back", async () => {
  const clock = new ManualClock(2000);
  const seen: boolean[] = [];
  const { pd, stores } = cluster(clock, {
    CheckTxnStatus: (req) => {
      seen.push(req.rollbackIfNotExist as boolean);
      if (!req.rollbackIfNotExist) return { error: { txnNotFound: {} } };
      return { lockTtl: 0n, commitVersion: 0n, action: Action.LockNotExistRollback };
    },
    ResolveLock: () => ({}),
  });
  const r = new LockResolver(pd, stores, { clock });
  const started = performance.now();
  // Locked at 1000 ms for 3000 ms: expires at 4000 ms, 2000 ms from now.
  assert.equal(await r.resolveLocks(tsAt(2000), [lock({})]), 0);
  assert.equal(clock.now(), 4000, "waited exactly until the lock expired");
  assert.ok(clock.sleeps.every((ms) => ms <= 500), "client-go's txnNotFound cap");
  assert.equal(seen.at(-1), true);
  assert.ok(performance.now() - started < 1000);
});

Deno.test("the wait for a missing primary stops when the run's signal aborts", async () => {
  const clock = new ManualClock(2000);
  const ac = new AbortController();
  let asked = 0;
  const { pd, stores } = cluster(clock, {
    CheckTxnStatus: () => {
      if (++asked === 3) ac.abort(new Error("interrupted by SIGTERM"));
      return { error: { txnNotFound: {} } };
    },
  });
  const r = new LockResolver(pd, stores, { clock, signal: ac.signal });
  await assert.rejects(r.resolveLocks(tsAt(2000), [lock({ lockTtl: 600_000n })]), /SIGTERM/);
  assert.equal(asked, 3, "no request after the abort");
});
