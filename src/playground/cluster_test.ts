import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { compareBytes } from "../codec/bytes.ts";
import { Cluster, Faults, GcSafePoints, TxnError } from "./cluster.ts";
import { physicalOf } from "./tso.ts";
import { Catalog, loadSample } from "./sample.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);

describe("GC safe points", () => {
  test("service safe points expire by TTL on the injected clock", () => {
    let now = 1_000_000;
    const gc = new GcSafePoints(() => now);
    assert.deepEqual(gc.minServiceSafePoint().serviceId, "gc_worker");
    const r = gc.updateServiceSafePoint("br-1", 300, 100n);
    assert.equal(r.updated, true);
    assert.equal(r.minSafePoint, 0n, "gc_worker at 0 is still the minimum");
    gc.updateGcSafePoint(200n);
    const r2 = gc.updateServiceSafePoint("br-1", 300, 150n);
    assert.equal(r2.serviceId, "br-1");
    assert.equal(r2.minSafePoint, 150n);
    assert.equal(r2.ttl, 300);
    now += 301_000;
    assert.equal(gc.minServiceSafePoint().serviceId, "gc_worker", "br-1 expired");
    assert.equal(gc.minServiceSafePoint().safePoint, 200n);
  });

  test("a safe point below the minimum is refused; TTL <= 0 removes the service", () => {
    const gc = new GcSafePoints(() => 0);
    gc.updateGcSafePoint(20n);
    gc.updateServiceSafePoint("a", 100, 50n);
    const low = gc.updateServiceSafePoint("b", 100, 10n);
    assert.equal(low.updated, false);
    assert.equal(low.minSafePoint, 20n);
    assert.ok(!gc.services().some((s) => s.serviceId === "b"));
    gc.updateServiceSafePoint("a", 0, 0n);
    assert.ok(!gc.services().some((s) => s.serviceId === "a"));
    assert.throws(() => gc.updateServiceSafePoint("gc_worker", 100, 30n), /must be infinite/);
  });

  test("the GC safe point only moves forward", () => {
    const gc = new GcSafePoints(() => 0);
    assert.equal(gc.updateGcSafePoint(10n), 10n);
    assert.equal(gc.updateGcSafePoint(5n), 10n);
    assert.equal(gc.gcSafePoint, 10n);
  });
});

describe("faults", () => {
  test("region errors fire with their probability, filters and remaining count", () => {
    const f = new Faults(42);
    f.injectRegionError({ kind: "serverIsBusy", probability: 1, storeId: 1n, remaining: 2 });
    assert.equal(f.pickRegionError(2n, 10n), undefined);
    assert.equal(f.pickRegionError(1n, 10n), "serverIsBusy");
    assert.equal(f.pickRegionError(1n, 11n), "serverIsBusy");
    assert.equal(f.pickRegionError(1n, 12n), undefined, "the rule is used up");
    f.injectRegionError({ kind: "notLeader", probability: 0.3 });
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (f.pickRegionError(1n, 1n)) hits++;
    assert.ok(hits > 2700 && hits < 3300, `${hits} hits of 10000 at p=0.3`);
    f.clearRegionErrors();
    assert.equal(f.pickRegionError(1n, 1n), undefined);
    assert.throws(() => f.injectRegionError({ kind: "staleCommand", probability: 2 }), RangeError);
  });

  test("the same seed draws the same faults", () => {
    const draws = (seed: number) => {
      const f = new Faults(seed);
      f.injectRegionError({ kind: "epochNotMatch", probability: 0.5 });
      return Array.from({ length: 50 }, () => f.pickRegionError(1n, 1n) ?? "-").join(",");
    };
    assert.equal(draws(7), draws(7));
    assert.notEqual(draws(7), draws(8));
  });

  test("store changes reach subscribers; storage failures count down", () => {
    const f = new Faults();
    const seen: string[] = [];
    const off = f.onStoreChange((id, s) => seen.push(`${id}:${s.stopped}:${s.paused}`));
    f.setStore(2n, { stopped: true });
    f.setStore(2n, { stopped: false, paused: true });
    off();
    f.setStore(2n, { paused: false });
    assert.deepEqual(seen, ["2:true:false", "2:false:true"]);
    f.failStorageWrites({ probability: 1, remaining: 1, message: "disk full" });
    assert.equal(f.pickStorageFailure(), "disk full");
    assert.equal(f.pickStorageFailure(), undefined);
  });
});

