import assert from "node:assert/strict";
import { RunScope } from "./run_scope.ts";

Deno.test("a watcher's failure aborts the work and run waits for it before throwing", async () => {
  const scope = new RunScope();
  let reject!: (e: unknown) => void;
  const keeperFailed = new Promise<never>((_, rej) => reject = rej);
  let workStillRunning = true;
  const work = (async () => {
    await new Promise((resolve) => scope.signal.addEventListener("abort", resolve));
    // Clean-up after the abort: run must not return before this.
    await new Promise((r) => setTimeout(r, 5));
    workStillRunning = false;
    throw scope.signal.reason;
  })();
  const done = scope.run(work, keeperFailed);
  reject(new Error("GC safe point moved past the backup ts"));
  await assert.rejects(done, /GC safe point moved/);
  assert.equal(workStillRunning, false, "the work settled before run threw");
  assert.ok(scope.signal.aborted);
});

Deno.test("the first fatal error wins and a parent abort fails the scope", async () => {
  const parent = new AbortController();
  const scope = new RunScope(parent.signal);
  parent.abort(new Error("interrupted by SIGINT"));
  scope.fail(new Error("later"));
  assert.match(String(scope.error), /SIGINT/);
  assert.throws(() => scope.throwIfFailed(), /SIGINT/);
  await assert.rejects(scope.run(Promise.resolve(1)), /SIGINT/);
  scope.close();
});

Deno.test("run returns the work's value when nothing fails", async () => {
  const scope = new RunScope();
  assert.equal(await scope.run(Promise.resolve(42), new Promise(() => {})), 42);
  assert.equal(scope.signal.aborted, false);
  scope.close();
});

Deno.test("onSignals fails the run on SIGTERM, naming it, until closed", async () => {
  const scope = new RunScope();
  const seen: string[] = [];
  scope.onSignals(["SIGTERM"], (sig) => seen.push(sig));
  const fired = new Promise((resolve) => scope.signal.addEventListener("abort", resolve));
  // Node-style signal listeners do not keep the event loop alive on their own.
  const alive = setTimeout(() => {}, 5000);
  Deno.kill(Deno.pid, "SIGTERM");
  await fired;
  clearTimeout(alive);
  assert.deepEqual(seen, ["SIGTERM"]);
  assert.match(String(scope.error), /interrupted by SIGTERM/);
  scope.close();
});
