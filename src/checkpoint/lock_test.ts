import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { StorageError } from "../storage/errors.ts";
import type { ObjectStat, WriteOptions } from "../storage/types.ts";
import { FakePd, memoryStorage, override, withoutConditionalWrites } from "./_test_util.ts";
import { CheckpointError, isCheckpointError } from "./errors.ts";
import { decodeLock, encodeLock, LOCK_PATH } from "./files.ts";
import { thisProcess } from "./_process.ts";
import { CheckpointLock, LOCK_RENEW_MS, LOCK_TTL_MS, physicalMs, readLock } from "./lock.ts";
import { ManualTimers } from "./timers.ts";

async function lockContent(storage: ReturnType<typeof memoryStorage>) {
  return decodeLock(await storage.readFile(LOCK_PATH));
}

async function heldError(p: Promise<unknown>): Promise<CheckpointError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CheckpointError, `not a CheckpointError: ${err}`);
    return err;
  }
  assert.fail("expected a CheckpointError");
}

describe("CheckpointLock on a storage with conditional writes", () => {
  test("is created with a TSO id and expires a TTL of PD time later", async () => {
    const storage = memoryStorage();
    const pd = new FakePd();
    const lock = await CheckpointLock.acquire(storage, {
      now: pd.now,
      renewIntervalMs: 0,
      owner: "host-a pid 1",
    });
    assert.ok(lock.conditional);
    assert.equal(physicalMs(lock.id), pd.ms);
    const info = await lockContent(storage);
    assert.deepEqual(info, {
      lockId: lock.id,
      expireAt: pd.ms + LOCK_TTL_MS,
      owner: "host-a pid 1",
      process: thisProcess(),
    });
    await lock.release();
    assert.equal(await storage.fileExists(LOCK_PATH), false, "released lock is deleted");
  });

  test("a second run is refused: who holds it, until when (UTC), how to remove it", async () => {
    const storage = memoryStorage();
    const pd = new FakePd(Date.UTC(2026, 0, 2, 12, 0, 0));
    const first = await CheckpointLock.acquire(storage, {
      now: pd.now,
      renewIntervalMs: 0,
      owner: "host-a pid 1",
    });
    pd.advance(60_000);
    const err = await heldError(
      CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 }),
    );
    assert.equal(err.code, "LockHeld");
    assert.match(
      err.message,
      new RegExp(`held by run ${first.id} \\(host-a pid 1, started 2026-01-02 12:00:00 UTC\\)`),
    );
    assert.match(err.message, /until 2026-01-02 12:05:00 UTC \(240 s from now\)/);
    assert.match(err.message, /memory:\/\/[^ ]+\/checkpoints\/backup\/checkpoint\.lock/);
    assert.match(err.message, /tibr checkpoint clean -s memory:\/\/\S+ --lock-only --force/);
    assert.doesNotMatch(err.message, /\n/);
    assert.equal((await lockContent(storage)).lockId, first.id, "the refused run wrote nothing");
  });

  test("the expired lock of a dead run is taken over", async () => {
    const storage = memoryStorage();
    const pd = new FakePd();
    const dead = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
    pd.advance(LOCK_TTL_MS);
    const next = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
    assert.notEqual(next.id, dead.id);
    assert.equal((await lockContent(storage)).lockId, next.id);
    await next.assertHeld();
  });

  test("waits for a live lock to expire when asked to", async () => {
    const storage = memoryStorage();
    const pd = new FakePd();
    await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
    const timers = new ManualTimers();
    const sleeps: number[] = [];
    const waiting = override(storage, {});
    const lock = await CheckpointLock.acquire(waiting, {
      now: pd.now,
      renewIntervalMs: 0,
      waitMs: 10 * 60_000,
      timers: {
        now: () => timers.now(),
        every: (ms, fn) => timers.every(ms, fn),
        sleep: (ms) => {
          sleeps.push(ms);
          pd.advance(ms);
          return Promise.resolve();
        },
      },
    });
    assert.ok(sleeps.length > 0 && sleeps.reduce((a, b) => a + b) >= LOCK_TTL_MS);
    assert.equal((await lockContent(storage)).lockId, lock.id);
  });

  test("is renewed every 4 minutes by PD time and so never expires while the run lives", async () => {
    const storage = memoryStorage();
    const pd = new FakePd();
    const timers = new ManualTimers();
    const lock = await CheckpointLock.acquire(storage, { now: pd.now, timers });
    for (let minute = 0; minute < 30; minute++) {
      pd.advance(60_000);
      await timers.advance(60_000);
      const info = await lockContent(storage);
      assert.ok(info.expireAt > pd.ms, `expired at minute ${minute + 1}`);
      await assert.rejects(
        CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 }),
        (e) => isCheckpointError(e, "LockHeld"),
      );
    }
    assert.equal((await lockContent(storage)).expireAt, lock.expireAt);
    assert.equal(timers.tickers, 1);
    await lock.release();
    assert.equal(timers.tickers, 0, "release stops the renewal");
    assert.equal(LOCK_RENEW_MS, 240_000);
  });

  test("fencing: a run whose lock was taken over fails its next check and renewal", async () => {
    const storage = memoryStorage();
    const pd = new FakePd();
    const stalled = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
    await stalled.assertHeld();
    pd.advance(LOCK_TTL_MS + 1);
    const other = await CheckpointLock.acquire(storage, {
      now: pd.now,
      renewIntervalMs: 0,
      owner: "host-b pid 2",
    });
    const err = await heldError(stalled.assertHeld());
    assert.equal(err.code, "LockLost");
    assert.match(err.message, new RegExp(`held by run ${other.id} \\(host-b pid 2`));
    assert.match(err.message, /rerun to resume/);
    assert.equal(stalled.lost, err);
    await assert.rejects(stalled.renew(), (e) => e === err);
    await stalled.release();
    assert.equal((await lockContent(storage)).lockId, other.id, "release left the new lock");
    await other.assertHeld();
  });

  test("a run whose lock was deleted (clean --force) loses it", async () => {
    const storage = memoryStorage();
    const pd = new FakePd();
    const lock = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
    await storage.deleteFile(LOCK_PATH);
    const err = await heldError(lock.assertHeld());
    assert.equal(err.code, "LockLost");
    assert.match(err.message, /it was removed/);
  });

  test("assertHeld renews when less than the fence margin is left", async () => {
    const storage = memoryStorage();
    const pd = new FakePd();
    const lock = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
    const first = lock.expireAt;
    pd.advance(LOCK_TTL_MS - 90_000);
    await lock.assertHeld();
    assert.equal(lock.expireAt, first, "90 s left: no renewal needed");
    pd.advance(40_000);
    await lock.assertHeld();
    assert.equal(lock.expireAt, pd.ms + LOCK_TTL_MS, "50 s left: renewed");
    assert.equal((await lockContent(storage)).expireAt, lock.expireAt);
  });

  test("an expired lock nobody took over is still ours and is renewed", async () => {
    const storage = memoryStorage();
    const pd = new FakePd();
    const lock = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
    pd.advance(LOCK_TTL_MS * 2);
    await lock.assertHeld();
    assert.equal(lock.expireAt, pd.ms + LOCK_TTL_MS);
  });

  test("a create that landed but reported a conflict is recognised as ours", async () => {
    const inner = memoryStorage();
    let once = true;
    const storage = override(inner, {
      writeFile: (async (name: string, data: Uint8Array, opts?: WriteOptions) => {
        const st: ObjectStat = await inner.writeFile(name, data, opts);
        if (once && opts?.ifNoneMatch) {
          once = false;
          throw new StorageError("lost response", {
            code: "ConditionNotMatch",
            operation: "writeFile",
            path: name,
          });
        }
        return st;
      }) as (...args: never[]) => unknown,
    });
    const pd = new FakePd();
    const lock = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
    assert.equal((await lockContent(inner)).lockId, lock.id);
    await lock.assertHeld();
  });

  test("an unreadable lock is a Corrupt error that says how to remove it", async () => {
    const storage = memoryStorage();
    await storage.writeFile(LOCK_PATH, new TextEncoder().encode("garbage"));
    const pd = new FakePd();
    const err = await heldError(
      CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 }),
    );
    assert.equal(err.code, "Corrupt");
    assert.match(err.message, /--lock-only --force/);
  });

  test("a live lock whose holder died on this host is taken over at once; another host's is not", async () => {
    const storage = memoryStorage();
    const pd = new FakePd();
    const me = thisProcess()!;
    const dead = spawnSync("true").pid!;
    const write = (hostId: string) =>
      storage.writeFile(
        LOCK_PATH,
        encodeLock({
          lockId: 7n,
          expireAt: pd.ms + LOCK_TTL_MS,
          owner: "killed run",
          process: { hostId, pid: dead, start: "1" },
        }),
      );
    await write("elsewhere");
    const err = await heldError(
      CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 }),
    );
    assert.equal(err.code, "LockHeld");
    await write(me.hostId);
    const lock = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
    assert.equal((await lockContent(storage)).lockId, lock.id);
    await lock.release();
  });
});

