// `tibr export` end to end: a playground with every table kind (int handle, clustered,
// partitioned, _tidb_rowid with long values in the default CF, and the `types` table with a
// column of every TiDB type and edge values) is changed (updates, deletes), backed up, changed
// again, then exported from the backup files alone. The SQL and CSV files must hold exactly the
// rows the playground generated at the backup ts (its ground truth, not tibr's decoder), and
// the SQL must load into a real MariaDB where COUNT(*) and a per-row digest match that truth.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Catalog, SampleSpec } from "../../src/playground/sample.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import { MysqlType } from "../../src/tidb/types.ts";
import { startMariaDb } from "../_support/mariadb.ts";
import { errorLine, runTibr } from "../_support/tibr.ts";
import { tempDir } from "../playground/_helpers.ts";
import {
  type Canon,
  canonOut,
  parseCsv,
  parseSqlInserts,
  snapshotTruth,
  sortedRows,
  type TableTruth,
} from "./_truth.ts";

const SPEC: SampleSpec = {
  seed: 11,
  databases: [
    {
      name: "shop",
      tables: [
        { name: "users", kind: "int", rows: 300, payload: 60 },
        { name: "orders", kind: "clustered", rows: 200 },
        { name: "events", kind: "partitioned", rows: 240, partitions: 3 },
        { name: "blobs", kind: "rowid", rows: 60, payload: 600 },
      ],
    },
    {
      name: "kinds",
      tables: [
        { name: "all_types", kind: "types", rows: 150 },
        // Altered after half its rows: old rows read added columns as their origin defaults.
        { name: "accounts", kind: "history", rows: 120 },
      ],
    },
    { name: "empty_db" },
  ],
  rawKv: null,
  regions: { maxBytes: 16 * 1024, maxKeys: 0, splitTables: true },
};

const KEY = "0123456789abcdef0123456789abcdef";

/** Commits an update of each id and a delete of each id, through the catalog (as TiDB would). */
function change(pg: Playground, updates: bigint[], deletes: bigint[], inserts = 0): void {
  const cat = pg.catalog as Catalog;
  for (const t of cat.tables) {
    for (const id of updates) {
      const u = cat.updateMutations(t, id);
      if (!u) continue;
      pg.cluster.runTxn(u.mutations);
      cat.applyUpdate(t, id, u.version);
    }
    for (const id of deletes) {
      const m = cat.deleteMutations(t, id);
      if (!m) continue;
      pg.cluster.runTxn(m);
      cat.applyDelete(t, id);
    }
    for (let i = 0; i < inserts; i++) {
      const { id, mutations } = cat.insertMutations(t);
      pg.cluster.runTxn(mutations);
      cat.applyInsert(t, id);
    }
  }
}

function files(dir: string): string[] {
  return readdirSync(dir).filter((f) => !f.startsWith(".")).sort();
}

/** The exported columns of a truth table: generated ones are computed on load, not written. */
function exported(t: TableTruth): number[] {
  return t.columns.flatMap((c, i) => (c.generated_expr_string === "" ? [i] : []));
}

function canonRows(rows: (Uint8Array | null)[][], t: TableTruth): string[][] {
  const keep = exported(t);
  return rows.map((r) => {
    assert.equal(r.length, keep.length, `${t.table}: a row has ${r.length} values`);
    return r.map((v, j) => canonOut(v, t.canons[keep[j]!]!));
  });
}

function truthRows(t: TableTruth): string[][] {
  const keep = exported(t);
  return t.rows.map((r) => keep.map((i) => r[i]!));
}

