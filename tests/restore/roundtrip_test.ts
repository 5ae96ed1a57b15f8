// Round trips of `tibr restore` checked against the source's data, not tibr's own output:
// playground A (every kind of sample table, one with a column history, an AUTO_RANDOM table) is backed
// up once per compression (each backup's files checked against A's ground truth), and each
// backup is restored into its own empty playground:
// - `restore full` (zstd): a `tibr backup` of B (its files checked against B's ground truth),
//   decoded with tibr's SST reader and row decoder and keyed by table, partition and index
//   names, holds the same rows and index entries as A's backup; a row
//   inserted through B's SQL port without an id gets one above every restored id
//   (AUTO_INCREMENT and AUTO_RANDOM);
// - `restore db` (lz4), `restore table` (snappy, through the CLI) and a `-f` filtered restore
//   (lz4): only the selected tables exist afterwards, holding A's rows;
// - `--dry-run` leaves the storage (every file, directory, size and mtime) and the cluster
//   (every key, region, store mode, scheduler and schedule setting) as they were;
// - a read-only backup storage (made immutable with `chattr +i`, which binds root too) without
//   `--checkpoint-storage` fails in one line saying what to do, before touching the cluster.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import mysql from "mysql2/promise";
import { runBackup } from "../../src/backup/task.ts";
import { SwitchMode } from "../../src/gen/import_sstpb_pb.ts";
import type { SampleSpec } from "../../src/playground/sample.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import { type RestoreConfig, type RestoreSummary, runRestore } from "../../src/restore/task.ts";
import { ColumnFlag } from "../../src/tidb/types.ts";
import { valueClass } from "../../src/tidb/row_decode.ts";
import { errorLine, runTibr } from "../backup/_cli.ts";
import { tempDir, verifyTableBackup } from "../playground/_helpers.ts";
import { backupRows } from "./_rows.ts";

type Compression = "lz4" | "zstd" | "snappy";
const SYSTEM_DBS = new Set(["mysql", "information_schema", "performance_schema", "metrics_schema"]);

/** Every kind of table the sample has, a few hundred rows each: many restores stay quick. */
const SPEC: SampleSpec = {
  seed: 4,
  databases: [
    {
      name: "shop",
      tables: [
        { name: "users", kind: "int", rows: 400, payload: 60 },
        { name: "orders", kind: "clustered", rows: 300 },
        { name: "events", kind: "partitioned", rows: 300, partitions: 3 },
        { name: "blobs", kind: "rowid", rows: 100, payload: 300 },
        { name: "items", kind: "nonpublic-index", rows: 200 },
      ],
    },
    { name: "hr", tables: [{ name: "staff", kind: "int", rows: 100 }] },
    { name: "crm", tables: [{ name: "accounts", kind: "history", rows: 100 }] },
    { name: "empty_db" },
  ],
  regions: { maxBytes: 12 * 1024, maxKeys: 0, splitTables: true },
};

function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

