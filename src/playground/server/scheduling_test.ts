import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { encodeBytes } from "../../codec/bytes.ts";
import { OperatorStatus } from "../../gen/pdpb_pb.ts";
import { Cluster } from "../cluster.ts";
import { parseGoDuration, PdScheduling } from "./scheduling.ts";

const b = (s: string) => new TextEncoder().encode(s);

/** A cluster of `stores` stores split at `keys`, with a hand-driven clock. */
function setup(stores: number, keys: string[], scatterMs = 0) {
  let now = 1_000_000;
  const cluster = new Cluster({ stores, clock: () => now });
  cluster.regions.splitAt(keys.map((k) => encodeBytes(b(k))));
  const s = new PdScheduling(cluster, { scatterMs, now: () => now });
  return { cluster, s, tick: (ms: number) => (now += ms) };
}

describe("PD scheduling state", () => {
  test("a pause lapses after its delay; delay 0 resumes; all names every scheduler", () => {
    const { s, tick } = setup(3, []);
    s.pauseOrResume("balance-leader-scheduler", 10);
    assert.equal(s.isPaused("balance-leader-scheduler"), true);
    tick(9_999);
    assert.equal(s.isPaused("balance-leader-scheduler"), true);
    tick(1);
    assert.equal(s.isPaused("balance-leader-scheduler"), false);
    s.pauseOrResume("all", 60);
    assert.ok(s.schedulers().every((n) => s.isPaused(n)));
    s.pauseOrResume("all", 0);
    assert.ok(s.schedulers().every((n) => !s.isPaused(n)));
    assert.throws(() => s.pauseOrResume("nope", 1), /ErrSchedulerNotFound/);
  });

  test("TTL'd schedule items override the persisted ones until they lapse", () => {
    const { s, tick } = setup(3, []);
    s.setScheduleTtl({ "max-merge-region-keys": 0 }, 300);
    assert.equal(s.effective("max-merge-region-keys"), 0);
    assert.equal(s.scheduleConfig()["max-merge-region-keys"], 540000);
    tick(300_000);
    assert.equal(s.effective("max-merge-region-keys"), 540000);
    s.setScheduleTtl({ "max-merge-region-size": 0 }, 300);
    s.setScheduleTtl({ "max-merge-region-size": 0 }, 0);
    assert.equal(s.effective("max-merge-region-size"), 54);
    assert.throws(() => s.setSchedule({ "no-such": 1 }), /config item no-such not found/);
    s.setScheduleTtl({ "leader-schedule-limit": 64 }, 60);
    assert.throws(() => s.setSchedule({ "leader-schedule-limit": 8 }), /clean up TTL first/);
    assert.throws(() => s.setScheduleTtl({ "split-merge-interval": "1h" }, 60), /unsupported ttl/);
  });

  test("scatter evens peers and leaders of a group over the live stores", () => {
    const { cluster, s } = setup(5, ["b", "c", "d", "e", "f", "g", "h", "i", "j"]);
    const ids = cluster.regions.all().map((r) => r.id);
    assert.deepEqual(s.scatter(ids, "g"), []);
    const peers = new Map<bigint, number>();
    const leaders = new Map<bigint, number>();
    for (const r of cluster.regions.all()) {
      for (const p of r.peers) peers.set(p.storeId, (peers.get(p.storeId) ?? 0) + 1);
      leaders.set(r.leader.storeId, (leaders.get(r.leader.storeId) ?? 0) + 1);
      assert.equal(new Set(r.peers.map((p) => p.storeId)).size, 3);
    }
    // 10 regions x 3 peers over 5 stores; 10 leaders over 5 stores.
    assert.deepEqual([...peers.values()], [6, 6, 6, 6, 6]);
    assert.deepEqual([...leaders.values()], [2, 2, 2, 2, 2]);
    assert.ok(ids.every((id) => {
      const op = s.operator(id);
      return op === undefined || op.status === OperatorStatus.SUCCESS;
    }));
  });

  test("an operator is canceled when its region splits first; a stopped store takes nothing", () => {
    const { cluster, s, tick } = setup(4, ["m"], 100);
    const [left, right] = cluster.regions.all();
    // The first region stays where it is (nothing placed yet); the second then goes to store 4.
    assert.deepEqual(s.scatter([left!.id, right!.id], "x"), []);
    assert.equal(s.operator(left!.id), undefined);
    const op = s.operator(right!.id)!;
    assert.equal(op.status, OperatorStatus.RUNNING);
    assert.ok(op.stores.includes(4n));
    assert.deepEqual(s.scatter([right!.id], "x"), [right!.id], "busy with an operator");
    cluster.regions.splitAt([encodeBytes(b("t"))]);
    tick(100);
    assert.equal(s.operator(right!.id)!.status, OperatorStatus.CANCEL);
    assert.ok(cluster.regions.all().every((r) => r.peers.every((p) => p.storeId !== 4n)));
    cluster.faults.setStore(4n, { stopped: true });
    cluster.faults.setStore(3n, { stopped: true });
    const ids = cluster.regions.all().map((r) => r.id);
    assert.deepEqual(s.scatter(ids, "y").sort(), ids.sort(), "two live stores cannot hold 3 peers");
    s.close();
  });

  test("Go durations parse as PD writes them", () => {
    assert.equal(parseGoDuration("5m0s"), 300_000);
    assert.equal(parseGoDuration("1h"), 3_600_000);
    assert.equal(parseGoDuration("1.5s"), 1500);
    assert.equal(parseGoDuration("0s"), 0);
    assert.throws(() => parseGoDuration("5 minutes"), /invalid duration/);
  });
});
