// The `history` sample kind: a table whose column and index IDs carry TiDB's DDL history, and
// rows written before its ALTERs that keep their old encoding.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ActionType, type TableInfo } from "../tidb/model.ts";
import { decodeIntColumn, decodeRow } from "../tidb/rowcodec.ts";
import { encodeRecordKey, indexRange } from "../tidb/tablecodec.ts";
import { Cluster } from "./cluster.ts";
import { expectedTableChecksum } from "./_test_helpers.ts";
import { buildHistoryTable, Catalog, loadSample } from "./sample.ts";

const SPEC = {
  databases: [{ name: "crm", tables: [{ name: "accounts", kind: "history" as const, rows: 40 }] }],
  rawKv: null,
};

function ids(t: TableInfo) {
  return {
    cols: t.cols.map((c) => [c.name.O, c.id, c.offset]),
    indexes: (t.index_info ?? []).map((i) => [i.idx_name.O, i.id]),
    max: [t.max_col_id, t.max_idx_id],
  };
}

describe("the history sample kind", () => {
  test("IDs follow TiDB's rules through ADD COLUMN FIRST/AFTER, DROP COLUMN, DROP/ADD INDEX", () => {
    let g = 0;
    const h = buildHistoryTable("accounts", () => ++g, 0n);
    assert.deepEqual(ids(h.create), {
      cols: [["id", 1, 0], ["name", 2, 1], ["legacy_code", 3, 2], ["balance", 4, 3], [
        "created",
        5,
        4,
      ]],
      indexes: [["idx_legacy", 1], ["idx_created", 2]],
      max: [5, 2],
    });
    assert.deepEqual(h.steps.map((s) => s.type), [
      ActionType.AddColumn,
      ActionType.DropIndex,
      ActionType.DropColumn,
      ActionType.AddColumn,
      ActionType.AddIndex,
      ActionType.AddColumn,
    ]);
    const final = h.steps[h.steps.length - 1]!.info;
    assert.deepEqual(ids(final), {
      cols: [
        ["tier", 7, 0],
        ["id", 1, 1],
        ["name", 2, 2],
        ["email", 6, 3],
        ["balance", 4, 4],
        ["created", 5, 5],
        ["note", 8, 6],
      ],
      indexes: [["idx_created", 2], ["idx_email", 3]],
      max: [8, 3],
    });
    // Index columns point at the columns' new offsets.
    assert.deepEqual(final.index_info!.map((i) => i.idx_cols[0]!.offset), [5, 3]);
    // Added columns carry the origin default old rows read.
    const byName = new Map(final.cols.map((c) => [c.name.O, c]));
    assert.equal(byName.get("tier")!.origin_default, "1");
    assert.equal(byName.get("email")!.origin_default, "n/a");
    assert.equal(byName.get("note")!.origin_default, null);
    // Each step leaves the table one schema change further; the CREATE-time schema is untouched.
    assert.equal(h.create.cols.length, 5);
    assert.equal(h.steps[0]!.info.cols[2]!.name.O, "email");
  });

  test("meta and DDL history hold each step; old rows keep the CREATE-time encoding", async () => {
    const c = new Cluster({ clock: () => 1_700_000_000_000 });
    const r = loadSample(c, SPEC);
    const t = r.catalog.table("crm", "accounts")!;
    assert.equal(t.history!.oldRows, 20n);
    assert.equal(t.history!.pending.length, 0);

    const schema = c.schemaReader();
    const [db] = await schema.listDatabases();
    const [stored] = await schema.listTables(db!.info.id);
    assert.deepEqual(ids(stored!.info), ids(t.info));
    const jobs = (await schema.listHistoryJobs()).map((j) => j.info);
    assert.deepEqual(jobs.map((j) => j.type), [
      ActionType.CreateSchema,
      ActionType.CreateTable,
      ActionType.AddColumn,
      ActionType.DropIndex,
      ActionType.DropColumn,
      ActionType.AddColumn,
      ActionType.AddIndex,
      ActionType.AddColumn,
    ]);
    assert.equal(jobs[1]!.binlog!.TableInfo!.cols.length, 5);
    assert.match(jobs[2]!.query, /^ALTER TABLE `accounts` ADD COLUMN `email`/);
    assert.equal(await schema.getSchemaVersion(), 8n);

    const ts = c.ts();
    const tid = BigInt(t.info.id);
    const record = (id: bigint) => {
      const v = c.mvcc.get(encodeRecordKey(tid, id), ts).value;
      assert.ok(v, `row ${id}`);
      return decodeRow(v);
    };
    // An old row: the columns of the CREATE-time schema (the dropped legacy_code, 3, included),
    // none of those added later. A new row: the final columns.
    const old = record(1n);
    assert.deepEqual([...old.keys()].sort((a, b) => a - b), [2, 3, 4, 5]);
    assert.deepEqual([...record(21n).keys()].sort((a, b) => a - b), [2, 4, 5, 6, 7, 8]);
    assert.equal(decodeIntColumn(record(21n).get(7)!) >= 1n, true);

    // Every row, old or new, has an entry in the index added after the old rows (backfill),
    // and none in the dropped index.
    const entries = (iid: bigint) => {
      const rg = indexRange(tid, iid);
      return c.mvcc.scan(rg.start, rg.end, ts).length;
    };
    assert.equal(entries(3n), 40);
    assert.equal(entries(2n), 40);
    assert.equal(entries(1n), 0);
    assert.deepEqual(c.tableChecksum(t.info, ts), expectedTableChecksum(r.catalog, t));

    // The old rows read as the final schema with origin defaults for the added columns.
    const row = r.catalog.rowOf(t, 1n)!;
    assert.deepEqual(row[0], { kind: "int", value: 1n });
    assert.equal(new TextDecoder().decode((row[3] as { value: Uint8Array }).value), "n/a");
    assert.equal(row[6]!.kind, "null");
  });

  test("an update rewrites an old row in the final format; a delete removes its entries", () => {
    const c = new Cluster({ clock: () => 1_700_000_000_000 });
    const r = loadSample(c, SPEC);
    const t = r.catalog.table("crm", "accounts")!;
    const u = r.catalog.updateMutations(t, 2n)!;
    c.runTxn(u.mutations);
    r.catalog.applyUpdate(t, 2n, u.version);
    const d = r.catalog.deleteMutations(t, 3n)!;
    c.runTxn(d);
    r.catalog.applyDelete(t, 3n);
    const ins = r.catalog.insertMutations(t);
    c.runTxn(ins.mutations);
    r.catalog.applyInsert(t, ins.id);
    const ts = c.ts();
    const v = c.mvcc.get(encodeRecordKey(BigInt(t.info.id), 2n), ts).value!;
    assert.ok(decodeRow(v).has(6) && decodeRow(v).has(7) && !decodeRow(v).has(3));
    assert.deepEqual(c.tableChecksum(t.info, ts), expectedTableChecksum(r.catalog, t));

    // A saved catalog keeps the history: the reloaded one regenerates the same rows.
    const back = Catalog.deserialize(c, r.catalog.serialize());
    const t2 = back.table("crm", "accounts")!;
    assert.equal(t2.history!.oldRows, 20n);
    assert.deepEqual(ids(t2.history!.before), ids(t.history!.before));
    assert.deepEqual(back.rowKvsOf(t2, 1n), r.catalog.rowKvsOf(t, 1n));
    assert.deepEqual(c.tableChecksum(t2.info, ts), expectedTableChecksum(back, t2));
  });
});
