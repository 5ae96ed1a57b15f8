// The admin API over HTTP+JSON: status, regions, splits, merges, leader moves, store faults,
// injected errors, storage faults, GC, the workload and ground truth; bad input answers 400/404
// with one line.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hex } from "../../src/codec/bytes.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { startPlayground } from "../../src/playground/server/mod.ts";
import { SMALL_SPEC, startSmall } from "./_helpers.ts";

describe("playground admin HTTP API", () => {
  let pg: Playground;
  before(async () => {
    pg = await startSmall();
  });
  after(async () => {
    await pg.stop();
  });

  async function call(method: string, path: string, body?: unknown) {
    const res = await fetch(`${pg.adminUrl}${path}`, {
      method,
      ...(body === undefined ? {} : {
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
      }),
    });
    return { status: res.status, body: await res.json() };
  }

  test("status and stores describe the cluster", async () => {
    const { status, body } = await call("GET", "/status");
    assert.equal(status, 200);
    assert.equal(body.clusterId, String(pg.cluster.clusterId));
    assert.equal(body.pd, pg.pdAddress);
    assert.equal(body.stores.length, 3);
    assert.equal(body.regions, pg.cluster.regions.size);
    const stores = (await call("GET", "/stores")).body;
    assert.ok(stores.every((s: { stopped: boolean }) => s.stopped === false));
    const ts = (await call("GET", "/tso")).body.ts;
    assert.ok(BigInt(ts) > 0n);
  });

  test("split, merge and transfer-leader change regions", async () => {
    const t = pg.catalog!.table("shop", "users")!;
    const key = pg.catalog!.rowKvsOf(t, 500n)[0]!.key;
    const made = (await call("POST", "/regions/split", { keys: [hex(key)] })).body;
    assert.equal(made.length, 1);
    assert.equal(made[0].start, hex(key));
    const left = pg.cluster.regions.getPrevRegion(
      pg.cluster.regions.getRegionByRawKey(key)!.startKey,
    )!;
    const merged =
      (await call("POST", "/regions/merge", { source: String(left.id), target: made[0].id })).body;
    assert.equal(merged.id, made[0].id);
    assert.equal(merged.end, made[0].end);
    const r = pg.cluster.regions.getRegionById(BigInt(made[0].id))!;
    const other = r.peers.find((p) => p.storeId !== r.leader.storeId)!.storeId;
    const moved =
      (await call("POST", "/regions/transfer-leader", { region: made[0].id, store: Number(other) }))
        .body;
    assert.equal(moved.leaderStore, String(other));
    const halves = (await call("POST", "/regions/split", { region: made[0].id })).body;
    assert.equal(halves.length, 2);
    const listed = (await call("GET", `/regions?start=${hex(key)}&limit=2`)).body;
    assert.equal(listed.length, 2);
  });

  test("store faults: stop, restart, pause, slow, throttle", async () => {
    assert.equal((await call("POST", "/stores/3/stop")).status, 200);
    assert.equal(pg.cluster.faults.store(3n).stopped, true);
    assert.equal((await call("POST", "/stores/3/restart")).status, 200);
    assert.equal(pg.cluster.faults.store(3n).stopped, false);
    await call("POST", "/stores/2/pause");
    assert.equal(pg.cluster.faults.store(2n).paused, true);
    await call("POST", "/stores/2/resume");
    await call("POST", "/stores/1/slow", { delayMs: 5 });
    await call("POST", "/stores/1/throttle", { bytesPerSecond: 1000 });
    assert.deepEqual(
      { d: pg.cluster.faults.store(1n).delayMs, b: pg.cluster.faults.store(1n).bytesPerSecond },
      { d: 5, b: 1000 },
    );
    await call("POST", "/stores/1/slow", { delayMs: 0 });
    await call("POST", "/stores/1/throttle", { bytesPerSecond: 0 });
    const missing = await call("POST", "/stores/9/stop");
    assert.equal(missing.status, 404);
    assert.match(missing.body.error, /store 9 does not exist/);
  });

  test("injected region errors and storage faults can be set and cleared", async () => {
    const { body } = await call("POST", "/faults/region-errors", {
      kind: "notLeader",
      probability: 0.5,
      store: 1,
    });
    assert.equal(typeof body.id, "number");
    assert.equal(pg.cluster.faults.regionErrorRules().length, 1);
    await call("DELETE", `/faults/region-errors/${body.id}`);
    assert.equal(pg.cluster.faults.regionErrorRules().length, 0);
    const bad = await call("POST", "/faults/region-errors", { kind: "nope", probability: 1 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /kind must be one of/);
    await call("POST", "/faults/storage", { probability: 1, remaining: 1, temporary: false });
    assert.match(pg.cluster.faults.pickStorageFailure()!, /permission denied/);
    await call("POST", "/faults/storage", { probability: 1 });
    await call("DELETE", "/faults/storage");
    assert.equal(pg.cluster.faults.pickStorageFailure(), undefined);
  });

  test("ground truth of a range, a table and raw KV matches the engine's own sums", async () => {
    const ts = pg.cluster.ts();
    const t = await call("GET", `/truth/table?db=shop&table=USERS&ts=${ts}`);
    const info = pg.catalog!.table("shop", "users")!.info;
    const truth = pg.cluster.tableChecksum(info, ts);
    assert.equal(t.body.crc64xor, String(truth.crc64xor));
    assert.equal(t.body.totalKvs, String(truth.totalKvs));
    const all = await call("GET", `/truth?ts=${ts}`);
    assert.equal(
      all.body.totalKvs,
      String(pg.cluster.checksum(new Uint8Array(), new Uint8Array(), ts).totalKvs),
    );
    const raw = await call("GET", `/truth/raw?start=${hex(new TextEncoder().encode("raw_"))}`);
    assert.equal(raw.body.totalKvs, "800");
    const nope = await call("GET", `/truth/table?db=shop&table=missing&ts=${ts}`);
    assert.equal(nope.status, 404);
  });

  test("GC safe point, workload and save", async () => {
    const ts = pg.cluster.ts();
    const gc = (await call("POST", "/gc/safe-point", { safePoint: String(ts - 1000n) })).body;
    assert.equal(gc.gcSafePoint, String(ts - 1000n));
    assert.equal(
      (await call("POST", "/workload/start", { opsPerTick: 3, intervalMs: 5 })).status,
      200,
    );
    await new Promise((r) => setTimeout(r, 100));
    const stopped = (await call("POST", "/workload/stop")).body;
    assert.ok(stopped.stats.inserts + stopped.stats.updates + stopped.stats.deletes > 0);
    assert.deepEqual((await call("POST", "/save")).body, { saved: false });
    const unknown = await call("GET", "/nope");
    assert.equal(unknown.status, 404);
    const badJson = await fetch(`${pg.adminUrl}/regions/merge`, { method: "POST", body: "{" });
    assert.equal(badJson.status, 400);
    await badJson.body?.cancel();
  });

  test("the regions option splits the data into about that many regions", async () => {
    const other = await startPlayground({ data: SMALL_SPEC, regions: 400 });
    try {
      const n = other.cluster.regions.size;
      assert.ok(n >= 300 && n <= 600, `${n} regions`);
      const leaders = new Set(other.cluster.regions.all().map((r) => r.leader.storeId));
      assert.equal(leaders.size, 3, "leaders spread over the stores");
    } finally {
      await other.stop();
    }
  });
});
