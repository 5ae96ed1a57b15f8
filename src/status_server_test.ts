import assert from "node:assert/strict";
import { test } from "node:test";
import { Metrics } from "./metrics.ts";
import { parseStatusAddr, startStatusServer } from "./status_server.ts";

test("--status-addr takes BR's HOST:PORT forms and refuses others", () => {
  assert.deepEqual(parseStatusAddr("127.0.0.1:8286"), { host: "127.0.0.1", port: 8286 });
  assert.deepEqual(parseStatusAddr(":8286"), { host: "", port: 8286 });
  assert.deepEqual(parseStatusAddr("[::1]:0"), { host: "::1", port: 0 });
  for (const bad of ["8286", "host:", "h:99999", "a:b"]) {
    assert.throws(() => parseStatusAddr(bad), /--status-addr must be HOST:PORT/);
  }
});

test("serves Prometheus text at /metrics and the run's progress at /status", async () => {
  const m = new Metrics();
  m.begin("backup", "Full Backup", 1_000);
  m.phase("backup");
  m.plan({ ranges: 4 });
  m.rangeDone(1);
  m.regionDone(3);
  m.data({ kvs: 10n, bytes: 2048n, files: 2 });
  m.retry("regionMiss");
  m.rpc("Backup/backup", 0.02);
  m.storage("local", "writeFile", 0.001, 0, 512);
  m.checkpointFlush();
  m.lockRenewal();
  const s = await startStatusServer("127.0.0.1:0", m);
  try {
    const text = await (await fetch(`http://${s.address}/metrics`)).text();
    for (
      const line of [
        'tibr_ranges_planned{task="backup"} 4',
        'tibr_ranges_done_total{task="backup"} 1',
        'tibr_regions_done_total{task="backup"} 3',
        'tibr_kv_bytes_total{task="backup"} 2048',
        'tibr_kvs_total{task="backup"} 10',
        'tibr_files_total{task="backup"} 2',
        'tibr_retries_total{reason="regionMiss"} 1',
        'tibr_rpc_duration_seconds_count{method="Backup/backup",code="OK"} 1',
        'tibr_storage_op_duration_seconds_count{plugin="local",op="writeFile"} 1',
        'tibr_storage_bytes_total{plugin="local",direction="write"} 512',
        "tibr_checkpoint_flushes_total 1",
        "tibr_checkpoint_lock_renewals_total 1",
        'tibr_phase{task="backup",phase="backup"} 1',
      ]
    ) {
      assert.ok(text.split("\n").includes(line), `missing: ${line}\n${text}`);
    }
    const status = await (await fetch(`http://${s.address}/status`)).json();
    assert.equal(status.kind, "Full Backup");
    assert.equal(status.phase, "backup");
    assert.deepEqual(status.ranges, { done: 1, total: 4 });
    assert.deepEqual(status.files, { done: 2, total: 0 });
    assert.equal(status.percent, 25);
    assert.equal(status.bytes, "2048");
    assert.deepEqual(status.retries, { regionMiss: 1 });
    assert.equal((await fetch(`http://${s.address}/nope`)).status, 404);
  } finally {
    await s.close();
  }
});
