// `tibr restore` as BR's users, scripts and dashboards see it, through the real CLI against the
// playground: BR's label (`DataBase Restore`, as BR spells it) in the JSON summary, its single
// summary line in the log, and the Prometheus metrics and /status of `--status-addr` (port 0,
// learned from the announcement on stderr) scraped while the restore runs.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runBackup } from "../../src/backup/task.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import { startSmall, tempDir } from "../playground/_helpers.ts";
import { runTibr } from "../backup/_cli.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function port(addr: string): string {
  return addr.slice(addr.lastIndexOf(":") + 1);
}

interface Status {
  task: string;
  kind: string;
  phase: string;
  ranges: { done: number; total: number };
  regions: { done: number; total: number };
  files: { done: number; total: number };
  kvs: string;
  retries: Record<string, number>;
}

describe("tibr restore as BR's users and scripts see it", () => {
  let a: Playground;
  let b: Playground;
  const tmp = tempDir("restore-parity");
  const backup = join(tmp.path, "shop");

  before(async () => {
    [a, b] = await Promise.all([
      startSmall(),
      startPlayground({ data: "empty", electionMs: 300, scatterMs: 5, tidbPort: 0 }),
    ]);
    await runBackup({
      mode: "db",
      db: "shop",
      pd: [a.pdAddress],
      storage: `local://${backup}`,
      sendCredentials: true,
      concurrency: 4,
      checksum: true,
      compression: "zstd",
      progress: "quiet",
    });
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    tmp.cleanup();
  });

  test("a database restore: BR's label and log line; metrics and /status scraped while it runs", async () => {
    const log = join(tmp.path, "restore.log");
    // Slow Downloads stretch the import over several scrapes; busy stores make it retry.
    b.admin.injectDownloadFault({ delayMs: 150 });
    b.admin.injectRegionError({
      kind: "serverIsBusy",
      probability: 1,
      remaining: 2,
      rpc: "ingest",
    });
    let base = "";
    let finished = false;
    const running = runTibr([
      "--log-file",
      log,
      "restore",
      "db",
      "--db",
      "shop",
      "-u",
      b.pdAddress,
      "-s",
      `local://${backup}`,
      "--tidb-host",
      "127.0.0.1",
      "--tidb-port",
      port(b.tidbAddress),
      "--tidb-status-port",
      port(b.tidbStatusAddress),
      "--output",
      "json",
      "--progress",
      "quiet",
      "--status-addr",
      "127.0.0.1:0",
    ], {
      onStderr: (text) => {
        const m = /Metrics at (http:\/\/[^/\s]+)\/metrics/.exec(text);
        if (m) base = m[1]!;
      },
    }).finally(() => (finished = true));
    const scrapes: string[] = [];
    const statuses: Status[] = [];
    while (!finished) {
      if (base) {
        try {
          scrapes.push(await (await fetch(`${base}/metrics`)).text());
          statuses.push(await (await fetch(`${base}/status`)).json());
        } catch {
          // Already closed.
        }
      }
      await sleep(40);
    }
    const run = await running;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^Metrics at http:\/\/127\.0\.0\.1:\d+\/metrics$/m);

    const summary = JSON.parse(run.stdout);
    assert.equal(summary.kind, "DataBase Restore");
    assert.match(summary.averageSpeed, /^\d+(\.\d+)?[kMGT]?B\/s$/);

    assert.ok(scrapes.length > 0, "no scrape while the restore ran");
    const all = scrapes.join("\n");
    for (
      const metric of [
        /^tibr_ranges_planned\{task="restore"\} [1-9]/m,
        /^tibr_files_planned\{task="restore"\} [1-9]/m,
        /^tibr_ranges_done_total\{task="restore"\} [1-9]/m,
        /^tibr_regions_done_total\{task="restore"\} [1-9]/m,
        /^tibr_files_total\{task="restore"\} [1-9]/m,
        /^tibr_kvs_total\{task="restore"\} [1-9]/m,
        /^tibr_kv_bytes_total\{task="restore"\} [1-9]/m,
        /^tibr_rpc_duration_seconds_count\{method="ImportSST\/Download",code="OK"\} [1-9]/m,
        /^tibr_rpc_duration_seconds_count\{method="ImportSST\/MultiIngest",code="OK"\} [1-9]/m,
        /^tibr_rpc_duration_seconds_count\{method="Tikv\/SplitRegion",code="OK"\} [1-9]/m,
        /^tibr_storage_op_duration_seconds_count\{plugin="local",op="[^"]+"\} [1-9]/m,
        /^tibr_retries_total\{reason="[^"]+"\} [1-9]/m,
        /^tibr_checkpoint_flushes_total \d/m,
        /^tibr_checkpoint_lock_renewals_total \d/m,
        /^tibr_phase\{task="restore",phase="import"\} 1/m,
      ]
    ) {
      assert.match(all, metric);
    }
    // /status: BR's label, the phases in order, progress that only grows to its totals.
    assert.ok(statuses.every((s) => s.task === "restore" && s.kind === "DataBase Restore"));
    const phases = statuses.map((s) => s.phase).filter((p, i, l) => i === 0 || p !== l[i - 1]);
    const order = ["connect", "schema", "split/scatter", "import", "checksum", "done"];
    for (let i = 1; i < phases.length; i++) {
      assert.ok(
        order.indexOf(phases[i - 1]!) < order.indexOf(phases[i]!),
        `phases out of order: ${phases.join(" -> ")}`,
      );
    }
    assert.ok(phases.includes("import"), phases.join(" -> "));
    const last = statuses.at(-1)!;
    assert.ok(Object.values(last.retries).some((n) => n > 0), JSON.stringify(last));
    const during = statuses.filter((s) => s.phase === "import");
    assert.ok(
      during.some((s) => s.ranges.done < s.ranges.total),
      "a scrape in the middle of the import",
    );
    for (const s of statuses) {
      assert.ok(s.ranges.done <= s.ranges.total && s.files.done <= s.files.total);
      assert.ok(s.regions.done <= s.regions.total);
    }
    if (last.phase === "checksum" || last.phase === "done") {
      assert.equal(last.ranges.done, last.ranges.total);
      assert.equal(last.files.done, summary.dataFiles);
      assert.equal(last.kvs, summary.totalKvs);
    }

    // BR's single summary line, as scripts grep it.
    assert.match(
      readFileSync(log, "utf8"),
      new RegExp(
        String.raw`\["DataBase Restore success summary"\] \[total-ranges=${summary.ranges}\] ` +
          String.raw`\[ranges-succeed=${summary.ranges}\] \[ranges-failed=0\] ` +
          String.raw`\[split-region=[\d.]+(µs|ms|s)\] \[restore-ranges=${summary.ranges}\] ` +
          String.raw`\[total-take=[\d.]+(ms|s)\] ` +
          String.raw`\[restore-data-size\(after-compressed\)=[\d.]+[kMG]?B\] \[Size=\d+\] ` +
          String.raw`\[BackupTS=${summary.backupTs}\] \[RestoreTS=${summary.restoreTs}\] ` +
          String.raw`\[total-kv=${summary.totalKvs}\] \[total-kv-size=[\d.]+[kMG]?B\] ` +
          String.raw`\[average-speed=[\d.]+[kMG]?B\/s\]`,
      ),
    );
  });
});
