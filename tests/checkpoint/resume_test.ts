/**
 * A backup interrupted and resumed, across the checkpoint package, the metadata writer and local
 * storage opened as the CLI opens it: the crashed run's lock blocks a new run until it expires,
 * the new run takes it over, reloads exactly what was flushed (so at most one flush interval is
 * redone), reuses the backup ts and time, and finishes; the crashed run, were it only stalled,
 * can write neither a checkpoint nor `backupmeta` any more.
 * @module
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { MetaWriter } from "../../src/backup/metawriter.ts";
import { EncryptionMethod } from "../../src/crypto/cipher.ts";
import type { File } from "../../src/gen/brpb_pb.ts";
import { FakePd, key, list, sampleFile } from "../../src/checkpoint/_test_util.ts";
import { isCheckpointError } from "../../src/checkpoint/errors.ts";
import { CHECKPOINT_DIR, DATA_DIR } from "../../src/checkpoint/files.ts";
import { resumeCheckpoint } from "../../src/checkpoint/loader.ts";
import { CheckpointLock, LOCK_TTL_MS } from "../../src/checkpoint/lock.ts";
import {
  type BackupConfig,
  newCheckpointMeta,
  startCheckpoint,
} from "../../src/checkpoint/meta.ts";
import { CheckpointRunner, FLUSH_INTERVAL_MS } from "../../src/checkpoint/runner.ts";
import { ManualTimers } from "../../src/checkpoint/timers.ts";
import { openStorage } from "../../src/storage/registry.ts";

const dir = mkdtempSync(join(tmpdir(), "tibr-resume-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const cipher = { method: EncryptionMethod.AES256_CTR, key: new Uint8Array(32).fill(0x42) };
const config: BackupConfig = { filter: ["test.*"], "crypter.method": "aes256-ctr", ratelimit: 0 };
const RANGES = 200;

function files(n: number): File[] {
  return [sampleFile(n), sampleFile(n, "default")];
}

describe("resuming an interrupted backup", () => {
  test("redoes at most one flush interval and refuses the stalled run's writes", async () => {
    const storage = await openStorage(join(dir, "bk"), { env: {} });
    const pd = new FakePd();

    // Run 1: starts fresh, backs up one range per second, is killed at 95 s.
    const timers1 = new ManualTimers();
    const lock1 = await CheckpointLock.acquire(storage, { now: pd.now, timers: timers1 });
    assert.equal(await resumeCheckpoint(storage, { config, cipher }, () => {}), undefined);
    const backupTs = await pd.now();
    await startCheckpoint(
      storage,
      newCheckpointMeta({ gcServiceId: "br-run1", backupTs, config, cipher }),
      lock1,
    );
    const run1 = CheckpointRunner.start(storage, { lock: lock1, cipher, timers: timers1 });
    for (let n = 0; n < 95; n++) {
      await run1.append(`g${n % 3}`, key(1, n), key(1, n + 1), files(n));
      await timers1.advance(1000);
      pd.advance(1000);
    }
    // Killed: no more ticks, no renewal, no release.

    // Run 2, at once: the lock is live.
    await assert.rejects(
      CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 }),
      (e) => isCheckpointError(e, "LockHeld") && /--lock-only --force/.test(e.message),
    );
    // Once it expires, run 2 takes it over and resumes.
    pd.advance(LOCK_TTL_MS);
    const timers2 = new ManualTimers();
    const lock2 = await CheckpointLock.acquire(storage, { now: pd.now, timers: timers2 });
    await assert.rejects(
      resumeCheckpoint(storage, { config: { ...config, filter: ["other.*"] }, cipher }, () => {}),
      (e) => isCheckpointError(e, "ConfigMismatch") && /filter was/.test(e.message),
    );
    const done = new Map<number, File[]>();
    const resumed = await resumeCheckpoint(storage, { config, cipher }, (_g, range) => {
      done.set(Number(new TextDecoder().decode(range.startKey).slice(-10)), range.files);
    });
    assert.ok(resumed);
    assert.equal(resumed.meta.backupTs, backupTs, "the backup ts is reused");
    assert.equal(resumed.meta.gcServiceId, "br-run1", "the GC service id is reused");
    const lost = 95 - done.size;
    assert.ok(lost >= 0 && lost <= FLUSH_INTERVAL_MS / 1000, `${lost} ranges lost`);
    assert.deepEqual([...done.keys()].sort((a, b) => a - b), [...Array(done.size).keys()]);
    assert.equal(resumed.walk.dureTimeMs, 90_000, "time of the last flush of run 1");

    // Were run 1 only stalled, it can write no checkpoint and no backupmeta any more.
    const before = (await list(storage, DATA_DIR)).length;
    await run1.append("g0", key(1, 95), key(1, 96), files(95)).catch(() => {});
    await timers1.advance(FLUSH_INTERVAL_MS);
    assert.ok(isCheckpointError(run1.error, "LockLost"), String(run1.error));
    assert.equal((await list(storage, DATA_DIR)).length, before);
    const zombieMeta = new MetaWriter(storage, { cipher });
    await assert.rejects(
      zombieMeta.finish(
        { clusterId: 1n, clusterVersion: "v", brVersion: "t", startVersion: 0n, endVersion: 1n },
        { beforeWrite: () => run1.assertHeld() },
      ),
      (e) => isCheckpointError(e, "LockLost"),
    );
    assert.equal(await storage.fileExists("backupmeta"), false);

    // Run 2 backs up what is missing and finishes.
    const run2 = CheckpointRunner.start(storage, {
      lock: lock2,
      cipher,
      timers: timers2,
      previousDureTimeMs: resumed.walk.dureTimeMs,
    });
    assert.equal(run2.dureTimeMs(), 90_000);
    const meta = new MetaWriter(storage, { cipher });
    for (const [, f] of [...done.entries()].sort((a, b) => a[0] - b[0])) {
      await meta.appendDataFiles(f);
    }
    for (let n = 0; n < RANGES; n++) {
      if (done.has(n)) continue;
      await run2.append(`g${n % 3}`, key(1, n), key(1, n + 1), files(n));
      await meta.appendDataFiles(files(n));
      await timers2.advance(500);
    }
    await run2.stop();
    await meta.finish(
      {
        clusterId: 1n,
        clusterVersion: "v",
        brVersion: "t",
        startVersion: 0n,
        endVersion: backupTs,
      },
      { beforeWrite: () => run2.assertHeld() },
    );
    await run2.waitForFinish({ removeCheckpointData: true });
    assert.equal(meta.stats.dataFiles, 2 * RANGES, "every range's files once");
    assert.deepEqual(await list(storage, CHECKPOINT_DIR), []);
    assert.equal(await storage.fileExists("backupmeta"), true);
    await storage.close();
  });
});
