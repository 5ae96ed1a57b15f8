/**
 * Lock race scenarios shared by the storage-specific tests: N runs acquiring at once must yield
 * exactly one holder, on a free lock and on the expired lock of a dead run; a run whose lock was
 * taken over must fail its fencing check.
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isCheckpointError } from "../../src/checkpoint/errors.ts";
import { encodeLock, LOCK_PATH } from "../../src/checkpoint/files.ts";
import { CheckpointLock, LOCK_TTL_MS, readLock } from "../../src/checkpoint/lock.ts";
import type { ExternalStorage } from "../../src/storage/types.ts";
import { FakePd } from "../../src/checkpoint/_test_util.ts";

/** Options of `lockRaceTests`. */
export interface RaceOptions {
  /** A fresh, empty storage for one test. */
  open: () => Promise<ExternalStorage>;
  /** Runs racing at once. */
  runners: number;
  /** Rounds of the free-lock race. */
  rounds: number;
  /** Rounds of the expired-lock race. */
  takeoverRounds: number;
}

async function race(storage: ExternalStorage, pd: FakePd, n: number) {
  const results = await Promise.allSettled(
    Array.from(
      { length: n },
      (_, i) =>
        CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0, owner: `racer ${i}` }),
    ),
  );
  const won = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  const lost = results.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
  for (const err of lost) {
    assert.ok(isCheckpointError(err, "LockHeld"), `a loser failed otherwise: ${err}`);
  }
  return { won, lost };
}

/** Registers the race tests for one storage. */
export function lockRaceTests(name: string, opts: RaceOptions): void {
  test(`${name}: exactly one of ${opts.runners} concurrent runs takes a free lock, ${opts.rounds} rounds`, async () => {
    const storage = await opts.open();
    const pd = new FakePd();
    try {
      for (let round = 0; round < opts.rounds; round++) {
        const { won } = await race(storage, pd, opts.runners);
        assert.equal(won.length, 1, `round ${round}: ${won.length} winners`);
        const holder = won[0]!;
        assert.equal((await readLock(storage))!.info.lockId, holder.id, `round ${round}`);
        await holder.assertHeld();
        await holder.release();
        assert.equal(await readLock(storage), undefined, `round ${round}: released`);
      }
    } finally {
      await storage.close();
    }
  });

  test(`${name}: exactly one of ${opts.runners} concurrent runs takes over an expired lock, ${opts.takeoverRounds} rounds`, async () => {
    const storage = await opts.open();
    const pd = new FakePd();
    try {
      for (let round = 0; round < opts.takeoverRounds; round++) {
        const deadId = await pd.now();
        await storage.writeFile(
          LOCK_PATH,
          encodeLock({ lockId: deadId, expireAt: pd.ms - 1, owner: "dead run" }),
        );
        const { won } = await race(storage, pd, opts.runners);
        assert.equal(won.length, 1, `round ${round}: ${won.length} winners`);
        assert.equal((await readLock(storage))!.info.lockId, won[0]!.id);
        won[0]!.stopRenewal();
        pd.advance(LOCK_TTL_MS + 1);
      }
    } finally {
      await storage.close();
    }
  });

  test(`${name}: a run whose expired lock was taken over fails its fencing check`, async () => {
    const storage = await opts.open();
    const pd = new FakePd();
    try {
      const stalled = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
      pd.advance(LOCK_TTL_MS + 1);
      const next = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
      await assert.rejects(stalled.assertHeld(), (e) => isCheckpointError(e, "LockLost"));
      await assert.rejects(stalled.renew(), (e) => isCheckpointError(e, "LockLost"));
      await stalled.release();
      await next.assertHeld();
      await next.renew();
      await next.release();
      assert.equal(await readLock(storage), undefined);
    } finally {
      await storage.close();
    }
  });
}
