// Restore of many tables: tables created in batches over several TiDB sessions at once
// (`--ddl-batch-size`, BR's way) give the same cluster as one table at a time, and the IDs read
// back for a batch are each table's own. Checked against ground truth: the playground TiDB's
// meta (its engine), information_schema through a separate MySQL connection, SHOW CREATE TABLE,
// every row through SELECT and the KVs under the new IDs.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import mysql from "mysql2/promise";
import { MetaReader } from "../../src/backup/metareader.ts";
import { runBackup } from "../../src/backup/task.ts";
import { allFilter } from "../../src/filter/mod.ts";
import type { SampleSpec } from "../../src/playground/sample.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import { selectTables, wholeSchemas } from "../../src/restore/plan.ts";
import { createTables } from "../../src/restore/schemas.ts";
import { type RestoreSummary, runRestore } from "../../src/restore/task.ts";
import { openStorage } from "../../src/storage/registry.ts";
import type { TableInfo } from "../../src/tidb/model.ts";
import { tempDir } from "../playground/_helpers.ts";
import { errorLine, runTibr } from "../backup/_cli.ts";

function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

async function sql(pg: Playground, q: string): Promise<Record<string, unknown>[]> {
  const c = await mysql.createConnection({ ...hostPort(pg.tidbAddress), user: "root" });
  try {
    const [rows] = await c.query(q);
    return rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

function endpoint(pg: Playground) {
  return {
    ...hostPort(pg.tidbAddress),
    statusPort: hostPort(pg.tidbStatusAddress).port,
    user: "root",
    password: "",
  };
}

/** 3 databases of 14 small tables each, every table kind (indexes, partitions, row IDs). */
const KINDS = ["int", "clustered", "partitioned", "rowid", "nonpublic-index"] as const;
const SPEC: SampleSpec = {
  seed: 18,
  databases: ["alpha", "beta", "gamma"].map((name) => ({
    name,
    tables: Array.from({ length: 14 }, (_, i) => ({
      name: `t${i}`,
      kind: KINDS[i % KINDS.length]!,
      rows: 4,
      ...(KINDS[i % KINDS.length] === "partitioned" ? { partitions: 2 } : {}),
    })),
  })),
  rawKv: null,
  regions: { maxBytes: 1 << 20, maxKeys: 0, splitTables: true },
};
const TABLES = 42;

describe("restore of many tables", () => {
  let a: Playground;
  let batched: Playground;
  let serial: Playground;
  let probe: Playground;
  const tmp = tempDir("restore-many");
  const dir = join(tmp.path, "full");
  before(async () => {
    const empty = { data: "empty" as const, electionMs: 300, scatterMs: 5, tidbPort: 0 };
    [a, batched, serial, probe] = await Promise.all([
      startPlayground({ data: SPEC, electionMs: 300, tidbPort: 0 }),
      startPlayground(empty),
      startPlayground(empty),
      startPlayground(empty),
    ]);
    await runBackup({
      mode: "full",
      pd: [a.pdAddress],
      storage: `local://${dir}`,
      sendCredentials: true,
      concurrency: 4,
      checksum: true,
      compression: "zstd",
      progress: "quiet",
    });
  });
  after(async () => {
    await Promise.all([a?.stop(), batched?.stop(), serial?.stop(), probe?.stop()]);
    tmp.cleanup();
  });

  test("tables created in batches on several sessions get each its own IDs back", async () => {
    const storage = await openStorage(`local://${dir}`);
    try {
      const reader = await MetaReader.open(storage);
      const sel = await selectTables(reader, allFilter());
      assert.equal(sel.tables.length, TABLES);
      for (const d of sel.databases) await sql(probe, `CREATE DATABASE \`${d.db_name.O}\``);
      const got = new Map<string, TableInfo>();
      // The selection holds names; the whole TableInfos stream from the backup as batches go.
      await createTables(
        wholeSchemas(reader, sel.tables),
        sel.tables.length,
        { endpoint: endpoint(probe), batchSize: 5, concurrency: 4 },
        (t, info) => {
          const key = `${t.db.db_name.O}.${t.table.name.O}`;
          assert.ok(!got.has(key), `${key} reported twice`);
          got.set(key, info);
        },
      );
      assert.equal(got.size, TABLES);
      const ids = new Map(
        (await sql(
          probe,
          "SELECT TABLE_SCHEMA, TABLE_NAME, TIDB_TABLE_ID FROM information_schema.tables " +
            "WHERE TABLE_SCHEMA IN ('alpha', 'beta', 'gamma')",
        )).map((r) => [`${r.TABLE_SCHEMA}.${r.TABLE_NAME}`, Number(r.TIDB_TABLE_ID)]),
      );
      assert.equal(ids.size, TABLES);
      for (const [key, info] of got) {
        const [db, name] = key.split(".") as [string, string];
        const truth = probe.tidb!.engine.table(db, name)!.table;
        assert.equal(info.name.O, name, key);
        assert.equal(info.id, ids.get(key), `${key}: the table ID information_schema shows`);
        assert.deepEqual(info, truth, `${key}: the TableInfo in TiDB's meta`);
      }
      // Every table, partition and index of a batch has IDs of its own.
      const all = [...got.values()].flatMap((t) => [
        t.id,
        ...(t.partition?.definitions.map((p) => p.id) ?? []),
      ]);
      assert.equal(new Set(all).size, all.length);
    } finally {
      await storage.close();
    }
  });

  test("--ddl-batch-size is a non-negative integer: anything else is a usage error", async () => {
    for (const bad of ["-1", "1.5", "lots"]) {
      const run = await runTibr([
        "restore",
        "full",
        "-s",
        `local://${dir}`,
        `--ddl-batch-size=${bad}`,
      ]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(errorLine(run), /--ddl-batch-size must be a non-negative integer/);
    }
  });

  test("a batched, concurrent restore and a one-at-a-time restore give the source's tables", async () => {
    const s = await runRestore({
      mode: "full",
      pd: [batched.pdAddress],
      storage: `local://${dir}`,
      sendCredentials: true,
      concurrency: 4,
      ddlBatchSize: 4,
      ddlConcurrency: 5,
      checksum: true,
      progress: "quiet",
      tidb: endpoint(batched),
    }) as RestoreSummary;
    assert.equal(s.tables, TABLES);
    assert.equal(s.checksum, "passed");
    const t = endpoint(serial);
    const run = await runTibr([
      "--log-file",
      join(tmp.path, "cli.log"),
      "restore",
      "full",
      "-s",
      `local://${dir}`,
      "-u",
      serial.pdAddress,
      "--tidb-host",
      t.host,
      "--tidb-port",
      String(t.port),
      "--tidb-status-port",
      String(t.statusPort),
      "--ddl-batch-size",
      "0",
      "--progress",
      "quiet",
      "--output",
      "json",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout.trim().split("\n").at(-1)!).checksum, "passed");
    const storage = await openStorage(`local://${dir}`);
    try {
      const reader = await MetaReader.open(storage);
      const ts = reader.meta.endVersion;
      const sorted = (rows: Record<string, unknown>[]) =>
        rows.map((r) => JSON.stringify(r, (_k, v) => typeof v === "bigint" ? String(v) : v))
          .sort();
      for await (const bt of reader.tables()) {
        if (!bt.table) continue;
        const db = bt.db.db_name.O;
        const name = bt.table.name.O;
        const q = `\`${db}\`.\`${name}\``;
        const truth = a.cluster.tableChecksum(bt.table, ts);
        const [ca] = await sql(a, `SHOW CREATE TABLE ${q}`);
        const rows = sorted(await sql(a, `SELECT * FROM ${q}`));
        for (const pg of [batched, serial]) {
          const created = pg.tidb!.engine.table(db, name)!.table;
          const got = pg.cluster.tableChecksum(created, pg.cluster.ts());
          assert.equal(got.totalKvs, truth.totalKvs, `${q}: kvs`);
          assert.equal(got.totalBytes, truth.totalBytes, `${q}: bytes`);
          const [c] = await sql(pg, `SHOW CREATE TABLE ${q}`);
          assert.equal(c!["Create Table"], ca!["Create Table"], `${q}: SHOW CREATE TABLE`);
          assert.deepEqual(sorted(await sql(pg, `SELECT * FROM ${q}`)), rows, `${q}: rows`);
        }
      }
    } finally {
      await storage.close();
    }
  });
});
