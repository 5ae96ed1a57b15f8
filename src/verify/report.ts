/**
 * The report `tibr verify` prints for people: what was checked, one line per table, then every
 * problem (level, kind, table/index/file/key) and the notes.
 * @module
 */
import { formatBytes } from "../backup/progress.ts";
import type { VerifyReport } from "./verify.ts";

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

function lpad(s: string, n: number): string {
  return s.length >= n ? s : " ".repeat(n - s.length) + s;
}

/** The text report. */
export function formatVerifyReport(r: VerifyReport): string {
  const lines: string[] = [];
  lines.push(
    `Verify of ${r.storage} at level ${r.level}: ${r.kind} backup at ts ${r.backupTs}, ` +
      `${r.files} data files, ${formatBytes(BigInt(r.size))} stored` +
      (r.level === "data" || r.level === "semantic"
        ? `, ${r.kvs} KVs, ${formatBytes(BigInt(r.bytes))} of KV data`
        : ""),
  );
  if (r.tables.length > 0) {
    const w = Math.max(5, ...r.tables.map((t) => t.name.length));
    lines.push("");
    lines.push(
      `${pad("TABLE", w)}  ${lpad("FILES", 6)}  ${lpad("KVS", 10)}  ${lpad("BYTES", 9)}  RESULT`,
    );
    for (const t of r.tables) {
      lines.push(
        `${pad(t.name, w)}  ${lpad(String(t.files), 6)}  ${lpad(t.kvs, 10)}  ${
          lpad(formatBytes(BigInt(t.bytes)), 9)
        }  ${t.result}`,
      );
    }
  }
  if (r.problems.length > 0) {
    lines.push("");
    lines.push(`Problems (${r.problems.length}):`);
    for (const p of r.problems) {
      const where = [
        p.table ? `table ${p.table}` : "",
        p.index ? `index ${p.index}` : "",
        p.file ? `file ${p.file}` : "",
        p.key ? `key ${p.key}` : "",
      ].filter(Boolean).join(", ");
      lines.push(`  [${p.level}] ${p.code}${where ? ` (${where})` : ""}: ${p.message}`);
    }
  }
  if (r.notes.length > 0) {
    lines.push("");
    lines.push("Notes:");
    for (const n of r.notes) lines.push(`  ${n}`);
  }
  lines.push("");
  lines.push(
    r.ok
      ? `OK: no problem found at level ${r.level}`
      : `FAILED: ${r.problems.length} problem(s) found`,
  );
  return lines.join("\n") + "\n";
}
