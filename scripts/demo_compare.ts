/**
 * The demo's round-trip check: every user table of the source playground's TiDB compared with
 * the restored playground's, by name: row count and SHOW CREATE TABLE text. Exits 1 on any
 * difference.
 *
 *   deno run -A scripts/demo_compare.ts SOURCE_HOST:PORT TARGET_HOST:PORT [--skip db.table]...
 * @module
 */
import mysql from "mysql2/promise";
import process from "node:process";

const SYSTEM = new Set([
  "mysql",
  "sys",
  "information_schema",
  "performance_schema",
  "metrics_schema",
  "inspection_schema",
]);

async function connect(addr: string): Promise<mysql.Connection> {
  const i = addr.lastIndexOf(":");
  return await mysql.createConnection({
    host: addr.slice(0, i),
    port: Number(addr.slice(i + 1)),
    user: "root",
    password: process.env.TIBR_TIDB_PASSWORD ?? "",
  });
}

async function column(c: mysql.Connection, sql: string): Promise<string[]> {
  const [rows] = await c.query(sql);
  return (rows as Record<string, unknown>[]).map((r) => String(Object.values(r)[0]));
}

async function describe(c: mysql.Connection, q: string): Promise<{ rows: string; ddl: string }> {
  const [n] = await c.query(`SELECT COUNT(*) AS n FROM ${q}`);
  const [d] = await c.query(`SHOW CREATE TABLE ${q}`);
  return {
    rows: String((n as Record<string, unknown>[])[0]!.n),
    ddl: String((d as Record<string, unknown>[])[0]!["Create Table"]),
  };
}

const argv = process.argv.slice(2);
const skipped = new Set<string>();
const positional: string[] = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--skip" && argv[i + 1]) skipped.add(argv[++i]!.toLowerCase());
  else positional.push(argv[i]!);
}
const [from, to] = positional;
if (!from || !to) {
  console.error("usage: demo_compare.ts SOURCE_HOST:PORT TARGET_HOST:PORT [--skip db.table]...");
  process.exit(2);
}
const a = await connect(from);
const b = await connect(to);
let bad = 0;
const lines: string[][] = [["table", "rows (source)", "rows (restored)", "SHOW CREATE TABLE"]];
try {
  for (const db of (await column(a, "SHOW DATABASES")).sort()) {
    if (SYSTEM.has(db.toLowerCase())) continue;
    for (const t of (await column(a, `SHOW TABLES FROM \`${db}\``)).sort()) {
      const q = `\`${db}\`.\`${t}\``;
      if (skipped.has(`${db}.${t}`.toLowerCase())) {
        lines.push([`${db}.${t}`, "-", "-", "left out"]);
        continue;
      }
      const x = await describe(a, q);
      let y = { rows: "missing", ddl: "" };
      try {
        y = await describe(b, q);
      } catch {
        // Shown as missing below.
      }
      const same = x.rows === y.rows && x.ddl === y.ddl;
      if (!same) bad++;
      lines.push([`${db}.${t}`, x.rows, y.rows, x.ddl === y.ddl ? "equal" : "DIFFERENT"]);
    }
  }
} finally {
  await a.end();
  await b.end();
}
const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
for (const l of lines) console.log(l.map((c, i) => c.padEnd(widths[i]!)).join("  "));
console.log(
  bad === 0
    ? `Round trip: all ${lines.length - 1 - skipped.size} restored tables equal (rows and schema)` +
      (skipped.size > 0 ? `; left out: ${[...skipped].join(", ")}.` : ".")
    : `Round trip: ${bad} table(s) differ.`,
);
process.exit(bad === 0 ? 0 : 1);
