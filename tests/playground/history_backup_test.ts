// A table with an ALTER history (the sample's `history` kind) backed up by tibr: the backup
// holds the final TableInfo with TiDB's column and index IDs, the rows as the cluster has them
// (old rows in their CREATE-time encoding), and the DDL text restore will send for it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MetaReader } from "../../src/backup/metareader.ts";
import { runBackup } from "../../src/backup/task.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { startPlayground } from "../../src/playground/server/mod.ts";
import { showCreateTable } from "../../src/tidb/show_create.ts";
import { openLocal, tempDir, verifyTableBackup } from "./_helpers.ts";

describe("backup of a table with an ALTER history", () => {
  let pg: Playground;
  const tmp = tempDir("history");
  before(async () => {
    pg = await startPlayground({
      data: {
        seed: 5,
        databases: [{
          name: "crm",
          tables: [
            { name: "accounts", kind: "history", rows: 600 },
            { name: "plain", kind: "int", rows: 100 },
          ],
        }],
        rawKv: null,
        regions: { maxBytes: 8 * 1024 },
      },
      electionMs: 300,
    });
  });
  after(async () => {
    await pg.stop();
    tmp.cleanup();
  });

  test("holds the ground truth, the final column and index IDs and TiDB's DDL text", async () => {
    const dir = join(tmp.path, "full");
    const s = await runBackup({
      mode: "full",
      pd: [pg.pdAddress],
      storage: `local://${dir}`,
      sendCredentials: true,
      concurrency: 4,
      checksum: true,
      compression: "zstd",
      progress: "quiet",
    });
    assert.equal(s.checksum, "passed");
    const v = await verifyTableBackup(dir, pg);
    assert.deepEqual(v.tables.map((t) => t.name).sort(), ["crm.accounts", "crm.plain"]);

    const storage = await openLocal(dir);
    try {
      const reader = await MetaReader.open(storage, {});
      let found = 0;
      for await (const t of reader.tables()) {
        if (t.table?.name.O !== "accounts") continue;
        found++;
        const info = t.table;
        assert.deepEqual(info.cols.map((c) => c.id), [7, 1, 2, 6, 4, 5, 8]);
        assert.deepEqual([info.max_col_id, info.max_idx_id], [8, 3]);
        assert.deepEqual(info.index_info!.map((i) => i.id), [2, 3]);
        const truth = pg.catalog!.table("crm", "accounts")!;
        // BR writes the next ID (the allocator's stored base + 1), not the base.
        assert.equal(info.auto_inc_id, Number(truth.autoIdBase + 1n));
        assert.equal(
          showCreateTable(info, { autoIncrement: truth.autoIdBase + 1n }),
          "CREATE TABLE `accounts` (\n" +
            "  `tier` tinyint(4) NOT NULL DEFAULT '1',\n" +
            "  `id` bigint(20) NOT NULL AUTO_INCREMENT,\n" +
            "  `name` varchar(64) NOT NULL,\n" +
            "  `email` varchar(128) NOT NULL DEFAULT 'n/a',\n" +
            "  `balance` decimal(12,2) DEFAULT NULL,\n" +
            "  `created` datetime DEFAULT NULL,\n" +
            "  `note` varchar(32) DEFAULT NULL,\n" +
            "  PRIMARY KEY (`id`) /*T![clustered_index] CLUSTERED */,\n" +
            "  KEY `idx_created` (`created`),\n" +
            "  KEY `idx_email` (`email`)\n" +
            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin AUTO_INCREMENT=1001",
        );
      }
      assert.equal(found, 1);
    } finally {
      await storage.close();
    }
  });
});
