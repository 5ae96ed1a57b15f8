import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Cluster } from "./cluster.ts";
import { LockedError, TxnAction } from "./mvcc.ts";
import { loadSample } from "./sample.ts";
import { expectedTableChecksum } from "./_test_helpers.ts";
import { Workload } from "./workload.ts";

const SPEC = {
  databases: [{
    name: "w",
    tables: [
      { name: "a", kind: "int" as const, rows: 300 },
      { name: "b", kind: "clustered" as const, rows: 200 },
      { name: "c", kind: "partitioned" as const, rows: 200, partitions: 3 },
      { name: "d", kind: "rowid" as const, rows: 100 },
      { name: "e", kind: "nonpublic-index" as const, rows: 100 },
    ],
  }],
  rawKv: null,
  regions: { maxBytes: 8192 },
};

function setup() {
  let now = 1_700_000_000_000;
  const c = new Cluster({ clock: () => now });
  const r = loadSample(c, SPEC);
  return { c, catalog: r.catalog, advance: (ms: number) => (now += ms) };
}

const ALL = new Uint8Array(0);

describe("workload", () => {
  test("inserts, updates and deletes keep every table equal to its rows", () => {
    const { c, catalog } = setup();
    const before = c.ts();
    const snapshot = catalog.tables.map((t) => c.tableChecksum(t.info, before));
    const w = new Workload(c, catalog, { seed: 3 });
    assert.equal(w.step(300), 300 - w.stats.conflicts);
    assert.ok(
      w.stats.inserts > 50 && w.stats.updates > 50 && w.stats.deletes > 20,
      JSON.stringify(w.stats),
    );
    const after = c.ts();
    for (const t of catalog.tables) {
      assert.deepEqual(
        c.tableChecksum(t.info, after),
        expectedTableChecksum(catalog, t),
        t.info.name.O,
      );
    }
    // The old snapshot is still readable at its ts (MVCC), unchanged.
    assert.deepEqual(catalog.tables.map((t) => c.tableChecksum(t.info, before)), snapshot);
    // An incremental scan over (before, after] sees the deletes.
    const changes = [
      ...c.mvcc.backupScan(ALL, ALL, after, { afterTs: before, includeDeletes: true }),
    ];
    assert.ok(changes.some((e) => e.type === "delete"));
    assert.ok(changes.every((e) => e.commitTs > before && e.commitTs <= after));
  });

  test("a crashed long txn blocks reads until its TTL passes, then rolls back", () => {
    const { c, catalog, advance } = setup();
    const w = new Workload(c, catalog, { seed: 5, longTxns: { crashed: 1, ttlMs: 3000 } });
    const [txn] = w.openLongTxns();
    assert.ok(txn);
    const readTs = c.ts();
    assert.throws(() => [...c.mvcc.backupScan(ALL, ALL, readTs)], LockedError);
    const live = c.mvcc.checkTxnStatus({
      primaryKey: txn.primary,
      lockTs: txn.startTs,
      callerStartTs: readTs,
      currentTs: c.ts(),
    });
    assert.ok(live.lockTtl > 0n, "not yet expired");
    advance(3500);
    const dead = c.mvcc.checkTxnStatus({
      primaryKey: txn.primary,
      lockTs: txn.startTs,
      callerStartTs: readTs,
      currentTs: c.ts(),
    });
    assert.equal(dead.action, TxnAction.TTLExpireRollback);
    c.mvcc.resolveLock({ startTs: txn.startTs, commitTs: 0n });
    const ts = c.ts();
    assert.ok([...c.mvcc.backupScan(ALL, ALL, ts)].length > 0);
    for (const t of catalog.tables) {
      assert.deepEqual(
        c.tableChecksum(t.info, ts),
        expectedTableChecksum(catalog, t),
        "the rollback left the rows as they were",
      );
    }
  });

  test("an alive long txn stays alive by heartbeat, then commits", () => {
    const { c, catalog, advance } = setup();
    const w = new Workload(c, catalog, {
      seed: 9,
      longTxns: { alive: 1, ttlMs: 3000, aliveHoldMs: 20_000 },
    });
    const [txn] = w.openLongTxns();
    assert.ok(txn);
    for (let i = 0; i < 5; i++) {
      advance(2500);
      w.heartbeat();
      const st = c.mvcc.checkTxnStatus({
        primaryKey: txn.primary,
        lockTs: txn.startTs,
        callerStartTs: c.ts(),
        currentTs: c.ts(),
      });
      assert.ok(st.lockTtl > 3000n, `still alive after ${(i + 1) * 2.5} s`);
    }
    advance(10_000);
    w.heartbeat();
    assert.equal(w.stats.longCommitted, 1);
    assert.equal(c.mvcc.stats().locks, 0);
    const ts = c.ts();
    for (const t of catalog.tables) {
      assert.deepEqual(c.tableChecksum(t.info, ts), expectedTableChecksum(catalog, t));
    }
  });

  test("runs on timers within bounds; stop commits alive txns, keeps crashed", async () => {
    const c = new Cluster();
    const { catalog } = loadSample(c, SPEC);
    const w = new Workload(c, catalog, {
      seed: 1,
      intervalMs: 1,
      opsPerTick: 10,
      maxOps: 100,
      longTxns: { crashed: 1, alive: 1 },
    });
    w.start();
    for (let i = 0; i < 200 && w.running; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(w.running, false, "stopped by maxOps");
    assert.equal(
      w.stats.inserts + w.stats.updates + w.stats.deletes + w.stats.conflicts <= 100,
      true,
    );
    w.stop();
    assert.equal(w.stats.longCommitted, 1);
    const crashed = w.longTxns.find((t) => t.kind === "crashed")!;
    assert.ok(
      c.mvcc.scanLock(crashed.startTs, ALL, ALL).length > 0,
      "the crashed txn's locks remain",
    );
  });
});
