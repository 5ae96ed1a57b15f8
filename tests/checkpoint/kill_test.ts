/**
 * `kill -9` a `tibr backup` at seeded random moments, rerun the same command, and check that
 * the result is a complete backup: every table's checksum, recomputed from its SST files, equals
 * the playground's ground truth and an uninterrupted backup's. A rerun must succeed at once (a
 * dead run's lock on this host is taken over) and must resume what was checkpointed.
 *
 * `TIBR_KILL_SEEDS` sets how many seeds run (default 20); `scripts/soak-kill.ts` runs many more.
 * @module
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import { CHECKPOINT_DIR } from "../../src/checkpoint/files.ts";
import { EncryptionMethod } from "../../src/crypto/cipher.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { startSmall, tempDir, verifyTableBackup } from "../playground/_helpers.ts";
import { errorLine, runTibr, tibrCommand, type TibrRun } from "../_support/tibr.ts";
import { mulberry32 } from "../../src/random.ts";

const SEEDS = Number(process.env.TIBR_KILL_SEEDS ?? 20);
const FIRST_SEED = Number(process.env.TIBR_KILL_FIRST_SEED ?? 1);

let pg: Playground;
const tmp = tempDir("kill");

before(async () => {
  pg = await startSmall();
  // Slow every region down a little so a backup lasts long enough to be killed anywhere in it.
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
    "--checkpoint-flush-interval",
    "0.05",
    "--progress",
    "quiet",
    "--output",
    "json",
    "--log-file",
    join(dir + ".log"),
    ...extra,
  ];
}

/** Runs a backup to its end (asynchronously: the playground lives in this process). */
function run(dir: string, extra: string[] = []): Promise<TibrRun> {
  return runTibr(args(dir, extra));
}

/**
 * Starts a backup and kills it with SIGKILL after `ms`, or as soon as `until()` holds; resolves
 * with its exit code or signal.
 */
function runAndKill(
  dir: string,
  ms: number,
  extra: string[] = [],
  until?: () => boolean,
): Promise<{ code: number | null; signal: string }> {
  const [exe, ...pre] = tibrCommand();
  const child = spawn(exe!, [...pre, ...args(dir, extra)], {
    stdio: "ignore",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  const poll = until &&
    setInterval(() => {
      if (until()) child.kill("SIGKILL");
    }, 5);
  child.on("exit", () => poll && clearInterval(poll));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal: signal ?? "" });
    });
  });
}

type Sums = Record<string, string>;

async function tableSums(dir: string): Promise<Sums> {
  const v = await verifyTableBackup(dir, pg);
  const out: Sums = {};
  for (const t of v.tables) {
    out[t.name] = `${t.fromFiles.crc64xor}/${t.fromFiles.totalKvs}/${t.fromFiles.totalBytes}`;
  }
  return out;
}

function hasCheckpointData(dir: string): boolean {
  const data = join(dir, CHECKPOINT_DIR, "data");
  return existsSync(data) && readdirSync(data).some((f) => f.endsWith(".cpt"));
}

