import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryStorage } from "../../plugins/memory/mod.ts";
import { ManualClock } from "./clock.ts";
import { Semaphore, withConcurrencyLimit } from "./concurrency.ts";
import { isStorageError } from "./errors.ts";
import { FaultInjector, withFaults } from "./faults.ts";
import { withRateLimit } from "./rate_limit.ts";
import { ForwardingStorage } from "./_forward.ts";
import { controlLane } from "./lane.ts";
import type { ObjectStat, WriteOptions } from "./types.ts";

let n = 0;

/** Data writes block until released; anything else passes straight through. */
class Gated extends ForwardingStorage {
  started = 0;
  #release!: () => void;
  readonly gate = new Promise<void>((r) => this.#release = r);
  release() {
    this.#release();
  }
  override async writeFile(
    name: string,
    data: Uint8Array,
    opts?: WriteOptions,
  ): Promise<ObjectStat> {
    this.started++;
    if (name.startsWith("data/")) await this.gate;
    return this.inner.writeFile(name, data, opts);
  }
}

describe("concurrency limit", () => {
  test("data calls queue at the limit while lock and checkpoint calls never wait", async () => {
    const gated = new Gated(new MemoryStorage(`lim-${++n}`, ""));
    const s = withConcurrencyLimit(gated, 2);
    const data = [1, 2, 3, 4].map((i) => s.writeFile(`data/f${i}`, new Uint8Array(10)));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(gated.started, 2, "only 2 data writes reach the backend");
    // Lock and checkpoint code ask for the control lane; the name alone decides nothing.
    await controlLane(s).writeFile("backup.lock", new Uint8Array(1));
    await controlLane(s).writeFile("checkpoints/backup/meta", new Uint8Array(1));
    await s.writeFile("meta/x", new Uint8Array(1), { lane: "control" });
    assert.equal(gated.started, 5, "control calls went past the queue");
    gated.release();
    await Promise.all(data);
    assert.equal(gated.started, 7);
  });

  test("an aborted wait leaves the queue", async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const ctl = new AbortController();
    const waiting = sem.acquire(ctl.signal);
    assert.equal(sem.waiting, 1);
    ctl.abort(new Error("gone"));
    await assert.rejects(waiting, /gone/);
    assert.equal(sem.waiting, 0);
    sem.release();
    await sem.acquire();
  });
});

describe("rate limit", () => {
  test("data bytes are paced at the rate; control bytes are not", async () => {
    const clock = new ManualClock();
    const mem = new MemoryStorage(`rl-${++n}`, "");
    const s = withRateLimit(mem, { bytesPerSecond: 1000, clock });
    await s.writeFile("data/a", new Uint8Array(1000)); // the burst
    assert.deepEqual(clock.sleeps, []);
    await s.writeFile("data/b", new Uint8Array(3000));
    assert.deepEqual(clock.sleeps, [3000]);
    await controlLane(s).writeFile("x.lock", new Uint8Array(50_000));
    assert.deepEqual(clock.sleeps, [3000], "a lock write is not delayed");
    clock.advance(10_000);
    await s.readFile("data/b");
    assert.equal(clock.sleeps.length, 2);
    assert.equal(clock.sleeps[1], 2000, "a 3000-byte read after a full bucket waits 2 s");
    // Streams are charged per chunk as they are consumed.
    const r = await s.open("data/b");
    for await (const _ of r.stream) { /* drain */ }
    assert.equal(clock.sleeps.at(-1), 3000);
    const w = await s.create("data/c");
    await w.write(new Uint8Array(500));
    await w.close();
    assert.equal(clock.sleeps.at(-1), 500);
  });
});

describe("fault injection", () => {
  test("the Nth call, calls after N, and seeded probabilities strike reproducibly", async () => {
    const clock = new ManualClock();
    const run = async (seed: number) => {
      const faults = new FaultInjector([
        { ops: ["stat"], nth: 2, error: "PermissionDenied" },
        { ops: ["fileExists"], after: 3, error: "Unexpected" },
        { ops: ["readFile"], probability: 0.5, error: "RateLimited" },
        { ops: ["deleteFile"], latencyMs: 250 },
      ], { seed, clock });
      const mem = new MemoryStorage(`f-${++n}`, "");
      await mem.writeFile("x", new Uint8Array(1));
      const s = withFaults(mem, faults);
      const outcome = (p: Promise<unknown>) =>
        p.then(() => "ok", (e) => (isStorageError(e) ? e.code : "other"));
      const stats = [
        await outcome(s.stat("x")),
        await outcome(s.stat("x")),
        await outcome(s.stat("x")),
      ];
      const exists = [];
      for (let i = 0; i < 5; i++) exists.push(await outcome(s.fileExists("x")));
      const reads = [];
      for (let i = 0; i < 20; i++) reads.push(await outcome(s.readFile("x")));
      await s.deleteFile("y");
      return { stats, exists, reads };
    };
    const a = await run(42);
    assert.deepEqual(a.stats, ["ok", "PermissionDenied", "ok"]);
    assert.deepEqual(a.exists, ["ok", "ok", "ok", "Unexpected", "Unexpected"]);
    const struck = a.reads.filter((r) => r === "RateLimited").length;
    assert.ok(struck > 3 && struck < 17, `${struck} of 20 reads struck at p=0.5`);
    assert.deepEqual((await run(42)).reads, a.reads, "the same seed strikes the same calls");
    assert.notDeepEqual((await run(43)).reads, a.reads, "another seed strikes others");
    assert.ok(clock.sleeps.includes(250), "latency goes through the clock");
  });

  test("an 'after' fault applies the call, then fails it", async () => {
    const mem = new MemoryStorage(`f-${++n}`, "");
    const s = withFaults(
      mem,
      new FaultInjector([{ ops: ["writeFile"], when: "after", error: "Unexpected" }]),
    );
    await assert.rejects(s.writeFile("x", new Uint8Array(3)));
    assert.equal((await mem.stat("x")).size, 3);
  });
});

describe("concurrency limit and walkDir", () => {
  test("a walk whose callback reads what it lists does not deadlock at limit 1", async () => {
    const mem = new MemoryStorage(`walk-${++n}`, "");
    for (let i = 0; i < 5; i++) await mem.writeFile(`w/${i}`, new Uint8Array(i));
    const s = withConcurrencyLimit(mem, 1);
    let total = 0;
    await s.walkDir({ subDir: "w" }, async (name) => {
      total += (await s.readFile(name)).length;
    });
    assert.equal(total, 0 + 1 + 2 + 3 + 4);
  });
});
