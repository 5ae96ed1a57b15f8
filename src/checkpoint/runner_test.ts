import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { equals } from "@bufbuild/protobuf";
import { EncryptionMethod } from "../crypto/cipher.ts";
import { FileSchema } from "../gen/brpb_pb.ts";
import type { ExternalStorage, ObjectStat, WriteOptions } from "../storage/types.ts";
import {
  failingWrites,
  FakePd,
  key,
  list,
  memoryStorage,
  override,
  sampleFile,
} from "./_test_util.ts";
import { isCheckpointError } from "./errors.ts";
import { CHECKPOINT_DIR, CHECKSUM_DIR, DATA_DIR, LOCK_PATH, META_PATH } from "./files.ts";
import { loadCheckpointChecksums, walkCheckpointData } from "./loader.ts";
import { CheckpointLock, LOCK_TTL_MS } from "./lock.ts";
import { CheckpointRunner, type RunnerOptions } from "./runner.ts";
import { ManualTimers } from "./timers.ts";

const aes = { method: EncryptionMethod.AES128_CTR, key: new Uint8Array(16).fill(3) };

async function setup(
  storage: ExternalStorage = memoryStorage(),
  opts: Partial<RunnerOptions> = {},
) {
  const pd = new FakePd();
  const timers = new ManualTimers();
  const lock = await CheckpointLock.acquire(storage, { now: pd.now, timers });
  const runner = CheckpointRunner.start(storage, { lock, timers, cipher: aes, ...opts });
  return { storage, pd, timers, lock, runner };
}

async function loadAll(storage: ExternalStorage, cipher = aes) {
  const got: Array<{ groupKey: string; n: number }> = [];
  const result = await walkCheckpointData(storage, { cipher }, (groupKey, range) => {
    got.push({ groupKey, n: Number(new TextDecoder().decode(range.startKey).slice(-10)) });
  });
  return { got, result };
}

function append(runner: CheckpointRunner, group: string, n: number): Promise<void> {
  return runner.append(group, key(1, n), key(1, n + 1), [sampleFile(n), sampleFile(n, "default")]);
}

