import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ActionType, physicalTableIds } from "../tidb/model.ts";
import { SchemaState } from "../tidb/types.ts";
import { recordRange, tablePrefix } from "../tidb/tablecodec.ts";
import { Cluster } from "./cluster.ts";
import { encodeRegionKey } from "./regions.ts";
import { expectedTableChecksum } from "./_test_helpers.ts";
import { DEFAULT_SAMPLE, EMPTY_SAMPLE, loadSample, parseSampleSpec } from "./sample.ts";

describe("sample loader", () => {
  test("the default sample: 21 tables of every kind, ~50 MB, hundreds of regions", async () => {
    const c = new Cluster({ clock: () => 1_700_000_000_000 });
    const r = loadSample(c, DEFAULT_SAMPLE);
    assert.equal(r.tables, 21);
    assert.equal(r.databases, 6);
    assert.ok(r.bytes > 40e6 && r.bytes < 70e6, `${r.bytes} bytes of rows and indexes`);
    assert.ok(r.regions >= 200 && r.regions <= 600, `${r.regions} regions`);
    assert.equal(r.rawKeys, 5000);
    assert.equal(c.mvcc.stats().locks, 0);
    const kinds = new Set(r.catalog.tables.map((t) => t.kind));
    assert.deepEqual([...kinds].sort(), [
      "clustered",
      "history",
      "int",
      "nonpublic-index",
      "partitioned",
      "rowid",
    ]);

    // TiDB's meta is readable at a fresh ts, as BR reads it.
    const schema = c.schemaReader();
    const dbs = await schema.listDatabases();
    assert.deepEqual(dbs.map((d) => d.info.db_name.O).sort(), [
      "analytics",
      "crm",
      "empty_db",
      "hr",
      "logs",
      "shop",
    ]);
    const empty = dbs.find((d) => d.info.db_name.O === "empty_db")!;
    assert.deepEqual(await schema.listTables(empty.info.id), []);
    const shop = dbs.find((d) => d.info.db_name.O === "shop")!;
    const tables = await schema.listTables(shop.info.id);
    assert.equal(tables.length, 6);
    const inv = tables.find((t) => t.info.name.O === "inventory")!.info;
    assert.ok(inv.index_info!.some((i) => i.state === SchemaState.WriteReorganization));
    assert.equal(tables.find((t) => t.info.name.O === "orders")!.info.is_common_handle, true);
    assert.equal(
      tables.find((t) => t.info.name.O === "events")!.info.partition?.definitions.length,
      4,
    );
    assert.equal(await schema.getGlobalId(), BigInt(r.catalog.globalId));
    // One schema version and one DDL job per CREATE DATABASE / CREATE TABLE, and per ALTER of
    // the history table (6).
    assert.equal(await schema.getSchemaVersion(), 33n);
    const jobs = await schema.listHistoryJobs();
    assert.equal(jobs.length, 33);
    assert.equal(jobs.filter((j) => j.info.type === ActionType.CreateTable).length, 21);
    const users = tables.find((t) => t.info.name.O === "users")!.info;
    assert.equal(await schema.getAutoTableId(shop.info.id, users.id), 24_000n);

    // Every physical table starts a region.
    for (const id of r.catalog.physicalIds()) {
      const region = c.regions.getRegion(encodeRegionKey(tablePrefix(BigInt(id))))!;
      assert.deepEqual(region.startKey, encodeRegionKey(tablePrefix(BigInt(id))));
    }
    // Leaders are spread over the three stores.
    const leaders = new Set(c.regions.all().map((x) => x.leader.storeId));
    assert.equal(leaders.size, 3);
  });

  test("ground truth per table matches a checksum computed from the rows themselves", () => {
    const c = new Cluster();
    const r = loadSample(c, { ...DEFAULT_SAMPLE, scale: 0.02 });
    const ts = c.ts();
    for (const t of r.catalog.tables) {
      assert.deepEqual(
        c.tableChecksum(t.info, ts),
        expectedTableChecksum(r.catalog, t),
        `${t.info.name.O}`,
      );
    }
    // The non-public index holds entries that the table checksum leaves out.
    const inv = r.catalog.table("shop", "inventory")!;
    const all = c.checksum(
      tablePrefix(BigInt(inv.info.id)),
      tablePrefix(BigInt(inv.info.id + 1)),
      ts,
    );
    assert.ok(all.totalKvs > c.tableChecksum(inv.info, ts).totalKvs);
    // Partitioned data lives under the partition ids only.
    const ev = r.catalog.table("shop", "events")!;
    const own = recordRange(BigInt(ev.info.id));
    assert.equal(c.checksum(own.start, own.end, ts).totalKvs, 0n);
    assert.equal(physicalTableIds(ev.info).length, 4);
  });

  test("the empty spec writes nothing; a small JSON spec writes just what it says", async () => {
    const c = new Cluster();
    const r = loadSample(c, EMPTY_SAMPLE);
    assert.deepEqual([r.tables, r.rows, r.rawKeys, r.regions], [0, 0, 0, 1]);
    assert.deepEqual(await c.schemaReader().listDatabases(), []);

    const c2 = new Cluster();
    const spec = parseSampleSpec(JSON.stringify({
      databases: [{ name: "d", tables: [{ name: "t", kind: "rowid", rows: 50 }] }],
      rawKv: { keys: 10, prefix: "k/" },
      regions: { maxBytes: 1024 },
    }));
    const r2 = loadSample(c2, spec);
    assert.equal(r2.rows, 50);
    assert.equal(r2.kvs, 100);
    assert.equal(
      c2.rawChecksum(new TextEncoder().encode("k/"), new TextEncoder().encode("k0")).totalKvs,
      10n,
    );
    assert.ok(r2.regions > 3);
  });

  test("spec errors name the problem", () => {
    assert.equal(parseSampleSpec("default"), DEFAULT_SAMPLE);
    assert.equal(parseSampleSpec(" empty "), EMPTY_SAMPLE);
    assert.throws(() => parseSampleSpec("{nope"), /neither "default", "empty" nor JSON/);
    assert.throws(
      () => parseSampleSpec('{"databases":[{"name":"a","tables":[{"name":"t","rows":-1}]}]}'),
      /rows of a.t/,
    );
    assert.throws(
      () =>
        parseSampleSpec(
          '{"databases":[{"name":"a","tables":[{"name":"t","rows":1,"kind":"weird"}]}]}',
        ),
      /kind of a.t/,
    );
    assert.throws(
      () => parseSampleSpec('{"databases":[{"name":"a"},{"name":"A"}]}'),
      /appears twice/,
    );
    assert.throws(() => parseSampleSpec('{"colour":1}'), /unknown field "colour"/);
  });
});
