/**
 * The backup summary for people, in the shape of BR's "Full Backup success summary".
 * @module
 */
import { formatBytes } from "./progress.ts";
import type { BackupSummary } from "./task.ts";

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
