// `tibr restore` killed with SIGKILL at seeded points, then rerun: each rerun resumes from the
// restore checkpoint, and the last one completes with the same result as an uninterrupted
// restore (every table's KVs and bytes in B equal A's ground truth at the backup ts, checksums
// passed), with import mode off, PD's schedulers running and the checkpoint removed.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MetaReader } from "../../src/backup/metareader.ts";
import { runBackup } from "../../src/backup/task.ts";
import { SwitchMode } from "../../src/gen/import_sstpb_pb.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import { mulberry32 } from "../../src/random.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { startSmall, tempDir } from "../playground/_helpers.ts";
import { runTibr } from "../backup/_cli.ts";

describe("tibr restore killed with SIGKILL", () => {
  let a: Playground;
  let b: Playground;
  const tmp = tempDir("restore-kill");
  const dir = join(tmp.path, "full");
  before(async () => {
    [a, b] = await Promise.all([
      startSmall(),
      startPlayground({ data: "empty", electionMs: 300, scatterMs: 5, tidbPort: 0 }),
    ]);
    await runBackup({
      mode: "full",
      pd: [a.pdAddress],
      storage: `local://${dir}`,
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

  test("reruns after kills at seeded points complete to the uninterrupted result", async () => {
    const args = [
      "--log-file",
      join(tmp.path, "restore.log"),
      "restore",
      "full",
      "-u",
      b.pdAddress,
      "-s",
      `local://${dir}`,
      "--concurrency",
      "2",
      "--checkpoint-flush-interval",
      "0.2",
      "--progress",
      "quiet",
      "--output",
      "json",
    ];
    // Downloads are slowed so that the kills land across the schema, split and import phases.
    const slow = b.imports.injectDownloadFault({ probability: 0, delayMs: 40 });
    const random = mulberry32(20261206);
    let killed = 0;
    for (let i = 0; i < 3; i++) {
      const run = await runTibr(args, { timeoutMs: 2500 + Math.floor(random() * 4000) });
      if (run.signal === "SIGKILL") killed++;
      else assert.equal(run.code, 0, run.stderr);
      if (run.code === 0) break;
    }
    b.imports.clearDownloadFaults(slow);
    assert.ok(killed > 0, "at least one run was killed");
    const last = await runTibr(args);
    assert.equal(last.code, 0, last.stderr);
    const s = JSON.parse(last.stdout);
    assert.equal(s.checksum, "passed");

    const storage = await openStorage(`local://${dir}`);
    try {
      const reader = await MetaReader.open(storage);
      const ts = reader.meta.endVersion;
      for await (const t of reader.tables()) {
        if (!t.table) continue;
        const created = b.tidb!.engine.table(t.db.db_name.O, t.table.name.O)!.table;
        const inB = b.cluster.tableChecksum(created, b.cluster.ts());
        const inA = a.cluster.tableChecksum(t.table, ts);
        assert.equal(inB.totalKvs, inA.totalKvs, `${t.table.name.O}: kvs`);
        assert.equal(inB.totalBytes, inA.totalBytes, `${t.table.name.O}: bytes`);
      }
    } finally {
      await storage.close();
    }
    for (const id of b.storeAddresses().keys()) assert.equal(b.imports.mode(id), SwitchMode.Normal);
    assert.deepEqual(b.scheduling.schedulers().filter((n) => b.scheduling.isPaused(n)), []);
    assert.ok(
      !existsSync(
        join(
          dir,
          "checkpoints",
          `restore-${b.cluster.clusterId}`,
          "checkpoints",
          "backup",
          "checkpoint.meta",
        ),
      ),
    );
  });
});
