// tibr's backup client against a misbehaving playground: regions split and leaders move while
// the backup runs, a store stops and comes back, locks of a crashed and of a live transaction
// sit in the data, ServerIsBusy storms, and storage writes fail. Each backup must still match
// the playground's ground truth at its backup ts, recomputed from the SST files.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { type BackupConfig, runBackup } from "../../src/backup/task.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { mulberry32 } from "../../src/random.ts";
import { startSmall, tempDir, verifyTableBackup } from "./_helpers.ts";

describe("tibr backup under playground faults", () => {
  let pg: Playground;
  const tmp = tempDir("faults");
  let n = 0;
  before(async () => {
    pg = await startSmall({ electionMs: 300 });
  });
  afterEach(async () => {
    pg.admin.clearRegionErrors();
    pg.admin.clearStorageFaults();
    for (const s of pg.cluster.regions.stores()) {
      await pg.admin.restartStore(s.id);
      pg.admin.slowStore(s.id, 0);
      pg.admin.pauseStore(s.id, false);
    }
  });
  after(async () => {
    await pg.stop();
    tmp.cleanup();
  });

  function config(extra: Partial<BackupConfig> = {}): BackupConfig & { dir: string } {
    const dir = join(tmp.path, `b${++n}`);
    return {
      mode: "full",
      pd: [pg.pdAddress],
      storage: `local://${dir}`,
      sendCredentials: true,
      concurrency: 4,
      checksum: true,
      compression: "lz4",
      progress: "quiet",
      ...extra,
      dir,
    };
  }

  function slowAll(ms: number): void {
    for (const s of pg.cluster.regions.stores()) pg.admin.slowStore(s.id, ms);
  }

  test("regions split and leaders move while the backup runs", async () => {
    const before = pg.cluster.regions.size;
    const errorsBefore = pg.stats.totalRegionErrors;
    const requestsBefore = pg.stats.backupRequests;
    const rand = mulberry32(5);
    let splits = 0;
    let moves = 0;
    const cfg = config();
    const backup = runBackup(cfg);
    // Once the push-down reaches the stores, slow them and change regions under them.
    while (pg.stats.backupRequests === requestsBefore) {
      await new Promise((r) => setTimeout(r, 2));
    }
    slowAll(60);
    try {
      while (splits + moves < 24) {
        await new Promise((r) => setTimeout(r, 15));
        const all = pg.cluster.regions.all();
        const r = all[Math.floor(rand() * all.length)]!;
        try {
          if (rand() < 0.5) {
            pg.admin.splitRegion(r.id);
            splits++;
          } else {
            const other = r.peers.find((p) => p.storeId !== r.leader.storeId)!;
            pg.admin.transferLeader(r.id, other.storeId);
            moves++;
          }
        } catch {
          // A region too small to split; the next one will do.
        }
      }
    } finally {
      slowAll(0);
    }
    const s = await backup;
    assert.equal(s.checksum, "passed");
    assert.ok(splits > 3 && moves > 3, `chaos happened: ${splits} splits, ${moves} moves`);
    assert.ok(pg.cluster.regions.size > before);
    const met = pg.stats.totalRegionErrors - errorsBefore;
    assert.ok(met > 0, "the client met stale regions");
    await verifyTableBackup(cfg.dir, pg);
  });

  test("a store stopped and restarted mid-backup", async () => {
    slowAll(30);
    const cfg = config();
    const backup = runBackup(cfg);
    await new Promise((r) => setTimeout(r, 150));
    await pg.admin.stopStore(2n);
    await new Promise((r) => setTimeout(r, 1200));
    const leadersWhileDown = pg.cluster.regions.all().filter((r) => r.leader.storeId === 2n);
    assert.equal(leadersWhileDown.length, 0, "its leaders moved to live stores");
    await pg.admin.restartStore(2n);
    slowAll(0);
    const s = await backup;
    assert.equal(s.checksum, "passed");
    await verifyTableBackup(cfg.dir, pg);
  });

  test("locks of a crashed transaction are rolled back and a live one is waited out", async () => {
    const cat = pg.catalog!;
    const users = cat.table("shop", "users")!;
    const staff = cat.table("hr", "staff")!;
    const crashedKey = cat.rowKvsOf(users, 21n)[0]!.key;
    const liveKey = cat.rowKvsOf(staff, 3n)[0]!.key;
    const crashedTs = pg.cluster.ts();
    pg.cluster.mvcc.prewrite({
      mutations: [{ op: "put", key: crashedKey, value: new Uint8Array([9]) }],
      primary: crashedKey,
      startTs: crashedTs,
      lockTtl: 800n,
    });
    const liveTs = pg.cluster.ts();
    pg.cluster.mvcc.prewrite({
      mutations: [{ op: "put", key: liveKey, value: new Uint8Array([8]) }],
      primary: liveKey,
      startTs: liveTs,
      lockTtl: 2500n,
    });
    let liveCommitTs = 0n;
    const commit = setTimeout(() => {
      liveCommitTs = pg.cluster.ts();
      assert.deepEqual(pg.cluster.mvcc.commit([liveKey], liveTs, liveCommitTs), {});
    }, 1500);
    const cfg = config();
    const t0 = performance.now();
    try {
      const s = await runBackup(cfg);
      assert.equal(s.checksum, "passed");
      assert.ok(performance.now() - t0 >= 1400, "the live lock was waited out");
      assert.ok(liveCommitTs > BigInt(s.backupTs), "committed after the backup ts");
    } finally {
      clearTimeout(commit);
    }
    const kinds = [...pg.cluster.mvcc.versionsOf(crashedKey)].filter((v) =>
      v.startTs === crashedTs
    );
    assert.deepEqual(kinds.map((v) => v.type), ["rollback"], "the crashed txn was rolled back");
    assert.equal(pg.cluster.mvcc.scanLock(2n ** 63n, new Uint8Array(), new Uint8Array()).length, 0);
    await verifyTableBackup(cfg.dir, pg);
  });

  test("a ServerIsBusy storm only slows the backup down", async () => {
    pg.admin.injectRegionError({ kind: "serverIsBusy", probability: 0.4, remaining: 40 });
    const cfg = config({ mode: "db", db: "shop" });
    const s = await runBackup(cfg);
    assert.equal(s.checksum, "passed");
    assert.equal(pg.cluster.faults.regionErrorRules().length, 0, "every busy answer was given");
    await verifyTableBackup(cfg.dir, pg);
  });

  test("temporary storage write failures are retried; permanent ones fail the backup in one line", async () => {
    pg.admin.failStorageWrites({ probability: 1, remaining: 4, temporary: true });
    const cfg = config({ mode: "db", db: "hr" });
    const s = await runBackup(cfg);
    assert.equal(s.checksum, "passed");
    await verifyTableBackup(cfg.dir, pg);
    pg.admin.failStorageWrites({ probability: 1, temporary: false });
    await assert.rejects(runBackup(config({ mode: "db", db: "hr" })), (err: Error) => {
      assert.match(err.message, /permission denied/);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  });
});