describe("CheckpointLock without conditional writes (BR's protocol)", () => {
  test("writes, waits 3 s, re-reads, and refuses a second run", async () => {
    const storage = withoutConditionalWrites(memoryStorage());
    const pd = new FakePd();
    const timers = new ManualTimers();
    const lock = await CheckpointLock.acquire(storage, { now: pd.now, timers, renewIntervalMs: 0 });
    assert.equal(lock.conditional, false);
    assert.equal(timers.now(), 3000, "waited 3 s before re-reading");
    await assert.rejects(
      CheckpointLock.acquire(storage, { now: pd.now, timers, renewIntervalMs: 0 }),
      (e) => isCheckpointError(e, "LockHeld") && /held by run/.test(e.message),
    );
    await lock.assertHeld();
    await lock.release();
    assert.equal(await readLock(storage), undefined);
  });

  test("of two runs that write at once, the later writer keeps it and the other stops", async () => {
    const storage = withoutConditionalWrites(memoryStorage());
    const pd = new FakePd();
    const timers = new ManualTimers();
    const results = await Promise.allSettled([
      CheckpointLock.acquire(storage, { now: pd.now, timers, renewIntervalMs: 0 }),
      CheckpointLock.acquire(storage, { now: pd.now, timers, renewIntervalMs: 0 }),
    ]);
    const won = results.filter((r) => r.status === "fulfilled");
    assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
    const holder = (won[0] as PromiseFulfilledResult<CheckpointLock>).value;
    assert.equal((await readLock(storage))!.info.lockId, holder.id);
  });

  test("an overwritten lock is lost at the next check", async () => {
    const storage = withoutConditionalWrites(memoryStorage());
    const pd = new FakePd();
    const timers = new ManualTimers();
    const lock = await CheckpointLock.acquire(storage, { now: pd.now, timers, renewIntervalMs: 0 });
    pd.advance(LOCK_TTL_MS + 1);
    const other = await CheckpointLock.acquire(storage, {
      now: pd.now,
      timers,
      renewIntervalMs: 0,
    });
    await assert.rejects(lock.assertHeld(), (e) => isCheckpointError(e, "LockLost"));
    await other.assertHeld();
  });
});
