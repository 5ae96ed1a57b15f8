import assert from "node:assert/strict";
import { test } from "node:test";
import { EncryptionMethod } from "../../crypto/cipher.ts";
import { UsageError } from "../errors.ts";
import { type BackupFlags, parseBackupFlags } from "./backup.ts";

/** The flags as commander hands them over with every default (parsers already applied). */
function flags(over: Partial<BackupFlags> = {}): BackupFlags {
  return {
    storage: "local:///tmp/bk",
    storageTimeout: 60_000,
    pd: "127.0.0.1:2379",
    sendCredentialsToTikv: true,
    gcttl: 300,
    concurrency: 4,
    ratelimit: 0,
    checksum: true,
    compression: "zstd",
    compressionLevel: 0,
    "crypter.method": "plaintext",
    output: "table",
    progress: "auto",
    redactInfoLog: false,
    useCheckpoint: true,
    backoffBudget: 80_000,
    checkpointFlushInterval: 30_000,
    verifyFiles: false,
    lastbackupts: "0",
    ...over,
  } as BackupFlags;
}

test("the flags become the backup's typed config in one place", async () => {
  const p = await parseBackupFlags(
    "full",
    flags({
      pd: "pd-1:2379,pd-2:2379",
      checksum: "F",
      verifyFiles: "true",
      lastbackupts: "12345",
      "crypter.method": "aes128-ctr",
      "crypter.key": "01".repeat(16),
    }),
  );
  assert.deepEqual(p.config.pd, ["pd-1:2379", "pd-2:2379"]);
  assert.equal(p.config.checksum, false);
  assert.equal(p.config.verifyFiles, true);
  assert.equal(p.config.lastBackupTs, 12345n);
  assert.equal(p.config.storageTimeoutMs, 60_000);
  assert.equal(p.config.checkpointFlushIntervalMs, 30_000);
  assert.equal(p.config.cipher?.method, EncryptionMethod.AES128_CTR);
});

test("compression levels are checked per algorithm", async () => {
  assert.equal(
    (await parseBackupFlags("full", flags({ compression: "zstd", compressionLevel: 19 }))).config
      .compressionLevel,
    19,
  );
  for (
    const [compression, level, msg] of [
      ["lz4", 13, /out of range for lz4: give 0 \(the default\) to 12/],
      ["snappy", 1, /snappy has no levels/],
    ] as const
  ) {
    await assert.rejects(
      parseBackupFlags("full", flags({ compression, compressionLevel: level })),
      (e) => e instanceof UsageError && msg.test(e.message),
    );
  }
});

test("crypter flag problems are usage errors", async () => {
  await assert.rejects(
    parseBackupFlags("full", flags({ "crypter.key": "01".repeat(32) })),
    (e) => e instanceof UsageError && /without --crypter\.method/.test(e.message),
  );
});
