// The DDL of every table of the default sample, as TiDB prints it for the CREATE TABLE each
// sample kind stands for: what restore sends to TiDB and export writes to `*-schema.sql`.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { showCreateDatabase, showCreateTable } from "../tidb/show_create.ts";
import { Cluster } from "./cluster.ts";
import { type CatalogTable, DEFAULT_SAMPLE, loadSample } from "./sample.ts";

const TAIL = ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

/** The text TiDB prints for a table of `kind` named `name`, its next AUTO_INCREMENT being `next`. */
function expectedDdl(t: CatalogTable): string {
  const name = t.info.name.O;
  const autoInc = t.autoIdBase + 1n > 1n ? ` AUTO_INCREMENT=${t.autoIdBase + 1n}` : "";
  switch (t.kind) {
    case "rowid":
      return `CREATE TABLE \`${name}\` (\n` +
        "  `name` varchar(64) NOT NULL,\n" +
        "  `age` int(11) DEFAULT NULL,\n" +
        "  `created` datetime DEFAULT NULL,\n" +
        "  `payload` varchar(1024) DEFAULT NULL,\n" +
        "  KEY `idx_name` (`name`)\n" + TAIL;
    case "clustered":
      return `CREATE TABLE \`${name}\` (\n` +
        "  `tenant` int(11) NOT NULL,\n" +
        "  `code` varchar(32) NOT NULL,\n" +
        "  `amount` decimal(12,2) DEFAULT NULL,\n" +
        "  `created` datetime DEFAULT NULL,\n" +
        "  `payload` varchar(1024) DEFAULT NULL,\n" +
        "  PRIMARY KEY (`tenant`,`code`) /*T![clustered_index] CLUSTERED */,\n" +
        "  KEY `idx_amount` (`amount`)\n" + TAIL;
    case "int":
    case "nonpublic-index":
    case "partitioned": {
      const head = `CREATE TABLE \`${name}\` (\n` +
        "  `id` bigint(20) NOT NULL AUTO_INCREMENT,\n" +
        "  `name` varchar(64) NOT NULL,\n" +
        "  `age` int(11) DEFAULT NULL,\n" +
        "  `score` decimal(10,2) DEFAULT NULL,\n" +
        "  `created` datetime DEFAULT NULL,\n" +
        "  `payload` varchar(1024) DEFAULT NULL,\n" +
        "  PRIMARY KEY (`id`) /*T![clustered_index] CLUSTERED */,\n";
      if (t.kind === "partitioned") {
        const n = t.info.partition!.definitions.length;
        return head + "  KEY `idx_age` (`age`)\n" + TAIL + autoInc +
          `\nPARTITION BY HASH (\`id\`) PARTITIONS ${n}`;
      }
      // The write-reorganization index of `nonpublic-index` is not shown, as TiDB hides it.
      return head + "  UNIQUE KEY `uk_name` (`name`),\n  KEY `idx_age` (`age`)\n" + TAIL +
        autoInc;
    }
    case "history":
      // Its ALTERs leave the columns in this order with IDs 7, 1, 2, 6, 4, 5, 8.
      return `CREATE TABLE \`${name}\` (\n` +
        "  `tier` tinyint(4) NOT NULL DEFAULT '1',\n" +
        "  `id` bigint(20) NOT NULL AUTO_INCREMENT,\n" +
        "  `name` varchar(64) NOT NULL,\n" +
        "  `email` varchar(128) NOT NULL DEFAULT 'n/a',\n" +
        "  `balance` decimal(12,2) DEFAULT NULL,\n" +
        "  `created` datetime DEFAULT NULL,\n" +
        "  `note` varchar(32) DEFAULT NULL,\n" +
        "  PRIMARY KEY (`id`) /*T![clustered_index] CLUSTERED */,\n" +
        "  KEY `idx_created` (`created`),\n" +
        "  KEY `idx_email` (`email`)\n" + TAIL + autoInc;
    default:
      throw new Error(`no expected DDL for sample kind ${t.kind}`);
  }
}

describe("the default sample's schemas as SHOW CREATE TABLE prints them", () => {
  const cluster = new Cluster({ clock: () => 1_700_000_000_000 });
  const { catalog } = loadSample(cluster, { ...DEFAULT_SAMPLE, scale: 0.01, rawKv: null });

  test("every table renders as TiDB would print it, AUTO_INCREMENT from the allocator", () => {
    assert.equal(new Set(catalog.tables.map((t) => t.kind)).size, 6);
    for (const t of catalog.tables) {
      const ddl = showCreateTable(t.info, { autoIncrement: t.autoIdBase + 1n });
      assert.equal(ddl, expectedDdl(t), `${t.db.db_name.O}.${t.info.name.O} (${t.kind})`);
    }
  });

  test("column flags are those TiDB's CREATE TABLE / ALTER TABLE give the columns", () => {
    // TiDB stores NOT NULL | PRI_KEY | NO_DEFAULT_VALUE = 4099 for a NOT NULL primary-key column
    // without a default, MULTIPLE_KEY (8) on an index's first column, BINARY (128) on DATETIME
    // (as in the TableInfo JSON of a real cluster that pingcap/tiflash's RegionBlockReader test
    // holds); AUTO_INCREMENT columns get no NO_DEFAULT_VALUE.
    const flags = (db: string, name: string) =>
      catalog.table(db, name)!.info.cols.map((c) => [c.name.O, c.type.Flag]);
    assert.deepEqual(flags("shop", "users"), [
      ["id", 515],
      ["name", 4101],
      ["age", 8],
      ["score", 0],
      ["created", 128],
      ["payload", 0],
    ]);
    assert.deepEqual(flags("shop", "orders"), [
      ["tenant", 4099],
      ["code", 4099],
      ["amount", 8],
      ["created", 128],
      ["payload", 0],
    ]);
    assert.deepEqual(flags("shop", "order_items"), [
      ["name", 4105],
      ["age", 0],
      ["created", 128],
      ["payload", 0],
    ]);
    // No unique key on the partitioned kind; the write-reorganization index sets no flag yet.
    assert.equal(flags("shop", "events")[1]![1], 4097);
    assert.equal(flags("shop", "inventory")[3]![1], 0);
    assert.deepEqual(flags("crm", "accounts"), [
      ["tier", 1],
      ["id", 515],
      ["name", 4097],
      ["email", 9],
      ["balance", 0],
      ["created", 136],
      ["note", 0],
    ]);
  });

  test("an empty table has no AUTO_INCREMENT clause (nothing allocated yet)", () => {
    const t = catalog.table("logs", "empty_table")!;
    assert.equal(t.autoIdBase, 0n);
    assert.doesNotMatch(showCreateTable(t.info, { autoIncrement: 1n }), /AUTO_INCREMENT=/);
  });

  test("every database renders as SHOW CREATE DATABASE prints it", () => {
    for (const db of catalog.databases) {
      assert.equal(
        showCreateDatabase(db),
        `CREATE DATABASE \`${db.db_name.O}\` /*!40100 DEFAULT CHARACTER SET utf8mb4 */`,
      );
    }
  });
});
