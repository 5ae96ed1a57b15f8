// PD's scatter operators and its HTTP API on the PD port: ScatterRegion moves peers and leaders
// across four stores through operators GetOperator reports (tikv/pd's grpc_service.go answers),
// and a scheduler paused with a delay resumes by itself, as PD's coordinator does; the schedule
// config takes TTL'd values that lapse (pd server/api config.go), as BR's pdutil sets them.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { encodeBytes } from "../../src/codec/bytes.ts";
import { OperatorStatus } from "../../src/gen/pdpb_pb.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import { Clients } from "./_helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("PD scheduling in the playground", () => {
  let pg: Playground;
  let c: Clients;
  let base = "";
  before(async () => {
    pg = await startPlayground({ data: "empty", stores: 4, scatterMs: 300 });
    c = new Clients(pg);
    base = `http://${pg.pdAddress}/pd/api/v1`;
  });
  after(async () => {
    c?.close();
    await pg?.stop();
  });

  async function http(method: string, path: string, body?: unknown) {
    const r = await fetch(base + path, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: r.status, body: await r.json() };
  }

  test("ScatterRegion moves peers and leaders through operators GetOperator reports", async () => {
    const split = await c.pd.splitRegions({
      header: c.header,
      splitKeys: ["k1", "k2", "k3", "k4", "k5", "k6", "k7"].map((k) => encodeBytes(enc(k))),
    });
    const ids = pg.cluster.regions.all().map((r) => r.id);
    assert.equal(ids.length, 8);
    assert.ok(split.regionsId.length >= 7);
    const before = new Map(pg.cluster.regions.all().map((r) => [r.id, r]));
    assert.ok([...before.values()].every((r) => r.peers.every((p) => p.storeId !== 4n)));

    const sc = await c.pd.scatterRegion({ header: c.header, regionsId: ids, group: "t1" });
    assert.equal(sc.finishedPercentage, 100n);
    assert.deepEqual(sc.failedRegionsId, []);
    const statuses = await Promise.all(
      ids.map((id) => c.pd.getOperator({ header: c.header, regionId: id })),
    );
    const running = statuses.filter((o) => o.status === OperatorStatus.RUNNING && !o.header?.error);
    assert.ok(running.length > 0, "some regions have a running scatter operator");
    for (const o of running) assert.equal(new TextDecoder().decode(o.desc), "scatter-region");

    for (const id of ids) {
      for (;;) {
        const o = await c.pd.getOperator({ header: c.header, regionId: id });
        if (o.header?.error) {
          assert.equal(o.header.error.message, "Not Found");
          break;
        }
        if (o.status !== OperatorStatus.RUNNING) {
          assert.equal(o.status, OperatorStatus.SUCCESS);
          break;
        }
        await sleep(10);
      }
    }
    const afterScatter = pg.cluster.regions.all();
    const peers = new Map<bigint, number>();
    const leaders = new Map<bigint, number>();
    for (const r of afterScatter) {
      for (const p of r.peers) peers.set(p.storeId, (peers.get(p.storeId) ?? 0) + 1);
      leaders.set(r.leader.storeId, (leaders.get(r.leader.storeId) ?? 0) + 1);
    }
    // 8 regions x 3 peers over 4 stores, 8 leaders over 4 stores: PD's scatterer evens them.
    assert.deepEqual([...peers.values()].sort(), [6, 6, 6, 6]);
    assert.deepEqual([...leaders.values()].sort(), [2, 2, 2, 2]);
    const moved = afterScatter.filter((r) => r.epoch.confVer > before.get(r.id)!.epoch.confVer);
    assert.ok(moved.length > 0, "peers moved, so conf_ver grew");
    // A client holding the old epoch is told the region changed.
    const r = moved[0]!;
    const old = before.get(r.id)!;
    const resp = await c.tikv(r.leader.storeId).kvGet({
      context: {
        regionId: r.id,
        regionEpoch: { confVer: old.epoch.confVer, version: old.epoch.version },
        peer: r.leader,
      },
      key: new Uint8Array(0),
      version: pg.cluster.ts(),
    });
    assert.ok(resp.regionError?.epochNotMatch);
    assert.equal(
      (pg.admin.status().scheduling as { operators: { running: number } })
        .operators.running,
      0,
    );
  });

  test("PD's HTTP API shares the port with gRPC: version, schedulers, schedule config", async () => {
    assert.deepEqual(await http("GET", "/config/cluster-version"), {
      status: 200,
      body: "8.5.0",
    });
    assert.equal((await http("GET", "/version")).body.version, "v8.5.0");
    const list = await http("GET", "/schedulers");
    assert.ok(list.body.includes("balance-leader-scheduler"));
    assert.ok(list.body.includes("balance-region-scheduler"));
    assert.deepEqual(await http("POST", "/schedulers/no-such-scheduler", { delay: 5 }), {
      status: 500,
      body: "[PD:scheduler:ErrSchedulerNotFound]scheduler not found",
    });
    assert.deepEqual(await http("POST", "/schedulers/balance-leader-scheduler", {}), {
      status: 400,
      body: "missing pause time",
    });
    const cfg = await http("GET", "/config/schedule");
    assert.equal(cfg.body["max-merge-region-keys"], 540000);
    assert.equal(cfg.body["enable-location-replacement"], "true");
    assert.deepEqual(await http("POST", "/config/schedule", { "leader-schedule-limit": 16 }), {
      status: 200,
      body: "The config is updated.",
    });
    assert.equal((await http("GET", "/config/schedule")).body["leader-schedule-limit"], 16);
    // PD decodes the body into its config struct: unknown fields are dropped, not refused.
    assert.equal((await http("POST", "/config/schedule", { "no-such-item": 1 })).status, 200);
    assert.equal((await http("GET", "/config/schedule")).body["no-such-item"], undefined);
    assert.deepEqual(await http("POST", "/config", { "schedule.no-such-item": 1 }), {
      status: 400,
      body: "config item no-such-item not found",
    });
    const members = await c.pd.getMembers({});
    assert.ok(members.leader, "gRPC still answers on the same port");
  });

  test("a paused scheduler and TTL'd config lapse by themselves", async () => {
    const paused = await http("POST", "/schedulers/balance-leader-scheduler", { delay: 1 });
    assert.deepEqual(paused, { status: 200, body: "Pause or resume the scheduler successfully." });
    await http("POST", "/schedulers/balance-region-scheduler", { delay: 60 });
    assert.deepEqual(
      (await http("GET", "/schedulers?status=paused")).body.sort(),
      ["balance-leader-scheduler", "balance-region-scheduler"],
    );
    const times = (await http("GET", "/schedulers?status=paused&timestamp")).body;
    assert.equal(times.length, 2);
    assert.match(times[0].resume_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const ttl = await http("POST", "/config?ttlSecond=1", {
      "schedule.max-merge-region-keys": 0,
      "schedule.enable-location-replacement": "false",
    });
    assert.deepEqual(ttl, { status: 200, body: "The config is updated." });
    assert.deepEqual(
      await http("POST", "/config/schedule", { "max-merge-region-keys": 1 }),
      { status: 400, body: "need to clean up TTL first for schedule.max-merge-region-keys" },
    );
    assert.deepEqual(
      await http("POST", "/config?ttlSecond=1", { "schedule.split-merge-interval": "1h" }),
      { status: 400, body: "unsupported ttl config schedule.split-merge-interval" },
    );
    assert.equal(pg.scheduling.effective("max-merge-region-keys"), 0);
    // As PD, the persisted config does not show TTL'd values.
    assert.equal((await http("GET", "/config/schedule")).body["max-merge-region-keys"], 540000);
    const status = pg.admin.status().scheduling as {
      schedulers: { name: string; paused: boolean }[];
      scheduleTtl: Record<string, unknown>;
    };
    assert.ok(status.schedulers.find((s) => s.name === "balance-leader-scheduler")!.paused);
    assert.ok("max-merge-region-keys" in status.scheduleTtl);

    await sleep(1100);
    assert.deepEqual((await http("GET", "/schedulers?status=paused")).body, [
      "balance-region-scheduler",
    ]);
    assert.equal(pg.scheduling.effective("max-merge-region-keys"), 540000);
    assert.equal(pg.scheduling.effective("enable-location-replacement"), "true");
    // delay 0 resumes at once, as BR's undo does.
    await http("POST", "/schedulers/balance-region-scheduler", { delay: 0 });
    assert.deepEqual((await http("GET", "/schedulers?status=paused")).body, []);
  });
});
