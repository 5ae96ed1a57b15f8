// `tibr backup` as BR's users and scripts see it, through the real CLI against the playground:
// BR's labels and single summary line in the log, backupmeta's br_version and cluster_version,
// a backup root with nothing but the backup, `--log-file -` on stderr, and the Prometheus
// metrics and /status of `--status-addr` scraped while the backup runs.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MetaReader } from "../../src/backup/metareader.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { openLocal, startSmall, tempDir } from "../playground/_helpers.ts";
import { closedPort, runTibr } from "./_cli.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("tibr backup as BR's users and scripts see it", () => {
  let pg: Playground;
  const tmp = tempDir("br-parity");

  before(async () => {
    pg = await startSmall();
  });
  after(async () => {
    await pg.stop();
    tmp.cleanup();
  });

  test("a database backup: BR's labels, log line, metadata and metrics; nothing left over", async () => {
    const dir = join(tmp.path, "db");
    const log = join(tmp.path, "db.log");
    const port = await closedPort();
    // Slow stores stretch the run over several scrapes.
    for (const s of pg.cluster.regions.stores()) pg.admin.slowStore(s.id, 100);
    let finished = false;
    const running = runTibr([
      "--log-file",
      log,
      "backup",
      "db",
      "--db",
      "shop",
      "-u",
      pg.pdAddress,
      "-s",
      `local://${dir}`,
      "--output",
      "json",
      "--progress",
      "quiet",
      "--status-addr",
      `127.0.0.1:${port}`,
    ]).finally(() => (finished = true));
    const scrapes: string[] = [];
    const statuses: { kind: string; phase: string; ranges: { total: number } }[] = [];
    while (!finished) {
      try {
        scrapes.push(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
        statuses.push(await (await fetch(`http://127.0.0.1:${port}/status`)).json());
      } catch {
        // Not listening yet, or already closed.
      }
      await sleep(50);
    }
    const run = await running;
    for (const s of pg.cluster.regions.stores()) pg.admin.slowStore(s.id, 0);
    assert.equal(run.code, 0, run.stderr);

    const summary = JSON.parse(run.stdout);
    assert.equal(summary.kind, "Database Backup");
    assert.match(summary.averageSpeed, /^\d+(\.\d+)?[kMGT]?B\/s$/);

    // Scraped while it ran.
    assert.ok(scrapes.length > 0, "no scrape while the backup ran");
    const during = scrapes.at(-1)!;
    for (
      const metric of [
        'tibr_ranges_planned{task="backup"}',
        'tibr_ranges_done_total{task="backup"}',
        'tibr_regions_done_total{task="backup"}',
        'tibr_rpc_duration_seconds_count{method="PD/Tso"',
        'tibr_rpc_duration_seconds_count{method="Backup/backup"',
        'tibr_storage_op_duration_seconds_count{plugin="local"',
        "tibr_checkpoint_lock_renewals_total",
      ]
    ) {
      assert.ok(scrapes.some((s) => s.includes(metric)), `no scrape had ${metric}:\n${during}`);
    }
    assert.ok(statuses.some((s) => s.kind === "Database Backup" && s.ranges.total > 0));
    assert.ok(statuses.some((s) => s.phase === "backup" || s.phase === "checksum"));

    // BR's single summary line, as scripts grep it.
    const text = readFileSync(log, "utf8");
    assert.match(
      text,
      /\["Database Backup success summary"\] \[total-ranges=\d+\] \[ranges-succeed=\d+\] \[ranges-failed=0\] \[total-take=[\d.]+(ms|s)\] \[BackupTS=\d+\] \[total-kv=\d+\] \[total-kv-size=[\d.]+[kMG]?B\] \[average-speed=[\d.]+[kMG]?B\/s\] \[backup-data-size\(after-compressed\)=[\d.]+[kMG]?B\] \[Size=\d+\]/,
    );

    // backupmeta: BR's br_version layout naming tibr, the cluster version PD reports.
    const storage = await openLocal(dir);
    try {
      const meta = (await MetaReader.open(storage, {})).meta;
      const lines = meta.brVersion.split("\n");
      assert.equal(lines[0], "BR");
      assert.match(lines[1]!, /^Release Version: tibr v\d+\.\d+\.\d+$/);
      assert.match(lines[2]!, /^Git Commit Hash: /);
      assert.equal(lines.at(-1), "Race Enabled: false");
      assert.equal(meta.clusterVersion, "8.5.0");
    } finally {
      await storage.close();
    }
    // Nothing but the backup: no staging directory, no emptied checkpoint directories.
    const left = readdirSync(dir);
    assert.ok(!left.includes(".tibr-tmp"), left.join(", "));
    assert.ok(!left.includes("checkpoints"), left.join(", "));
  });

  test("--log-file - logs to stderr and leaves stdout to the JSON summary", async () => {
    const run = await runTibr([
      "--log-file",
      "-",
      "backup",
      "table",
      "--db",
      "shop",
      "--table",
      "users",
      "-u",
      pg.pdAddress,
      "-s",
      `local://${join(tmp.path, "table")}`,
      "--output",
      "json",
      "--progress",
      "quiet",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).kind, "Table Backup");
    assert.match(run.stderr, /\["Table Backup success summary"\]/);
  });
});
