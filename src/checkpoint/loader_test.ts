import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, test } from "node:test";
import { EncryptionMethod } from "../crypto/cipher.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { FakePd, key, list, memoryStorage, sampleFile } from "./_test_util.ts";
import { isCheckpointError } from "./errors.ts";
import { DATA_DIR } from "./files.ts";
import { resumeCheckpoint, walkCheckpointData } from "./loader.ts";
import { CheckpointLock } from "./lock.ts";
import { type BackupConfig, newCheckpointMeta, startCheckpoint } from "./meta.ts";
import { CheckpointRunner } from "./runner.ts";
import { ManualTimers } from "./timers.ts";

const aes = { method: EncryptionMethod.AES256_CTR, key: new Uint8Array(32).fill(0x5a) };
const otherKey = { method: EncryptionMethod.AES256_CTR, key: new Uint8Array(32).fill(0x5b) };
const config: BackupConfig = { filter: ["*.*"], backupts: 0, compression: "zstd" };

/** A checkpoint of `files` data files, 4 groups each of 5 ranges; returns the range numbers. */
async function checkpoint(
  files: number,
  cipher: typeof aes | null = aes,
  withMeta = false,
): Promise<{ storage: ExternalStorage; expected: number[] }> {
  const storage = memoryStorage();
  const pd = new FakePd();
  const lock = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
  if (withMeta) {
    await startCheckpoint(
      storage,
      newCheckpointMeta({
        gcServiceId: "br-1",
        backupTs: 77n,
        config,
        ...(cipher ? { cipher } : {}),
      }),
      lock,
    );
  }
  const runner = CheckpointRunner.start(storage, {
    lock,
    timers: new ManualTimers(),
    ...(cipher ? { cipher } : {}),
  });
  const expected: number[] = [];
  let n = 0;
  for (let f = 0; f < files; f++) {
    for (let g = 0; g < 4; g++) {
      for (let r = 0; r < 5; r++, n++) {
        await runner.append(`g${f}-${g}`, key(1, n), key(1, n + 1), [sampleFile(n)]);
        expected.push(n);
      }
    }
    await runner.flush();
  }
  await runner.waitForFinish();
  return { storage, expected };
}

async function walk(storage: ExternalStorage, cipher: typeof aes | null = aes) {
  const seen: number[] = [];
  const result = await walkCheckpointData(storage, cipher ? { cipher } : {}, (_g, range) => {
    seen.push(Number(new TextDecoder().decode(range.startKey).slice(-10)));
    assert.equal(range.files[0]!.endVersion, 463_000_000_000_000_000n + BigInt(seen.at(-1)!));
  });
  return { seen: seen.sort((a, b) => a - b), result };
}