describe("cluster", () => {
  test("three stores, one region, transactions with TSO timestamps", () => {
    let now = 1_700_000_000_000;
    const c = new Cluster({ clock: () => now, clusterId: 7n });
    assert.equal(c.regions.stores().length, 3);
    assert.equal(c.regions.size, 1);
    const { startTs, commitTs } = c.runTxn([{ op: "put", key: b("k"), value: b("v") }]);
    assert.ok(commitTs > startTs);
    assert.equal(physicalOf(commitTs), now);
    now += 1000;
    assert.equal(physicalOf(c.ts()), now);
    assert.equal(new TextDecoder().decode(c.mvcc.get(b("k"), c.ts()).value!), "v");
    c.mvcc.prewrite({
      mutations: [{ op: "put", key: b("k"), value: b("w") }],
      primary: b("k"),
      startTs: c.ts(),
      lockTtl: 100n,
    });
    assert.throws(() => c.runTxn([{ op: "put", key: b("k"), value: b("x") }]), TxnError);
    assert.equal(c.describe().clusterId, "7");
  });

  test("the KV reader fails on a lock instead of returning stale data", async () => {
    const c = new Cluster();
    c.runTxn([{ op: "put", key: b("a"), value: b("1") }]);
    c.mvcc.prewrite({
      mutations: [{ op: "put", key: b("a"), value: b("2") }],
      primary: b("a"),
      startTs: c.ts(),
      lockTtl: 100n,
    });
    await assert.rejects(c.kvReader().get(b("a"), c.ts()), TxnError);
    await assert.rejects(c.kvReader().scan(b("a"), b("b"), c.ts(), 10), TxnError);
  });

  test("splitBySize cuts data into regions under the limit and leaves no gap", () => {
    const c = new Cluster();
    const muts = [];
    for (let i = 0; i < 2000; i++) {
      muts.push({
        op: "put" as const,
        key: b(`k${String(i).padStart(5, "0")}`),
        value: new Uint8Array(100),
      });
    }
    c.runTxn(muts);
    const added = c.splitBySize(10_000);
    assert.ok(added >= 20, `${added} regions added`);
    const all = c.regions.all();
    for (let i = 1; i < all.length; i++) {
      assert.equal(compareBytes(all[i - 1]!.endKey, all[i]!.startKey), 0);
    }
    for (const r of all) {
      const { start, end } = c.rawRangeOf(r);
      assert.ok(c.mvcc.rangeStats(start, end).bytes <= 10_000);
    }
    const total = all.reduce((n, r) => {
      const { start, end } = c.rawRangeOf(r);
      return n + c.checksum(start, end, c.ts()).totalKvs;
    }, 0n);
    assert.equal(total, 2000n);
  });

  test("GC runs up to the GC safe point but not past a live service safe point", () => {
    const c = new Cluster({ clock: () => 1_700_000_000_000 });
    const k = b("k");
    const t1 = c.runTxn([{ op: "put", key: k, value: b("1") }]).commitTs;
    const t2 = c.runTxn([{ op: "put", key: k, value: b("2") }]).commitTs;
    c.runTxn([{ op: "put", key: k, value: b("3") }]);
    c.gc.updateServiceSafePoint("br-x", 300, t1);
    c.gc.updateGcSafePoint(c.ts());
    assert.equal(c.runGc(), 0, "nothing below the service safe point can go");
    assert.equal(new TextDecoder().decode(c.mvcc.get(k, t1).value!), "1");
    c.gc.updateServiceSafePoint("br-x", 300, t2);
    assert.equal(c.runGc(), 1);
    assert.equal(c.mvcc.get(k, t1).value, null);
    assert.ok(c.isBelowGcSafePoint(t1));
  });
});

describe("saved state", () => {
  test("save and load keep data, regions, stores, TSO, GC and the sample catalog", async () => {
    const dir = await makeTempDir();
    try {
      const c = new Cluster({ clusterId: 99n });
      const { catalog } = loadSample(c, {
        databases: [{
          name: "d",
          tables: [{ name: "t", rows: 500 }, { name: "c", kind: "clustered", rows: 100 }],
        }],
        rawKv: { keys: 20 },
        regions: { maxBytes: 4096 },
      });
      c.gc.updateServiceSafePoint("br-1", 300, 5n);
      c.gc.updateGcSafePoint(3n);
      c.mvcc.prewrite({
        mutations: [{ op: "put", key: b("locked"), value: b("1") }],
        primary: b("locked"),
        startTs: c.ts(),
        lockTtl: 10n,
      });
      const ts = c.ts();
      await c.save(dir, catalog.serialize());
      const loaded = await Cluster.load(dir);
      assert.ok(loaded);
      const d = loaded.cluster;
      assert.equal(d.clusterId, 99n);
      assert.ok(d.ts() > ts);
      assert.equal(d.regions.size, c.regions.size);
      assert.deepEqual(d.regions.all(), c.regions.all());
      assert.deepEqual(d.regions.stores(), c.regions.stores());
      assert.equal(d.gc.gcSafePoint, 3n);
      assert.ok(d.gc.services().some((s) => s.serviceId === "br-1" && s.safePoint === 5n));
      assert.deepEqual(d.mvcc.stats(), c.mvcc.stats());
      const cat = Catalog.deserialize(d, loaded.extra!);
      for (const t of cat.tables) {
        assert.deepEqual(d.tableChecksum(t.info, ts), c.tableChecksum(t.info, ts));
      }
      // New ids never collide with saved ones.
      const fresh = d.ids.next();
      assert.ok(d.regions.all().every((r) => r.id < fresh && r.peers.every((p) => p.id < fresh)));
      assert.equal(await Cluster.load(`${dir}/nothing-here`), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function makeTempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "tibr-cluster-"));
}
