// The data half of `tibr restore` against two playgrounds, without a TiDB server: a backup of
// playground A is imported into an empty playground B under new table, partition and index IDs
// (as TiDB would allocate them), through the restore's own split/scatter/Download/MultiIngest
// path. Each table's rewrite-rule checksum in B must equal A's ground truth at the backup ts,
// and B must end with import mode off and PD's schedulers running.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MetaReader } from "../../src/backup/metareader.ts";
import { runBackup } from "../../src/backup/task.ts";
import { SwitchMode } from "../../src/gen/import_sstpb_pb.ts";
import { PdClient } from "../../src/pd/client.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
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
import { recreated } from "./_helpers.ts";

describe("restore's import path against the playground", () => {
  let a: Playground;
  let b: Playground;
  const tmp = tempDir("restore-import");
  const dir = join(tmp.path, "full");
  before(async () => {
    [a, b] = await Promise.all([
      startSmall(),
      startPlayground({ data: "empty", electionMs: 300, scatterMs: 5 }),
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
          sel: { ...t, table: t.table },
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
      const { ranges, keys, totals } = await importTables(cfg, ctx, restored);
      assert.ok(ranges.length > 0 && keys.length >= ranges.length);
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
    const restore = { pd: [b.pdAddress], sendCredentials: true, concurrency: 4, checksum: true };
    const r = await runRestore({
      ...restore,
      mode: "raw",
      storage: `local://${rawDir}`,
      progress: "quiet",
    }) as RestoreSummary;
    assert.equal(r.totalKvs, "800");
    assert.deepEqual(
      b.cluster.rawChecksum(prefix, new Uint8Array(0)),
      a.cluster.rawChecksum(prefix, new Uint8Array(0)),
    );
    await runRestore({ ...restore, mode: "txn", storage: `local://${txnDir}`, progress: "quiet" });
    // The meta keyspace (m...) was empty in B: it now holds A's at the backup ts.
    const m = [Uint8Array.of(0x6d), Uint8Array.of(0x6e)] as const;
    const ts = BigInt(txn.backupTs);
    assert.deepEqual(
      b.cluster.checksum(m[0], m[1], b.cluster.ts()),
      a.cluster.checksum(m[0], m[1], ts),
    );
    await assert.rejects(
      runRestore({ ...restore, mode: "full", storage: `local://${rawDir}`, progress: "quiet" }),
      /raw-KV backup: restore it with 'tibr restore raw'/,
    );
  });
});
