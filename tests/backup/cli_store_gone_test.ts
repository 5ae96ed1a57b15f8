// `tibr backup` when a store is gone for the whole retry budget: its regions keep their leader
// on it (no election), so the fine-grained phase would back off 20 s at a time until the retry
// budget is spent; then the CLI exits 1 with one line naming the store and what to do, and leaves
// no backupmeta. With the store back, a rerun succeeds and holds the cluster's data.
//
// The budget arithmetic (BR's 80 s, spent 20 s at a time) is tested on a fake clock in
// src/backup/client_test.ts. Here the hidden `--backoff-budget 1` makes the first 20 s backoff
// pass the budget, so the end-to-end path (message, exit code, resumable storage, rerun) runs
// without waiting.
// It runs the compiled binary (see tibrBinary): with `deno run` on the client side, Deno 2.9's
// HTTP/2 crashed this test's process (the playground's) when the CLI's idle connections closed.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { EXIT_FAILURE } from "../../src/cli/errors.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { startSmall, tempDir, verifyTableBackup } from "../playground/_helpers.ts";
import { assertResumable, backupArgs, errorLine, runTibr, tibrBinary } from "./_cli.ts";

describe("tibr backup with a store gone for good", () => {
  let pg: Playground;
  const tmp = tempDir("cli-gone");
  const log = join(tmp.path, "tibr.log");

  before(async () => {
    // electionMs 0: a stopped store's regions never elect new leaders.
    pg = await startSmall({ electionMs: 0 });
  });
  after(async () => {
    await pg.stop();
    tmp.cleanup();
  });

  test("fails after the retry budget naming the store, and a rerun succeeds once it is back", async () => {
    // A store that leads table data but no region of TiDB's schema (`m` keys), so the schema
    // is read and the backup itself is what meets the dead store.
    const users = pg.catalog!.table("shop", "users")!;
    const row = pg.catalog!.rowKvsOf(users, 1n)[0]!.key;
    const gone = pg.cluster.regions.getRegionByRawKey(row)!.leader.storeId;
    const other = pg.cluster.regions.stores().find((s) => s.id !== gone)!.id;
    const enc = (s: string) => new TextEncoder().encode(s);
    for (const r of pg.admin.regions(enc("m"), enc("n"))) {
      if (BigInt(r.leaderStore) === gone) pg.admin.transferLeader(r.id, other);
    }
    await pg.admin.stopStore(gone);
    const dir = join(tmp.path, "b1");
    const run = await runTibr([
      ...backupArgs("full", pg.pdAddress, dir, log),
      "--backoff-budget",
      "1",
    ], {
      timeoutMs: 150_000,
      command: [tibrBinary(tmp.path)],
    });
    assert.equal(run.code, EXIT_FAILURE, run.stderr);
    assert.match(
      errorLine(run),
      new RegExp(
        `^Error: backup of range \\[.*\\) gave up after 0 s of its 1 s retry budget: ` +
          `store ${gone} cannot be reached: connect ECONNREFUSED [0-9.:]+; bring store ${gone} ` +
          `back, or wait until its regions elect leaders on live stores, then run the backup ` +
          `again$`,
      ),
    );
    await assertResumable(dir);

    await pg.admin.restartStore(gone);
    const again = join(tmp.path, "b2");
    const ok = await runTibr(backupArgs("full", pg.pdAddress, again, log));
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).checksum, "passed");
    await verifyTableBackup(again, pg);
  });
});
