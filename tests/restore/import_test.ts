// The data half of `tibr restore` against two playgrounds, sharing them: a full backup of
// playground A is imported into an empty playground B under new table, partition and index IDs
// (as TiDB would allocate them, each test its own), through the restore's own
// split/scatter/Download/MultiIngest path, checked against A's ground truth through rewrite-rule
// checksums, with B put back (import mode off, schedulers running) every time:
// - as it is; under Download failures, ingest region errors and leaders moving; with a store
//   going down for longer than the budget (one line naming it);
// - `tibr restore full` (through B's TiDB) killed with SIGKILL at seeded points and rerun until
//   it completes to the uninterrupted result, its checkpoint removed;
// - raw and txn backups restored key for key (last: a txn restore rewrites B's meta keys).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MetaReader } from "../../src/backup/metareader.ts";
import { runBackup } from "../../src/backup/task.ts";
import { SwitchMode } from "../../src/gen/import_sstpb_pb.ts";
import { PdClient } from "../../src/pd/client.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import { mulberry32 } from "../../src/random.ts";
import { StoreConnections } from "../../src/tikv/stores.ts";
import { phasedProgress } from "../../src/restore/progress.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { tableRewrite } from "../../src/restore/rewrite.ts";
import {
  checksumTables,
  type DataContext,
  importTables,
  type RestoreConfig,
  type Restored,
  type RestoreSummary,
  runRestore,
} from "../../src/restore/task.ts";
import { isTikv } from "../../src/restore/cluster.ts";
import { startSmall, tempDir } from "../playground/_helpers.ts";
import { runTibr } from "../backup/_cli.ts";
import { dataContext, recreated } from "./_helpers.ts";

