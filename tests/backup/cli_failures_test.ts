// `tibr backup` as a user runs it, failing on purpose against the playground: PD unreachable, a
// store of another cluster, storage the CLI or the stores may not write, a lock that outlives
// the retry budget. Each run must exit 1 with one line naming the problem and what to do, leave
// no backupmeta (finished or half-written) behind, and a rerun without the problem must succeed
// and hold what the cluster had at its backup ts. (A store gone for the whole retry budget:
// cli_store_gone_test.ts; PD leader changes: pd_leader_test.ts.)
import assert from "node:assert/strict";
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { EXIT_FAILURE } from "../../src/cli/errors.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import { ensureDebianPackages } from "../_support/debian.ts";
import { SMALL_SPEC, startSmall, tempDir, verifyTableBackup } from "../playground/_helpers.ts";
import {
  assertResumable,
  backupArgs,
  closedPort,
  errorLine,
  runTibr,
  type TibrRun,
} from "./_cli.ts";

/** A successful run's summary, or a failure that shows the run's own output. */
function summaryOf(run: TibrRun): { backupTs: string; checksum: string; tables: number } {
  assert.equal(run.code, 0, `the rerun must succeed:\n${run.stderr}`);
  return JSON.parse(run.stdout);
}

describe("tibr backup fails in one line and leaves its storage resumable", () => {
  let pg: Playground;
  const tmp = tempDir("cli-fail");
  const log = join(tmp.path, "tibr.log");
  let n = 0;
  const fresh = () => join(tmp.path, `b${++n}`);
  const backup = (dir: string, ...extra: string[]) =>
    runTibr([...backupArgs("full", pg.pdAddress, dir, log), ...extra]);
  /** A failed run: exit 1, its one error line matches `line`, and `dir` is left resumable. */
  const assertFailed = async (run: TibrRun, dir: string, line: RegExp) => {
    assert.equal(run.code, EXIT_FAILURE, run.stderr);
    assert.match(errorLine(run), line);
    await assertResumable(dir);
  };
  /** Once the problem is gone, a backup into a fresh location passes and holds the data. */
  const assertBacksUpAgain = async () => {
    const again = fresh();
    assert.equal(summaryOf(await backup(again)).checksum, "passed");
    await verifyTableBackup(again, pg);
  };

  before(async () => {
    pg = await startSmall({ electionMs: 300 });
  });
  afterEach(async () => {
    pg.admin.clearStorageFaults();
    for (const s of pg.cluster.regions.stores()) {
      pg.admin.setStoreClusterId(s.id, 0);
      await pg.admin.restartStore(s.id);
    }
  });
  after(async () => {
    await pg.stop();
    tmp.cleanup();
  });

  test("an unreachable PD fails after a bounded retry, naming the endpoint", async () => {
    const port = await closedPort();
    const dir = fresh();
    const run = await runTibr(backupArgs("full", `127.0.0.1:${port}`, dir, log));
    assert.equal(run.code, EXIT_FAILURE, run.stderr);
    assert.match(
      errorLine(run),
      new RegExp(
        `^Error: cannot reach any PD endpoint in \\d+ s \\(127\\.0\\.0\\.1:${port}: .*` +
          `ECONNREFUSED.*\\): check -u/--pd and that PD is up$`,
      ),
    );
    assert.ok(run.ms < 30_000, `gave up in ${Math.round(run.ms)} ms, not minutes`);
    await assertResumable(dir);
  });

  test("a PD that comes up while the CLI is still retrying is used", async () => {
    const port = await closedPort();
    const dir = fresh();
    const running = runTibr(backupArgs("db", `127.0.0.1:${port}`, dir, log).concat("--db", "hr"));
    await new Promise((r) => setTimeout(r, 1500));
    const late = await startPlayground({
      data: SMALL_SPEC,
      pdPort: port,
      storePorts: [0, 0, 0],
      adminPort: -1,
    });
    try {
      const s = summaryOf(await running);
      assert.equal(s.tables, 1);
      await verifyTableBackup(dir, late);
    } finally {
      await late.stop();
    }
  });

  test("a store of another cluster is fatal at once and says to check -u", async () => {
    pg.admin.setStoreClusterId(2n, 777);
    const dir = fresh();
    await assertFailed(
      await backup(dir),
      dir,
      new RegExp(
        `^Error: store 2 belongs to cluster 777, not ${pg.cluster.clusterId}: PD and this store ` +
          `are of different clusters; check -u/--pd names the PD of the cluster to back up$`,
      ),
    );
    pg.admin.setStoreClusterId(2n, 0);
    await assertBacksUpAgain();
  });

  test("storage the CLI may not write: permission denied, naming the location", async () => {
    ensureDebianPackages(["setpriv"], ["util-linux"]);
    // Tests run as root, which chmod does not stop: run the CLI as nobody instead.
    const root = join(tmp.path, "perm");
    mkdirSync(root);
    const denoDir = join(root, "deno");
    mkdirSync(denoDir);
    chmodSync(tmp.path, 0o755);
    chmodSync(root, 0o755);
    chmodSync(denoDir, 0o777);
    const dir = join(root, "ro");
    mkdirSync(dir);
    chmodSync(dir, 0o555);
    const asNobody = {
      prefix: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
      // Under `deno run`, Deno's cache must be writable by nobody; the binary needs none.
      env: { DENO_DIR: denoDir, HOME: denoDir },
    };
    const args = [...backupArgs("db", pg.pdAddress, dir, "/dev/null"), "--db", "shop"];
    const run = await runTibr(args, asNobody);
    assert.equal(run.code, EXIT_FAILURE, run.stderr);
    const line = errorLine(run);
    assert.match(line, /permission denied/i);
    assert.ok(line.includes(`local://${dir}`), `names the storage: ${line}`);
    await assertResumable(dir);
    // Nothing was written, so once the directory is writable the same location works.
    chmodSync(dir, 0o777);
    assert.equal(summaryOf(await runTibr(args, asNobody)).checksum, "passed");
    await verifyTableBackup(dir, pg);
  });

  test("storage the stores may not write: permission denied, naming the location", async () => {
    // TiKV writes the data files itself: a refusal comes back in the stores' responses.
    pg.admin.failStorageWrites({ probability: 1, temporary: false });
    const dir = fresh();
    await assertFailed(
      await backup(dir),
      dir,
      new RegExp(
        `^Error: store \\d could not write the backup to local://${dir}: .*permission denied.*; ` +
          `make that storage writable by every TiKV store, or choose another$`,
      ),
    );
    pg.admin.clearStorageFaults();
    await assertBacksUpAgain();
  });

  test("a lock that outlives the retry budget fails naming the key and its transaction", async () => {
    const cat = pg.catalog!;
    const users = cat.table("shop", "users")!;
    const key = cat.rowKvsOf(users, 42n)[0]!.key;
    const startTs = pg.cluster.ts();
    // A live transaction whose primary neither commits nor expires within the budget.
    const prewrite = pg.cluster.mvcc.prewrite({
      mutations: [{ op: "put", key, value: new Uint8Array([7]) }],
      primary: key,
      startTs,
      lockTtl: 3_600_000n,
    });
    assert.deepEqual(prewrite.errors, []);
    try {
      const dir = fresh();
      await assertFailed(
        await backup(dir),
        dir,
        new RegExp(
          `^Error: backup of range \\[.*\\) gave up after \\d+ s of its 80 s retry budget: key ` +
            `[0-9A-F]+ is locked by transaction ${startTs} \\(primary key [0-9A-F]+\\), whose ` +
            `lock lasts another 3\\d{3} s; wait until that transaction commits or rolls back ` +
            `\\(or end the session holding it\\), then run the backup again$`,
        ),
      );
    } finally {
      assert.deepEqual(pg.cluster.mvcc.rollback([key], startTs), {});
    }
    await assertBacksUpAgain();
  });
});
