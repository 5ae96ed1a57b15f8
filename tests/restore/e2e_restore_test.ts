// `tibr restore` end to end against the playground: a backup of playground A restored into an
// empty playground B (its TiDB server creates the schemas). Checked against ground truth, not
// tibr's output: per table, B's data under the new IDs holds A's KVs and bytes at the backup ts,
// SHOW CREATE TABLE prints the same text in A and B, row counts match, and the next
// AUTO_INCREMENT value in B is above every restored id; B ends with import mode off and PD's
// schedulers running.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import mysql from "mysql2/promise";
import { MetaReader } from "../../src/backup/metareader.ts";
import { runBackup } from "../../src/backup/task.ts";
import { SwitchMode } from "../../src/gen/import_sstpb_pb.ts";
import { EncryptionMethod } from "../../src/crypto/cipher.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { type RestoreConfig, type RestoreSummary, runRestore } from "../../src/restore/task.ts";
import type { DryRunPlan } from "../../src/restore/plan.ts";
import { metrics } from "../../src/metrics.ts";
import { SMALL_SPEC, startSmall, tempDir } from "../playground/_helpers.ts";
import { closedPort, errorLine, runTibr } from "../backup/_cli.ts";
import { readFileSync } from "node:fs";

function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

async function sql(
  pg: Playground,
  q: string,
  password = "",
): Promise<Record<string, unknown>[]> {
  const c = await mysql.createConnection({ ...hostPort(pg.tidbAddress), user: "root", password });
  try {
    const [rows] = await c.query(q);
    return rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

describe("tibr restore against the playground", () => {
  let a: Playground;
  let b: Playground;
  let c: Playground;
  const KEY = "0123456789abcdef0123456789abcdef";
  const PASSWORD = "s3cret-pw-9931";
  const tmp = tempDir("restore-e2e");
  const full = join(tmp.path, "full");
  const encrypted = join(tmp.path, "enc");
  before(async () => {
    [a, b, c] = await Promise.all([
      // The small sample plus the default sample's table with a history (crm.accounts: column
      // IDs a SQL-created copy does not keep, so restore re-encodes it).
      startSmall({
        tidbPort: 0,
        data: {
          ...SMALL_SPEC,
          databases: [
            ...SMALL_SPEC.databases ?? [],
            { name: "crm", tables: [{ name: "accounts", kind: "history", rows: 300 }] },
          ],
        },
      }),
      startPlayground({ data: "empty", electionMs: 300, scatterMs: 5, tidbPort: 0 }),
      startPlayground({
        data: "empty",
        electionMs: 300,
        scatterMs: 5,
        tidbPort: 0,
        tidbPassword: PASSWORD,
      }),
    ]);
    const common = {
      pd: [a.pdAddress],
      sendCredentials: true,
      concurrency: 4,
      checksum: true,
      progress: "quiet" as const,
    };
    await runBackup({ ...common, mode: "full", storage: `local://${full}`, compression: "zstd" });
    await runBackup({
      ...common,
      mode: "db",
      db: "shop",
      storage: `local://${encrypted}`,
      compression: "lz4",
      cipher: {
        method: EncryptionMethod.AES128_CTR,
        key: Uint8Array.from(KEY.match(/../g)!.map((h) => parseInt(h, 16))),
      },
    });
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    tmp.cleanup();
  });

  /** `tibr restore ...` against playground `pg` through the CLI. */
  function cli(pg: Playground, args: string[], env: Record<string, string> = {}) {
    const t = hostPort(pg.tidbAddress);
    return runTibr([
      "--log-file",
      join(tmp.path, "cli.log"),
      "restore",
      ...args,
      "-u",
      pg.pdAddress,
      "--tidb-host",
      t.host,
      "--tidb-port",
      String(t.port),
      "--tidb-status-port",
      String(hostPort(pg.tidbStatusAddress).port),
      "--progress",
      "quiet",
    ], { env });
  }

  function config(extra: Partial<RestoreConfig> = {}): RestoreConfig {
    const t = hostPort(b.tidbAddress);
    return {
      mode: "full",
      pd: [b.pdAddress],
      storage: `local://${full}`,
      sendCredentials: true,
      concurrency: 4,
      checksum: true,
      progress: "quiet",
      tidb: { ...t, statusPort: hostPort(b.tidbStatusAddress).port, user: "root", password: "" },
      ...extra,
    };
  }

  test("a dry run prints the plan and writes nothing", async () => {
    const plan = await runRestore(config({ dryRun: true })) as DryRunPlan;
    assert.equal(plan.notFresh, "fresh");
    assert.equal(plan.tables.length, 7);
    assert.deepEqual(plan.tables.filter((t) => t.reencode).map((t) => t.name), ["crm.accounts"]);
    assert.ok(plan.tables.every((t) => t.sql[0]!.startsWith("CREATE TABLE IF NOT EXISTS")));
    assert.ok(plan.splitKeys > 0);
    const dbs = (await sql(b, "SHOW DATABASES")).map((r) => String(Object.values(r)[0]));
    assert.ok(!dbs.includes("shop"), "the dry run created nothing");
    // /status says the run is over, as after a restore.
    assert.equal(metrics.status().phase, "done");
  });

  test("a full restore into an empty cluster equals the source, table by table", async () => {
    const s = await runRestore(config()) as RestoreSummary;
    assert.equal(s.checksum, "passed");
    assert.equal(s.tables, 7);
    assert.deepEqual(s.reencodedTables?.map((t) => t.split(" ")[0]), ["crm.accounts"]);
    const storage = await openStorage(`local://${full}`);
    try {
      const reader = await MetaReader.open(storage);
      const ts = reader.meta.endVersion;
      for await (const t of reader.tables()) {
        if (!t.table) continue;
        const db = t.db.db_name.O;
        const name = t.table.name.O;
        const q = `\`${db}\`.\`${name}\``;
        const truthA = a.cluster.tableChecksum(t.table, ts);
        const created = b.tidb!.engine.table(db, name)!.table;
        const truthB = b.cluster.tableChecksum(created, b.cluster.ts());
        assert.equal(truthB.totalKvs, truthA.totalKvs, `${q}: kvs`);
        // A re-encoded table's rows carry other column IDs (and the values old rows lacked):
        // its rows are compared through SELECT below instead of byte for byte.
        if (name !== "accounts") assert.equal(truthB.totalBytes, truthA.totalBytes, `${q}: bytes`);
        const [ca] = await sql(a, `SHOW CREATE TABLE ${q}`);
        const [cb] = await sql(b, `SHOW CREATE TABLE ${q}`);
        assert.equal(cb!["Create Table"], ca!["Create Table"], `${q}: SHOW CREATE TABLE`);
        const [na] = await sql(a, `SELECT COUNT(*) AS n FROM ${q}`);
        const [nb] = await sql(b, `SELECT COUNT(*) AS n FROM ${q}`);
        assert.equal(String(nb!.n), String(na!.n), `${q}: rows`);
        const sorted = (rows: Record<string, unknown>[]) =>
          rows.map((r) => JSON.stringify(r, (_k, v) => typeof v === "bigint" ? String(v) : v))
            .sort();
        if (name === "accounts") {
          assert.deepEqual(
            sorted(await sql(b, `SELECT * FROM ${q}`)),
            sorted(await sql(a, `SELECT * FROM ${q}`)),
            `${q}: every row`,
          );
        }
      }
    } finally {
      await storage.close();
    }
    for (const id of b.storeAddresses().keys()) assert.equal(b.imports.mode(id), SwitchMode.Normal);
    assert.deepEqual(b.scheduling.schedulers().filter((n) => b.scheduling.isPaused(n)), []);
  });

  test("restoring again is refused: the cluster is not fresh (TiDB found through PD)", async () => {
    // No --tidb-host: the TiDB server is the one B's TiDB registered in PD's etcd.
    await assert.rejects(runRestore(config({ tidb: {} })), /not fresh/);
    await assert.rejects(
      runRestore(config({ mode: "table", db: "shop", table: "users" })),
      /shop\.users already hold rows/,
    );
  });

  test("the CLI restores an encrypted, filtered backup with the password from the environment", async () => {
    const run = await cli(c, [
      "full",
      "-s",
      `local://${encrypted}`,
      "--crypter.method",
      "aes128-ctr",
      "--crypter.key",
      KEY,
      "-f",
      "shop.*",
      "-f",
      "!shop.blobs",
      "--output",
      "json",
    ], { TIBR_TIDB_PASSWORD: PASSWORD });
    assert.equal(run.code, 0, run.stderr);
    const s = JSON.parse(run.stdout) as RestoreSummary;
    assert.equal(s.checksum, "passed");
    assert.equal(s.tables, 4);
    const tables = c.tidb!.engine.db("shop")!.tables.map((t) => t.name.O).sort();
    assert.deepEqual(tables, ["events", "items", "orders", "users"]);
    const log = readFileSync(join(tmp.path, "cli.log"), "utf8");
    assert.ok(!log.includes(PASSWORD) && !run.stderr.includes(PASSWORD), "password not logged");
    assert.ok(!log.includes(KEY), "crypter key not logged");
    // Each phase's memory is in the log, once per phase (the import's batches do not repeat it).
    for (const phase of ["schema", "import", "checksum"]) {
      const lines = log.split("\n").filter((l) =>
        new RegExp(`phase ["']${phase}["']: RSS `).test(l)
      );
      assert.equal(lines.length, 1, `${phase}: ${lines.join(" | ")}`);
      assert.match(lines[0]!, /RSS \d+ MiB, peak so far \d+ MiB/);
    }
  });

  test("CLI failures are one line: not fresh, wrong key, wrong password, TiDB unreachable", async () => {
    const notFresh = await cli(b, ["full", "-s", `local://${full}`]);
    assert.equal(notFresh.code, 2);
    assert.match(errorLine(notFresh), /not fresh: it has \d+ user table/);

    const wrongKey = await cli(c, [
      "db",
      "--db",
      "shop",
      "-s",
      `local://${encrypted}`,
      "--crypter.method",
      "aes128-ctr",
      "--crypter.key",
      "ff".repeat(16),
    ], { TIBR_TIDB_PASSWORD: PASSWORD });
    assert.equal(wrongKey.code, 2);
    assert.match(errorLine(wrongKey), /crypter key is wrong/);

    const badLogin = await cli(c, [
      "table",
      "--db",
      "hr",
      "--table",
      "staff",
      "-s",
      `local://${full}`,
    ], {
      TIBR_TIDB_PASSWORD: "not-it",
    });
    assert.equal(badLogin.code, 1);
    assert.match(errorLine(badLogin), /refused the login of user 'root'/);
    assert.ok(!badLogin.stderr.includes("not-it"));

    const port = await closedPort();
    const t = hostPort(b.tidbAddress);
    const down = await runTibr([
      "restore",
      "full",
      "-s",
      `local://${full}`,
      "-u",
      b.pdAddress,
      "--tidb-host",
      t.host,
      "--tidb-port",
      String(port),
    ]);
    assert.equal(down.code, 1);
    assert.match(errorLine(down), /cannot connect to TiDB at 127\.0\.0\.1:\d+/);
  });

  test("an interrupted restore leaves the cluster as it was (rate limit lifted) and its rerun resumes", async () => {
    const cfg = (extra: Partial<RestoreConfig> = {}): RestoreConfig => ({
      ...config(),
      pd: [c.pdAddress],
      tidb: {
        ...hostPort(c.tidbAddress),
        statusPort: hostPort(c.tidbStatusAddress).port,
        user: "root",
        password: PASSWORD,
      },
      filter: ["hr.*", "shop.blobs"],
      concurrency: 1,
      checkpointFlushIntervalMs: 100,
      ...extra,
    });
    const fault = c.imports.injectDownloadFault({ probability: 0, delayMs: 150 });
    const ac = new AbortController();
    const before = c.imports.stats.ingests;
    const first = runRestore(cfg({ signal: ac.signal, rateLimitMiB: 50 }));
    first.catch(() => {});
    while (c.imports.stats.ingests < before + 2) await new Promise((r) => setTimeout(r, 20));
    // --ratelimit reached every store (SetDownloadSpeedLimit, bytes/s).
    for (const id of c.storeAddresses().keys()) {
      assert.equal(c.imports.store(id).speedLimit, 50 * 1024 * 1024);
    }
    await new Promise((r) => setTimeout(r, 300));
    ac.abort(new Error("interrupted by the test"));
    await assert.rejects(first, /interrupted by the test/);
    c.imports.clearDownloadFaults(fault);
    for (const id of c.storeAddresses().keys()) {
      assert.equal(c.imports.mode(id), SwitchMode.Normal);
      assert.equal(c.imports.store(id).speedLimit, 0, "the speed limit is lifted");
    }
    assert.deepEqual(c.scheduling.schedulers().filter((n) => c.scheduling.isPaused(n)), []);
    const staffId = c.tidb!.engine.table("hr", "staff")!.table.id;

    const s = await runRestore(cfg()) as RestoreSummary;
    assert.equal(s.checksum, "passed");
    assert.ok((s.resumedRanges ?? 0) > 0, "the rerun skipped what the first run ingested");
    assert.equal(c.tidb!.engine.table("hr", "staff")!.table.id, staffId, "no table created twice");
    const storage = await openStorage(`local://${full}`);
    try {
      const ts = (await MetaReader.open(storage)).meta.endVersion;
      for await (const t of (await MetaReader.open(storage)).tables()) {
        if (!t.table || !["staff", "blobs"].includes(t.table.name.O)) continue;
        const created = c.tidb!.engine.table(t.db.db_name.O, t.table.name.O)!.table;
        assert.deepEqual(
          c.cluster.tableChecksum(created, c.cluster.ts()).totalKvs,
          a.cluster.tableChecksum(t.table, ts).totalKvs,
        );
      }
      const left: string[] = [];
      await storage.walkDir({ subDir: "checkpoints" }, (n) => {
        left.push(n);
      });
      assert.deepEqual(left, [], "the checkpoint is removed after success");
    } finally {
      await storage.close();
    }
  });

  test("a table altered through SQL (column dropped, one added FIRST) restores its rows, re-encoded through --checkpoint-storage", async () => {
    for (
      const q of [
        "CREATE DATABASE hist",
        "CREATE TABLE hist.t (id INT PRIMARY KEY, a INT, b INT, KEY kb (b))",
        "INSERT INTO hist.t (id, a, b) VALUES (1, 5, 10), (2, 6, NULL)",
        "ALTER TABLE hist.t DROP COLUMN a",
        "ALTER TABLE hist.t ADD COLUMN c VARCHAR(10) NOT NULL DEFAULT 'dflt' FIRST",
        "INSERT INTO hist.t (id, b, c) VALUES (3, 30, 'x'), (4, 40, 'y')",
      ]
    ) await sql(a, q);
    const dir = join(tmp.path, "hist");
    const cpDir = join(tmp.path, "hist-cp");
    await runBackup({
      mode: "db",
      db: "hist",
      pd: [a.pdAddress],
      storage: `local://${dir}`,
      sendCredentials: true,
      concurrency: 2,
      checksum: true,
      compression: "zstd",
      progress: "quiet",
    });
    const s = await runRestore({
      ...config(),
      mode: "db",
      db: "hist",
      pd: [c.pdAddress],
      storage: `local://${dir}`,
      checkpointStorage: `local://${cpDir}`,
      tidb: {
        ...hostPort(c.tidbAddress),
        statusPort: hostPort(c.tidbStatusAddress).port,
        password: PASSWORD,
      },
    }) as RestoreSummary;
    assert.equal(s.checksum, "passed");
    assert.match(s.reencodedTables?.[0] ?? "", /^hist\.t \(/);
    const rows = await sql(c, "SELECT id, c, b FROM hist.t", PASSWORD);
    assert.deepEqual(
      rows.map((r) => [r.id, r.c, r.b]).sort((x, y) => Number(x[0]) - Number(y[0])),
      [[1, "dflt", 10], [2, "dflt", null], [3, "x", 30], [4, "y", 40]],
    );
    for (const where of [dir, cpDir]) {
      const st = await openStorage(`local://${where}`);
      const left: string[] = [];
      await st.walkDir({}, (n) => {
        if (n.includes("reencode")) left.push(n);
      });
      await st.close();
      assert.deepEqual(left, [], `no re-encoded file is left in ${where}`);
    }
  });

  test("a full and an incremental backup restore to the source's state at the incremental ts", async () => {
    const backup = async (dir: string, lastBackupTs?: bigint) =>
      await runBackup({
        mode: "db",
        db: "inc",
        pd: [a.pdAddress],
        storage: `local://${dir}`,
        sendCredentials: true,
        concurrency: 2,
        checksum: true,
        compression: "zstd",
        progress: "quiet",
        ...(lastBackupTs ? { lastBackupTs } : {}),
      });
    for (
      const q of [
        "CREATE DATABASE inc",
        "CREATE TABLE inc.t (id INT PRIMARY KEY, v INT, s VARCHAR(20))",
        "INSERT INTO inc.t VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c'), (4, 40, 'd')",
      ]
    ) await sql(a, q);
    const base = join(tmp.path, "inc-base");
    const baseSummary = await backup(base);
    for (
      const q of [
        "INSERT INTO inc.t VALUES (5, 50, 'e')",
        "UPDATE inc.t SET v = 21 WHERE id = 2",
        "DELETE FROM inc.t WHERE id = 3",
        "ALTER TABLE inc.t ADD INDEX k_v (v)",
        "CREATE TABLE inc.t2 (k VARCHAR(10) PRIMARY KEY, n BIGINT)",
        "INSERT INTO inc.t2 VALUES ('x', 1), ('y', 2)",
      ]
    ) await sql(a, q);
    const inc = join(tmp.path, "inc-1");
    const incSummary = await backup(inc, BigInt(baseSummary.backupTs));
    assert.equal(incSummary.kind, "Incremental Backup");

    const target = (dir: string): RestoreConfig => ({
      ...config(),
      mode: "db",
      db: "inc",
      pd: [c.pdAddress],
      storage: `local://${dir}`,
      tidb: {
        ...hostPort(c.tidbAddress),
        statusPort: hostPort(c.tidbStatusAddress).port,
        password: PASSWORD,
      },
    });
    await runRestore(target(base));
    const plan = await runRestore({ ...target(inc), dryRun: true }) as DryRunPlan;
    assert.deepEqual(plan.ddlJobs, [
      "ALTER TABLE inc.t ADD INDEX k_v (v)",
      "CREATE TABLE inc.t2 (k VARCHAR(10) PRIMARY KEY, n BIGINT)",
    ]);
    const s = await runRestore(target(inc)) as RestoreSummary;
    assert.equal(s.kind, "Incremental Restore");
    for (const t of ["t", "t2"]) {
      const rows = async (pg: Playground, pw = "") =>
        (await sql(pg, `SELECT * FROM inc.${t}`, pw)).map((r) => JSON.stringify(r)).sort();
      assert.deepEqual(await rows(c, PASSWORD), await rows(a), `inc.${t}: rows`);
      const [ca] = await sql(a, `SHOW CREATE TABLE inc.${t}`);
      const [cc] = await sql(c, `SHOW CREATE TABLE inc.${t}`, PASSWORD);
      assert.equal(cc!["Create Table"], ca!["Create Table"], `inc.${t}: SHOW CREATE TABLE`);
    }
  });
});
