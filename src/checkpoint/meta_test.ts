import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EncryptionMethod } from "../crypto/cipher.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { FakePd, key, list, memoryStorage, override } from "./_test_util.ts";
import { isCheckpointError } from "./errors.ts";
import { CHECKPOINT_DIR, LOCK_PATH, META_PATH } from "./files.ts";
import { CheckpointLock } from "./lock.ts";
import {
  type BackupConfig,
  canonicalJson,
  checkCipher,
  checkConfig,
  configHash,
  decodeMeta,
  encodeMeta,
  loadCheckpointMeta,
  newCheckpointMeta,
  removeCheckpointData,
  startCheckpoint,
} from "./meta.ts";

const config: BackupConfig = {
  filter: ["db1.*", "!db1.tmp"],
  backupts: 463_000_000_000_000_123n,
  "ignore-stats": false,
  compression: "zstd",
  "crypter.method": "aes256-ctr",
  ratio: 0.5,
};
const aes = { method: EncryptionMethod.AES256_CTR, key: new Uint8Array(32).fill(7) };

describe("config hash", () => {
  test("does not depend on the order of options or object keys", () => {
    const reordered: BackupConfig = {
      ratio: 0.5,
      "crypter.method": "aes256-ctr",
      compression: "zstd",
      "ignore-stats": false,
      backupts: 463_000_000_000_000_123n,
      filter: ["db1.*", "!db1.tmp"],
    };
    assert.deepEqual(configHash(reordered), configHash(config));
    assert.equal(canonicalJson({ b: 1, a: { d: 2n, c: null } }), '{"a":{"c":null,"d":2},"b":1}');
    assert.notDeepEqual(configHash({ ...config, compression: "lz4" }), configHash(config));
    assert.notDeepEqual(configHash({ ...config, filter: ["db1.*"] }), configHash(config));
  });

  test("a mismatch names each differing option with both values and how to start afresh", () => {
    const storage = memoryStorage();
    const meta = newCheckpointMeta({ gcServiceId: "br-1", backupTs: 5n, config, cipher: aes });
    checkConfig(storage, meta, { ...config });
    const changed = { ...config, compression: "lz4", filter: ["db2.*"] } as BackupConfig;
    delete (changed as Record<string, unknown>)["ratio"];
    const err = (() => {
      try {
        checkConfig(storage, meta, changed);
      } catch (e) {
        return e;
      }
      assert.fail("no mismatch reported");
    })();
    assert.ok(isCheckpointError(err, "ConfigMismatch"));
    const msg = (err as Error).message;
    assert.match(msg, /compression was "zstd", now "lz4"/);
    assert.match(msg, /filter was \["db1\.\*","!db1\.tmp"\], now \["db2\.\*"\]/);
    assert.match(msg, /ratio was 0\.5, now unset/);
    assert.doesNotMatch(msg, /ignore-stats/);
    assert.match(msg, /tibr checkpoint clean -s memory:\/\//);
    assert.doesNotMatch(msg, /\n/);
  });

  test("a checkpoint that recorded only the hash (BR's) still refuses other options", () => {
    const storage = memoryStorage();
    const meta = newCheckpointMeta({ gcServiceId: "br-1", backupTs: 5n, config });
    delete meta.config;
    assert.throws(
      () => checkConfig(storage, meta, { ...config, compression: "lz4" }),
      /does not record which options differ/,
    );
  });
});

describe("checkpoint.meta", () => {
  test("round-trips, backup-ts beyond 2^53 written as Go writes uint64", () => {
    const meta = newCheckpointMeta({
      gcServiceId: "br-6c1f",
      backupTs: 463_000_000_000_000_123n,
      ranges: [{ startKey: key(1, 0), endKey: key(2, 0) }],
      config,
      cipher: aes,
    });
    const bytes = encodeMeta(meta);
    const text = new TextDecoder().decode(bytes);
    assert.match(text, /"backup-ts":463000000000000123,/);
    assert.match(text, /^\{"gc-service-id":"br-6c1f","config-hash":"[^"]+","backup-ts"/);
    assert.match(text, /"ranges":\[\{"StartKey":"[^"]+","EndKey":"[^"]+","Files":null\}\]/);
    assert.deepEqual(decodeMeta(bytes), meta);
  });

  test("many ranges (encoded a part at a time) and none round-trip as one JSON document", () => {
    for (const n of [0, 4096, 4097, 10_000]) {
      const ranges = Array.from({ length: n }, (_, i) => ({
        startKey: key(i, 0),
        endKey: key(i + 1, 0),
      }));
      const meta = newCheckpointMeta({ gcServiceId: "g", backupTs: 7n, ranges, config });
      const bytes = encodeMeta(meta);
      const json = JSON.parse(new TextDecoder().decode(bytes));
      assert.equal(json.ranges.length, n);
      assert.deepEqual(decodeMeta(bytes), meta);
    }
  });

  test("written by BR is read", () => {
    const text = '{"gc-service-id":"br-x","config-hash":"AAEC","backup-ts":463000000000000001,' +
      '"ranges":[{"StartKey":"dA==","EndKey":"dQ==","Files":null}]}';
    const meta = decodeMeta(new TextEncoder().encode(text));
    assert.equal(meta.backupTs, 463000000000000001n);
    assert.deepEqual([...meta.configHash], [0, 1, 2]);
    assert.deepEqual([...meta.ranges[0]!.startKey], [0x74]);
    assert.equal(meta.config, undefined);
    assert.equal(meta.cipherMethod, undefined);
  });

  test("stores secret-looking options only as a digest", () => {
    const meta = newCheckpointMeta({
      gcServiceId: "g",
      backupTs: 1n,
      config: { "crypter.key": "0123456789abcdef0123456789abcdef", filter: "*.*" },
    });
    const text = new TextDecoder().decode(encodeMeta(meta));
    assert.doesNotMatch(text, /0123456789abcdef0123456789abcdef/);
    assert.match(text, /"crypter\.key":"sha256:[0-9a-f]{16}"/);
  });

  test("a missing meta is no checkpoint; an unreadable one is a Corrupt error", async () => {
    const storage = memoryStorage();
    assert.equal(await loadCheckpointMeta(storage), undefined);
    await storage.writeFile(META_PATH, new TextEncoder().encode("{not json"));
    await assert.rejects(loadCheckpointMeta(storage), (e) => isCheckpointError(e, "Corrupt"));
  });
});

describe("cipher check", () => {
  const storage = memoryStorage();
  const meta = newCheckpointMeta({ gcServiceId: "g", backupTs: 1n, config, cipher: aes });

  test("passes for the same key and fails for another key or method", () => {
    checkCipher(storage, meta, { ...aes, key: new Uint8Array(32).fill(7) });
    const otherKey = { ...aes, key: new Uint8Array(32).fill(8) };
    assert.throws(
      () => checkCipher(storage, meta, otherKey),
      (e) => isCheckpointError(e, "WrongKey") && /crypter key differs/.test(e.message),
    );
    assert.throws(
      () => checkCipher(storage, meta, undefined),
      (e) =>
        isCheckpointError(e, "WrongKey") &&
        /written with AES256_CTR encryption but this run uses PLAINTEXT/.test(e.message),
    );
    const plainMeta = newCheckpointMeta({ gcServiceId: "g", backupTs: 1n, config });
    assert.equal(plainMeta.cipherCheck, undefined);
    assert.throws(() => checkCipher(storage, plainMeta, aes), /PLAINTEXT encryption/);
  });
});

describe("removing a checkpoint", () => {
  async function populated(): Promise<ExternalStorage> {
    const s = memoryStorage();
    const put = (n: string) => s.writeFile(n, new Uint8Array([1]));
    for (let i = 0; i < 25; i++) await put(`${CHECKPOINT_DIR}/data/f${i}.cpt`);
    await put(`${CHECKPOINT_DIR}/checksum/t1_1.cpt`);
    await put(META_PATH);
    await put(LOCK_PATH);
    await put("backupmeta");
    await put("1/5_2_abc_write.sst");
    return s;
  }

  test("deletes everything under checkpoints/backup in batches, the backup untouched", async () => {
    const inner = await populated();
    const batches: string[][] = [];
    const storage = override(inner, {
      capabilities: () => ({ ...inner.capabilities(), maxDeleteBatch: 1 }),
      deleteFiles: ((names: readonly string[]) => {
        batches.push([...names]);
        return inner.deleteFiles(names);
      }) as (...args: never[]) => unknown,
    });
    assert.equal(await removeCheckpointData(storage), 28);
    assert.deepEqual(await list(inner, CHECKPOINT_DIR), []);
    assert.deepEqual(await list(inner, ""), ["1/5_2_abc_write.sst", "backupmeta"]);
    assert.ok(batches.length >= 3 && batches.every((b) => b.length <= 10), "batched by 10x1");
  });

  test("keeps the lock when asked", async () => {
    const storage = await populated();
    assert.equal(await removeCheckpointData(storage, { keepLock: true }), 27);
    assert.deepEqual(await list(storage, CHECKPOINT_DIR), [LOCK_PATH]);
  });

  test("a fresh start removes an abandoned checkpoint's files before writing the meta", async () => {
    const storage = memoryStorage();
    await storage.writeFile(`${CHECKPOINT_DIR}/data/old.cpt`, new Uint8Array([1]));
    await storage.writeFile(`${CHECKPOINT_DIR}/checksum/t1_1.cpt`, new Uint8Array([1]));
    const pd = new FakePd();
    const lock = await CheckpointLock.acquire(storage, { now: pd.now, renewIntervalMs: 0 });
    const meta = newCheckpointMeta({ gcServiceId: "g", backupTs: 9n, config });
    await startCheckpoint(storage, meta, lock);
    assert.deepEqual(await list(storage, CHECKPOINT_DIR), [LOCK_PATH, META_PATH]);
    assert.deepEqual(await loadCheckpointMeta(storage), meta);
    await lock.release();
  });
});