function checkpointLeft(dir: string): string[] {
  const cp = join(dir, CHECKPOINT_DIR);
  if (!existsSync(cp)) return [];
  return readdirSync(cp, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe(`kill -9 a backup at random points and rerun it (${SEEDS} seeds)`, () => {
  let reference: Sums = {};
  let fullMs = 0;

  test("an uninterrupted backup, for reference", async () => {
    const dir = join(tmp.path, "reference");
    const r = await run(dir);
    assert.equal(r.code, 0, r.stderr);
    reference = await tableSums(dir);
    assert.ok(Object.keys(reference).length >= 5);
    assert.deepEqual(checkpointLeft(dir), [], "a finished backup leaves no checkpoint");
    // Timed again once everything is warm (the first run also starts the stores' SST workers).
    const again = await run(join(tmp.path, "reference-2"));
    assert.equal(again.code, 0, again.stderr);
    fullMs = Math.round(again.ms);
  });

  test("every killed backup resumes to the same complete backup", async () => {
    const outcomes: string[] = [];
    let resumed = 0;
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
      const random = mulberry32(seed);
      const dir = join(tmp.path, `seed-${seed}`);
      // Kill anywhere from process start to a little past a whole backup's time.
      const at = Math.floor(random() * fullMs * 1.1);
      const killed = await runAndKill(dir, at);
      // Killed after it had written backupmeta and removed its checkpoint (closing its
      // connections, printing its summary): the backup is finished, and a rerun says so.
      const finishedBeforeKill = existsSync(join(dir, "backupmeta")) &&
        checkpointLeft(dir).length === 0;
      const rerun = await run(dir);
      const what = `seed ${seed} (killed at ${at} ms of ~${fullMs} ms)`;
      if (killed.signal !== "SIGKILL" || finishedBeforeKill) {
        // It finished before the kill: the rerun finds a finished backup and says so.
        if (killed.signal !== "SIGKILL") {
          assert.equal(killed.code, 0, `${what}: the first run failed`);
        }
        assert.notEqual(rerun.code, 0, `${what}: a second backup into a finished one`);
        assert.match(rerun.stderr, /already holds a backup/);
        outcomes.push("finished");
      } else {
        assert.equal(rerun.code, 0, `${what}: the rerun failed: ${rerun.stderr}`);
        const summary = JSON.parse(rerun.stdout.trim().split("\n").pop()!);
        if (summary.resumedRanges > 0) resumed++;
        outcomes.push(
          summary.alreadyComplete ? "complete" : `resumed ${summary.resumedRanges ?? 0}`,
        );
      }
      assert.deepEqual(await tableSums(dir), reference, `${what}: table checksums`);
      assert.deepEqual(checkpointLeft(dir), [], `${what}: checkpoint removed`);
    }
    console.log(`kill -9 outcomes by seed: ${outcomes.join(", ")}`);
    assert.ok(
      resumed >= Math.min(3, Math.floor(SEEDS / 4)),
      `too few kills landed mid-backup with something checkpointed: ${outcomes.join(", ")}`,
    );
  });

  test("a rerun with other options or another crypter key is refused, then resumes with the same", async () => {
    const dir = join(tmp.path, "changed");
    const keyA = "11".repeat(32);
    const enc = (key: string) => ["--crypter.method", "aes256-ctr", "--crypter.key", key];
    const killed = await runAndKill(dir, 60_000, enc(keyA), () => hasCheckpointData(dir));
    assert.equal(killed.signal, "SIGKILL", "killed once something was checkpointed");

    const wrongKey = await run(dir, enc("22".repeat(32)));
    assert.equal(wrongKey.code, 2, wrongKey.stderr);
    assert.match(errorLine(wrongKey), /crypter key differs.*pass the same --crypter\.key/);
    assert.doesNotMatch(wrongKey.stderr, /2222/, "the key is never printed");

    const changed = await run(dir, [...enc(keyA), "--compression", "lz4"]);
    assert.equal(changed.code, 2, changed.stderr);
    assert.match(errorLine(changed), /compression/);
    assert.match(changed.stderr, /checkpoint clean/, "says how to start afresh");

    const same = await run(dir, enc(keyA));
    assert.equal(same.code, 0, same.stderr);
    assert.ok(JSON.parse(same.stdout.trim().split("\n").pop()!).resumedRanges > 0);
    const cipher = { method: EncryptionMethod.AES256_CTR, key: new Uint8Array(32).fill(0x11) };
    const v = await verifyTableBackup(dir, pg, cipher);
    assert.ok(v.tables.length >= 5);
    assert.deepEqual(checkpointLeft(dir), []);
  });

  test("a corrupted checkpoint file is skipped and its ranges are backed up again", async () => {
    const dir = join(tmp.path, "corrupt");
    const killed = await runAndKill(dir, 60_000, [], () => hasCheckpointData(dir));
    assert.equal(killed.signal, "SIGKILL", "killed once something was checkpointed");
    const data = join(dir, CHECKPOINT_DIR, "data");
    const cpt = readdirSync(data).filter((f) => f.endsWith(".cpt"));
    // Flip a byte inside every group's payload: each group then fails its sha256, so nothing of
    // it may be trusted.
    const tag = '"RangeGroupsEncriptedData":"';
    for (const f of cpt) {
      const p = join(data, f);
      let text = readFileSync(p, "utf8");
      for (let i = text.indexOf(tag); i >= 0; i = text.indexOf(tag, i + 1)) {
        const at = i + tag.length + 12;
        text = text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);
      }
      writeFileSync(p, text);
    }
    const again = await run(dir);
    assert.equal(again.code, 0, again.stderr);
    const summary = JSON.parse(again.stdout.trim().split("\n").pop()!);
    assert.equal(summary.resumedRanges ?? 0, 0, "no range of a corrupt group was reused");
    assert.deepEqual(await tableSums(dir), reference);
    assert.match(readFileSync(join(dir + ".log"), "utf8"), /sha256|checksum mismatch|skipp/i);
  });
});
