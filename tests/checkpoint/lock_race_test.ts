/**
 * The checkpoint lock under contention on memory and local storage (through `openStorage`, with
 * the layers a backup uses): exactly one of 8 concurrent runs wins, 50 rounds, on a free lock
 * and on an expired one; and 8 separate processes racing for a lock on one directory.
 * @module
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import { readLock } from "../../src/checkpoint/lock.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { lockRaceTests } from "./_race.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tibr-lock-race-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

describe("memory storage", () => {
  lockRaceTests("memory", {
    open: () => openStorage(`memory://lock-race-${Date.now()}-${n++}/bk`, { env: {} }),
    runners: 8,
    rounds: 50,
    takeoverRounds: 50,
  });
});

describe("local storage", () => {
  lockRaceTests("local", {
    open: () => openStorage(join(dir, `bk-${n++}`), { env: {} }),
    runners: 8,
    rounds: 50,
    takeoverRounds: 50,
  });
});

/**
 * Runs `_acquire.ts` in a child process of this runtime; `result` resolves with its one JSON
 * line. The child keeps running (holding what it won) until `release()` closes its stdin: a
 * winner that had exited would be a dead holder on this host, whose lock a later racer may
 * rightly take over at once.
 */
function acquireInProcess(
  location: string,
  startAt: number,
): { result: Promise<Record<string, string>>; release: () => void } {
  const script = join(ROOT, "tests/checkpoint/_acquire.ts");
  const args = process.versions["deno"] !== undefined
    ? ["run", "-A", "--quiet", script, location, String(startAt)]
    : [script, location, String(startAt)];
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"] });
  const result = new Promise<Record<string, string>>((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("\n")) {
        try {
          resolve(JSON.parse(out.trim()));
        } catch {
          reject(new Error(`acquirer printed ${out} ${err}`));
        }
      }
    });
    child.stderr.on("data", (d) => err += d);
    child.on("error", reject);
    child.on("close", (code) => reject(new Error(`acquirer exited ${code}: ${out} ${err}`)));
  });
  return { result, release: () => child.stdin.end() };
}

describe("separate processes", () => {
  const name = "exactly one of 8 processes racing for the lock on one directory wins, 2 rounds";
  test(name, { timeout: 120_000 }, async () => {
    for (let round = 0; round < 2; round++) {
      const location = join(dir, `procs-${round}`);
      // Every process waits for the same instant after starting, so the acquisitions overlap.
      const startAt = Date.now() + 6000;
      const racers = Array.from({ length: 8 }, () => acquireInProcess(location, startAt));
      const results = await Promise.all(racers.map((r) => r.result)).finally(() => {
        for (const r of racers) r.release();
      });
      const won = results.filter((r) => r.result === "won");
      assert.equal(won.length, 1, JSON.stringify(results));
      for (const r of results) {
        if (r.result !== "won") assert.equal(r.code, "LockHeld", JSON.stringify(r));
      }
      const storage = await openStorage(location, { env: {} });
      assert.equal((await readLock(storage))!.info.lockId.toString(), won[0]!.id);
      await storage.close();
    }
  });
});
