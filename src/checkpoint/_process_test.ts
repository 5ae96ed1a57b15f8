import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { describe, test } from "node:test";
import { isGoneHere, thisProcess } from "./_process.ts";
import { decodeLock, encodeLock } from "./files.ts";

describe("lock holder identity", () => {
  const me = thisProcess();

  test("this host has one (the tests run on Linux with /proc)", () => {
    assert.ok(me, "no /proc identity: a killed run's lock could not be taken over at once");
    assert.equal(me.pid, process.pid);
  });

  test("a live process is not gone; an exited one, a reused pid and this process are judged right", () => {
    const host = me!.hostId;
    // The parent (the test runner's parent shell) is alive: read its real start time.
    const parentStart = spawnSync("cat", [`/proc/${process.ppid}/stat`], { encoding: "utf8" })
      .stdout;
    const start = parentStart.slice(parentStart.lastIndexOf(")") + 2).split(" ")[19]!;
    assert.equal(isGoneHere({ hostId: host, pid: process.ppid, start }), false);
    assert.equal(isGoneHere({ hostId: host, pid: process.ppid, start: `${start}1` }), true);
    const child = spawnSync("true");
    assert.equal(isGoneHere({ hostId: host, pid: child.pid!, start: "1" }), true);
    assert.equal(isGoneHere({ hostId: "another-host", pid: child.pid!, start: "1" }), false);
    assert.equal(isGoneHere(me), false);
    assert.equal(isGoneHere(undefined), false);
  });

  test("round-trips through the lock file, and BR's lock without it still decodes", () => {
    const info = { lockId: 1n << 60n, expireAt: 1234, owner: "h pid 1", process: me! };
    assert.deepEqual(decodeLock(encodeLock(info)), info);
    const br = decodeLock(new TextEncoder().encode('{"lock-id":5,"expire-at":6}'));
    assert.deepEqual(br, { lockId: 5n, expireAt: 6 });
  });
});
