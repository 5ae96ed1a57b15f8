import assert from "node:assert/strict";
import { BIG_HEAP_BYTES, HEAP_SLACK_BYTES, heapCheck, HeapKeeper, keepHeapTight } from "./heap.ts";
import { runtimeFullGc, runtimeName } from "./runtime.ts";

const MiB = 1024 * 1024;

/** Runs `script` on Bun from the repository root; the JSON line it prints. */
async function onBun(script: string): Promise<{ collections: number }> {
  const out = await new Deno.Command("node_modules/.bin/bun", {
    args: ["-e", script],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim());
}

Deno.test("HeapKeeper collects only once the heap grew by the slack since the last collection", () => {
  let used = 40 * MiB;
  const gcs: number[] = [];
  const keeper = new HeapKeeper(() => {
    gcs.push(used);
    used = 50 * MiB; // what the collection left
  }, { heapUsed: () => used, slackBytes: 64 * MiB });
  used = 100 * MiB;
  assert.equal(keeper.check(), false, "40 → 100 MiB is under 64 MiB of growth");
  used = 104 * MiB;
  assert.equal(keeper.check(), true);
  assert.deepEqual(gcs, [104 * MiB]);
  // The next threshold counts from what the collection left (50 MiB), not from the start.
  used = 113 * MiB;
  assert.equal(keeper.check(), false);
  used = 114 * MiB;
  assert.equal(keeper.check(), true);
  assert.equal(keeper.collections, 2);
  assert.ok(keeper.ms >= 0);
});

Deno.test("keepHeapTight does nothing without a full collection to ask for", () => {
  let looked = 0;
  const stop = keepHeapTight({ fullGc: undefined, heapUsed: () => looked++, intervalMs: 1 });
  assert.equal(stop(), undefined);
  assert.equal(looked, 0);
  assert.equal(HEAP_SLACK_BYTES, 32 * MiB);
});

Deno.test("runtimeFullGc: Bun has one, Deno none", () => {
  assert.equal(runtimeFullGc() !== undefined, runtimeName() === "bun");
});

Deno.test("on Bun the keeper's full collections bring the heap back to what is live", async () => {
  // A run's pattern: requests that live a while, then turn to garbage.
  const script = `
    import { HeapKeeper } from "./src/heap.ts";
    import { runtimeFullGc } from "./src/runtime.ts";
    const keeper = new HeapKeeper(runtimeFullGc(), { slackBytes: 4 * 1024 * 1024 });
    let inFlight = [];
    let peak = 0;
    for (let i = 0; i < 1000; i++) {
      inFlight.push(Array.from({ length: 5000 }, (_, j) => ({ i, j })));
      if (inFlight.length > 32) inFlight.shift();
      keeper.check();
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    console.log(JSON.stringify({ collections: keeper.collections, peakMiB: peak / 1048576 }));
  `;
  const r = await onBun(script);
  // 1000 × ~0.3 MiB allocated, ~10 MiB live: the slack is passed again and again.
  assert.equal(r.collections > 2, true, JSON.stringify(r));
});

Deno.test("on Bun the keeper counts ArrayBuffers outside the heap (a metafile read is one)", async () => {
  // Metafile-sized buffers read and dropped one after another: the heap itself hardly grows.
  const script = `
    import { HeapKeeper } from "./src/heap.ts";
    import { runtimeFullGc } from "./src/runtime.ts";
    const keeper = new HeapKeeper(runtimeFullGc(), { slackBytes: 64 * 1024 * 1024 });
    let held;
    for (let i = 0; i < 64; i++) {
      held = new Uint8Array(16 * 1024 * 1024).fill(i);
      keeper.check();
    }
    console.log(JSON.stringify({ collections: keeper.collections, held: held.length }));
  `;
  const r = await onBun(script);
  // 1 GiB read in 16 MiB buffers, one live at a time: a collection every 64 MiB of them.
  assert.equal(r.collections >= 4, true, JSON.stringify(r));
});

Deno.test("HeapKeeper lets a big heap grow by a quarter of its size before the next collection", () => {
  let used = 600 * MiB;
  const big = new HeapKeeper(() => {}, { heapUsed: () => used, slackBytes: 32 * MiB });
  used = 749 * MiB;
  assert.equal(big.check(), false, "149 MiB is under a quarter of 600 MiB");
  used = 750 * MiB;
  assert.equal(big.check(), true);
  // Up to BIG_HEAP_BYTES the slack alone counts, however large the heap already is.
  used = BIG_HEAP_BYTES;
  const near = new HeapKeeper(() => {}, { heapUsed: () => used, slackBytes: 32 * MiB });
  used = BIG_HEAP_BYTES + 31 * MiB;
  assert.equal(near.check(), false);
  used = BIG_HEAP_BYTES + 32 * MiB;
  assert.equal(near.check(), true);
});

Deno.test("heapCheck lets a loop without timers run the keeper's check, at most once an interval", () => {
  let used = 0;
  let gcs = 0;
  const start = (intervalMs: number) =>
    keepHeapTight({
      fullGc: () => {
        gcs++;
        used = 0;
      },
      heapUsed: () => used,
      slackBytes: 10,
      intervalMs,
    });
  const stop = start(60_000);
  used = 100;
  heapCheck(); // within the interval since the start: not looked at
  assert.equal(gcs, 0);
  heapCheck(true); // ... unless asked to look now
  assert.equal(gcs, 1);
  gcs = 0;
  stop();
  // An interval of 0: every call looks.
  used = 0;
  const stop2 = start(0);
  used = 100;
  heapCheck();
  assert.equal(gcs, 1);
  heapCheck();
  assert.equal(gcs, 1, "under the slack since the collection");
  assert.equal(stop2()?.collections, 1);
  // With no keeper running it does nothing.
  used = 100;
  heapCheck();
  assert.equal(gcs, 1);
});
