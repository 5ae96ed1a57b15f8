// Table statistics through the real CLI against the playground, as BR handles them: the
// playground's TiDB computes them from its rows (checked against the rows the test wrote), `tibr
// backup --ignore-stats=false` writes every table's (BR's stats files, `Schema.stats_index`) and
// the default (BR's `--ignore-stats=true`) none; `tibr restore` loads them (`--load-stats`,
// default true) so B's `/stats/dump/{db}/{table}` equals A's but for versions, and
// `--load-stats=false` leaves B without them; a table TiDB serves no statistics for is backed up
// without them and a warning; MariaDB's mysql client sends LOAD STATS its file as TiDB asks.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import mysql from "mysql2/promise";
import { MetaReader } from "../../src/backup/metareader.ts";
import { blockText, readTableStats } from "../../src/backup/stats.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import type { SampleSpec } from "../../src/playground/sample.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { parseJson } from "../../src/tidb/model.ts";
import { tempDir } from "../playground/_helpers.ts";
import { runTibr } from "../backup/_cli.ts";
import { ensureDebianPackages } from "../_support/debian.ts";

const SPEC: SampleSpec = {
  seed: 5,
  databases: [
    {
      name: "shop",
      tables: [
        { name: "users", kind: "int", rows: 400, payload: 40 },
        { name: "events", kind: "partitioned", rows: 300, partitions: 3 },
      ],
    },
    { name: "hr", tables: [{ name: "staff", kind: "int", rows: 120 }] },
  ],
  regions: { maxBytes: 64 * 1024, maxKeys: 0, splitTables: true },
};

type Json = Record<string, unknown>;

async function dump(pg: Playground, db: string, table: string): Promise<Json> {
  const res = await fetch(`http://${pg.tidbStatusAddress}/stats/dump/${db}/${table}`);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return parseJson<Json>(text);
}

/** The dump without what differs between two clusters holding the same statistics. */
function comparable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(comparable);
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(
    Object.entries(v as Json)
      .filter(([k]) => k !== "version" && k !== "last_update_version")
      .map(([k, x]) => [k, comparable(x)]),
  );
}

function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

const TABLES = [["shop", "users"], ["shop", "events"], ["hr", "staff"], ["s", "t"]] as const;