async function sql(pg: Playground, q: string): Promise<Record<string, unknown>[]> {
  const c = await mysql.createConnection({ ...hostPort(pg.tidbAddress), user: "root" });
  try {
    const [rows] = await c.query({ sql: q, supportBigNumbers: true, bigNumberStrings: true });
    return rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

/** `db.table` of every user table, as the playground's TiDB lists them over SQL. */
async function userTables(pg: Playground): Promise<string[]> {
  const out: string[] = [];
  for (const r of await sql(pg, "SHOW DATABASES")) {
    const db = String(Object.values(r)[0]);
    if (SYSTEM_DBS.has(db.toLowerCase())) continue;
    for (const t of await sql(pg, `SHOW TABLES FROM \`${db}\``)) {
      out.push(`${db}.${String(Object.values(t)[0])}`);
    }
  }
  return out.sort();
}

/** Every file and directory under `dir` with its size and mtime. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      const s = statSync(join(dir, p));
      out.push(`${p} ${e.isDirectory() ? "dir" : s.size} ${s.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk("");
  return out.sort();
}

/**
 * What a restore could change in a cluster: keys, regions, import modes and limits, schedulers,
 * schedule config and its TTL overrides, label rules, operators.
 */
function clusterState(pg: Playground): unknown {
  const none = new Uint8Array(0);
  const stores = [...pg.storeAddresses().keys()];
  return {
    keys: pg.cluster.checksum(none, none, pg.cluster.ts()),
    regions: pg.cluster.regions.all().map((r) =>
      `${r.id} ${r.epoch.version}/${r.epoch.confVer} ${r.leader.storeId}`
    ),
    modes: stores.map((id) => pg.imports.mode(id)),
    limits: stores.map((id) => pg.imports.store(id).speedLimit),
    paused: pg.scheduling.schedulers().filter((n) => pg.scheduling.isPaused(n)),
    schedule: pg.scheduling.scheduleConfig(),
    ttl: Object.keys(pg.scheduling.ttlOverrides()),
    labelRules: pg.scheduling.labelRules(),
    operators: pg.scheduling.operators().length,
    ingests: pg.imports.stats.ingests,
    downloads: pg.imports.stats.downloads,
  };
}

function emptyPlayground(): Promise<Playground> {
  return startPlayground({ data: "empty", electionMs: 300, scatterMs: 5, tidbPort: 0 });
}

describe("restore round trips against the source's data", () => {
  let a: Playground;
  const targets: Playground[] = [];
  const tmp = tempDir("restore-rt");
  const backups = {} as Record<Compression, string>;
  before(async () => {
    a = await startPlayground({ data: SPEC, electionMs: 300, tidbPort: 0 });
    for (
      const q of [
        "CREATE DATABASE ar",
        "CREATE TABLE ar.t (id BIGINT AUTO_RANDOM(5) PRIMARY KEY, v INT)",
        `INSERT INTO ar.t (v) VALUES ${Array.from({ length: 40 }, (_, i) => `(${i})`).join(",")}`,
      ]
    ) await sql(a, q);
    for (const compression of ["zstd", "lz4", "snappy"] as const) {
      backups[compression] = `local://${join(tmp.path, compression)}`;
      await runBackup({
        mode: "full",
        pd: [a.pdAddress],
        storage: backups[compression],
        sendCredentials: true,
        concurrency: 4,
        checksum: true,
        compression,
        progress: "quiet",
      });
      // Each backup's files recompute to A's ground truth, table by table.
      await verifyTableBackup(join(tmp.path, compression), a);
    }
  });
  after(async () => {
    await Promise.all([a?.stop(), ...targets.map((t) => t.stop())]);
    tmp.cleanup();
  });

  async function target(): Promise<Playground> {
    const pg = await emptyPlayground();
    targets.push(pg);
    return pg;
  }

  function config(pg: Playground, extra: Partial<RestoreConfig>): RestoreConfig {
    return {
      mode: "full",
      pd: [pg.pdAddress],
      storage: backups.zstd,
      sendCredentials: true,
      concurrency: 4,
      checksum: true,
      progress: "quiet",
      tidb: {
        ...hostPort(pg.tidbAddress),
        statusPort: hostPort(pg.tidbStatusAddress).port,
        user: "root",
        password: "",
      },
      ...extra,
    };
  }

  function cli(pg: Playground, args: string[]) {
    return runTibr([
      "--log-file",
      join(tmp.path, "cli.log"),
      "restore",
      ...args,
      "-u",
      pg.pdAddress,
      "--tidb-host",
      hostPort(pg.tidbAddress).host,
      "--tidb-port",
      String(hostPort(pg.tidbAddress).port),
      "--tidb-status-port",
      String(hostPort(pg.tidbStatusAddress).port),
      "--progress",
      "quiet",
    ]);
  }

  /**
   * `pg` holds exactly the tables `selected` picks from A's backup `source`, and a backup of
   * `pg` decodes to the same records and index entries, table by table.
   */
  async function assertHoldsSource(
    pg: Playground,
    source: string,
    selected: (name: string) => boolean,
  ): Promise<void> {
    const want = await backupRows(source, selected);
    assert.ok(want.size > 0);
    assert.deepEqual(await userTables(pg), [...want.keys()].sort(), "only the selected tables");
    const dir = `local://${join(tmp.path, `of-${pg.pdAddress.replace(/\W/g, "_")}`)}`;
    await runBackup({
      mode: "full",
      pd: [pg.pdAddress],
      storage: dir,
      sendCredentials: true,
      concurrency: 4,
      checksum: true,
      compression: "zstd",
      progress: "quiet",
    });
    await verifyTableBackup(dir.slice("local://".length), pg);
    // A re-encoded table numbers its columns otherwise: its index values are not compared.
    const got = await backupRows(dir, undefined, (n) => n !== "crm.accounts");
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [name, t] of want) {
      const rows = name === "crm.accounts"
        ? t.rows.map((r) => r.startsWith("i ") ? r.replace(/ [0-9a-f]*$/, " -") : r)
        : t.rows;
      assert.equal(got.get(name)!.rows.length, rows.length, `${name}: records and index entries`);
      assert.deepEqual(got.get(name)!.rows, rows, `${name}: the same rows`);
    }
    for (const id of pg.storeAddresses().keys()) {
      assert.equal(pg.imports.mode(id), SwitchMode.Normal);
    }
    assert.deepEqual(pg.scheduling.schedulers().filter((n) => pg.scheduling.isPaused(n)), []);
  }

  test("a dry run through the CLI leaves the storage and the cluster as they were", async () => {
    const b = await target();
    const dir = backups.lz4.slice("local://".length);
    const files = listing(dir);
    const state = clusterState(b);
    const run = await cli(b, ["full", "-s", backups.lz4, "--dry-run"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /CREATE TABLE/);
    assert.deepEqual(listing(dir), files, "nothing written to the backup storage");
    assert.deepEqual(clusterState(b), state, "nothing written to the cluster");
    assert.deepEqual(await userTables(b), []);
  });

  test("a full restore holds A's rows, and new rows get ids above every restored one", async () => {
    const b = await target();
    const s = await runRestore(config(b, {})) as RestoreSummary;
    assert.equal(s.checksum, "passed");
    await assertHoldsSource(b, backups.zstd, () => true);

    // A row inserted without an id, in every table with AUTO_INCREMENT or AUTO_RANDOM.
    let checked = 0;
    for (const name of await userTables(b)) {
      const [db, tn] = name.split(".") as [string, string];
      const info = b.tidb!.engine.table(db, tn)!.table;
      const auto = info.cols.find((c) =>
        (c.type.Flag & ColumnFlag.AutoIncrement) !== 0 ||
        (info.auto_random_bits > 0 && (c.type.Flag & ColumnFlag.PriKey) !== 0)
      );
      if (!auto) continue;
      // The increment part of an AUTO_RANDOM id lies below its shard bits.
      const incBits = info.auto_random_bits > 0
        ? BigInt(info.auto_random_range_bits - 1 - info.auto_random_bits)
        : 63n;
      const inc = (v: unknown) => BigInt(String(v)) & ((1n << incBits) - 1n);
      const q = `\`${db}\`.\`${tn}\``;
      const before = (await sql(a, `SELECT \`${auto.name.O}\` AS id FROM ${q}`)).map((r) =>
        inc(r.id)
      );
      const top = before.reduce((m, v) => v > m ? v : m, 0n);
      const needed = info.cols.filter((c) =>
        c !== auto && (c.type.Flag & ColumnFlag.NotNull) !== 0 && !c.generated_expr_string
      );
      const literal = (c: (typeof needed)[number]) => {
        switch (valueClass(c.type)) {
          case "int":
          case "uint":
          case "year":
          case "float32":
          case "float64":
          case "decimal":
            return "1";
          case "date":
          case "datetime":
          case "timestamp":
            return "'2026-01-02 03:04:05'";
          case "duration":
            return "'01:02:03'";
          default:
            return "'rt-new-row'";
        }
      };
      await sql(
        b,
        `INSERT INTO ${q} (${needed.map((c) => `\`${c.name.O}\``).join(", ")}) VALUES (${
          needed.map(literal).join(", ")
        })`,
      );
      const after = (await sql(b, `SELECT \`${auto.name.O}\` AS id FROM ${q}`)).map((r) =>
        inc(r.id)
      );
      assert.equal(after.length, before.length + 1, `${name}: one row added`);
      const known = new Set(before.map(String));
      const fresh = after.filter((v) => !known.has(String(v)));
      assert.equal(fresh.length, 1, `${name}: the new row's id is a new one`);
      assert.ok(fresh[0]! > top, `${name}: new id ${fresh[0]} above every restored id (${top})`);
      checked++;
    }
    // shop.users, shop.items, shop.events, hr.staff, crm.accounts and ar.t.
    assert.equal(checked, 6);
  });

  test("restore db brings back that database alone (lz4 backup)", async () => {
    const c = await target();
    const s = await runRestore(config(c, { mode: "db", db: "shop", storage: backups.lz4 }));
    assert.equal((s as RestoreSummary).checksum, "passed");
    await assertHoldsSource(c, backups.lz4, (n) => n.startsWith("shop."));
  });

  test("restore table through the CLI brings back that table alone (snappy backup)", async () => {
    const d = await target();
    const run = await cli(d, [
      "table",
      "--db",
      "shop",
      "--table",
      "events",
      "-s",
      backups.snappy,
      "--output",
      "json",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).checksum, "passed");
    await assertHoldsSource(d, backups.snappy, (n) => n === "shop.events");
  });

  test("a filtered restore brings back the matching tables alone (lz4 backup)", async () => {
    const e = await target();
    const filter = ["crm.*", "ar.*", "shop.orders", "!shop.users"];
    const s = await runRestore(config(e, { filter, storage: backups.lz4 })) as RestoreSummary;
    assert.equal(s.checksum, "passed");
    await assertHoldsSource(
      e,
      backups.lz4,
      (n) => n.startsWith("crm.") || n.startsWith("ar.") || n === "shop.orders",
    );
  });

  test("a read-only backup storage without --checkpoint-storage is one line; with one it restores", async () => {
    const f = await target();
    const dir = join(tmp.path, "read-only");
    cpSync(backups.snappy.slice("local://".length), dir, { recursive: true });
    try {
      execFileSync("chattr", ["-R", "+i", dir], { stdio: "pipe" });
    } catch (err) {
      throw new Error(
        `cannot make ${dir} immutable with chattr +i (needs ext4/xfs and CAP_LINUX_IMMUTABLE): ` +
          (err as Error).message,
      );
    }
    try {
      assert.throws(() => writeFileSync(join(dir, "probe"), "x"), /EPERM/, "root cannot write");
      const files = listing(dir);
      const state = clusterState(f);
      const refused = await cli(f, ["full", "-s", `local://${dir}`]);
      // A flag to change, like the other configuration errors: exit 2.
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(
        errorLine(refused),
        /backup storage .* is read-only.*give a writable --checkpoint-storage URL/,
      );
      assert.deepEqual(clusterState(f), state, "the cluster is untouched");
      assert.deepEqual(await userTables(f), []);

      const dry = await cli(f, ["full", "-s", `local://${dir}`, "--dry-run"]);
      assert.equal(dry.code, 0, dry.stderr);

      // Without a checkpoint the table whose rows need re-encoding has nowhere to put them:
      // refused before anything is created.
      const noCheckpoint = await cli(f, ["full", "-s", `local://${dir}`, "--use-checkpoint=false"]);
      assert.equal(noCheckpoint.code, 2, noCheckpoint.stderr);
      assert.match(
        errorLine(noCheckpoint),
        /rows of crm\.accounts must be re-encoded .* is read-only: give a writable --checkpoint-storage URL/,
      );
      assert.deepEqual(clusterState(f), state, "the cluster is untouched");
      assert.deepEqual(await userTables(f), []);

      const run = await cli(f, [
        "full",
        "-s",
        `local://${dir}`,
        "--checkpoint-storage",
        `local://${join(tmp.path, "writable-cp")}`,
        "--output",
        "json",
      ]);
      assert.equal(run.code, 0, run.stderr);
      const s = JSON.parse(run.stdout) as RestoreSummary;
      assert.equal(s.checksum, "passed");
      assert.deepEqual(s.reencodedTables?.map((t) => t.split(" ")[0]), ["crm.accounts"]);
      assert.deepEqual(listing(dir), files, "the read-only storage is as it was");
      await assertHoldsSource(f, `local://${dir}`, () => true);
    } finally {
      execFileSync("chattr", ["-R", "-i", dir]);
    }
  });
});
