// End to end with tibr's own backup client (`runBackup`) against the playground: full, db,
// table, raw, txn, incremental and encrypted backups to local storage. Every table's
// crc64xor / kvs / bytes is recomputed from its SST files and compared with the playground's
// ground truth at the backup ts (and with the schema entry BR wrote).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MetaReader } from "../../src/backup/metareader.ts";
import { type BackupConfig, runBackup } from "../../src/backup/task.ts";
import { ChecksumAccumulator } from "../../src/codec/crc64.ts";
import { hex } from "../../src/codec/bytes.ts";
import { EncryptionMethod } from "../../src/crypto/cipher.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { Workload } from "../../src/playground/workload.ts";
import {
  backupTsOf,
  checksumFiles,
  checksumRawFiles,
  dataFilesOf,
  openLocal,
  pairFiles,
  recordsOf,
  startSmall,
  tempDir,
  triple,
  verifyTableBackup,
} from "./_helpers.ts";

describe("tibr backup against the playground", () => {
  let pg: Playground;
  const tmp = tempDir("e2e");
  let n = 0;
  before(async () => {
    // SST files built on the main thread here; the other backup tests use the worker threads.
    pg = await startSmall({ sstWorkers: 0 });
  });
  after(async () => {
    await pg.stop();
    tmp.cleanup();
  });

  function config(extra: Partial<BackupConfig> = {}): BackupConfig & { dir: string } {
    const dir = join(tmp.path, `b${++n}`);
    return {
      mode: "full",
      pd: [pg.pdAddress],
      storage: `local://${dir}`,
      sendCredentials: true,
      concurrency: 4,
      checksum: true,
      compression: "zstd",
      progress: "quiet",
      ...extra,
      dir,
    };
  }

  let fullDir = "";
  test("a full backup holds every table as the cluster had it at the backup ts", async () => {
    const cfg = config();
    const s = await runBackup(cfg);
    assert.equal(s.checksum, "passed");
    fullDir = cfg.dir;
    const v = await verifyTableBackup(cfg.dir, pg);
    assert.equal(v.tables.length, 6);
    assert.deepEqual(v.databases.sort(), ["empty_db", "hr", "shop"]);
    assert.equal(String(v.ts), s.backupTs);
    const kvs = v.tables.reduce((a, t) => a + t.truth.totalKvs, 0n);
    assert.equal(String(kvs), s.totalKvs);
    assert.ok(v.tables.every((t) => t.truth.totalKvs > 0n));
  });

  test("db and table backups hold only what they name", async () => {
    const db = config({ mode: "db", db: "hr" });
    await runBackup(db);
    const v = await verifyTableBackup(db.dir, pg);
    assert.deepEqual(v.tables.map((t) => t.name), ["hr.staff"]);
    const table = config({ mode: "table", db: "SHOP", table: "orders" });
    await runBackup(table);
    const w = await verifyTableBackup(table.dir, pg);
    assert.deepEqual(w.tables.map((t) => t.name), ["shop.orders"]);
  });

  test("an encrypted backup reads back only with its key", async () => {
    const cipher = { method: EncryptionMethod.AES128_CTR, key: new Uint8Array(16).fill(7) };
    const cfg = config({ mode: "db", db: "shop", cipher });
    await runBackup(cfg);
    const v = await verifyTableBackup(cfg.dir, pg, cipher);
    assert.equal(v.tables.length, 5);
    const files = await dataFilesOf(cfg.dir, cipher);
    assert.ok(files.every((f) => f.cipherIv.length === 16));
    const storage = await openLocal(cfg.dir);
    try {
      await assert.rejects(checksumFiles(storage, files.slice(0, 2)));
    } finally {
      await storage.close();
    }
  });

  test("a raw backup holds the raw keyspace", async () => {
    const cfg = config({
      mode: "raw",
      raw: { start: hex(new TextEncoder().encode("raw_")), end: "", format: "hex", cf: "default" },
    });
    const s = await runBackup(cfg);
    assert.equal(s.totalKvs, "800");
    const storage = await openLocal(cfg.dir);
    try {
      const files = await dataFilesOf(cfg.dir);
      assert.deepEqual(
        await checksumRawFiles(storage, files),
        pg.cluster.rawChecksum(new TextEncoder().encode("raw_"), new Uint8Array(0)),
      );
    } finally {
      await storage.close();
    }
  });

  test("a txn backup holds every transactional key, meta included", async () => {
    const cfg = config({ mode: "txn" });
    await runBackup(cfg);
    const ts = await backupTsOf(cfg.dir);
    const storage = await openLocal(cfg.dir);
    try {
      const sum = await checksumFiles(storage, await dataFilesOf(cfg.dir));
      assert.deepEqual(triple(sum), pg.cluster.checksum(new Uint8Array(0), new Uint8Array(0), ts));
    } finally {
      await storage.close();
    }
  });

  test("an incremental backup on top of the full one gives the tables at the new ts", async () => {
    assert.ok(fullDir, "the full backup ran");
    const lastTs = await backupTsOf(fullDir);
    const w = new Workload(pg.cluster, pg.catalog!, { seed: 11 });
    w.step(120);
    assert.ok(w.stats.updates + w.stats.deletes + w.stats.inserts > 50);
    const cfg = config({ lastBackupTs: lastTs });
    const s = await runBackup(cfg);
    assert.equal(s.kind, "Incremental Backup");
    const ts = BigInt(s.backupTs);
    // Apply the incremental records on top of the full backup's, per table, and compare.
    const full = await openLocal(fullDir);
    const inc = await openLocal(cfg.dir);
    try {
      const fullTables = new Map<string, Awaited<ReturnType<typeof recordsOf>>>();
      for await (const t of (await MetaReader.open(full)).tables()) {
        if (!t.table) continue;
        const recs = [];
        for (const p of pairFiles(t.files)) recs.push(...await recordsOf(full, p));
        fullTables.set(t.table.name.O, recs);
      }
      let changed = 0;
      for await (const t of (await MetaReader.open(inc)).tables()) {
        if (!t.table) continue;
        const state = new Map<string, { key: Uint8Array; value: Uint8Array }>();
        for (const r of fullTables.get(t.table.name.O) ?? []) state.set(hex(r.key), r);
        for (const p of pairFiles(t.files)) {
          for (const r of await recordsOf(inc, p)) {
            assert.ok(r.commitTs > lastTs && r.commitTs <= ts);
            changed++;
            if (r.type === "delete") state.delete(hex(r.key));
            else state.set(hex(r.key), r);
          }
        }
        const acc = new ChecksumAccumulator();
        for (const r of state.values()) acc.add(r.key, r.value);
        assert.deepEqual(
          triple(acc),
          pg.cluster.tableChecksum(t.table, ts),
          `table ${t.table.name.O} after full + incremental`,
        );
      }
      assert.ok(changed > 50);
    } finally {
      await full.close();
      await inc.close();
    }
  });
});
