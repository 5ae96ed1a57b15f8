// Restore of a table whose column IDs a SQL-created copy does not keep (the sample's `history`
// kind: a column dropped, columns added FIRST and AFTER, old rows encoded before the ALTERs):
// its rows and index values are re-encoded with the new IDs. Checked against ground truth: the
// rows the sample generated (as the MySQL text protocol sends them) against the target TiDB
// server's SELECT, and the index entries in the target cluster against those TiDB writes for
// the same rows under the created table's IDs.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import mysql from "mysql2/promise";
import { runBackup } from "../../src/backup/task.ts";
import { hex } from "../../src/codec/bytes.ts";
import { EncryptionMethod } from "../../src/crypto/cipher.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import type { SampleSpec } from "../../src/playground/sample.ts";
import { datumToText } from "../../src/playground/tidb/values.ts";
import {
  type RestoreConfig,
  type RestoreSummary,
  restoreSummaryText,
  runRestore,
} from "../../src/restore/task.ts";
import { columnIdChanges } from "../../src/restore/rewrite.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { rowKvs } from "../../src/tidb/table.ts";
import { indexRange, recordRange } from "../../src/tidb/tablecodec.ts";
import { tempDir } from "../playground/_helpers.ts";

const SPEC: SampleSpec = {
  seed: 11,
  databases: [
    {
      name: "crm",
      tables: [
        { name: "accounts", kind: "history", rows: 400 },
        { name: "plain", kind: "int", rows: 120 },
      ],
    },
  ],
  rawKv: null,
  regions: { maxBytes: 8 * 1024, maxKeys: 0, splitTables: true },
};

function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

/** Every row of `q` as the text protocol sends it (NULL as null), in column order. */
async function textRows(pg: Playground, q: string): Promise<(string | null)[][]> {
  const c = await mysql.createConnection({
    ...hostPort(pg.tidbAddress),
    user: "root",
    rowsAsArray: true,
    typeCast: (field, _next) => field.string(),
  });
  try {
    const [rows] = await c.query(q);
    return rows as (string | null)[][];
  } finally {
    await c.end();
  }
}

