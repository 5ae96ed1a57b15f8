/**
 * The restore's labels and its summary as BR's single log line, so scripts and dashboards made
 * for BR's restore keep working.
 * @module
 */
import { formatBytes, formatSpeed, goDuration } from "../backup/progress.ts";
import { brLogLine } from "../backup/summary.ts";
import type { RestoreMode, RestoreSummary } from "./task.ts";

/**
 * BR's label of a restore, its command's name (pingcap/tidb br/pkg/task/restore.go
 * `FullRestoreCmd`...; note BR's own spelling `DataBase Restore`): what progress, `/status`,
 * the summary and its JSON `kind` say. An incremental backup restored is `Incremental Restore`,
 * as tibr names the incremental backup; BR keeps the command's label there.
 */
export function restoreLabel(mode: RestoreMode, incremental = false): string {
  if (incremental && mode !== "raw" && mode !== "txn") return "Incremental Restore";
  switch (mode) {
    case "db":
      return "DataBase Restore";
    case "table":
      return "Table Restore";
    case "raw":
      return "Raw Restore";
    case "txn":
      return "Txn Restore";
    default:
      return "Full Restore";
  }
}

/**
 * The summary as BR's log line (br/pkg/summary/collector.go with the fields restore records):
 * `["Full Restore success summary"] [total-ranges=..] [ranges-succeed=..] [ranges-failed=0]
 * [split-region=..] [restore-ranges=..] [total-take=..]
 * [restore-data-size(after-compressed)=..] [Size=..] [BackupTS=..] [RestoreTS=..]
 * [total-kv=..] [total-kv-size=..] [average-speed=..]`. Sizes are go-units `HumanSize`,
 * durations Go's `Duration.String`.
 */
export function restoreSummaryLogLine(s: RestoreSummary): string {
  const secs = Math.max(s.timeTakenMs / 1000, 0.001);
  const fields: [string, string | number][] = [
    ["total-ranges", s.ranges],
    ["ranges-succeed", s.ranges],
    ["ranges-failed", 0],
    ["split-region", goDuration(s.splitTimeMs)],
    ["restore-ranges", s.ranges],
    ["total-take", goDuration(s.timeTakenMs)],
    ["restore-data-size(after-compressed)", formatBytes(BigInt(s.restoreDataSize))],
    ["Size", s.restoreDataSize],
    ["BackupTS", s.backupTs],
    ["RestoreTS", s.restoreTs],
    ["total-kv", s.totalKvs],
    ["total-kv-size", formatBytes(BigInt(s.totalBytes))],
    ["average-speed", formatSpeed(Number(s.totalBytes) / secs)],
  ];
  return brLogLine(`${s.kind} success summary`, fields);
}
