import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { compareBytes } from "../codec/bytes.ts";
import { encodeRegionKey, rawBoundOf, type Region, RegionMap } from "./regions.ts";

const enc = new TextEncoder();
const k = (s: string) => encodeRegionKey(enc.encode(s));
const dec = new TextDecoder();

function threeStores(): RegionMap {
  const m = new RegionMap();
  for (let i = 1; i <= 3; i++) m.addStore({ address: `127.0.0.1:2016${i}` });
  m.bootstrap();
  return m;
}

function assertTiles(m: RegionMap): void {
  const all = m.all();
  assert.equal(all[0]!.startKey.length, 0);
  assert.equal(all[all.length - 1]!.endKey.length, 0);
  for (let i = 1; i < all.length; i++) {
    assert.equal(compareBytes(all[i - 1]!.endKey, all[i]!.startKey), 0, "regions leave no gap");
  }
}

describe("region map", () => {
  test("bootstrap puts one region over everything with a peer on each store", () => {
    const m = threeStores();
    const r = m.getRegion(k("anything"))!;
    assert.equal(r.peers.length, 3);
    assert.deepEqual(new Set(r.peers.map((p) => p.storeId)), new Set(m.stores().map((s) => s.id)));
    assert.ok(r.peers.some((p) => p.id === r.leader.id));
    assert.equal(
      new Set([r.id, ...r.peers.map((p) => p.id), ...m.stores().map((s) => s.id)]).size,
      7,
    );
  });

  test("split keeps the id on the right piece and bumps every version", () => {
    const m = threeStores();
    const orig = m.getRegion(k("x"))!;
    const parts = m.splitRegion(orig.id, [k("m"), k("c")]);
    assert.equal(parts.length, 3);
    assert.equal(parts[2]!.id, orig.id);
    for (const p of parts) assert.equal(p.epoch.version, orig.epoch.version + 2n);
    assert.equal(dec.decode(rawBoundOf(parts[1]!.startKey)), "c");
    assert.equal(m.getRegion(k("d"))!.id, parts[1]!.id);
    assert.equal(m.getRegion(k("c"))!.id, parts[1]!.id, "a region starts at its start key");
    assert.equal(m.getRegion(k("b"))!.id, parts[0]!.id);
    assert.equal(m.getRegionByRawKey(enc.encode("zz"))!.id, orig.id);
    assert.equal(m.getPrevRegion(k("d"))!.id, parts[0]!.id);
    assert.equal(m.getPrevRegion(k("a")), undefined);
    // The caller's old record is a stale snapshot.
    assert.equal(orig.epoch.version, 1n);
    assertTiles(m);
  });

  test("splitAt ignores keys that already start a region", () => {
    const m = threeStores();
    m.splitAt([k("b"), k("d")]);
    const out = m.splitAt([k("b"), k("c")]);
    assert.equal(out.length, 1);
    assert.equal(m.size, 4);
    assertTiles(m);
  });

  test("merge joins neighbours into the target with version max + 1", () => {
    const m = threeStores();
    const [a, b, c] = m.splitAt([k("b"), k("d")]).length === 2 ? m.all() : [];
    assert.ok(a && b && c);
    const merged = m.merge(b.id, c.id);
    assert.equal(merged.id, c.id);
    assert.equal(compareBytes(merged.startKey, b.startKey), 0);
    assert.equal(
      merged.epoch.version,
      (b.epoch.version > c.epoch.version ? b.epoch.version : c.epoch.version) + 1n,
    );
    assert.equal(m.getRegionById(b.id), undefined);
    assert.throws(() => m.merge(a.id, a.id === merged.id ? c.id : 999n));
    assert.equal(m.size, 2);
    assertTiles(m);
  });

  test("transfer leader changes the leader, not the epoch", () => {
    const m = threeStores();
    const r = m.all()[0]!;
    const target = r.peers.find((p) => p.id !== r.leader.id)!;
    const moved = m.transferLeader(r.id, target.storeId);
    assert.equal(moved.leader.storeId, target.storeId);
    assert.deepEqual(moved.epoch, r.epoch);
    assert.throws(() => m.transferLeader(r.id, 12345n), /no peer on store/);
  });

  test("scan returns the regions intersecting a range, in order, up to a limit", () => {
    const m = threeStores();
    m.splitAt(["b", "d", "f", "h"].map(k));
    const ids = (rs: Region[]) => rs.map((r) => dec.decode(rawBoundOf(r.startKey)));
    assert.deepEqual(ids(m.scanRegions(k("c"), k("g"))), ["b", "d", "f"]);
    assert.deepEqual(ids(m.scanRegions(k("c"), new Uint8Array(0), 2)), ["b", "d"]);
    assert.deepEqual(ids(m.scanRegions(new Uint8Array(0), new Uint8Array(0))), [
      "",
      "b",
      "d",
      "f",
      "h",
    ]);
  });

  // Split and lookup speed at scale is B1's business (scripts/bench.ts runs the playground with
  // up to 1M regions); here only the results count, as wall-clock limits fail on a loaded machine.
  test("100k regions: every lookup finds the region holding its key", () => {
    const m = threeStores();
    const keys: Uint8Array[] = [];
    for (let i = 1; i < 100_000; i++) keys.push(k(`key${String(i).padStart(6, "0")}`));
    m.splitRegion(m.all()[0]!.id, keys);
    assert.equal(m.size, 100_000);
    for (let i = 0; i < 100_000; i++) {
      const key = k(`key${String((i * 7919) % 100_000).padStart(6, "0")}x`);
      const r = m.getRegion(key)!;
      assert.ok(compareBytes(r.startKey, key) <= 0);
      assert.ok(r.endKey.length === 0 || compareBytes(key, r.endKey) < 0);
    }
    m.scatterLeaders();
    const leaders = new Map<bigint, number>();
    for (const r of m.all()) {
      leaders.set(r.leader.storeId, (leaders.get(r.leader.storeId) ?? 0) + 1);
    }
    for (const n of leaders.values()) assert.ok(Math.abs(n - 100_000 / 3) < 10);
  });

  test("raw bounds of encoded keys", () => {
    assert.equal(dec.decode(rawBoundOf(k("abc"))), "abc");
    const withTs = new Uint8Array([...k("abc"), 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual([...rawBoundOf(withTs)], [...enc.encode("abc"), 0]);
    assert.equal(rawBoundOf(new Uint8Array(0)).length, 0);
  });
});
