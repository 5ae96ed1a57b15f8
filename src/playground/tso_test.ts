import { test } from "node:test";
import assert from "node:assert/strict";
import { composeTs, logicalOf, physicalOf, Tso } from "./tso.ts";

test("timestamps are physical << 18 | logical and strictly increase", () => {
  let now = 1_700_000_000_000;
  const tso = new Tso(() => now);
  const a = tso.next();
  assert.equal(physicalOf(a), now);
  assert.equal(logicalOf(a), 1);
  const b = tso.next();
  assert.ok(b > a);
  now += 5;
  const c = tso.next();
  assert.equal(c, composeTs(now, 1));
});

test("a batch reserves count values and reports the largest", () => {
  const tso = new Tso(() => 1000);
  const first = tso.next();
  const batch = tso.allocate(10);
  assert.deepEqual(batch, { physical: 1000, logical: 11 });
  assert.equal(composeTs(batch.physical, batch.logical) - 9n, first + 1n);
  assert.ok(tso.next() > composeTs(batch.physical, batch.logical));
});

test("a stalled or backward clock never repeats a timestamp", () => {
  let now = 5000;
  const tso = new Tso(() => now);
  const seen: bigint[] = [];
  for (let i = 0; i < 5; i++) {
    const t = tso.allocate(100_000);
    seen.push(composeTs(t.physical, t.logical));
  }
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!);
  now = 4000;
  const after = tso.next();
  for (const s of seen) assert.ok(after > s);
  assert.ok(physicalOf(after) >= 5001, "the logical space overflowed into the next ms");
});

test("advancePast moves the oracle beyond a saved ts", () => {
  const tso = new Tso(() => 10);
  tso.advancePast(composeTs(99, 7));
  assert.equal(tso.next(), composeTs(99, 8));
  assert.throws(() => tso.allocate(0), RangeError);
});
