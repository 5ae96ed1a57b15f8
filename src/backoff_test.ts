import assert from "node:assert/strict";
import { Backoffer, BackoffExhaustedError, BO } from "./backoff.ts";
import { ManualClock } from "./storage/clock.ts";

Deno.test("each kind grows on its own attempts: regionMiss doubles from 2 ms to its 500 ms cap", async () => {
  const clock = new ManualClock();
  const bo = new Backoffer({ budgetMs: 0, clock });
  for (let i = 0; i < 10; i++) await bo.backoff(BO.regionMiss, "epoch not match");
  await bo.backoff(BO.staleCmd, "stale command");
  assert.deepEqual(clock.sleeps, [2, 4, 8, 16, 32, 64, 128, 256, 500, 500, 2]);
  assert.equal(bo.sleptMs, clock.now());
});

Deno.test("equal jitter sleeps between half and all of the exponential delay", () => {
  const low = new Backoffer({ budgetMs: 0, random: () => 0 });
  const high = new Backoffer({ budgetMs: 0, random: () => 0.9999 });
  // pdRPC: 500 ms base, 3000 ms cap (client-go config/retry/config.go).
  assert.deepEqual([0, 1, 2, 3].map(() => low.nextDelay(BO.pdRPC)), [250, 500, 1000, 1500]);
  assert.deepEqual([0, 1, 2, 3].map(() => high.nextDelay(BO.pdRPC)), [499, 999, 1999, 2999]);
});

// tikv/client-go config/retry/backoff_test.go TestBackoffWithMax: a lock-fast backoff capped at
// 5 ms sleeps 5 ms.
Deno.test("a per-sleep cap bounds one delay (client-go TestBackoffWithMax)", async () => {
  const clock = new ManualClock();
  const bo = new Backoffer({ budgetMs: 2000, clock, random: () => 0.5 });
  await bo.backoff(BO.txnLockFast, "test", { maxSleepMs: 5 });
  assert.equal(bo.sleptMs, 5);
});

Deno.test("the budget is never overrun: the sleep that would pass it throws instead", async () => {
  const clock = new ManualClock();
  const bo = new Backoffer({ budgetMs: 80_000, clock });
  await bo.sleepFor(20_000, "store 4 cannot be reached");
  await bo.sleepFor(20_000, "store 4 cannot be reached");
  await bo.sleepFor(20_000, "store 4 cannot be reached");
  await bo.sleepFor(20_000, "store 4 cannot be reached");
  const err = await bo.sleepFor(1, "store 4 cannot be reached").catch((e) => e);
  assert.ok(err instanceof BackoffExhaustedError);
  assert.equal(err.sleptMs, 80_000);
  assert.match(err.message, /gave up after 80 s of its 80 s retry budget .*store 4/);
  assert.equal(clock.now(), 80_000);
});

Deno.test("an aborted signal stops the next backoff with its reason", async () => {
  const ac = new AbortController();
  const bo = new Backoffer({ budgetMs: 0, clock: new ManualClock(), signal: ac.signal });
  await bo.backoff(BO.tikvRPC, "unavailable");
  ac.abort(new Error("interrupted"));
  await assert.rejects(bo.backoff(BO.tikvRPC, "unavailable"), /interrupted/);
});
