/**
 * A backup never reports success over a missing or damaged file, and every interruption is
 * resumable (issue #14): files deleted, truncated or altered in the storage during a backup or
 * between runs, SIGTERM, a leftover checkpoint beside an unreadable `backupmeta`, and following
 * each piece of advice tibr prints. Every backup that ends with exit 0 is read back with tibr's
 * SST reader and compared with the playground's ground truth, and holds no file its metadata
 * does not list.
 * @module
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import { CHECKPOINT_DIR } from "../../src/checkpoint/files.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { dataFilesOf, startSmall, tempDir, verifyTableBackup } from "../playground/_helpers.ts";
import { errorLine, runTibr, tibrCommand, type TibrRun } from "../_support/tibr.ts";
import { filesUnder } from "./_cli.ts";

let pg: Playground;
const tmp = tempDir("integrity");

before(async () => {
  pg = await startSmall();
  // Slow regions a little, so a backup lasts long enough to be disturbed in the middle.
  for (const s of pg.cluster.regions.stores()) pg.admin.slowStore(s.id, 5);
});
after(async () => {
  await pg?.stop();
  tmp.cleanup();
});

function args(dir: string, extra: string[] = []): string[] {
  return [
    "backup",
    "full",
    "-u",
    pg.pdAddress,
    "-s",
    `local://${dir}`,
    "--progress",
    "quiet",
    "--output",
    "json",
    "--log-file",
    `${dir}.log`,
    ...extra,
  ];
}

const FAST_FLUSH = ["--checkpoint-flush-interval", "0.05"];

function backup(dir: string, extra: string[] = FAST_FLUSH): Promise<TibrRun> {
  return runTibr(args(dir, extra));
}

function summaryOf(run: TibrRun): Record<string, unknown> {
  return JSON.parse(run.stdout.trim().split("\n").pop()!);
}

/** SST files (relative names) under a backup directory. */
function ssts(dir: string): string[] {
  return filesUnder(dir).filter((f) => f.endsWith(".sst") && !f.startsWith(".tibr-tmp/"));
}

function hasCheckpointData(dir: string): boolean {
  const data = join(dir, CHECKPOINT_DIR, "data");
  return existsSync(data) && readdirSync(data).some((f) => f.endsWith(".cpt"));
}

/**
 * Starts a backup, calls `act` once `ready()` holds (polled every 5 ms), and resolves with how
 * the run ended; `signal` then ends it (SIGKILL by default) unless `act` returns false.
 */
function runAndAct(
  dir: string,
  extra: string[],
  ready: () => boolean,
  act: () => void | boolean,
  signal: NodeJS.Signals | undefined = "SIGKILL",
): Promise<{ code: number | null; signal: string; stderr: string; stdout: string }> {
  const [exe, ...pre] = tibrCommand();
  const child = spawn(exe!, [...pre, ...args(dir, extra)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", TIBR_STORAGE_PLUGINS: "" },
  });
  let stderr = "";
  let stdout = "";
  child.stderr!.on("data", (d) => (stderr += d));
  child.stdout!.on("data", (d) => (stdout += d));
  let acted = false;
  const poll = setInterval(() => {
    if (acted || !ready()) return;
    acted = true;
    const send = act() !== false;
    if (send && signal) child.kill(signal);
  }, 5);
  const limit = setTimeout(() => child.kill("SIGKILL"), 120_000);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, sig) => {
      clearInterval(poll);
      clearTimeout(limit);
      resolve({ code, signal: sig ?? "", stderr, stdout });
    });
  });
}

/** The backup is complete and exact: ground truth per table, and no file it does not list. */
async function assertComplete(dir: string): Promise<void> {
  const v = await verifyTableBackup(dir, pg);
  assert.ok(v.tables.length >= 5, "every table is in the backup");
  const listed = new Set((await dataFilesOf(dir)).map((f) => f.name));
  assert.deepEqual(ssts(dir).filter((f) => !listed.has(f)), [], "no orphan data file");
  assert.ok(!existsSync(join(dir, CHECKPOINT_DIR, "checkpoint.meta")), "checkpoint removed");
}