describe("restore re-encodes tables whose column IDs change", () => {
  let a: Playground;
  let b: Playground;
  let c: Playground;
  const cipher = {
    method: EncryptionMethod.AES256_CTR,
    key: Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1),
  };
  const tmp = tempDir("restore-reencode");
  const dir = join(tmp.path, "bk");
  const encDir = join(tmp.path, "enc");
  let summary: RestoreSummary;
  before(async () => {
    [a, b, c] = await Promise.all([
      startPlayground({ data: SPEC, electionMs: 300, tidbPort: 0 }),
      startPlayground({ data: "empty", electionMs: 300, scatterMs: 5, tidbPort: 0 }),
      startPlayground({ data: "empty", electionMs: 300, scatterMs: 5, tidbPort: 0 }),
    ]);
    await runBackup({
      mode: "full",
      pd: [a.pdAddress],
      storage: `local://${dir}`,
      sendCredentials: true,
      concurrency: 2,
      checksum: true,
      compression: "zstd",
      progress: "quiet",
    });
    const t = hostPort(b.tidbAddress);
    const cfg: RestoreConfig = {
      mode: "full",
      pd: [b.pdAddress],
      storage: `local://${dir}`,
      sendCredentials: true,
      concurrency: 2,
      checksum: true,
      progress: "quiet",
      tidb: { ...t, statusPort: hostPort(b.tidbStatusAddress).port, user: "root", password: "" },
    };
    summary = await runRestore(cfg) as RestoreSummary;
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    tmp.cleanup();
  });

  test("the summary names the re-encoded table, and the checksum of its re-encoded KVs passed", () => {
    assert.equal(summary.checksum, "passed");
    assert.equal(summary.reencodedTables?.length, 1);
    assert.match(summary.reencodedTables![0]!, /^crm\.accounts \(.*-> /);
    assert.match(restoreSummaryText(summary), /\n {2}re-encoded +crm\.accounts \(.*TiDB Lightning/);
    const src = a.catalog!.table("crm", "accounts")!.info;
    const created = b.tidb!.engine.table("crm", "accounts")!.table;
    assert.ok(columnIdChanges(src, created).length > 0, "the sample's IDs differ from SQL's");
  });

  test("SELECT in the target gives exactly the rows the sample generated", async () => {
    const cat = a.catalog!;
    const t = cat.table("crm", "accounts")!;
    const cols = [...t.info.cols].sort((x, y) => x.offset - y.offset);
    const want: (string | null)[][] = [];
    for (let id = 1n; id <= t.maxId; id++) {
      const row = cat.rowOf(t, id);
      if (row) want.push(cols.map((c, i) => datumToText(c, row[i]!)));
    }
    assert.ok(want.length >= 400);
    const names = cols.map((c) => `\`${c.name.O}\``).join(", ");
    // The playground's TiDB has no ORDER BY: rows are sorted here, by id.
    const at = cols.findIndex((c) => c.name.L === "id");
    const got = (await textRows(b, `SELECT ${names} FROM crm.accounts`))
      .sort((x, y) => Number(x[at]) - Number(y[at]));
    assert.equal(got.length, want.length);
    assert.deepEqual(got, want);
    // The untouched table comes back too.
    const [[n]] = await textRows(b, "SELECT COUNT(*) FROM crm.plain") as [[string]];
    assert.equal(n, "120");
  });

  test("records and index entries equal those TiDB writes for the rows under the new IDs", async () => {
    const cat = a.catalog!;
    const t = cat.table("crm", "accounts")!;
    const created = b.tidb!.engine.table("crm", "accounts")!.table;
    const want = new Map<string, string>();
    for (let id = 1n; id <= t.maxId; id++) {
      const row = cat.rowOf(t, id);
      if (!row) continue;
      // The created table lists the same columns in the same order, so the row fits it.
      for (const kv of rowKvs(created, row, id)) want.set(hex(kv.key), hex(kv.value));
    }
    const reader = b.cluster.kvReader();
    const ts = b.cluster.ts();
    const got = new Map<string, string>();
    let indexKvs = 0;
    const ranges = [
      recordRange(BigInt(created.id)),
      ...(created.index_info ?? []).map((i) => indexRange(BigInt(created.id), BigInt(i.id))),
    ];
    for (const [i, r] of ranges.entries()) {
      for (const kv of await reader.scan(r.start, r.end, ts, 0)) {
        got.set(hex(kv.key), hex(kv.value));
        if (i > 0) indexKvs++;
      }
    }
    assert.ok(indexKvs > 0, "the table has index entries");
    assert.equal(got.size, want.size, "as many KVs as TiDB writes");
    for (const [k, v] of want) assert.equal(got.get(k), v, `value of ${k}`);
  });

  test("the re-encoded files are removed after the restore", async () => {
    const s = await openStorage(`local://${dir}`);
    try {
      const left: string[] = [];
      await s.walkDir({}, (name) => {
        if (name.includes("reencode")) left.push(name);
      });
      assert.deepEqual(left, []);
    } finally {
      await s.close();
    }
  });

  test("an encrypted backup's table is re-encoded into encrypted files and restores the same rows", async () => {
    await runBackup({
      mode: "table",
      db: "crm",
      table: "accounts",
      pd: [a.pdAddress],
      storage: `local://${encDir}`,
      sendCredentials: true,
      concurrency: 2,
      checksum: true,
      compression: "lz4",
      cipher,
      progress: "quiet",
    });
    const t = hostPort(c.tidbAddress);
    const s = await runRestore({
      mode: "full",
      pd: [c.pdAddress],
      storage: `local://${encDir}`,
      sendCredentials: true,
      concurrency: 2,
      checksum: true,
      cipher,
      progress: "quiet",
      tidb: { ...t, statusPort: hostPort(c.tidbStatusAddress).port, user: "root", password: "" },
    }) as RestoreSummary;
    assert.equal(s.checksum, "passed");
    assert.equal(s.reencodedTables?.length, 1);
    const q = "SELECT * FROM crm.accounts";
    const sorted = (rows: (string | null)[][]) => rows.map((r) => JSON.stringify(r)).sort();
    assert.deepEqual(sorted(await textRows(c, q)), sorted(await textRows(b, q)));
  });
});