describe("restore's import path against the playground", () => {
  let a: Playground;
  let b: Playground;
  const tmp = tempDir("restore-import");
  const dir = join(tmp.path, "full");
  before(async () => {
    [a, b] = await Promise.all([
      startSmall(),
      startPlayground({ data: "empty", electionMs: 300, scatterMs: 5, seed: 7, tidbPort: 0 }),
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

  const cfg: RestoreConfig = {
    mode: "full",
    pd: [],
    storage: "",
    sendCredentials: true,
    concurrency: 2,
    checksum: true,
    budgetMs: 30_000,
  };

  test("every table lands under its new IDs with A's checksums, and B is put back", async () => {
    const storage = await openStorage(`local://${dir}`);
    const pd = await PdClient.connect({ endpoints: [b.pdAddress] });
    const stores = new StoreConnections(pd);
    try {
      const reader = await MetaReader.open(storage);
      const backupTs = reader.meta.endVersion;
      const newTs = await pd.getTS();
      const restored: Restored[] = [];
      const truths = new Map<string, ReturnType<typeof a.cluster.tableChecksum>>();
      for await (const t of reader.tables()) {
        if (!t.table) continue;
        const fresh = recreated(t.table, 5000);
        restored.push({
          sel: { ...t, table: t.table, fileCount: t.files.length },
          rewrite: tableRewrite(t.table, fresh, newTs),
        });
        truths.set(t.table.name.O, a.cluster.tableChecksum(t.table, backupTs));
      }
      assert.equal(restored.length, 6);
      const cfg: RestoreConfig = {
        mode: "full",
        pd: [b.pdAddress],
        storage: `local://${dir}`,
        sendCredentials: true,
        concurrency: 4,
        checksum: true,
      };
      const ctx: DataContext = {
        pd,
        stores,
        storage,
        tikvs: (await pd.getAllStores()).filter(isTikv),
        progress: phasedProgress("quiet"),
      };
      const totals = await importTables(cfg, ctx, restored);
      assert.ok(totals.ranges > 0 && totals.keys >= totals.ranges);
      const { checksum, without } = await checksumTables(cfg, ctx, restored);
      assert.equal(checksum, "passed");
      assert.deepEqual(without, []);

      // Ground truth in B, independent of the checksum path: each new table holds as many
      // KVs and bytes as A's table did, and every one was counted by the import.
      let kvs = 0n;
      for (const r of restored) {
        const fresh = recreated(r.sel.table, 5000);
        const inB = b.cluster.tableChecksum(fresh, await pd.getTS());
        const inA = truths.get(r.sel.table.name.O)!;
        assert.equal(inB.totalKvs, inA.totalKvs, `${r.sel.table.name.O}: kvs`);
        assert.equal(inB.totalBytes, inA.totalBytes, `${r.sel.table.name.O}: bytes`);
        kvs += inA.totalKvs;
      }
      assert.equal(totals.kvs, kvs);

      for (const s of ctx.tikvs) assert.equal(b.imports.mode(s.id), SwitchMode.Normal);
      assert.deepEqual(
        b.scheduling.schedulers().filter((n) => b.scheduling.isPaused(n)),
        [],
      );
    } finally {
      stores.close();
      pd.close();
      await storage.close();
    }
  });

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
    // Downloads are slowed so that the kills land across the schema, split and import phases
    // even on an idle machine, where an unslowed restore of this backup takes about a second.
    const slow = b.imports.injectDownloadFault({ probability: 0, delayMs: 150 });
    const random = mulberry32(20261206);
    let killed = 0;
    let done: Awaited<ReturnType<typeof runTibr>> | undefined;
    for (let i = 0; i < 3; i++) {
      const run = await runTibr(args, { timeoutMs: 1000 + Math.floor(random() * 3000) });
      if (run.signal === "SIGKILL") killed++;
      else assert.equal(run.code, 0, run.stderr);
      if (run.code === 0) {
        // A rerun that completed within its time is the last run (another would find the
        // restored tables and refuse them as not fresh).
        done = run;
        break;
      }
    }
    b.imports.clearDownloadFaults(slow);
    assert.ok(killed > 0, "at least one run was killed");
    const last = done ?? await runTibr(args);
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

  test("raw and txn backups restore key for key", async () => {
    const prefix = new TextEncoder().encode("raw_");
    const rawDir = join(tmp.path, "raw");
    const txnDir = join(tmp.path, "txn");
    const common = {
      pd: [a.pdAddress],
      sendCredentials: true,
      concurrency: 4,
      checksum: true,
      compression: "lz4" as const,
      progress: "quiet" as const,
    };
    await runBackup({
      ...common,
      mode: "raw",
      storage: `local://${rawDir}`,
      raw: { start: "7261775f", end: "", format: "hex", cf: "default" },
    });
    const txn = await runBackup({ ...common, mode: "txn", storage: `local://${txnDir}` });
    // A cluster without TiDB: a txn restore brings the source's meta keys along.
    const d = await startPlayground({ data: "empty", electionMs: 300, scatterMs: 5 });
    try {
      const restore = { pd: [d.pdAddress], sendCredentials: true, concurrency: 4, checksum: true };
      const r = await runRestore({
        ...restore,
        mode: "raw",
        storage: `local://${rawDir}`,
        progress: "quiet",
      }) as RestoreSummary;
      assert.equal(r.totalKvs, "800");
      assert.deepEqual(
        d.cluster.rawChecksum(prefix, new Uint8Array(0)),
        a.cluster.rawChecksum(prefix, new Uint8Array(0)),
      );
      await runRestore({
        ...restore,
        mode: "txn",
        storage: `local://${txnDir}`,
        progress: "quiet",
      });
      // The transactional keyspace was empty in D: it now holds A's at the backup ts.
      const ts = BigInt(txn.backupTs);
      const all = [new Uint8Array(0), new Uint8Array(0)] as const;
      assert.deepEqual(
        d.cluster.checksum(all[0], all[1], d.cluster.ts()),
        a.cluster.checksum(all[0], all[1], ts),
      );
      await assert.rejects(
        runRestore({ ...restore, mode: "full", storage: `local://${rawDir}`, progress: "quiet" }),
        /raw-KV backup: restore it with 'tibr restore raw'/,
      );
    } finally {
      await d.stop();
    }
  });
});
