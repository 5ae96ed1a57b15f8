/**
 * The backup summary for people, in the shape of BR's "Full Backup success summary".
 * @module
 */
import { formatBytes, formatSpeed, goDuration } from "./progress.ts";
import type { BackupSummary } from "./task.ts";

/**
 * BR's label of a backup (its command's name): what progress, summaries and `kind` say. An
 * incremental backup (`--lastbackupts`) of tables is `Incremental Backup`, as tibr's users and
 * tests name it; BR itself keeps the command's label there.
 */
export function backupLabel(mode: string, incremental = false): string {
  if (incremental && mode !== "raw" && mode !== "txn") return "Incremental Backup";
  switch (mode) {
    case "db":
      return "Database Backup";
    case "table":
      return "Table Backup";
    case "raw":
      return "Raw Backup";
    case "txn":
      return "Txn Backup";
    default:
      return "Full Backup";
  }
}

/**
 * The summary as BR's single log line (pingcap/tidb br/pkg/summary/collector.go), so scripts
 * that read BR's log keep working: `["Full Backup success summary"] [total-ranges=..]
 * [ranges-succeed=..] [ranges-failed=0] [total-take=..] [BackupTS=..] [total-kv=..]
 * [total-kv-size=..] [average-speed=..] [backup-data-size(after-compressed)=..] [Size=..]`.
 * Sizes are go-units `HumanSize`, durations Go's `Duration.String`.
 */
export function summaryLogLine(s: BackupSummary): string {
  const secs = Math.max(s.timeTakenMs / 1000, 0.001);
  const fields: [string, string | number][] = [
    ["total-ranges", s.totalRanges],
    ["ranges-succeed", s.totalRanges],
    ["ranges-failed", 0],
    ["total-take", goDuration(s.timeTakenMs)],
    ["BackupTS", s.backupTs],
    ["total-kv", s.totalKvs],
    ["total-kv-size", formatBytes(BigInt(s.totalBytes))],
    ["average-speed", formatSpeed(Number(s.totalBytes) / secs)],
    ["backup-data-size(after-compressed)", formatBytes(BigInt(s.backupDataSize))],
    ["Size", s.backupDataSize],
  ];
  return brLogLine(`${s.kind} success summary`, fields);
}

/** A message and its fields as pingcap/log writes them: `["msg"] [k=v] [k="a b"]`. */
export function brLogLine(message: string, fields: [string, string | number][]): string {
  return `[${JSON.stringify(message)}] ` +
    fields.map(([k, v]) => `[${k}=${_quoteField(String(v))}]`).join(" ");
}

/** pingcap/log quotes a value that has spaces, quotes or brackets. */
function _quoteField(v: string): string {
  return /[\s"[\]=]/.test(v) ? JSON.stringify(v) : v;
}

/** The summary as the lines printed at the end of a successful backup. */
export function summaryText(s: BackupSummary): string {
  const rows: [string, string][] = [
    ["storage", s.storage],
    ["BackupTS", `${s.backupTs} (${s.backupTime})`],
    ...(s.lastBackupTs !== "0" ? [["last BackupTS", s.lastBackupTs] as [string, string]] : []),
    ["total ranges", String(s.totalRanges)],
    ["total regions", String(s.totalRegions)],
    ["tables", String(s.tables)],
    ["total kv", s.totalKvs],
    ["total kv size", formatBytes(BigInt(s.totalBytes))],
    ["backup data size (after compression)", formatBytes(BigInt(s.backupDataSize))],
    ["data files", String(s.dataFiles)],
    ...(s.resumedRanges !== undefined
      ? [["resumed from checkpoint", `${s.resumedRanges} ranges`] as [string, string]]
      : []),
    ["checksum", s.checksum],
    [
      "total take",
      `${(s.timeTakenMs / 1000).toFixed(1)}s${s.resumedRanges !== undefined ? " (all runs)" : ""}`,
    ],
    ["average speed", s.averageSpeed],
  ];
  if (s.alreadyComplete) {
    rows.push(["note", "an earlier run had finished this backup; this run removed its checkpoint"]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${s.kind} success summary:\n` +
    rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n") + "\n";
}