describe("walkCheckpointData", () => {
  test("returns every checkpointed range of an encrypted checkpoint", async () => {
    const { storage, expected } = await checkpoint(3);
    const { seen, result } = await walk(storage);
    assert.deepEqual(seen, expected);
    assert.equal(result.dataFiles, 3);
    assert.equal(result.groups, 12);
    assert.equal(result.skippedGroups + result.skippedFiles, 0);
  });

  test("reads a plaintext checkpoint without a key", async () => {
    const { storage, expected } = await checkpoint(2, null);
    const raw = JSON.parse(
      new TextDecoder().decode(await storage.readFile((await list(storage, DATA_DIR))[0]!)),
    );
    assert.equal(raw["range-group-metas"][0].CipherIv, null);
    assert.deepEqual((await walk(storage, null)).seen, expected);
  });

  test("skips an unparseable .cpt file and loads the rest", async () => {
    const { storage, expected } = await checkpoint(3);
    const [first] = await list(storage, DATA_DIR);
    const bytes = await storage.readFile(first!);
    await storage.writeFile(first!, bytes.subarray(0, bytes.length >> 1));
    const { seen, result } = await walk(storage);
    assert.equal(result.skippedFiles, 1);
    assert.equal(seen.length, expected.length - 20, "the broken file's 20 ranges are redone");
    assert.ok(seen.every((n) => expected.includes(n)));
  });

  test("skips a group whose sha256 does not match (never trusted), keeps the others", async () => {
    const { storage, expected } = await checkpoint(2);
    const [first] = await list(storage, DATA_DIR);
    const raw = JSON.parse(new TextDecoder().decode(await storage.readFile(first!)));
    // Flip one bit of the second group's ciphertext: it decrypts to other bytes.
    const enc = Buffer.from(raw["range-group-metas"][1].RangeGroupsEncriptedData, "base64");
    enc[10] = enc[10]! ^ 0x20;
    raw["range-group-metas"][1].RangeGroupsEncriptedData = enc.toString("base64");
    await storage.writeFile(first!, new TextEncoder().encode(JSON.stringify(raw)));
    const { seen, result } = await walk(storage);
    assert.equal(result.skippedGroups, 1);
    assert.equal(seen.length, expected.length - 5);
  });

  test("a wrong key is a clear error, not a silent redo of everything", async () => {
    const { storage } = await checkpoint(2);
    await assert.rejects(
      walk(storage, otherKey),
      (e) =>
        isCheckpointError(e, "WrongKey") && /crypter key is not the one/.test(e.message) &&
        !/\n/.test(e.message),
    );
    await assert.rejects(
      walk(storage, null),
      (e) => isCheckpointError(e, "WrongKey") && /no crypter key was given/.test(e.message),
    );
  });

  test("calls an async callback in order, one range at a time", async () => {
    const { storage } = await checkpoint(2);
    let active = 0;
    let count = 0;
    await walkCheckpointData(storage, { cipher: aes, prefetch: 1 }, async () => {
      active++;
      assert.equal(active, 1);
      await new Promise((r) => setTimeout(r, 0));
      active--;
      count++;
    });
    assert.equal(count, 40);
  });
});

describe("resumeCheckpoint", () => {
  test("returns undefined without a checkpoint", async () => {
    assert.equal(await resumeCheckpoint(memoryStorage(), { config }, () => {}), undefined);
  });

  test("reuses the backup ts and GC service id and loads every range", async () => {
    const { storage, expected } = await checkpoint(2, aes, true);
    const seen: string[] = [];
    const resumed = await resumeCheckpoint(storage, { config, cipher: aes }, (g) => {
      seen.push(g);
    });
    assert.ok(resumed);
    assert.equal(resumed.meta.backupTs, 77n);
    assert.equal(resumed.meta.gcServiceId, "br-1");
    assert.equal(seen.length, expected.length);
    assert.equal(resumed.walk.ranges, expected.length);
  });

  test("refuses other options, naming them", async () => {
    const { storage } = await checkpoint(1, aes, true);
    await assert.rejects(
      resumeCheckpoint(storage, { config: { ...config, compression: "lz4" }, cipher: aes }, () => {
        assert.fail("no range may be loaded");
      }),
      (e) =>
        isCheckpointError(e, "ConfigMismatch") &&
        /compression was "zstd", now "lz4"/.test(e.message),
    );
  });

  test("refuses a wrong key before reading any range", async () => {
    const { storage } = await checkpoint(1, aes, true);
    await assert.rejects(
      resumeCheckpoint(storage, { config, cipher: otherKey }, () => {
        assert.fail("no range may be loaded");
      }),
      (e) => isCheckpointError(e, "WrongKey") && /crypter key differs/.test(e.message),
    );
  });

  test("with a verified key, a fully corrupt checkpoint is skipped, not called a wrong key", async () => {
    const { storage } = await checkpoint(1, aes, true);
    const [first] = await list(storage, DATA_DIR);
    const raw = JSON.parse(new TextDecoder().decode(await storage.readFile(first!)));
    for (const g of raw["range-group-metas"]) g.Checksum = Buffer.alloc(32).toString("base64");
    await storage.writeFile(first!, new TextEncoder().encode(JSON.stringify(raw)));
    const resumed = await resumeCheckpoint(storage, { config, cipher: aes }, () => {
      assert.fail("no corrupt range may be loaded");
    });
    assert.equal(resumed!.walk.skippedGroups, 4);
  });
});
