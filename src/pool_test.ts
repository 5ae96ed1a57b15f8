import assert from "node:assert/strict";
import { forEachPool, mapPool, Pool } from "./pool.ts";

/** A promise with its resolvers, to drive tasks by hand. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

Deno.test("pool starts nothing after a failure and waits for the running tasks", async () => {
  const started: number[] = [];
  const gates = Array.from({ length: 10 }, () => deferred());
  let slowSawAbort = false;
  const failures: unknown[] = [];
  const opts = { concurrency: 3, onFail: (e: unknown) => failures.push(e) };
  const run = forEachPool(gates, opts, async (gate, i, signal) => {
    started.push(i);
    signal.addEventListener("abort", () => {
      if (i === 0) slowSawAbort = true;
    });
    await gate.promise;
  });
  await tick();
  assert.deepEqual(started, [0, 1, 2]);
  let settled = false;
  void run.catch(() => {}).finally(() => settled = true);
  gates[1]!.reject(new Error("range 1 failed"));
  await tick();
  // Task 0 still runs: the pool has not settled, and saw the abort.
  assert.equal(settled, false);
  assert.ok(slowSawAbort);
  assert.equal(failures.length, 1, "onFail runs at the failure, before the pool settles");
  gates[2]!.resolve();
  gates[0]!.resolve();
  await assert.rejects(run, /range 1 failed/);
  assert.deepEqual(started, [0, 1, 2], "no task starts after the failure");
});

Deno.test("pool keeps at most `concurrency` tasks running", async () => {
  let running = 0, peak = 0;
  const out = await mapPool(
    Array.from({ length: 20 }, (_, i) => i),
    { concurrency: 4 },
    async (n) => {
      running++;
      peak = Math.max(peak, running);
      await tick();
      running--;
      return n * 2;
    },
  );
  assert.equal(peak, 4);
  assert.deepEqual(out, Array.from({ length: 20 }, (_, i) => i * 2));
});

Deno.test("pool starts nothing once the caller's signal aborts, and rethrows its reason", async () => {
  const ac = new AbortController();
  const started: number[] = [];
  const gate = deferred();
  const run = forEachPool([0, 1, 2, 3], { concurrency: 2, signal: ac.signal }, async (i, _, s) => {
    started.push(i);
    await Promise.race([
      gate.promise,
      new Promise((_, rej) => s.addEventListener("abort", () => rej(s.reason))),
    ]);
  });
  await tick();
  ac.abort(new Error("interrupted"));
  await assert.rejects(run, /interrupted/);
  assert.deepEqual(started, [0, 1]);
  const late = forEachPool([0], { concurrency: 1, signal: ac.signal }, () => {
    throw new Error("must not start");
  });
  await assert.rejects(late, /interrupted/);
});

Deno.test("submit applies back-pressure and a synchronous throw counts as a failure", async () => {
  const pool = new Pool({ concurrency: 1 });
  const gate = deferred();
  await pool.submit(() => gate.promise);
  let second = false;
  const waiting = pool.submit(() => {
    second = true;
    return Promise.resolve();
  });
  await tick();
  assert.equal(second, false, "the second task waits for the slot");
  gate.resolve();
  await waiting;
  await pool.drain();
  assert.equal(second, true);

  const bad = new Pool({ concurrency: 2 });
  await bad.submit(() => {
    throw new Error("sync");
  });
  await assert.rejects(bad.submit(() => Promise.resolve()), /sync/);
  await assert.rejects(bad.drain(), /sync/);
  assert.ok(bad.signal.aborted);
});

Deno.test("producers waiting on a full pool never over-issue when a slot frees", async () => {
  const pool = new Pool({ concurrency: 4 });
  let running = 0, most = 0;
  const task = async () => {
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, 2));
    running--;
  };
  // Twelve producers submit at once, as a runner flushing batches without awaiting does.
  await Promise.all(Array.from({ length: 12 }, () => pool.submit(task)));
  await pool.drain();
  assert.equal(most, 4);
});