describe("tibr export", () => {
  let pg: Playground;
  const tmp = tempDir("export");
  const backupDir = join(tmp.path, "backup");
  const encryptedDir = join(tmp.path, "encrypted");
  const log = join(tmp.path, "tibr.log");
  let truth: TableTruth[];
  let backupTs: string;
  const exportTo = (out: string, ...extra: string[]) =>
    runTibr([
      "--log-file",
      log,
      "export",
      "-s",
      `local://${backupDir}`,
      "-o",
      out,
      "--progress",
      "quiet",
      "--output",
      "json",
      ...extra,
    ]);

  before(async () => {
    pg = await startPlayground({ data: SPEC, electionMs: 300 });
    // Before the backup: rows updated (new versions) and deleted (gone).
    change(pg, [3n, 7n, 11n, 20n], [5n, 6n, 30n]);
    truth = snapshotTruth(pg.catalog!);
    const run = await runTibr([
      "--log-file",
      log,
      "backup",
      "full",
      "-u",
      pg.pdAddress,
      "-s",
      `local://${backupDir}`,
      "--progress",
      "quiet",
      "--output",
      "json",
    ]);
    assert.equal(run.code, 0, run.stderr);
    backupTs = JSON.parse(run.stdout).backupTs;
    const enc = await runTibr([
      "--log-file",
      log,
      "backup",
      "table",
      "--db",
      "kinds",
      "--table",
      "all_types",
      "-u",
      pg.pdAddress,
      "-s",
      `local://${encryptedDir}`,
      "--crypter.method",
      "aes128-ctr",
      "--crypter.key",
      KEY,
      "--progress",
      "quiet",
    ]);
    assert.equal(enc.code, 0, enc.stderr);
    // After the backup: none of this may show in an export of it.
    change(pg, [1n, 2n, 4n, 8n, 9n], [10n, 12n], 3);
  });
  after(async () => {
    await pg?.stop();
    tmp.cleanup();
  });

  test("writes Dumpling's layout: schema files, data files, metadata with the backup ts", async () => {
    const out = join(tmp.path, "layout");
    const run = await exportTo(out, "--format", "csv", "-F", "64KiB");
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout);
    assert.equal(summary.backupTs, backupTs);
    const names = files(out);
    for (const db of ["shop", "kinds", "empty_db"]) {
      assert.ok(names.includes(`${db}-schema-create.sql`), db);
    }
    for (const t of truth) {
      assert.ok(names.includes(`${t.db}.${t.table}-schema.sql`), `${t.table} schema`);
      const data = names.filter((n) => n.startsWith(`${t.db}.${t.table}.`) && n.endsWith(".csv"));
      const s = summary.tables.find((x: { table: string }) => x.table === t.table);
      assert.deepEqual(data, s.files, `${t.table} data files`);
      assert.ok(data.every((n, i) => n === `${t.db}.${t.table}.${String(i).padStart(9, "0")}.csv`));
      assert.equal(s.rows, t.rows.length, `${t.table} rows`);
    }
    const blobs = summary.tables.find((x: { table: string }) => x.table === "all_types");
    assert.ok(blobs.files.length >= 2, "a table above --filesize is split into several files");
    const meta = readFileSync(join(out, "metadata"), "utf8");
    assert.match(
      meta,
      new RegExp(
        `^Started dump at: .*\\nSHOW MASTER STATUS:\\n\\tLog: tidb-binlog\\n\\tPos: ${backupTs}\\n\\tGTID:\\n\\nFinished dump at: `,
      ),
    );
    const create = readFileSync(join(out, "kinds.all_types-schema.sql"), "utf8");
    assert.match(create, /^\/\*!40101 SET NAMES binary\*\/;\nCREATE TABLE `all_types` \(/);
    assert.match(create, /`c_gen` bigint\(20\) GENERATED ALWAYS AS \(`c_int` \+ 1\) VIRTUAL/);
  });

  test("SQL holds exactly the rows at the backup ts, every column type included", async () => {
    const out = join(tmp.path, "sql");
    const run = await exportTo(out, "--statement-size", "20000");
    assert.equal(run.code, 0, run.stderr);
    for (const t of truth) {
      const rows: (Uint8Array | null)[][] = [];
      let statements = 0;
      for (const f of files(out).filter((n) => n.startsWith(`${t.db}.${t.table}.`))) {
        for (const ins of parseSqlInserts(readFileSync(join(out, f)))) {
          assert.equal(ins.table, t.table);
          assert.deepEqual(ins.columns, exported(t).map((i) => t.columns[i]!.name.O));
          rows.push(...ins.rows);
          statements++;
        }
      }
      assert.deepEqual(
        sortedRows(canonRows(rows, t)),
        sortedRows(truthRows(t)),
        `${t.db}.${t.table}`,
      );
      if (t.table === "all_types") assert.ok(statements > 1, "--statement-size splits INSERTs");
    }
  });

  test("CSV holds exactly the rows, with Dumpling's escapes or strict RFC 4180", async () => {
    for (const escape of [true, false]) {
      const out = join(tmp.path, `csv-${escape}`);
      const run = await exportTo(out, "--format", "csv", "--escape-backslash", String(escape));
      assert.equal(run.code, 0, run.stderr);
      for (const t of truth) {
        const names = files(out).filter((n) => n.startsWith(`${t.db}.${t.table}.`));
        const rows: (Uint8Array | null)[][] = [];
        for (const f of names) {
          const [header, ...data] = parseCsv(readFileSync(join(out, f)), { escape });
          const dec = new TextDecoder();
          assert.deepEqual(
            header!.map((h) => dec.decode(h!)),
            exported(t).map((i) => t.columns[i]!.name.O),
          );
          rows.push(...data);
        }
        assert.deepEqual(
          sortedRows(canonRows(rows, t)),
          sortedRows(truthRows(t)),
          `${t.db}.${t.table} (escape-backslash ${escape})`,
        );
      }
    }
  });

  test("the SQL loads into MariaDB and every table's count and row digests match", async () => {
    const out = join(tmp.path, "sql");
    const db = await startMariaDb();
    try {
      const names = files(out);
      for (const f of names.filter((n) => n.endsWith("-schema-create.sql"))) {
        db.source(join(out, f));
      }
      for (const t of truth) db.source(join(out, `${t.db}.${t.table}-schema.sql`), t.db);
      for (const t of truth) {
        for (
          const f of names.filter((n) => n.startsWith(`${t.db}.${t.table}.`) && n.endsWith(".sql"))
        ) {
          db.source(join(out, f), t.db);
        }
      }
      for (const t of truth) {
        const count = Number(db.query(`SELECT COUNT(*) FROM \`${t.db}\`.\`${t.table}\``).trim());
        assert.equal(count, t.rows.length, `${t.table}: COUNT(*)`);
        const exprs = t.columns.map((c, i) =>
          mariaExpr(c.name.O, c.type.Tp, t.canons[i]!, c.type.Charset, c.type.Flen)
        );
        const text = db.query(
          `SELECT ${exprs.map((e) => e.sql).join(", ")} FROM \`${t.db}\`.\`${t.table}\``,
        );
        const got = text.split("\n").filter((l) => l !== "").map((line) =>
          line.split("\t").map((v, i) => {
            if (v === "~") return "~";
            const raw = exprs[i]!.hex
              ? Uint8Array.from(v.match(/../g) ?? [], (h) => parseInt(h, 16))
              : new TextEncoder().encode(v);
            return canonOut(raw, t.canons[i]!);
          })
        );
        const digest = (rows: string[][]) =>
          sortedRows(rows).map((r) => createHash("sha256").update(r).digest("hex"));
        const want = new Set(sortedRows(t.rows));
        const wrong = sortedRows(got).find((r) => !want.has(r));
        assert.deepEqual(
          digest(got),
          digest(t.rows),
          `${t.db}.${t.table}: row digests differ, e.g. MariaDB has ${wrong}`,
        );
      }
    } finally {
      await db.stop();
    }
  });

  test("selects tables by --db/--table and -f, and exports a partitioned table as one", async () => {
    const out = join(tmp.path, "one");
    let run = await exportTo(out, "--db", "shop", "--table", "events");
    assert.equal(run.code, 0, run.stderr);
    const s = JSON.parse(run.stdout);
    assert.deepEqual(s.tables.map((t: { table: string }) => t.table), ["events"]);
    assert.deepEqual(files(out).filter((n) => n.includes("events")), [
      "shop.events-schema.sql",
      "shop.events.000000000.sql",
    ]);
    const out2 = join(tmp.path, "filtered");
    run = await exportTo(out2, "-f", "shop.*", "-f", "!shop.blobs");
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      JSON.parse(run.stdout).tables.map((t: { table: string }) => t.table).sort(),
      ["events", "orders", "users"],
    );
  });

  test("decrypts an encrypted backup with its key, and says so in one line without it", async () => {
    const t = truth.find((x) => x.table === "all_types")!;
    const args = (out: string, ...extra: string[]) => [
      "--log-file",
      log,
      "export",
      "-s",
      encryptedDir,
      "-o",
      out,
      "--progress",
      "quiet",
      "--format",
      "csv",
      ...extra,
    ];
    const out = join(tmp.path, "decrypted");
    let run = await runTibr(args(out, "--crypter.method", "aes128-ctr", "--crypter.key", KEY));
    assert.equal(run.code, 0, run.stderr);
    const [, ...rows] = parseCsv(readFileSync(join(out, "kinds.all_types.000000000.csv")));
    assert.deepEqual(sortedRows(canonRows(rows, t)), sortedRows(truthRows(t)));
    run = await runTibr(args(join(tmp.path, "x3")));
    assert.equal(run.code, 2, run.stderr);
    assert.match(errorLine(run), /give its crypter key \(--crypter\.key\)/);
    const wrong = KEY.replace("0123", "3210");
    run = await runTibr(
      args(join(tmp.path, "x4"), "--crypter.method", "aes128-ctr", "--crypter.key", wrong),
    );
    assert.equal(run.code, 2, run.stderr);
    assert.match(errorLine(run), /the crypter key is wrong/);
  });

  test("fails in one line on an unknown table, a non-backup and an unwritable output", async () => {
    let run = await exportTo(join(tmp.path, "x1"), "--db", "shop", "--table", "nope");
    assert.equal(run.code, 2, run.stderr);
    assert.match(errorLine(run), /no table shop\.nope in the backup at .*; check the name/);
    const notDir = join(tmp.path, "a-file");
    writeFileSync(notDir, "x");
    run = await exportTo(join(notDir, "out"));
    assert.equal(run.code, 2, run.stderr);
    assert.match(errorLine(run), /a-file\/out .*a file is in the way/);
    mkdirSync(join(tmp.path, "nobackup"));
    run = await runTibr([
      "--log-file",
      log,
      "export",
      "-s",
      join(tmp.path, "nobackup"),
      "-o",
      join(tmp.path, "x2"),
      "--progress",
      "quiet",
    ]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(errorLine(run), /no backupmeta at .*: this is not a finished backup/);
  });
});

/** A MariaDB select expression that returns a column as text the test can compare. */
function mariaExpr(name: string, tp: number, canon: Canon, charset: string, flen: number) {
  const col = `\`${name}\``;
  const textual = [MysqlType.String, MysqlType.Varchar, MysqlType.Blob].includes(tp as 15);
  if (canon === "bytes" && tp === MysqlType.Bit) {
    return { sql: `IFNULL(LPAD(HEX(${col}), ${((flen + 7) >> 3) * 2}, '0'), '~')`, hex: true };
  }
  if (canon === "bytes" || canon === "json" || (textual && charset !== "binary")) {
    return { sql: `IFNULL(HEX(${col}), '~')`, hex: true };
  }
  if (canon === "f32") {
    return { sql: `IFNULL(CAST(CAST(${col} AS DOUBLE) AS CHAR), '~')`, hex: false };
  }
  return { sql: `IFNULL(CAST(${col} AS CHAR), '~')`, hex: false };
}
