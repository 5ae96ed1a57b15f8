// The playground's PD at the protocol level, through tibr's generated Connect clients: members,
// TSO, region lookups with encoded keys, stores, GC safe points with TTLs on an injected
// clock, ids, splits, and PD's cluster-id check.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { encodeBytes } from "../../src/codec/bytes.ts";
import { ErrorType, type TsoRequest, TsoRequestSchema } from "../../src/gen/pdpb_pb.ts";
import { StoreState } from "../../src/gen/metapb_pb.ts";
import { PdClient } from "../../src/pd/client.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { startPlayground } from "../../src/playground/server/mod.ts";
import { Clients } from "./_helpers.ts";

const enc = (s: string) => encodeBytes(new TextEncoder().encode(s));

describe("playground PD", () => {
  let now = Date.UTC(2030, 0, 1);
  let pg: Playground;
  let c: Clients;

  before(async () => {
    pg = await startPlayground({ data: "empty", stores: 4, clock: () => now, clusterId: 4242n });
    // A few regions to look up: [, b) [b, m) [m, t) [t, )
    pg.cluster.regions.splitAt([enc("b"), enc("m"), enc("t")]);
    c = new Clients(pg);
  });
  after(async () => {
    c.close();
    await pg.stop();
  });

  test("GetMembers names this PD as leader and reports the cluster id without checking it", async () => {
    const m = await c.pd.getMembers({ header: { clusterId: 999n } });
    assert.equal(m.header?.clusterId, 4242n);
    assert.deepEqual(m.leader?.clientUrls, [`http://${pg.pdAddress}`]);
    assert.equal(m.members.length, 1);
  });

  test("a wrong cluster id is refused with FailedPrecondition as PD does; zero is accepted", async () => {
    await assert.rejects(
      c.pd.getAllStores({ header: { clusterId: 7n } }),
      (err: unknown) => {
        const ce = ConnectError.from(err);
        assert.equal(ce.code, Code.FailedPrecondition);
        assert.equal(ce.rawMessage, "mismatch cluster id, need 4242 but got 7");
        return true;
      },
    );
    const r = await c.pd.getAllStores({});
    assert.equal(r.stores.length, 4);
  });

  test("TSO is strictly increasing and a batch answers its largest logical", async () => {
    const header = c.header;
    async function* reqs(): AsyncIterable<TsoRequest> {
      for (const count of [1, 10, 1, 300, 2]) yield create(TsoRequestSchema, { header, count });
    }
    const seen: bigint[] = [];
    for await (const r of c.pd.tso(reqs())) {
      const t = r.timestamp!;
      const ts = (t.physical << 18n) | t.logical;
      // The batch is [ts - count + 1, ts]: every value above the previous batch.
      const first = ts - BigInt(r.count) + 1n;
      if (seen.length > 0) assert.ok(first > seen[seen.length - 1]!, "batches overlap");
      seen.push(ts);
    }
    assert.equal(seen.length, 5);
    // The clock stands still, so the logical part counts the whole batch sizes.
    now += 5;
    const pd = await PdClient.connect({ endpoints: [pg.pdAddress] });
    try {
      const a = await pd.getTS();
      const b = await pd.getTS();
      assert.ok(b > a && a > seen[4]!);
      assert.equal(Number(a >> 18n), now);
    } finally {
      pd.close();
    }
  });

  test("a Tso request with the wrong cluster id fails the stream", async () => {
    async function* reqs(): AsyncIterable<TsoRequest> {
      yield create(TsoRequestSchema, { header: { clusterId: 1n }, count: 1 });
    }
    await assert.rejects(async () => {
      for await (const _ of c.pd.tso(reqs())) { /* drain */ }
    }, (err: unknown) => ConnectError.from(err).code === Code.FailedPrecondition);
  });

  test("GetRegion, GetPrevRegion, GetRegionByID look regions up by encoded key, with leaders", async () => {
    const r = await c.pd.getRegion({ header: c.header, regionKey: enc("c") });
    assert.deepEqual(r.region?.startKey, enc("b"));
    assert.deepEqual(r.region?.endKey, enc("m"));
    assert.ok(r.leader && r.region!.peers.some((p) => p.id === r.leader!.id));
    assert.ok(r.region!.regionEpoch!.version > 1n);
    const prev = await c.pd.getPrevRegion({ header: c.header, regionKey: enc("c") });
    assert.deepEqual(prev.region?.startKey, new Uint8Array(0));
    assert.deepEqual(prev.region?.endKey, enc("b"));
    const first = await c.pd.getPrevRegion({ header: c.header, regionKey: enc("a") });
    assert.equal(first.region, undefined);
    const byId = await c.pd.getRegionByID({ header: c.header, regionId: r.region!.id });
    assert.deepEqual(byId.region, r.region);
    const none = await c.pd.getRegionByID({ header: c.header, regionId: 987654n });
    assert.equal(none.region, undefined);
    assert.equal(none.header?.error, undefined);
  });

  test("ScanRegions fills both the regions list and the legacy metas and leaders", async () => {
    const r = await c.pd.scanRegions({
      header: c.header,
      startKey: enc("c"),
      endKey: enc("u"),
      limit: 0,
    });
    assert.equal(r.regions.length, 3);
    assert.equal(r.regionMetas.length, 3);
    assert.equal(r.leaders.length, 3);
    assert.deepEqual(r.regions.map((x) => x.region!.id), r.regionMetas.map((x) => x.id));
    assert.deepEqual(r.regions.map((x) => x.leader!.id), r.leaders.map((x) => x.id));
    const limited = await c.pd.scanRegions({
      header: c.header,
      startKey: new Uint8Array(),
      limit: 2,
    });
    assert.equal(limited.regions.length, 2);
    // With 4 stores and 3 peers per region, not every store holds every region.
    for (const x of r.regions) assert.equal(x.region!.peers.length, 3);
  });

  test("GetAllStores can exclude tombstones, GetStore reports them, unknown stores are errors", async () => {
    pg.cluster.regions.updateStore(4n, { state: "Tombstone" });
    try {
      const all = await c.pd.getAllStores({ header: c.header });
      assert.equal(all.stores.length, 4);
      const live = await c.pd.getAllStores({ header: c.header, excludeTombstoneStores: true });
      assert.deepEqual(live.stores.map((s) => s.id), [1n, 2n, 3n]);
      assert.ok(
        live.stores.every((s) => s.state === StoreState.Up && s.address.startsWith("127.0.0.1:")),
      );
      const t = await c.pd.getStore({ header: c.header, storeId: 4n });
      assert.equal(t.header?.error?.type, ErrorType.STORE_TOMBSTONE);
      await assert.rejects(
        c.pd.getStore({ header: c.header, storeId: 77n }),
        /invalid store ID 77/,
      );
    } finally {
      pg.cluster.regions.updateStore(4n, { state: "Up" });
    }
  });

  test("service GC safe points expire after their TTL; the GC safe point only moves forward", async () => {
    const sid = new TextEncoder().encode("br-test");
    const r = await c.pd.updateServiceGCSafePoint({
      header: c.header,
      serviceId: sid,
      TTL: 60n,
      safePoint: 500n,
    });
    assert.equal(r.minSafePoint, 0n); // gc_worker at 0 is still the minimum
    const g = await c.pd.updateGCSafePoint({ header: c.header, safePoint: 300n });
    assert.equal(g.newSafePoint, 300n);
    const back = await c.pd.updateGCSafePoint({ header: c.header, safePoint: 100n });
    assert.equal(back.newSafePoint, 300n);
    assert.equal((await c.pd.getGCSafePoint({ header: c.header })).safePoint, 300n);
    // A service below the current minimum is refused: the minimum is returned unchanged.
    const low = await c.pd.updateServiceGCSafePoint({
      header: c.header,
      serviceId: new TextEncoder().encode("late"),
      TTL: 60n,
      safePoint: 200n,
    });
    assert.equal(low.minSafePoint, 300n);
    assert.equal(new TextDecoder().decode(low.serviceId), "gc_worker");
    // br-test holds 500 for 60 s; once gc_worker moves past it, br-test is the minimum.
    await c.pd.updateGCSafePoint({ header: c.header, safePoint: 800n });
    let m = await c.pd.updateServiceGCSafePoint({
      header: c.header,
      serviceId: new TextEncoder().encode("probe"),
      TTL: 0n,
      safePoint: 0n,
    });
    assert.equal(m.minSafePoint, 500n);
    assert.equal(new TextDecoder().decode(m.serviceId), "br-test");
    now += 61_000;
    m = await c.pd.updateServiceGCSafePoint({
      header: c.header,
      serviceId: new TextEncoder().encode("probe"),
      TTL: 0n,
      safePoint: 0n,
    });
    assert.equal(m.minSafePoint, 800n, "br-test expired");
  });

  test("AllocID hands out fresh ids; SplitRegions and ScatterRegion change regions", async () => {
    const a = await c.pd.allocID({ header: c.header });
    const b = await c.pd.allocID({ header: c.header, count: 5 });
    assert.ok(b.id > a.id);
    assert.equal(b.count, 5);
    const s = await c.pd.splitRegions({ header: c.header, splitKeys: [enc("e"), enc("f")] });
    assert.equal(s.finishedPercentage, 100n);
    assert.equal(s.regionsId.length, 2);
    const r = await c.pd.getRegion({ header: c.header, regionKey: enc("e") });
    assert.deepEqual(r.region?.startKey, enc("e"));
    const before = r.leader!.storeId;
    const sc = await c.pd.scatterRegion({ header: c.header, regionsId: [r.region!.id, 424242n] });
    assert.deepEqual(sc.failedRegionsId, [424242n]);
    // The scatter runs as an operator (or needs none when the region is already placed);
    // scatter_test.ts follows operators to the end.
    const op = await c.pd.getOperator({ header: c.header, regionId: r.region!.id });
    assert.ok(
      op.header?.error?.message === "Not Found" || new TextDecoder().decode(op.desc) ===
          "scatter-region",
    );
    void before;
  });

  test("during an election PD answers not leader; tibr's client waits it out", async () => {
    pg.admin.pdElection(400);
    await assert.rejects(c.pd.getAllStores({ header: c.header }), (err: unknown) => {
      const ce = ConnectError.from(err);
      return ce.code === Code.Unavailable && ce.rawMessage === "not leader";
    });
    const m = await c.pd.getMembers({});
    assert.equal(m.leader, undefined);
    const pd = await PdClient.connect({ endpoints: [pg.pdAddress] }).catch(async () => {
      // Discovery itself may meet the election; a second attempt after it succeeds.
      await new Promise((r) => setTimeout(r, 500));
      return await PdClient.connect({ endpoints: [pg.pdAddress] });
    });
    try {
      pg.admin.pdElection(300);
      const t0 = performance.now();
      assert.ok((await pd.getTS()) > 0n);
      assert.ok(performance.now() - t0 >= 250, "retried until the election ended");
    } finally {
      pd.close();
    }
  });
});
