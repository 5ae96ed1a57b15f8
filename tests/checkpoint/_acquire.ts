/**
 * A child process for the lock race test: waits until the given instant, tries to take the
 * checkpoint lock of `location` once, prints `{"result":"won","id"}` or
 * `{"result":"lost","code"}`, and exits without releasing it once its stdin closes (the parent
 * closes it when every racer has tried, so no winner is a dead holder meanwhile).
 *
 * Usage: _acquire.ts LOCATION START_AT_MS
 * @module
 */
import process from "node:process";
import { CheckpointError } from "../../src/checkpoint/errors.ts";
import { CheckpointLock } from "../../src/checkpoint/lock.ts";
import { openStorage } from "../../src/storage/registry.ts";

const [location, startAt] = process.argv.slice(2);
const storage = await openStorage(location!, { env: {} });
// A TSO from the wall clock, made unique across processes by the pid in the logical bits.
const now = () => Promise.resolve((BigInt(Date.now()) << 18n) | BigInt(process.pid & 0x3ffff));
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
try {
  const lock = await CheckpointLock.acquire(storage, { now, renewIntervalMs: 0 });
  process.stdout.write(`${JSON.stringify({ result: "won", id: lock.id.toString() })}\n`);
} catch (err) {
  const code = err instanceof CheckpointError ? err.code : String(err);
  process.stdout.write(`${JSON.stringify({ result: "lost", code })}\n`);
}
process.stdin.resume();
await new Promise((r) => process.stdin.on("end", r));
await storage.close();
process.exit(0);
