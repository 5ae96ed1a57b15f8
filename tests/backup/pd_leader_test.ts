// `tibr backup -u` with a PD cluster of three members whose leader changes mid-backup: the CLI
// finds the leader through GetMembers (skipping an endpoint that is down), follows it when the
// old leader answers `not leader` or dies, also to a member that was not given in -u, and the
// backup completes holding what the cluster had at its backup ts.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { PD } from "../../src/gen/pdpb_pb.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { createConnection } from "../../src/rpc/transport.ts";
import { startSmall, tempDir, verifyTableBackup } from "../playground/_helpers.ts";
import { backupArgs, closedPort, runTibr, tibrBinary, type TibrRun } from "./_cli.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("tibr backup follows the PD leader", () => {
  let pg: Playground;
  const tmp = tempDir("pd-leader");
  let n = 0;
  // The compiled binary, not `deno run`: see tibrBinary.
  let tibr: string[] = [];

  before(async () => {
    tibr = [tibrBinary(tmp.path)];
    pg = await startSmall({ pdMembers: 3 });
  });
  afterEach(async () => {
    for (let i = 0; i < 3; i++) await pg.admin.restartPdMember(i);
    pg.admin.pdElection(1, 0);
    await sleep(5);
    for (const s of pg.cluster.regions.stores()) {
      pg.admin.pauseStore(s.id, false);
      pg.admin.slowStore(s.id, 0);
    }
  });
  after(async () => {
    await pg.stop();
    tmp.cleanup();
  });

  /** Every store slow or paused: the backup is held mid-way while PD changes. */
  function stores(change: { paused?: boolean; delayMs?: number }): void {
    for (const s of pg.cluster.regions.stores()) {
      if (change.paused !== undefined) pg.admin.pauseStore(s.id, change.paused);
      if (change.delayMs !== undefined) pg.admin.slowStore(s.id, change.delayMs);
    }
  }

  /**
   * Runs a full backup with `-u endpoints` and, once the stores are backing up, holds it while
   * `changePd` moves the leader; returns the run, its storage and its log.
   */
  async function backupWhile(
    endpoints: string,
    changePd: () => Promise<void>,
  ): Promise<{ run: TibrRun; dir: string; log: string }> {
    const dir = join(tmp.path, `b${++n}`);
    const log = join(tmp.path, `tibr${n}.log`);
    const before = pg.stats.backupRequests;
    stores({ delayMs: 30 });
    const running = runTibr(backupArgs("full", endpoints, dir, log), { command: tibr });
    const deadline = Date.now() + 60_000;
    while (pg.stats.backupRequests === before) {
      assert.ok(Date.now() < deadline, "the backup never reached the stores");
      await sleep(5);
    }
    stores({ paused: true });
    await changePd();
    stores({ paused: false, delayMs: 0 });
    const run = await running;
    assert.equal(run.code, 0, `the backup must complete:\n${run.stderr}`);
    assert.equal(JSON.parse(run.stdout).checksum, "passed");
    return { run, dir, log: readFileSync(log, "utf8") };
  }

  /** The PD leaders the CLI connected to, in order, from its log. */
  function leadersIn(log: string): string[] {
    const out: string[] = [];
    for (const line of log.split("\n")) {
      if (!line.includes("connected to PD leader")) continue;
      const m = pg.pdAddresses.findIndex((a) => line.includes(`http://${a}`));
      assert.ok(m >= 0, `a leader that is no member: ${line}`);
      out.push(`pd-${m}`);
    }
    return out;
  }

  test("every member lists all members and the leader; followers answer not leader", async () => {
    const conns = pg.pdAddresses.map((a) => createConnection(a));
    try {
      pg.admin.pdElection(1, 1);
      await sleep(5);
      const header = { clusterId: pg.cluster.clusterId };
      for (const [i, conn] of conns.entries()) {
        const pd = createClient(PD, conn.transport);
        const m = await pd.getMembers({});
        assert.deepEqual(
          m.members.map((x) => x.clientUrls[0]),
          pg.pdAddresses.map((a) => `http://${a}`),
        );
        assert.equal(m.leader?.clientUrls[0], `http://${pg.pdAddresses[1]}`);
        if (i === 1) {
          assert.ok((await pd.getAllStores({ header })).stores.length > 0);
        } else {
          await assert.rejects(pd.getAllStores({ header }), (err: unknown) => {
            const ce = ConnectError.from(err);
            return ce.code === Code.Unavailable && ce.rawMessage === "not leader";
          });
        }
      }
    } finally {
      for (const c of conns) c.close();
    }
  });

  test("-u names every member, the first endpoint down: the leader moves from member 0 to 1", async () => {
    const down = `127.0.0.1:${await closedPort()}`;
    const endpoints = [down, ...pg.pdAddresses].join(",");
    const { dir, log } = await backupWhile(endpoints, async () => {
      pg.admin.pdElection(300, 1);
      await sleep(400);
    });
    const leaders = leadersIn(log);
    assert.equal(leaders[0], "pd-0", "found the first leader past the dead endpoint");
    assert.equal(leaders.at(-1), "pd-1", `followed the leader: ${leaders.join(" -> ")}`);
    await verifyTableBackup(dir, pg);
  });

  test("-u names one member; it dies after the leader moved: the client finds the leader among the members it learned", async () => {
    const { dir, log } = await backupWhile(pg.pdAddresses[0]!, async () => {
      pg.admin.pdElection(300, 2);
      await sleep(400);
      await pg.admin.stopPdMember(0);
    });
    const leaders = leadersIn(log);
    assert.equal(leaders[0], "pd-0");
    assert.equal(leaders.at(-1), "pd-2", `followed the leader: ${leaders.join(" -> ")}`);
    await verifyTableBackup(dir, pg);
  });
});