describe("table statistics: backup, restore and the playground's TiDB", () => {
  let a: Playground;
  let b: Playground;
  let c: Playground;
  const tmp = tempDir("stats");
  const withStats = join(tmp.path, "with");
  const log = join(tmp.path, "tibr.log");
  before(async () => {
    [a, b, c] = await Promise.all([
      startPlayground({
        data: SPEC,
        electionMs: 300,
        tidbPort: 0,
        tidbStatusPort: 0,
        sstWorkers: 0,
      }),
      startPlayground({
        data: "empty",
        electionMs: 300,
        tidbPort: 0,
        tidbStatusPort: 0,
        sstWorkers: 0,
      }),
      startPlayground({
        data: "empty",
        electionMs: 300,
        tidbPort: 0,
        tidbStatusPort: 0,
        sstWorkers: 0,
      }),
    ]);
    // s.t: 60 rows with known values; analyzed, then 5 rows changed (modify_count 5).
    const conn = await mysql.createConnection({
      ...hostPort(a.tidbAddress),
      user: "root",
      multipleStatements: true,
    });
    const rows = Array.from({ length: 60 }, (_, i) => {
      const id = i + 1;
      return `(${id}, ${id % 5 === 0 ? "NULL" : `'v${id % 7}'`}, ${id % 10})`;
    });
    await conn.query(
      "CREATE DATABASE s; CREATE TABLE s.t (id INT PRIMARY KEY, a VARCHAR(10), b INT, " +
        `KEY ib (b)); INSERT INTO s.t VALUES ${rows.join(", ")}; ANALYZE TABLE s.t; ` +
        "UPDATE s.t SET b = 0 WHERE id <= 3; INSERT INTO s.t VALUES (61, 'w', 1), (62, 'w', 2)",
    );
    await conn.end();
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    tmp.cleanup();
  });

  const cli = async (args: string[]) => {
    const r = await runTibr([
      "--log-file",
      log,
      ...args,
      "--progress",
      "quiet",
      "--output",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Json;
  };

  test("the playground's TiDB computes statistics from the table's rows", async () => {
    const s = await dump(a, "s", "t");
    assert.equal(s.count, 62);
    assert.equal(s.modify_count, 5);
    const cols = s.columns as Record<string, Json>;
    const col = (n: string) => cols[n] as Json & { histogram: Json; cm_sketch: Json };
    // The analyzed 60 rows: id unique, a 12 NULLs and 7 values, b 10 values 6 times each.
    assert.equal(col("id").histogram.ndv, 60);
    assert.equal(col("id").null_count, 0);
    const idBuckets = col("id").histogram.buckets as Json[];
    assert.equal(idBuckets.at(-1)!.count, 60, "bucket counts are cumulative");
    assert.equal(atob(String(idBuckets[0]!.lower_bound)), "1");
    assert.equal(atob(String(idBuckets.at(-1)!.upper_bound)), "60");
    assert.equal(col("a").null_count, 12);
    assert.equal(col("a").histogram.ndv, 7);
    assert.equal(col("b").histogram.ndv, 10);
    const topB = col("b").cm_sketch.top_n as Json[];
    assert.equal(topB.length, 10);
    assert.ok(topB.every((t) => t.count === 6));
    const ib = (s.indices as Record<string, Json & { histogram: Json; cm_sketch: Json }>).ib!;
    assert.equal(ib.histogram.ndv, 10);
    assert.equal((ib.cm_sketch.top_n as Json[]).length, 10);
    // The sample's tables were analyzed as loaded.
    const users = await dump(a, "shop", "users");
    assert.equal(users.count, 400);
    assert.equal(users.modify_count, 0);
    assert.equal(((users.columns as Json).id as { histogram: Json }).histogram.ndv, 400);
    const events = await dump(a, "shop", "events");
    assert.deepEqual(
      Object.keys(events.partitions as Json).sort(),
      ["global", "p0", "p1", "p2"],
    );
  });

  test("backup --ignore-stats=false writes every table's statistics; the default writes none", async () => {
    const out = await cli([
      "backup",
      "full",
      "-u",
      a.pdAddress,
      "-s",
      `local://${withStats}`,
      "--ignore-stats=false",
    ]);
    assert.equal(out.tables, TABLES.length);
    const storage = await openStorage(`local://${withStats}`);
    const reader = await MetaReader.open(storage);
    let files = 0;
    const seen: string[] = [];
    for await (const s of reader.schemas()) {
      if (!s.table) continue;
      const name = `${s.db.db_name.O}.${s.table.name.O}`;
      seen.push(name);
      assert.ok(s.raw.statsIndex.length > 0, `${name} has statistics`);
      for (const ix of s.raw.statsIndex.filter((i) => i.name !== "")) {
        assert.match(ix.name, /^backupmeta\.schema\.stats\.\d{9}$/);
        assert.ok(existsSync(join(withStats, ix.name)), ix.name);
        files++;
      }
      const blocks = await readTableStats(storage, undefined, s.raw.statsIndex);
      const ids = [s.table.id, ...(s.table.partition?.definitions ?? []).map((d) => d.id)];
      assert.deepEqual(blocks.map((bl) => Number(bl.physicalId)).sort(), ids.sort());
      if (!s.table.partition) {
        const own = parseJson<Json>(blockText(blocks[0]!));
        assert.deepEqual(
          comparable(own),
          comparable(await dump(a, s.db.db_name.O, s.table.name.O)),
        );
      }
    }
    assert.deepEqual(seen.sort(), TABLES.map(([d, t]) => `${d}.${t}`).sort());
    // shop.users' statistics pass BR's 8 KiB inline limit: they went to a stats file.
    assert.ok(files > 0, "a stats file was written");

    const plain = join(tmp.path, "plain");
    await cli(["backup", "full", "-u", a.pdAddress, "-s", `local://${plain}`]);
    for await (
      const s of (await MetaReader.open(await openStorage(`local://${plain}`))).schemas()
    ) {
      assert.equal(s.raw.statsIndex.length, 0, "no statistics by default (BR's --ignore-stats)");
      assert.equal(s.raw.stats.length, 0);
    }
  });

  test("restore loads them (--load-stats): B's statistics equal A's but for versions", async () => {
    const out = await cli(["restore", "full", "-u", b.pdAddress, "-s", `local://${withStats}`]);
    assert.equal(out.statsLoaded, TABLES.length);
    for (const [db, table] of TABLES) {
      assert.deepEqual(
        comparable(await dump(b, db, table)),
        comparable(await dump(a, db, table)),
        `${db}.${table}`,
      );
    }
  });

  test("restore --load-stats=false leaves the restored tables without statistics", async () => {
    const out = await cli([
      "restore",
      "full",
      "-u",
      c.pdAddress,
      "-s",
      `local://${withStats}`,
      "--load-stats=false",
    ]);
    assert.equal(out.statsLoaded, undefined);
    for (const [db, table] of TABLES) {
      const s = await dump(c, db, table);
      assert.equal(s.count, 0, `${db}.${table}`);
      assert.deepEqual(s.columns ?? {}, {});
      for (const p of Object.values((s.partitions ?? {}) as Record<string, Json>)) {
        assert.deepEqual(p.columns, {});
      }
    }
  });

  test("a table TiDB serves no statistics for is backed up without them, with a warning", async () => {
    // A TiDB in front of A's, registered in A's PD first, that knows no statistics of hr.staff.
    const front = createServer(async (req, res) => {
      if (req.url?.startsWith("/stats/dump/hr/staff")) {
        res.writeHead(400).end("[schema:1146]Table 'hr.staff' doesn't exist");
        return;
      }
      const r = await fetch(`http://${a.tidbStatusAddress}${req.url}`);
      res.writeHead(r.status, { "content-type": "application/json" }).end(await r.text());
    });
    await new Promise<void>((r) => front.listen(0, "127.0.0.1", () => r()));
    const port = (front.address() as AddressInfo).port;
    const key = "/topology/tidb/127.0.0.1:1";
    a.etcd.put(`${key}/info`, JSON.stringify({ version: "v8.5.0", status_port: port }));
    a.etcd.put(`${key}/ttl`, String(Date.now() * 1e6));
    const dir = join(tmp.path, "partial");
    try {
      await cli([
        "backup",
        "full",
        "-u",
        a.pdAddress,
        "-s",
        `local://${dir}`,
        "--ignore-stats=false",
      ]);
    } finally {
      a.etcd.delete(`${key}/info`);
      a.etcd.delete(`${key}/ttl`);
      await new Promise<void>((r) => front.close(() => r()));
    }
    for await (const s of (await MetaReader.open(await openStorage(`local://${dir}`))).schemas()) {
      if (!s.table) continue;
      const name = `${s.db.db_name.O}.${s.table.name.O}`;
      assert.equal(s.raw.statsIndex.length > 0, name !== "hr.staff", name);
    }
    assert.match(readFileSync(log, "utf8"), /dump table stats failed.*hr.*staff/);
  });

  test("a real MySQL client (MariaDB's) sends LOAD STATS its file over LOCAL INFILE", async () => {
    ensureDebianPackages(["mysql"], ["mariadb-client"]);
    const src = await dump(a, "s", "t");
    const file = join(tmp.path, "t2.json");
    writeFileSync(file, JSON.stringify({ ...comparable(src) as Json, table_name: "t2" }));
    const { port } = hostPort(a.tidbAddress);
    const run = (sql: string) =>
      promisify(execFile)("mysql", [
        "--local-infile=1",
        "-h",
        "127.0.0.1",
        "-P",
        String(port),
        "-u",
        "root",
        "-e",
        sql,
      ], { timeout: 30_000 });
    await run("CREATE TABLE s.t2 (id INT PRIMARY KEY, a VARCHAR(10), b INT, KEY ib (b))");
    await run(`LOAD STATS '${file}'`);
    assert.deepEqual(
      comparable({ ...await dump(a, "s", "t2"), table_name: "t" }),
      comparable(src),
    );
  });
});