describe("CheckpointRunner", () => {
  test("writes appended ranges once per flush interval, not before", async () => {
    const { storage, timers, runner } = await setup();
    for (let n = 0; n < 10; n++) await append(runner, n < 5 ? "g1" : "g2", n);
    await timers.advance(29_999);
    assert.deepEqual(await list(storage, DATA_DIR), [], "nothing before 30 s");
    await timers.advance(1);
    const files = await list(storage, DATA_DIR);
    assert.equal(files.length, 1, "one data file per flush");
    const { got, result } = await loadAll(storage);
    assert.deepEqual(got.map((g) => g.n), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual([...new Set(got.map((g) => g.groupKey))], ["g1", "g2"]);
    assert.equal(result.files, 20);
    assert.equal(result.groups, 2);
    await timers.advance(30_000);
    assert.equal((await list(storage, DATA_DIR)).length, 1, "an idle interval writes nothing");
    for (let n = 10; n < 13; n++) await append(runner, "g3", n);
    await timers.advance(30_000);
    assert.equal((await list(storage, DATA_DIR)).length, 2);
    assert.equal(runner.stats.flushedRanges, 13);
  });

  test("keeps every File field through a flush and a load", async () => {
    const { storage, runner } = await setup();
    const files = [sampleFile(4), sampleFile(4, "default")];
    await runner.append("g", key(1, 4), key(1, 5), files);
    await runner.flush();
    const loaded: unknown[] = [];
    await walkCheckpointData(storage, { cipher: aes }, (_g, r) => {
      loaded.push(...r.files);
    });
    assert.equal(loaded.length, 2);
    for (const [i, f] of files.entries()) {
      assert.ok(equals(FileSchema, loaded[i] as typeof f, f));
    }
  });

  test("waitForFinish flushes what is left and removes the lock; the data stays", async () => {
    const { storage, runner } = await setup();
    for (let n = 0; n < 3; n++) await append(runner, "g", n);
    await runner.waitForFinish();
    assert.equal(await storage.fileExists(LOCK_PATH), false);
    assert.equal((await loadAll(storage)).got.length, 3);
    await assert.rejects(append(runner, "g", 9), (e) => isCheckpointError(e, "Closed"));
  });

  test("after a successful backup the checkpoint is removed and the lock released", async () => {
    const { storage, runner } = await setup();
    await storage.writeFile("backupmeta", new Uint8Array([1]));
    await storage.writeFile(META_PATH, new Uint8Array([1]));
    for (let n = 0; n < 3; n++) await append(runner, "g", n);
    await runner.flushChecksum(5n, 1n, 2n, 3n, 100);
    await runner.stop();
    assert.ok((await list(storage, CHECKPOINT_DIR)).length >= 4, "stop flushed, lock kept");
    await runner.assertHeld();
    await runner.waitForFinish({ removeCheckpointData: true });
    assert.deepEqual(await list(storage, CHECKPOINT_DIR), []);
    assert.deepEqual(await list(storage, ""), ["backupmeta"]);
  });

  test("the first error is kept and returned by every later call", async () => {
    const inner = memoryStorage();
    const storage = failingWrites(inner, /\.cpt$/);
    const { timers, runner } = await setup(storage);
    await append(runner, "g", 0);
    await timers.advance(30_000);
    const first = runner.error;
    assert.ok(first instanceof Error && /injected failure/.test(first.message));
    await assert.rejects(append(runner, "g", 1), (e) => e === first);
    await assert.rejects(runner.flushChecksum(1n, 1n, 1n, 1n, 1), (e) => e === first);
    await assert.rejects(runner.assertHeld(), (e) => e === first);
    await assert.rejects(runner.waitForFinish(), (e) => e === first);
    assert.equal(await inner.fileExists(LOCK_PATH), false, "lock released after a failure");
  });

  test("fencing: a run whose lock was taken over fails its next flush and writes nothing", async () => {
    const storage = memoryStorage();
    const pd = new FakePd();
    const timers = new ManualTimers();
    const lock = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
    const runner = CheckpointRunner.start(storage, { lock, timers });
    await append(runner, "g", 0);
    await timers.advance(30_000);
    assert.equal((await list(storage, DATA_DIR)).length, 1);
    // The run stalls past its TTL; another run takes the lock over.
    pd.advance(LOCK_TTL_MS + 1);
    await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
    await append(runner, "g", 1);
    await timers.advance(30_000);
    assert.ok(isCheckpointError(runner.error, "LockLost"), String(runner.error));
    assert.equal((await list(storage, DATA_DIR)).length, 1, "no write after losing the lock");
    await assert.rejects(append(runner, "g", 2), (e) => isCheckpointError(e, "LockLost"));
    await assert.rejects(runner.waitForFinish(), (e) => isCheckpointError(e, "LockLost"));
    assert.equal(await storage.fileExists(LOCK_PATH), true, "the other run's lock is kept");
  });

  test("a lock lost in the background renewal fails the next append at once", async () => {
    const storage = memoryStorage();
    const pd = new FakePd();
    const timers = new ManualTimers();
    const lock = await CheckpointLock.acquire(storage, { now: pd.now, timers });
    const runner = CheckpointRunner.start(storage, { lock, timers });
    await storage.deleteFile(LOCK_PATH);
    await timers.advance(4 * 60_000);
    assert.ok(isCheckpointError(lock.lost, "LockLost"));
    await assert.rejects(append(runner, "g", 0), (e) => isCheckpointError(e, "LockLost"));
  });

  test("append waits while two flushes are queued behind a slow storage", async () => {
    const inner = memoryStorage();
    let release!: () => void;
    let gate = new Promise<void>((r) => release = r);
    const storage = override(inner, {
      writeFile: (async (name: string, data: Uint8Array, opts?: WriteOptions) => {
        if (name.endsWith(".cpt")) await gate;
        return inner.writeFile(name, data, opts) as Promise<ObjectStat>;
      }) as (...args: never[]) => unknown,
    });
    const { runner } = await setup(storage);
    await append(runner, "g", 0);
    void runner.flush();
    await append(runner, "g", 1);
    void runner.flush();
    let done = false;
    const blocked = append(runner, "g", 2).then(() => done = true);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(done, false, "append waits for the queued flushes");
    release();
    gate = Promise.resolve();
    await blocked;
    await runner.waitForFinish();
    assert.deepEqual((await loadAll(inner)).got.map((g) => g.n), [0, 1, 2]);
  });

  test("dure-time counts the earlier runs' time", async () => {
    const { storage, timers, runner } = await setup(memoryStorage(), {
      previousDureTimeMs: 3_600_000,
    });
    await timers.advance(60_000);
    await append(runner, "g", 0);
    await runner.flush();
    const { result } = await loadAll(storage);
    assert.equal(result.dureTimeMs, 3_660_000);
  });
});

describe("checksum runner", () => {
  test("flushes table checksums once their cost passes 60 s, the rest at stop", async () => {
    const { storage, runner } = await setup();
    await runner.flushChecksum(1n, 0xffff_ffff_ffff_ffffn, 10n, 100n, 30);
    await runner.flushChecksum(2n, 2n, 20n, 200n, 30);
    assert.deepEqual(await list(storage, CHECKSUM_DIR), [], "60 s is not past 60 s");
    await runner.flushChecksum(3n, 3n, 30n, 300n, 0.5);
    await new Promise((r) => setTimeout(r, 0));
    const first = await list(storage, CHECKSUM_DIR);
    assert.equal(first.length, 1);
    assert.match(first[0]!, /\/t3_\d+\.cpt$/);
    await runner.flushChecksum(4n, 4n, 40n, 400n, 1);
    await runner.stop();
    const sums = await loadCheckpointChecksums(storage);
    assert.deepEqual([...sums.keys()].sort(), [1n, 2n, 3n, 4n]);
    assert.deepEqual(sums.get(1n), {
      tableId: 1n,
      crc64xor: 0xffff_ffff_ffff_ffffn,
      totalKvs: 10n,
      totalBytes: 100n,
    });
  });

  test("writes at most 4 files at once", async () => {
    const inner = memoryStorage();
    let running = 0;
    let most = 0;
    const storage = override(inner, {
      writeFile: (async (name: string, data: Uint8Array, opts?: WriteOptions) => {
        if (!name.startsWith(CHECKSUM_DIR)) return inner.writeFile(name, data, opts);
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return inner.writeFile(name, data, opts);
      }) as (...args: never[]) => unknown,
    });
    const { runner } = await setup(storage);
    for (let t = 1n; t <= 12n; t++) await runner.flushChecksum(t, t, t, t, 61);
    await runner.stop();
    assert.equal(most, 4);
    assert.equal((await list(inner, CHECKSUM_DIR)).length, 12);
    assert.equal((await loadCheckpointChecksums(inner)).size, 12);
  });

  test("a corrupted checksum file is skipped", async () => {
    const { storage, runner } = await setup();
    await runner.flushChecksum(1n, 1n, 1n, 1n, 61);
    await runner.flushChecksum(2n, 2n, 2n, 2n, 61);
    await runner.stop();
    const [first] = await list(storage, CHECKSUM_DIR);
    const text = new TextDecoder().decode(await storage.readFile(first!));
    const raw = JSON.parse(text);
    raw.checksum = raw.checksum.replace(/^./, (c: string) => (c === "A" ? "B" : "A"));
    await storage.writeFile(first!, new TextEncoder().encode(JSON.stringify(raw)));
    assert.deepEqual([...(await loadCheckpointChecksums(storage)).keys()].length, 1);
  });
});
