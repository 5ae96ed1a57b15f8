import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryStorage } from "../../plugins/memory/mod.ts";
import { ManualClock, seededRandom } from "./clock.ts";
import { isStorageError, StorageError } from "./errors.ts";
import { FaultInjector, withFaults } from "./faults.ts";
import { backoffDelay, withRetry } from "./retry.ts";
import { ForwardingStorage } from "./_forward.ts";
import type { WalkFn, WalkOptions } from "./types.ts";

let n = 0;
function setup(rules: ConstructorParameters<typeof FaultInjector>[0] = []) {
  const mem = new MemoryStorage(`retry-${++n}`, "");
  const clock = new ManualClock();
  const faults = new FaultInjector(rules, { clock });
  const s = withRetry(withFaults(mem, faults), {
    clock,
    random: seededRandom(3),
    baseDelayMs: 100,
    maxDelayMs: 2_000,
    totalTimeMs: 10_000,
    maxAttempts: 6,
  });
  return { mem, faults, clock, s };
}

describe("retry layer", () => {
  test("backoff is full jitter under an exponential, capped ceiling", () => {
    const rnd = () => 0.999999;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, 100, 2_000, rnd)),
      [99, 199, 399, 799, 1599, 1999],
    );
    assert.equal(backoffDelay(3, 100, 2_000, () => 0), 0);
  });

  test("temporary failures are retried with backoff and the call succeeds", async () => {
    const { s, clock, faults } = setup([{ ops: ["writeFile"], times: 3, error: "RateLimited" }]);
    const st = await s.writeFile("a", new Uint8Array([1, 2, 3]));
    assert.equal(st.size, 3);
    assert.equal(faults.calls.get("writeFile"), 4);
    assert.equal(clock.sleeps.length, 3);
    clock.sleeps.forEach((d, i) => assert.ok(d >= 0 && d < 100 * 2 ** i, `delay ${i}: ${d}`));
    assert.deepEqual(await s.readFile("a"), new Uint8Array([1, 2, 3]));
  });

  test("permanent failures are not retried", async () => {
    const { s, clock, faults } = setup([{ ops: ["readFile"], error: "PermissionDenied" }]);
    await assert.rejects(s.readFile("a"), (e: unknown) => isStorageError(e, "PermissionDenied"));
    assert.equal(faults.calls.get("readFile"), 1);
    assert.equal(clock.sleeps.length, 0);
    await assert.rejects(
      s.readFile("missing"),
      (e: unknown) => isStorageError(e, "PermissionDenied"),
    );
  });

  test("gives up after maxAttempts and after the total time budget", async () => {
    const a = setup([{ ops: ["stat"], error: "Unexpected", temporary: true }]);
    await assert.rejects(a.s.stat("x"), (e: unknown) => isStorageError(e, "Unexpected"));
    assert.equal(a.faults.calls.get("stat"), 6);

    const b = setup([{ ops: ["stat"], error: "Unexpected", temporary: true, latencyMs: 4_000 }]);
    await assert.rejects(b.s.stat("x"));
    // 4 s per attempt against a 10 s budget: the third attempt would end past it.
    assert.ok(b.faults.calls.get("stat")! <= 3, `attempts: ${b.faults.calls.get("stat")}`);
  });

  test("an abort during backoff stops at once with the signal's reason", async () => {
    const mem = new MemoryStorage(`retry-${++n}`, "");
    const faults = new FaultInjector([{ ops: ["readFile"], error: "RateLimited" }]);
    const ctl = new AbortController();
    const s = withRetry(withFaults(mem, faults), {
      clock: {
        now: () => 0,
        sleep: () => (ctl.abort(new Error("stop")), Promise.reject(ctl.signal.reason)),
      },
    });
    await assert.rejects(s.readFile("a", { signal: ctl.signal }), /stop/);
    assert.equal(faults.calls.get("readFile"), 1);
  });

  test("walkDir resumes after the last delivered name, so none is seen twice", async () => {
    const mem = new MemoryStorage(`retry-${++n}`, "");
    for (let i = 0; i < 10; i++) await mem.writeFile(`w/k${i}`, new Uint8Array(i));
    let calls = 0;
    // The first listing breaks after delivering 4 names, like a connection reset mid-page.
    class FlakyWalk extends ForwardingStorage {
      override async walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
        calls++;
        let k = 0;
        await this.inner.walkDir(opts, async (name, size) => {
          if (calls === 1 && ++k > 4) {
            throw new StorageError("reset", {
              code: "Unexpected",
              operation: "walkDir",
              temporary: true,
            });
          }
          await fn(name, size);
        });
      }
    }
    const s = withRetry(new FlakyWalk(mem), { clock: new ManualClock() });
    const seen: string[] = [];
    await s.walkDir({ subDir: "w" }, (name) => {
      seen.push(name);
    });
    assert.equal(calls, 2);
    assert.deepEqual(seen, Array.from({ length: 10 }, (_, i) => `w/k${i}`));
  });

  test("a reader that fails mid-stream reopens at the next undelivered byte", async () => {
    const { s, mem, faults } = setup();
    const data = new Uint8Array(3 << 20).map((_, i) => i % 251);
    await mem.writeFile("big", data);
    faults.add({ ops: ["reader.read"], nth: 2, error: "Unexpected", temporary: true });
    faults.add({ ops: ["reader.read"], nth: 3, error: "Unexpected", temporary: true });
    let total = 0;
    const chunks: Uint8Array[] = [];
    const r = await s.open("big", { start: 10 });
    for await (const c of r.stream) {
      chunks.push(c);
      total += c.length;
    }
    assert.equal(total, data.length - 10);
    const joined = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) {
      joined.set(c, off);
      off += c.length;
    }
    assert.deepEqual(joined, data.subarray(10));
    assert.ok(faults.injected >= 2);
  });

  test("an ambiguous create-if-absent that landed is recognised as ours", async () => {
    // The first attempt is applied, then fails; the retry meets ConditionNotMatch.
    const { s, faults } = setup([{
      ops: ["writeFile"],
      nth: 1,
      when: "after",
      error: "Unexpected",
      temporary: true,
    }]);
    const st = await s.writeFile("lock", new Uint8Array([7, 7]), { ifNoneMatch: "*" });
    assert.equal(st.size, 2);
    assert.equal(faults.calls.get("writeFile"), 2);
    // Someone else's bytes: a real loss.
    faults.add({ ops: ["writeFile"], nth: 1, when: "after", error: "Unexpected", temporary: true });
    await assert.rejects(
      s.writeFile("lock", new Uint8Array([8]), { ifNoneMatch: "*" }),
      (e: unknown) => isStorageError(e, "ConditionNotMatch"),
    );
  });
});
