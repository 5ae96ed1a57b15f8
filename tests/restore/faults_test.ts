// Restore's import path under faults, against two playgrounds (no TiDB: tables are mapped onto
// new IDs as TiDB would create them). Transient Download failures, ingest region errors
// (EpochNotMatch, ServerIsBusy, NotLeader) and leaders moving during the import are retried to
// the same result, checked against A's ground truth through rewrite-rule checksums; a store
// stopped for longer than the retry budget fails in one line naming it, with the cluster put
// back.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runBackup } from "../../src/backup/task.ts";
import { SwitchMode } from "../../src/gen/import_sstpb_pb.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import { checksumTables, importTables, type RestoreConfig } from "../../src/restore/task.ts";
import { startSmall, tempDir } from "../playground/_helpers.ts";
import { dataContext, recreated } from "./_helpers.ts";

describe("restore's import path under faults", () => {
  let a: Playground;
  let b: Playground;
  const tmp = tempDir("restore-faults");
  const dir = join(tmp.path, "db");
  before(async () => {
    [a, b] = await Promise.all([
      startSmall(),
      startPlayground({ data: "empty", electionMs: 300, scatterMs: 5, seed: 7 }),
    ]);
    await runBackup({
      mode: "db",
      db: "shop",
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

  const cfg: RestoreConfig = {
    mode: "full",
    pd: [],
    storage: "",
    sendCredentials: true,
    concurrency: 2,
    checksum: true,
    budgetMs: 30_000,
  };

  test("download failures, ingest region errors and moving leaders give the same result", async () => {
    const { ctx, restored, backupTs, close } = await dataContext(b, dir, 3000);
    const faults = [
      b.admin.injectDownloadFault({ probability: 0.3, remaining: 6 }),
    ];
    const rules = [
      b.admin.injectRegionError({
        kind: "epochNotMatch",
        probability: 0.2,
        remaining: 4,
        rpc: "ingest",
      }),
      b.admin.injectRegionError({
        kind: "serverIsBusy",
        probability: 0.2,
        remaining: 3,
        rpc: "ingest",
      }),
      b.admin.injectRegionError({
        kind: "notLeader",
        probability: 0.2,
        remaining: 4,
        rpc: "ingest",
      }),
    ];
    // Leaders move while the import runs.
    let moving = true;
    const mover = (async () => {
      let i = 0;
      while (moving) {
        const regions = b.cluster.regions.all();
        const r = regions[i++ % Math.max(1, regions.length)];
        if (r && r.peers.length > 1) {
          const next = r.peers.find((p) => p.storeId !== r.leader.storeId)!;
          try {
            b.admin.transferLeader(String(r.id), String(next.storeId));
          } catch {
            // A region that split meanwhile.
          }
        }
        await new Promise((res) => setTimeout(res, 30));
      }
    })();
    try {
      await importTables(cfg, ctx, restored);
      moving = false;
      await mover;
      const { checksum } = await checksumTables(cfg, ctx, restored);
      assert.equal(checksum, "passed");
      for (const r of restored) {
        const inB = b.cluster.tableChecksum(recreated(r.sel.table, 3000), b.cluster.ts());
        assert.equal(inB.totalKvs, a.cluster.tableChecksum(r.sel.table, backupTs).totalKvs);
      }
      assert.ok(b.imports.stats.downloadErrors > 0, "Download faults were met");
      assert.ok(b.imports.stats.ingestErrors > 0, "ingest region errors were met");
    } finally {
      moving = false;
      await mover;
      for (const f of faults) b.imports.clearDownloadFaults(f);
      for (const id of rules) b.cluster.faults.clearRegionErrors(id);
      await close();
    }
  });

  test("a store down for the whole budget fails naming it; the cluster is put back", async () => {
    const { ctx, restored, close } = await dataContext(b, dir, 4000);
    const stopped = [...b.storeAddresses().keys()][1]!;
    // Downloads are slowed so the store goes away in the middle of the import.
    const slow = b.admin.injectDownloadFault({ probability: 0, delayMs: 100 });
    try {
      const ingests = b.imports.stats.ingests;
      const run = importTables({ ...cfg, budgetMs: 3000 }, ctx, restored);
      run.catch(() => {});
      while (b.imports.stats.ingests === ingests) await new Promise((r) => setTimeout(r, 20));
      await b.admin.stopStore(String(stopped));
      await assert.rejects(run, new RegExp(`store ${stopped} stayed unreachable`));
      for (const s of ctx.tikvs) {
        if (s.id !== stopped) assert.equal(b.imports.mode(s.id), SwitchMode.Normal);
      }
      assert.deepEqual(b.scheduling.schedulers().filter((n) => b.scheduling.isPaused(n)), []);
    } finally {
      b.imports.clearDownloadFaults(slow);
      await b.admin.restartStore(String(stopped));
      await close();
    }
  });
});