describe("backup integrity against the playground", () => {
  test("a store's folder deleted during the backup fails it; the rerun backs those ranges up again", async () => {
    const dir = join(tmp.path, "store-gone");
    let victim = "";
    const run = await runAndAct(
      dir,
      FAST_FLUSH,
      () => {
        const stores = existsSync(dir) ? readdirSync(dir).filter((d) => /^\d+$/.test(d)) : [];
        victim = stores.find((d) => readdirSync(join(dir, d)).length >= 3) ?? "";
        return victim !== "";
      },
      () => {
        // The files, not the folder: the store writes its next files there.
        for (const f of readdirSync(join(dir, victim))) {
          rmSync(join(dir, victim, f), { force: true });
        }
        return false;
      },
    );
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /data files at local:\/\/.* are missing or damaged: .*missing/);
    assert.match(run.stderr, /rerun the same command/);
    assert.ok(!existsSync(join(dir, "backupmeta")), "no backupmeta over missing files");

    // The advice: rerun the same command.
    const again = await backup(dir);
    assert.equal(again.code, 0, again.stderr);
    assert.ok((summaryOf(again).redoneRanges as number) > 0, again.stdout);
    await assertComplete(dir);
  });

  test("checkpointed files deleted or truncated after kill -9 are backed up again, and orphans are removed", async () => {
    const dir = join(tmp.path, "killed");
    const killed = await runAndAct(
      dir,
      FAST_FLUSH,
      () => hasCheckpointData(dir) && ssts(dir).length >= 20,
      () => {},
    );
    assert.equal(killed.signal, "SIGKILL");
    // Every other file deleted, the rest cut short: whatever the checkpoint lists is damaged.
    const files = ssts(dir);
    files.forEach((f, i) => {
      const p = join(dir, f);
      if (i % 2 === 0) rmSync(p);
      else truncateSync(p, Math.floor(statSync(p).size / 2));
    });
    const again = await backup(dir);
    assert.equal(again.code, 0, again.stderr);
    const s = summaryOf(again);
    assert.ok((s.redoneRanges as number) >= 1, again.stdout);
    assert.ok((s.orphansRemoved as number) >= 1, "the cut files, no longer listed, are removed");
    await assertComplete(dir);
  });

  test("--verify-files catches altered bytes of the same size, and the rerun repairs them", async () => {
    const dir = join(tmp.path, "flipped");
    let victim = "";
    const run = await runAndAct(
      dir,
      [...FAST_FLUSH, "--verify-files"],
      () => {
        victim = ssts(dir).find((f) => statSync(join(dir, f)).size > 200) ?? "";
        return victim !== "";
      },
      () => {
        const p = join(dir, victim);
        const bytes = readFileSync(p);
        bytes[100] = bytes[100]! ^ 0xff;
        bytes[101] = bytes[101]! ^ 0xff;
        writeFileSync(p, bytes);
        return false;
      },
    );
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /sha256 differs/);
    assert.ok(!existsSync(join(dir, "backupmeta")));
    const again = await backup(dir, [...FAST_FLUSH, "--verify-files"]);
    assert.equal(again.code, 0, again.stderr);
    const s = summaryOf(again);
    assert.equal(s.filesVerified, true);
    assert.ok((s.redoneRanges as number) >= 1, again.stdout);
    await assertComplete(dir);
  });

  test("SIGTERM saves a final checkpoint and says so; the rerun resumes from it", async () => {
    const dir = join(tmp.path, "sigterm");
    // The default 30 s flush interval: only the final save can leave a checkpoint file.
    const run = await runAndAct(dir, [], () => ssts(dir).length >= 30, () => {}, "SIGTERM");
    // Deno's child_process reports a child it sent a signal to as ended by that signal even when
    // the child handled it and exited 1; the error line below shows it did.
    assert.ok(run.code === 1 || run.signal === "SIGTERM", run.stderr);
    assert.match(run.stderr, /^Error: .*interrupted by SIGTERM$/m);
    const saved =
      /Checkpoint saved at local:\/\/.*\((\d+) sub-ranges done\): rerun the same command/
        .exec(run.stderr);
    assert.ok(saved && Number(saved[1]) > 0, run.stderr);
    assert.doesNotMatch(readFileSync(`${dir}.log`, "utf8"), /could not save the checkpoint/);
    assert.ok(hasCheckpointData(dir), "a checkpoint data file was written");
    const again = await backup(dir, []);
    assert.equal(again.code, 0, again.stderr);
    assert.ok((summaryOf(again).resumedRanges as number) > 0, again.stdout);
    await assertComplete(dir);
  });

  test("a corrupt checkpoint.meta: the advice 'checkpoint clean' leads to a fresh, complete backup", async () => {
    const dir = join(tmp.path, "corrupt-meta");
    const killed = await runAndAct(dir, FAST_FLUSH, () => hasCheckpointData(dir), () => {});
    assert.equal(killed.signal, "SIGKILL");
    writeFileSync(join(dir, CHECKPOINT_DIR, "checkpoint.meta"), "{not json");
    const refused = await backup(dir);
    assert.notEqual(refused.code, 0);
    const advice = /'tibr checkpoint clean -s ([^']+)'/.exec(errorLine(refused));
    assert.ok(advice, refused.stderr);
    const clean = await runTibr([
      "checkpoint",
      "clean",
      "-s",
      advice[1]!,
      "--log-file",
      "/dev/null",
    ]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stdout, /files of the unfinished backup .*starts afresh/);
    assert.deepEqual(ssts(dir), [], "the failed run's data files are gone");
    assert.ok(!existsSync(join(dir, "backup.lock")));
    const fresh = await backup(dir);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal(summaryOf(fresh).resumedRanges, undefined, "started afresh");
    await assertComplete(dir);
  });

  test("a backup.lock left by a killed run without checkpoints: the advice 'checkpoint clean' leads to a fresh, complete backup", async () => {
    const dir = join(tmp.path, "marker");
    const noCheckpoint = ["--use-checkpoint=false"];
    const killed = await runAndAct(dir, noCheckpoint, () => ssts(dir).length > 0, () => {});
    assert.equal(killed.signal, "SIGKILL");
    assert.ok(existsSync(join(dir, "backup.lock")), "the killed run left BR's marker");
    const refused = await backup(dir, noCheckpoint);
    assert.notEqual(refused.code, 0);
    assert.match(errorLine(refused), /backup\.lock exists/);
    const advice = /'tibr checkpoint clean -s ([^']+)'/.exec(errorLine(refused));
    assert.ok(advice, refused.stderr);
    const clean = await runTibr([
      "checkpoint",
      "clean",
      "-s",
      advice[1]!,
      "--log-file",
      "/dev/null",
    ]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.ok(!existsSync(join(dir, "backup.lock")), "clean removed the marker");
    assert.deepEqual(ssts(dir), [], "the killed run's data files are gone");
    const fresh = await backup(dir);
    assert.equal(fresh.code, 0, fresh.stderr);
    await assertComplete(dir);
  });

  test("checkpoint clean refuses while a live run holds the lock", async () => {
    const dir = join(tmp.path, "live");
    const stores = pg.cluster.regions.stores().map((st) => st.id);
    let clean: Promise<TibrRun> | undefined;
    // The stores are held while clean runs, so the backup is surely live (and holding its lock).
    const run = await runAndAct(dir, FAST_FLUSH, () => hasCheckpointData(dir), () => {
      for (const id of stores) pg.admin.pauseStore(id, true);
      clean = runTibr(["checkpoint", "clean", "-s", `local://${dir}`, "--log-file", "/dev/null"])
        .finally(() => {
          for (const id of stores) pg.admin.pauseStore(id, false);
        });
      return false;
    }, undefined);
    assert.equal(run.code, 0, run.stderr);
    const refused = await clean!;
    assert.notEqual(refused.code, 0);
    assert.match(errorLine(refused), /lock is held by .*--force/);
    await assertComplete(dir);
  });

  test("an unreadable backupmeta beside a checkpoint keeps the checkpoint; following the advice resumes", async () => {
    const dir = join(tmp.path, "leftover");
    const killed = await runAndAct(dir, FAST_FLUSH, () => hasCheckpointData(dir), () => {});
    assert.equal(killed.signal, "SIGKILL");
    writeFileSync(join(dir, "backupmeta"), new Uint8Array([0x0a, 0xff, 0x01]));
    const refused = await backup(dir);
    assert.notEqual(refused.code, 0);
    // Those bytes decode as a backupmeta of ts 0, or not at all: either way not this backup's.
    assert.match(
      errorLine(refused),
      /backupmeta (is unreadable|is a backup at ts 0).*remove backupmeta and rerun/,
    );
    assert.ok(hasCheckpointData(dir), "the checkpoint is still there");
    rmSync(join(dir, "backupmeta"));
    const again = await backup(dir);
    assert.equal(again.code, 0, again.stderr);
    assert.ok((summaryOf(again).resumedRanges as number) > 0);
    await assertComplete(dir);
  });

  test("after a fatal error no backup request starts, and the process exits within 1 s, resumable", async () => {
    const dir = join(tmp.path, "fatal");
    const faults = pg.cluster.faults;
    const pick = faults.pickStorageFailure.bind(faults);
    let requestsAtError = -1;
    let errorAt = 0;
    faults.pickStorageFailure = () => {
      const failure = pick();
      if (failure !== undefined && errorAt === 0) {
        requestsAtError = pg.stats.backupRequests;
        errorAt = performance.now();
      }
      return failure;
    };
    const base = pg.stats.backupRequests;
    try {
      const run = await runAndAct(
        dir,
        [...FAST_FLUSH, "--concurrency", "4"],
        () => pg.stats.backupRequests >= base + 4,
        () => {
          // One permanent storage failure: the store reports it and the backup must stop.
          pg.admin.failStorageWrites({ probability: 1, remaining: 1, temporary: false });
          return false;
        },
      );
      const exitedAt = performance.now();
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /permission denied \(injected by the playground\)/);
      assert.ok(errorAt > 0, "the fault fired");
      // The count starts when the store picks the failure, before its response reaches the
      // client: in that window each of the other 3 workers may still push the range it takes next
      // (one request per store). Once the client has the error nothing starts, so at most that
      // many.
      const after = pg.stats.backupRequests - requestsAtError;
      const stores = pg.cluster.regions.stores().length;
      assert.ok(after <= 3 * stores, `${after} backup requests started after the fatal error`);
      assert.ok(exitedAt - errorAt < 1000, `exited ${Math.round(exitedAt - errorAt)} ms after it`);
    } finally {
      faults.pickStorageFailure = pick;
      pg.admin.clearStorageFaults();
    }
    assert.ok(!existsSync(join(dir, "backupmeta")));
    const again = await backup(dir);
    assert.equal(again.code, 0, again.stderr);
    await assertComplete(dir);
  });

  test("a backup ts above PD's current TSO is refused", async () => {
    const dir = join(tmp.path, "future");
    for (const ts of ["18446744073709551615", "2099-01-01 00:00:00"]) {
      const r = await backup(dir, ["--backupts", ts]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(errorLine(r), /after PD's current TSO .*must not be in the future/);
    }
    assert.deepEqual(filesUnder(dir), []);
  });

  // Last: it advances the shared playground's GC safe point.
  test("a backup ts at or below the GC safe point is refused; following the advice works", async () => {
    const dir = join(tmp.path, "gc");
    pg.admin.setGcSafePoint(pg.cluster.tso.next());
    const old = await backup(dir, ["--timeago", "1h"]);
    assert.equal(old.code, 2, old.stderr);
    assert.match(errorLine(old), /not after the GC safe point.*a smaller --timeago/);
    assert.deepEqual(ssts(dir), [], "nothing was backed up");
    // The advice: a smaller --timeago (none at all: now).
    const now = await backup(dir);
    assert.equal(now.code, 0, now.stderr);
    await assertComplete(dir);
  });
});
