import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DuplicateFileError, type KeyRange, RangeTree } from "./rangetree.ts";

const k = (...b: number[]) => new Uint8Array(b);
const E = new Uint8Array();
type F = { name: string };
const f = (name: string): F => ({ name });

function show(rs: Iterable<KeyRange>): string[] {
  return [...rs].map((r) => `[${[...r.startKey].join(".")},${[...r.endKey].join(".") || "inf"})`);
}

describe("RangeTree", () => {
  test("an empty tree leaves the whole request incomplete", () => {
    const t = new RangeTree<F>();
    assert.deepEqual(show(t.getIncompleteRanges(E, E)), ["[,inf)"]);
    assert.deepEqual(show(t.getIncompleteRanges(k(1), k(5))), ["[1,5)"]);
    assert.deepEqual(t.getIncompleteRanges(k(3), k(3)), []);
    assert.equal(t.len, 0);
  });

  test("gaps before, between and after the finished ranges are reported in key order", () => {
    const t = new RangeTree<F>();
    t.put(k(4), k(6), [f("b")]);
    t.put(k(1), k(2), [f("a")]);
    t.put(k(8), E, [f("c")]);
    assert.equal(t.len, 3);
    assert.deepEqual(show(t.getIncompleteRanges(E, E)), ["[,1)", "[2,4)", "[6,8)"]);
    assert.deepEqual(show(t.getIncompleteRanges(k(1), k(9))), ["[2,4)", "[6,8)"]);
    // A request starting inside a finished range, and one ending inside one.
    assert.deepEqual(show(t.getIncompleteRanges(k(5), k(7))), ["[6,7)"]);
    assert.deepEqual(show(t.getIncompleteRanges(k(1, 5), k(4, 1))), ["[2,4)"]);
    // Fully covered requests.
    assert.deepEqual(t.getIncompleteRanges(k(4), k(6)), []);
    assert.deepEqual(t.getIncompleteRanges(k(9), E), []);
    assert.deepEqual(show(t.ranges()), ["[1,2)", "[4,6)", "[8,inf)"]);
  });

  test("a put replaces every range it overlaps, and their files", () => {
    const t = new RangeTree<F>();
    t.put(k(1), k(3), [f("a")]);
    t.put(k(3), k(5), [f("b")]);
    t.put(k(5), k(7), [f("c")]);
    t.put(k(9), k(10), [f("d")]);
    assert.equal(t.put(k(2), k(6), [f("x")]), 3);
    assert.deepEqual(show(t), ["[2,6)", "[9,10)"]);
    assert.deepEqual([...t].flatMap((r) => r.files.map((x) => x.name)), ["x", "d"]);
    // Touching ranges do not overlap.
    assert.equal(t.put(k(6), k(9), [f("y")]), 0);
    assert.equal(t.put(k(2), k(6), [f("z")]), 1);
    assert.deepEqual(t.find(k(3))?.files, [f("z")]);
    assert.equal(t.find(k(1)), undefined);
    assert.equal(t.find(k(10)), undefined);
    // An unbounded put swallows everything after its start.
    assert.equal(t.put(k(5), E, [f("w")]), 3);
    assert.deepEqual(show(t), ["[5,inf)"]);
    assert.equal(t.find(k(200))?.files[0]?.name, "w");
  });

  test("a range whose start is after its end is refused", () => {
    assert.throws(() => new RangeTree<F>().put(k(5), k(1), []), /start key is after its end/);
  });

  test("the same file name in two ranges is a duplicate", () => {
    const t = new RangeTree<F>();
    t.put(k(1), k(2), [f("1_2_write.sst"), f("1_2_default.sst")]);
    t.put(k(2), k(3), [f("1_3_write.sst")]);
    t.checkDupFiles();
    t.put(k(3), k(4), [f("1_2_write.sst")]);
    assert.deepEqual(t.duplicateFiles(), ["1_2_write.sst"]);
    assert.throws(() => t.checkDupFiles(), (e: unknown) => {
      assert.ok(e instanceof DuplicateFileError);
      assert.deepEqual(e.names, ["1_2_write.sst"]);
      assert.match(e.message, /1_2_write\.sst/);
      return true;
    });
  });

  test("random puts agree with a brute-force model of BR's update and gap rules", () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const N = 40; // keys are single bytes 0..N-1; end N means unbounded
    for (let round = 0; round < 200; round++) {
      const t = new RangeTree<F>();
      let model: { s: number; e: number }[] = [];
      for (let i = 0; i < 12; i++) {
        const s = rnd(N);
        const e = s + 1 + rnd(N - s);
        const over = model.filter((r) => r.s < e && s < r.e);
        model = model.filter((r) => !(r.s < e && s < r.e));
        model.push({ s, e });
        const replaced = t.put(k(s), e === N ? E : k(e), [f(`${round}-${i}`)]);
        assert.equal(replaced, over.length);
      }
      model.sort((a, b) => a.s - b.s);
      assert.deepEqual(
        show(t),
        show(model.map((r) => ({ startKey: k(r.s), endKey: r.e === N ? E : k(r.e) }))),
      );
      for (let q = 0; q < 10; q++) {
        const qs = rnd(N);
        const qe = qs + 1 + rnd(N - qs);
        const covered = new Array<boolean>(N).fill(false);
        for (const r of model) for (let x = r.s; x < r.e; x++) covered[x] = true;
        const want: KeyRange[] = [];
        for (let x = qs; x < qe; x++) {
          if (covered[x]) continue;
          let y = x;
          while (y < qe && !covered[y]) y++;
          want.push({ startKey: k(x), endKey: y === N ? E : k(y) });
          x = y;
        }
        const got = t.getIncompleteRanges(k(qs), qe === N ? E : k(qe));
        assert.deepEqual(show(got), show(want), `round ${round} query [${qs},${qe})`);
      }
    }
  });

  // How fast this is, is B1's business (scripts/bench.ts, 1M regions against a floor); a unit
  // test checks only the result, as a wall-clock limit fails on a loaded machine.
  test("200k ranges put out of order are kept in key order, and their gaps are found", () => {
    const n = 200_000;
    const key = (i: number) => {
      const b = new Uint8Array(19);
      b[0] = 0x74;
      b.set([0x80, 0, 0, 0, 0, 0, 0, 42], 1);
      b[9] = 0x5f;
      b[10] = 0x72;
      new DataView(b.buffer).setUint32(15, i * 10);
      b[11] = 0x80;
      return b;
    };
    const order = Array.from({ length: n }, (_, i) => i);
    let seed = 7;
    for (let i = n - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const j = seed % (i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const t = new RangeTree<F>();
    for (const i of order) {
      if (i % 50_000 === 49_999) continue; // leave a few holes
      t.put(key(i), key(i + 1), [f(`w${i}`), f(`d${i}`)]);
    }
    const gaps = t.getIncompleteRanges(key(0), key(n));
    t.checkDupFiles();
    assert.equal(t.len, n - 4);
    assert.equal(gaps.length, 4);
    assert.deepEqual(gaps[0], { startKey: key(49_999), endKey: key(50_000) });
    let prev: Uint8Array | undefined;
    for (const r of t) {
      if (prev) assert.ok(Buffer.compare(prev, r.startKey) < 0);
      prev = r.startKey;
    }
  });

  test("streaming hands the finished prefix over in key order and refuses overlaps", () => {
    const t = new RangeTree<F>();
    // Already there before streaming: [2,3) continues the prefix from 2, [5,6) does not.
    t.put(k(2), k(3), [f("a")]);
    t.put(k(5), k(6), [f("c")]);
    const got: string[] = [];
    t.stream(k(2), (r) => got.push(`${show([r])[0]}:${r.files.map((x) => x.name).join("+")}`));
    assert.deepEqual(got, ["[2,3):a"]);
    assert.deepEqual(show(t.getIncompleteRanges(k(2), E)), ["[3,5)", "[6,inf)"]);
    // A range overlapping the handed-over prefix is refused, even if it reaches past it.
    assert.equal(t.put(k(2), k(3), [f("again")]), -1);
    assert.equal(t.put(k(1), k(4), [f("wide")]), -1);
    assert.deepEqual(show(t.getIncompleteRanges(k(2), E)), ["[3,5)", "[6,inf)"]);
    // Filling [3,5) hands over [3,5) and the waiting [5,6); the unbounded rest ends it.
    assert.equal(t.put(k(3), k(5), [f("b")]), 0);
    assert.deepEqual(got, ["[2,3):a", "[3,5):b", "[5,6):c"]);
    assert.equal(t.put(k(7), E, [f("e")]), 0);
    assert.equal(got.length, 3);
    assert.deepEqual(show(t), ["[7,inf)"]);
    assert.equal(t.put(k(6), k(7), [f("d")]), 0);
    assert.deepEqual(got.slice(3), ["[6,7):d", "[7,inf):e"]);
    assert.deepEqual(t.getIncompleteRanges(k(2), E), []);
    assert.equal(t.put(k(9), k(10), [f("late")]), -1);
    assert.equal(t.len, 5);
    assert.equal(t.handedOver, 5);
    assert.deepEqual(show(t), []);
    // Queries before the streamed range are answered from the tree alone.
    assert.deepEqual(show(t.getIncompleteRanges(k(0), k(3))), ["[0,3)"]);
    assert.throws(() => t.stream(k(0), () => {}), /already streaming/);
  });

  test("random responses, repeats and splits stream each key exactly once", () => {
    let seed = 99;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const N = 60;
    for (let round = 0; round < 300; round++) {
      const t = new RangeTree<F>();
      const start = rnd(10);
      const handed: { s: number; e: number }[] = [];
      const sink = (r: KeyRange) =>
        handed.push({ s: r.startKey[0]!, e: r.endKey.length === 0 ? N : r.endKey[0]! });
      t.stream(k(start), sink);
      // Responses for random sub-ranges of [start, N), in random order, some twice, as stores
      // answering regions that split and moved; then the fine-grained loop fills the gaps.
      for (let i = 0; i < 25; i++) {
        const s = start + rnd(N - start);
        const e = s + 1 + rnd(Math.min(6, N - s));
        t.put(k(s), e === N ? E : k(e), [f(`${round}-${i}`)]);
      }
      for (let guard = 0; guard < N; guard++) {
        const gaps = t.getIncompleteRanges(k(start), E);
        if (gaps.length === 0) break;
        for (const g of gaps) t.put(g.startKey, g.endKey, [f("fill")]);
      }
      assert.deepEqual(t.getIncompleteRanges(k(start), E), [], `round ${round}`);
      assert.deepEqual(show(t), [], `round ${round}: all handed over`);
      let at = start;
      for (const r of handed) {
        assert.equal(r.s, at, `round ${round}: contiguous and in order`);
        assert.ok(r.e > r.s);
        at = r.e;
      }
      assert.equal(at, N, `round ${round}: reaches the end`);
    }
  });
});
