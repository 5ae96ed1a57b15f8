/**
 * `tibr checkpoint status` and `tibr checkpoint clean` through `deno run -A src/cli/main.ts`
 * (or `bun`), on a checkpoint written by the runner into a local directory: output, exit codes,
 * one-line refusals, and that clean never touches the backup itself.
 * @module
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { EncryptionMethod } from "../../src/crypto/cipher.ts";
import { FakePd, key, list, sampleFile } from "../../src/checkpoint/_test_util.ts";
import {
  CHECKPOINT_DIR,
  DATA_DIR,
  encodeCheckpointData,
  LOCK_PATH,
} from "../../src/checkpoint/files.ts";
import { CheckpointLock } from "../../src/checkpoint/lock.ts";
import { newCheckpointMeta, startCheckpoint } from "../../src/checkpoint/meta.ts";
import { CheckpointRunner } from "../../src/checkpoint/runner.ts";
import { ManualTimers } from "../../src/checkpoint/timers.ts";
import { openStorage } from "../../src/storage/registry.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tibr-cli-checkpoint-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function tibr(...args: string[]): { code: number; stdout: string; stderr: string } {
  const runtime = process.versions["deno"] !== undefined ? ["run", "-A"] : [];
  const r = spawnSync(
    process.execPath,
    [...runtime, join(ROOT, "src/cli/main.ts"), ...args, "--log-file", "/dev/null"],
    {
      encoding: "utf8",
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1", TIBR_STORAGE_PLUGINS: "" },
    },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function errorLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l && !l.startsWith("Detail tibr log in"));
  assert.equal(lines.length, 1, `expected one error line, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
  return lines[0]!;
}

const location = join(dir, "bk");
const cipher = { method: EncryptionMethod.AES128_CTR, key: new Uint8Array(16).fill(1) };
let lockId = "";
let backupTs = 0n;

before(async () => {
  const storage = await openStorage(location, { env: {} });
  // PD time = now, so the local clock judges the lock live.
  const pd = new FakePd(Date.now());
  const timers = new ManualTimers();
  const lock = await CheckpointLock.acquire(storage, {
    now: pd.now,
    renewIntervalMs: 0,
    owner: "cli-host pid 4242",
  });
  lockId = lock.id.toString();
  backupTs = await pd.now();
  await startCheckpoint(
    storage,
    newCheckpointMeta({
      gcServiceId: "br-cli",
      backupTs,
      ranges: [{ startKey: key(1, 0), endKey: key(2, 0) }],
      config: { filter: ["test.*"] },
      cipher,
    }),
    lock,
  );
  const runner = CheckpointRunner.start(storage, { lock, cipher, timers });
  for (let n = 0; n < 12; n++) {
    await runner.append(`g${n % 2}`, key(1, n), key(1, n + 1), [sampleFile(n)]);
    if (n % 4 === 3) await timers.advance(30_000);
  }
  await runner.flushChecksum(1n, 2n, 3n, 4n, 61);
  await runner.stop();
  // Killed while holding the lock; the backup's own files are beside the checkpoint.
  await storage.writeFile("1/5_2_abc_write.sst", new Uint8Array([1, 2, 3]));
  await storage.close();
});

describe("tibr checkpoint status", () => {
  test("shows progress, backup ts, last flush and the live lock's holder and expiry", () => {
    const r = tibr("checkpoint", "status", "-s", location);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^storage +local:\/\/\/.*\/bk$/m);
    assert.match(
      r.stdout,
      new RegExp(`^backup ts +${backupTs} \\(\\d{4}-\\d\\d-\\d\\d [\\d:]+ UTC\\)$`, "m"),
    );
    // Encrypted groups: which key ranges they cover needs the key; their counts do not.
    assert.match(r.stdout, /^key ranges done +unknown \(encrypted\) of 1$/m);
    assert.match(r.stdout, /^sub-ranges done +12$/m);
    assert.match(r.stdout, /^files +12$/m);
    assert.match(r.stdout, /^groups +6$/m);
    assert.match(r.stdout, /^checkpoint files +3 \(\d+ bytes\)$/m);
    assert.match(r.stdout, /^checksum files +1$/m);
    assert.match(r.stdout, /^encryption +AES128_CTR$/m);
    assert.match(r.stdout, /^last flush +\d{4}-\d\d-\d\d [\d:]+ UTC$/m);
    assert.match(
      r.stdout,
      new RegExp(
        `^lock +live \\(run ${lockId}, cli-host pid 4242, started .* UTC, expires .* UTC, in \\d+ s\\)$`,
        "m",
      ),
    );
  });

  test("--output json carries the same facts", () => {
    const r = tibr("checkpoint", "status", "-s", location, "--output", "json");
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.exists, true);
    assert.equal(s.meta.backupTs, backupTs.toString());
    assert.equal(s.meta.gcServiceId, "br-cli");
    assert.equal(s.meta.ranges, 1);
    assert.deepEqual(s.meta.options, { filter: ["test.*"] });
    assert.deepEqual(s.progress.ranges, { done: null, total: 1 });
    assert.equal(s.progress.subRanges, 12);
    assert.equal(s.progress.files, 12);
    assert.equal(s.progress.dataFiles, 3);
    assert.equal(s.progress.checksumFiles, 1);
    assert.equal(s.progress.dureTimeMs, 90_000);
    assert.ok(Date.parse(s.progress.lastFlush) > Date.now() - 600_000);
    assert.equal(s.lock.state, "live");
    assert.equal(s.lock.lockId, lockId);
    assert.equal(s.lock.owner, "cli-host pid 4242");
    assert.ok(s.lock.expiresInS > 200 && s.lock.expiresInS <= 300);
  });

  test("says when ranges cannot be counted without the key (checkpoints written by BR)", async () => {
    const other = join(dir, "br-style");
    const storage = await openStorage(other, { env: {} });
    await storage.writeFile(
      `${DATA_DIR}/x_1.cpt`,
      new TextEncoder().encode(encodeCheckpointData({
        dureTimeNs: 5e9,
        groups: [{
          encrypted: new Uint8Array([1]),
          checksum: new Uint8Array(32),
          cipherIv: new Uint8Array(16),
          size: 1,
        }],
      })),
    );
    await storage.close();
    const r = tibr("checkpoint", "status", "-s", other);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sub-ranges done +unknown \(encrypted\)$/m);
    assert.match(r.stdout, /^meta +missing$/m);
    assert.match(r.stdout, /^lock +absent$/m);
  });

  test("key ranges done agree with the total: all of them once their sub-ranges cover them", async () => {
    // Three key ranges (the last to the end of the key space), backed up in region-sized
    // sub-ranges flushed out of order into several files; options of several types.
    const ranges = [
      { startKey: key(1, 0), endKey: key(2, 0) },
      { startKey: key(2, 0), endKey: key(3, 0) },
      { startKey: key(3, 0), endKey: new Uint8Array() },
    ];
    const subRanges = [
      [key(3, 0), new Uint8Array()],
      [key(1, 5), key(2, 0)],
      [key(2, 0), key(2, 9)],
      [key(1, 0), key(1, 5)],
      [key(2, 9), key(3, 0)],
    ] as const;
    const write = async (path: string, upTo: number) => {
      const storage = await openStorage(path, { env: {} });
      const pd = new FakePd(Date.now());
      const timers = new ManualTimers();
      const lock = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
      await startCheckpoint(
        storage,
        newCheckpointMeta({
          gcServiceId: "br-done",
          backupTs: await pd.now(),
          ranges,
          config: { concurrency: 4, checksum: true, filter: ["shop.*"], "backup-ts": 2n ** 60n },
        }),
        lock,
      );
      const runner = CheckpointRunner.start(storage, { lock, timers });
      for (let i = 0; i < upTo; i++) {
        const [start, end] = subRanges[i]!;
        await runner.append(`g${i}`, start, end, [sampleFile(i), sampleFile(i, "default")]);
        await timers.advance(30_000);
      }
      await runner.stop();
      await lock.release();
      await storage.close();
    };
    const done = join(dir, "all-done");
    const partial = join(dir, "partial");
    await write(done, subRanges.length);
    await write(partial, 3);

    const all = tibr("checkpoint", "status", "-s", done);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^key ranges done +3 of 3$/m);
    assert.match(all.stdout, /^sub-ranges done +5$/m);
    assert.match(all.stdout, /^files +10$/m);
    const json = JSON.parse(tibr("checkpoint", "status", "-s", done, "--output", "json").stdout);
    assert.deepEqual(json.progress.ranges, { done: 3, total: 3 });
    assert.equal(json.meta.ranges, json.progress.ranges.total);
    assert.equal(json.progress.subRanges, 5);
    // Options as JSON values, not JSON text in strings; beyond 2^53 as a decimal string.
    assert.deepEqual(json.meta.options, {
      concurrency: 4,
      checksum: true,
      filter: ["shop.*"],
      "backup-ts": String(2n ** 60n),
    });

    // The first three sub-ranges cover only the last key range whole.
    const some = tibr("checkpoint", "status", "-s", partial, "--output", "json");
    assert.equal(some.code, 0, some.stderr);
    assert.deepEqual(JSON.parse(some.stdout).progress.ranges, { done: 1, total: 3 });
  });

  test("reports no checkpoint on an empty storage", () => {
    const r = tibr("checkpoint", "status", "-s", join(dir, "empty"));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^No checkpoint at local:\/\/\/.*\/empty$/m);
  });

  test("status and clean of a path that does not exist create nothing", () => {
    const missing = join(dir, "never", "made");
    assert.equal(tibr("checkpoint", "status", "-s", missing).code, 0);
    const clean = tibr("checkpoint", "clean", "-s", missing);
    assert.ok(clean.code === 0, clean.stderr);
    assert.ok(!existsSync(join(dir, "never")), "a read-only command created the path");
  });

  test("bad flags are usage errors (exit 2)", () => {
    assert.equal(tibr("checkpoint", "status", "-s", location, "--output", "xml").code, 2);
    assert.equal(tibr("checkpoint", "status").code, 2);
    assert.equal(tibr("checkpoint", "clean", "-s", "nosuch://x").code, 2);
  });
});

describe("tibr checkpoint clean", () => {
  test("refuses while the lock is live, naming the holder and --force", async () => {
    const r = tibr("checkpoint", "clean", "-s", location);
    assert.equal(r.code, 1);
    const line = errorLine(r.stderr);
    assert.match(line, new RegExp(`held by run ${lockId} \\(cli-host pid 4242`));
    assert.match(line, /until \d{4}-\d\d-\d\d [\d:]+ UTC/);
    assert.match(line, /add --force/);
    const storage = await openStorage(location, { env: {} });
    assert.ok((await list(storage, CHECKPOINT_DIR)).length > 5, "nothing removed");
    await storage.close();
  });

  test("--lock-only --force removes just the lock, keeping the checkpoint to resume", async () => {
    const r = tibr("checkpoint", "clean", "-s", location, "--lock-only", "--force");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Removed 1 lock file from /m);
    const storage = await openStorage(location, { env: {} });
    assert.equal(await storage.fileExists(LOCK_PATH), false);
    assert.equal((await list(storage, DATA_DIR)).length, 3);
    await storage.close();
    assert.match(tibr("checkpoint", "status", "-s", location).stdout, /^lock +absent$/m);
  });

  test("removes the whole checkpoint once no live lock holds it, not the backup", async () => {
    const r = tibr("checkpoint", "clean", "-s", location);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Removed 5 checkpoint files from local:\/\/\//m);
    const storage = await openStorage(location, { env: {} });
    assert.deepEqual(await list(storage, CHECKPOINT_DIR), []);
    assert.deepEqual(await list(storage, ""), ["1/5_2_abc_write.sst"]);
    await storage.close();
    assert.match(tibr("checkpoint", "status", "-s", location).stdout, /^No checkpoint at /m);
  });
});
