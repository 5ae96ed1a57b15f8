// A playground store's Tikv service at the protocol level, through tibr's generated Connect
// clients: Percolator reads and writes, lock resolution RPCs, TiKV's region errors, SplitRegion,
// the coprocessor checksum, and the store faults (stop/restart, pause, slow).
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ChecksumRequestSchema,
  ChecksumResponseSchema,
  ChecksumScanOn,
} from "../../src/gen/checksum_pb.ts";
import { Action, Op } from "../../src/gen/kvrpcpb_pb.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { startPlayground } from "../../src/playground/server/mod.ts";
import { encodeRegionKey } from "../../src/playground/regions.ts";
import { Clients, contextFor } from "./_helpers.ts";

const te = new TextEncoder();
const k = (s: string) => te.encode(s);

function portOpen(address: string): Promise<boolean> {
  const [host, port] = address.split(":");
  return new Promise((resolve) => {
    const s = connect(Number(port), host!);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

describe("playground TiKV store", () => {
  let pg: Playground;
  let c: Clients;

  before(async () => {
    pg = await startPlayground({ data: "empty", electionMs: 0 });
    pg.cluster.regions.splitAt([encodeRegionKey(k("m"))]);
    c = new Clients(pg);
  });
  after(async () => {
    c.close();
    await pg.stop();
  });

  /** Prewrites and commits `pairs` through the RPCs (all keys must share a region). */
  async function put(pairs: [string, string][]): Promise<{ startTs: bigint; commitTs: bigint }> {
    const { context, region } = contextFor(pg, k(pairs[0]![0]));
    const tikv = c.tikv(region.leader.storeId);
    const startTs = pg.cluster.ts();
    const pw = await tikv.kvPrewrite({
      context,
      mutations: pairs.map(([key, v]) => ({ op: Op.Put, key: k(key), value: k(v) })),
      primaryLock: k(pairs[0]![0]),
      startVersion: startTs,
      lockTtl: 3000n,
    });
    assert.equal(pw.regionError, undefined);
    assert.deepEqual(pw.errors, []);
    const commitTs = pg.cluster.ts();
    const cm = await tikv.kvCommit({
      context,
      keys: pairs.map(([key]) => k(key)),
      startVersion: startTs,
      commitVersion: commitTs,
    });
    assert.equal(cm.error, undefined);
    assert.equal(cm.commitVersion, commitTs);
    return { startTs, commitTs };
  }

  test("committed writes are read by KvGet, KvBatchGet and KvScan at their ts, not before", async () => {
    const before = pg.cluster.ts();
    await put([["a1", "v1"], ["a2", "v2"], ["a3", "v3"]]);
    const now = pg.cluster.ts();
    const { context, region } = contextFor(pg, k("a1"));
    const tikv = c.tikv(region.leader.storeId);
    const g = await tikv.kvGet({ context, key: k("a2"), version: now });
    assert.deepEqual(g.value, k("v2"));
    const old = await tikv.kvGet({ context, key: k("a2"), version: before });
    assert.equal(old.notFound, true);
    const bg = await tikv.kvBatchGet({ context, keys: [k("a1"), k("a9"), k("a3")], version: now });
    assert.deepEqual(bg.pairs.map((p) => new TextDecoder().decode(p.key)), ["a1", "a3"]);
    const sc = await tikv.kvScan({
      context,
      startKey: k("a"),
      endKey: k("b"),
      limit: 2,
      version: now,
    });
    assert.deepEqual(sc.pairs.map((p) => new TextDecoder().decode(p.value)), ["v1", "v2"]);
    const rev = await tikv.kvScan({
      context,
      startKey: k("b"),
      endKey: k("a"),
      limit: 10,
      version: now,
      reverse: true,
    });
    assert.deepEqual(rev.pairs.map((p) => new TextDecoder().decode(p.key)), ["a3", "a2", "a1"]);
    // A scan without end stops at the region's end ("m"), as TiKV's does.
    await put([["n1", "x"]]);
    const all = await tikv.kvScan({
      context,
      startKey: k(""),
      limit: 100,
      version: pg.cluster.ts(),
    });
    assert.ok(all.pairs.every((p) => new TextDecoder().decode(p.key) < "m"));
  });

  test("locks block reads with KeyError.locked and are resolved through the lock RPCs", async () => {
    const { context, region } = contextFor(pg, k("c1"));
    const tikv = c.tikv(region.leader.storeId);
    const startTs = pg.cluster.ts();
    const pw = await tikv.kvPrewrite({
      context,
      mutations: [{ op: Op.Put, key: k("c1"), value: k("new") }, { op: Op.Del, key: k("c2") }],
      primaryLock: k("c1"),
      startVersion: startTs,
      lockTtl: 100n,
      txnSize: 2n,
    });
    assert.deepEqual(pw.errors, []);
    const readTs = pg.cluster.ts();
    const g = await tikv.kvGet({ context, key: k("c1"), version: readTs });
    const lock = g.error?.locked;
    assert.ok(lock, "KvGet reports the lock");
    assert.deepEqual(lock.primaryLock, k("c1"));
    assert.equal(lock.lockVersion, startTs);
    assert.equal(lock.lockTtl, 100n);
    assert.equal(lock.lockType, Op.Put);
    assert.equal(lock.txnSize, 2n);
    // resolved_locks lets the reader through.
    const bypass = await tikv.kvGet({
      context: { ...context, resolvedLocks: [startTs] },
      key: k("c1"),
      version: readTs,
    });
    assert.equal(bypass.notFound, true);
    const sc = await tikv.kvScan({
      context,
      startKey: k("c"),
      endKey: k("d"),
      limit: 10,
      version: readTs,
    });
    assert.equal(sc.pairs[0]?.error?.locked?.lockVersion, startTs);
    const sl = await tikv.kvScanLock({
      context,
      maxVersion: readTs,
      startKey: k("c"),
      endKey: k("d"),
      limit: 10,
    });
    assert.equal(sl.locks.length, 2);
    // Still alive by the caller's clock...
    const alive = await tikv.kvCheckTxnStatus({
      context,
      primaryKey: k("c1"),
      lockTs: startTs,
      callerStartTs: readTs,
      currentTs: readTs,
    });
    assert.equal(alive.lockTtl, 100n);
    assert.equal(alive.commitVersion, 0n);
    // ...expired 200 ms later: rolled back.
    const later = ((readTs >> 18n) + 200n) << 18n;
    const dead = await tikv.kvCheckTxnStatus({
      context,
      primaryKey: k("c1"),
      lockTs: startTs,
      callerStartTs: readTs,
      currentTs: later,
    });
    assert.equal(dead.lockTtl, 0n);
    assert.equal(dead.commitVersion, 0n);
    assert.equal(dead.action, Action.TTLExpireRollback);
    const rl = await tikv.kvResolveLock({
      context,
      startVersion: startTs,
      commitVersion: 0n,
      keys: [k("c2")],
    });
    assert.equal(rl.error, undefined);
    assert.equal(
      (await tikv.kvScanLock({ context, maxVersion: readTs, startKey: k("c"), endKey: k("d") }))
        .locks.length,
      0,
    );
  });

  test("ResolveLock commits a whole region; CheckSecondaryLocks and PessimisticRollback work", async () => {
    const { context, region } = contextFor(pg, k("d1"));
    const tikv = c.tikv(region.leader.storeId);
    const s1 = pg.cluster.ts();
    await tikv.kvPrewrite({
      context,
      mutations: [{ op: Op.Put, key: k("d1"), value: k("1") }, {
        op: Op.Put,
        key: k("d2"),
        value: k("2"),
      }],
      primaryLock: k("d1"),
      startVersion: s1,
      lockTtl: 3000n,
      useAsyncCommit: true,
      secondaries: [k("d2")],
    });
    const st = await tikv.kvCheckTxnStatus({
      context,
      primaryKey: k("d1"),
      lockTs: s1,
      callerStartTs: pg.cluster.ts(),
      currentTs: pg.cluster.ts(),
    });
    assert.equal(st.lockInfo?.useAsyncCommit, true);
    assert.deepEqual(st.lockInfo?.secondaries, [k("d2")]);
    const sec = await tikv.kvCheckSecondaryLocks({ context, keys: [k("d2")], startVersion: s1 });
    assert.equal(sec.locks.length, 1);
    const commitTs = pg.cluster.ts();
    const rl = await tikv.kvResolveLock({ context, startVersion: s1, commitVersion: commitTs });
    assert.equal(rl.error, undefined);
    const g = await tikv.kvGet({ context, key: k("d2"), version: pg.cluster.ts() });
    assert.deepEqual(g.value, k("2"));
    const pr = await tikv.kVPessimisticRollback({
      context,
      startVersion: s1,
      forUpdateTs: s1,
      keys: [k("d1")],
    });
    assert.deepEqual(pr.errors, []);
  });

  test("prewrite conflicts come back as key errors, not gRPC errors", async () => {
    const { context, region } = contextFor(pg, k("e1"));
    const tikv = c.tikv(region.leader.storeId);
    const early = pg.cluster.ts();
    await put([["e1", "x"]]);
    const pw = await tikv.kvPrewrite({
      context,
      mutations: [{ op: Op.Put, key: k("e1"), value: k("y") }],
      primaryLock: k("e1"),
      startVersion: early,
      lockTtl: 3000n,
    });
    assert.ok(pw.errors[0]?.conflict, "write conflict");
    const ins = await tikv.kvPrewrite({
      context,
      mutations: [{ op: Op.Insert, key: k("e1"), value: k("y") }],
      primaryLock: k("e1"),
      startVersion: pg.cluster.ts(),
      lockTtl: 3000n,
    });
    assert.ok(ins.errors[0]?.alreadyExist, "insert of an existing key");
  });

  test("TiKV's region errors: not found, not leader, stale epoch, key not in region, store not match", async () => {
    const { context, region } = contextFor(pg, k("f1"));
    const leader = region.leader.storeId;
    const other = region.peers.find((p) => p.storeId !== leader)!.storeId;
    const ts = pg.cluster.ts();
    const nf = await c.tikv(leader).kvGet({
      context: { ...context, regionId: 99999n },
      key: k("f1"),
      version: ts,
    });
    assert.equal(nf.regionError?.regionNotFound?.regionId, 99999n);
    const nl = await c.tikv(other).kvGet({
      context: { ...context, peer: { storeId: other } },
      key: k("f1"),
      version: ts,
    });
    assert.equal(nl.regionError?.notLeader?.leader?.storeId, leader);
    const stale = await c.tikv(leader).kvGet({
      context: {
        ...context,
        regionEpoch: { confVer: region.epoch.confVer, version: region.epoch.version - 1n },
      },
      key: k("f1"),
      version: ts,
    });
    const cur = stale.regionError?.epochNotMatch?.currentRegions ?? [];
    assert.ok(
      cur.some((r) => r.id === region.id && r.regionEpoch?.version === region.epoch.version),
    );
    const out = await c.tikv(leader).kvGet({ context, key: k("z9"), version: ts });
    assert.deepEqual(out.regionError?.keyNotInRegion?.key, k("z9"));
    const sm = await c.tikv(leader).kvGet({
      context: { ...context, peer: { storeId: other } },
      key: k("f1"),
      version: ts,
    });
    assert.equal(sm.regionError?.storeNotMatch?.actualStoreId, leader);
  });

  test("injected ServerIsBusy answers as often as asked, then stops", async () => {
    const { context, region } = contextFor(pg, k("g1"));
    const id = pg.admin.injectRegionError({ kind: "serverIsBusy", probability: 1, remaining: 2 });
    try {
      const tikv = c.tikv(region.leader.storeId);
      const ts = pg.cluster.ts();
      const a = await tikv.kvGet({ context, key: k("g1"), version: ts });
      const b = await tikv.kvGet({ context, key: k("g1"), version: ts });
      const d = await tikv.kvGet({ context, key: k("g1"), version: ts });
      assert.ok(a.regionError?.serverIsBusy && b.regionError?.serverIsBusy);
      assert.equal(d.regionError, undefined);
    } finally {
      pg.admin.clearRegionErrors(id);
    }
  });

  test("SplitRegion splits at raw keys and PD sees the new regions", async () => {
    const { context, region } = contextFor(pg, k("h1"));
    const r = await c.tikv(region.leader.storeId).splitRegion({
      context,
      splitKeys: [k("h5"), k("h3")],
    });
    assert.equal(r.regionError, undefined);
    assert.equal(r.regions.length, 3);
    assert.deepEqual(r.regions[1]!.startKey, encodeRegionKey(k("h3")));
    assert.deepEqual(r.regions[2]!.startKey, encodeRegionKey(k("h5")));
    const pdView = await c.pd.getRegion({ header: c.header, regionKey: encodeRegionKey(k("h4")) });
    assert.equal(pdView.region?.id, r.regions[1]!.id);
    // The old epoch is now stale.
    const stale = await c.tikv(region.leader.storeId).kvGet({
      context,
      key: k("h1"),
      version: pg.cluster.ts(),
    });
    assert.ok(stale.regionError?.epochNotMatch);
  });

  test("the coprocessor checksum matches the ground truth and reports locks", async () => {
    await put([["p1", "a"], ["p2", "bb"], ["p3", "x".repeat(300)]]);
    const ts = pg.cluster.ts();
    const { context, region } = contextFor(pg, k("p1"));
    const tikv = c.tikv(region.leader.storeId);
    const data = toBinary(
      ChecksumRequestSchema,
      create(ChecksumRequestSchema, { startTsFallback: ts, scanOn: ChecksumScanOn.Table }),
    );
    const r = await tikv.coprocessor({
      context,
      tp: 105n,
      data,
      startTs: ts,
      ranges: [{ start: k("p"), end: k("q") }],
    });
    assert.equal(r.otherError, "");
    const sum = fromBinary(ChecksumResponseSchema, r.data);
    const truth = pg.cluster.checksum(k("p"), k("q"), ts);
    assert.equal(sum.checksum, truth.crc64xor);
    assert.equal(sum.totalKvs, 3n);
    assert.equal(sum.totalBytes, truth.totalBytes);
    pg.cluster.mvcc.prewrite({
      mutations: [{ op: "put", key: k("p2"), value: k("z") }],
      primary: k("p2"),
      startTs: pg.cluster.ts(),
      lockTtl: 5000n,
    });
    const t2 = pg.cluster.ts();
    const locked = await tikv.coprocessor({
      context,
      tp: 105n,
      data,
      startTs: t2,
      ranges: [{ start: k("p"), end: k("q") }],
    });
    assert.deepEqual(locked.locked?.key, k("p2"));
    const dag = await tikv.coprocessor({
      context,
      tp: 103n,
      data,
      startTs: t2,
      ranges: [{ start: k("p"), end: k("q") }],
    });
    assert.match(dag.otherError, /not supported/);
  });

  test("a stopped store closes its port; restarted, it serves on the same port", async () => {
    const { context, region } = contextFor(pg, k("a1"));
    const sid = region.leader.storeId;
    const addr = pg.storeAddresses().get(sid)!;
    const tikv = c.tikv(sid);
    assert.equal(await portOpen(addr), true);
    await pg.admin.stopStore(sid);
    assert.equal(await portOpen(addr), false);
    await assert.rejects(
      tikv.kvGet({ context, key: k("a1"), version: pg.cluster.ts() }, { timeoutMs: 3000 }),
      (err: unknown) => ConnectError.from(err).code === Code.Unavailable,
    );
    await pg.admin.restartStore(sid);
    assert.equal(pg.storeAddresses().get(sid), addr);
    const fresh = new Clients(pg);
    try {
      const g = await fresh.tikv(sid).kvGet({ context, key: k("a1"), version: pg.cluster.ts() });
      assert.deepEqual(g.value, k("v1"));
    } finally {
      fresh.close();
    }
  });

  test("a paused store holds requests until resumed; a slow one adds its delay", async () => {
    const { context, region } = contextFor(pg, k("a1"));
    const sid = region.leader.storeId;
    const tikv = c.tikv(sid);
    pg.admin.pauseStore(sid, true);
    let done = false;
    const p = tikv.kvGet({ context, key: k("a1"), version: pg.cluster.ts() }).then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(done, false, "held while paused");
    pg.admin.pauseStore(sid, false);
    assert.deepEqual((await p).value, k("v1"));
    pg.admin.slowStore(sid, 250);
    try {
      const t0 = performance.now();
      await tikv.kvGet({ context, key: k("a1"), version: pg.cluster.ts() });
      assert.ok(performance.now() - t0 >= 240, "delayed");
    } finally {
      pg.admin.slowStore(sid, 0);
    }
  });
});
