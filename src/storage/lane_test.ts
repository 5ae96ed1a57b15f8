import assert from "node:assert/strict";
import { MemoryStorage } from "../../plugins/memory/mod.ts";
import { ForwardingStorage } from "./_forward.ts";
import { controlLane, laneOf } from "./lane.ts";
import type { CallOptions, Lane, ObjectStat, WalkFn, WalkOptions, WriteOptions } from "./types.ts";

/** Records the lane each call arrived with. */
class Lanes extends ForwardingStorage {
  readonly seen: Array<[string, Lane]> = [];
  override writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    this.seen.push([name, laneOf(opts)]);
    return this.inner.writeFile(name, data, opts);
  }
  override deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    this.seen.push([names.join(","), laneOf(opts)]);
    return this.inner.deleteFiles(names, opts);
  }
  override walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
    this.seen.push([`walk ${opts.subDir ?? ""}`, laneOf(opts)]);
    return this.inner.walkDir(opts, fn);
  }
}

Deno.test("the lane comes from the call, never from the name", async () => {
  const rec = new Lanes(new MemoryStorage("lane-1", ""));
  await rec.writeFile("backup.lock", new Uint8Array(1));
  await rec.writeFile("checkpoints/backup/checkpoint.meta", new Uint8Array(1));
  const ctl = controlLane(rec);
  await ctl.writeFile("checkpoints/backup/checkpoint.lock", new Uint8Array(1));
  await ctl.writeFile("x", new Uint8Array(1), { lane: "data" });
  await ctl.deleteFiles(["x"]);
  await ctl.walkDir({ subDir: "checkpoints" }, () => {});
  assert.deepEqual(rec.seen, [
    ["backup.lock", "data"],
    ["checkpoints/backup/checkpoint.meta", "data"],
    ["checkpoints/backup/checkpoint.lock", "control"],
    ["x", "data"],
    ["x", "control"],
    ["walk checkpoints", "control"],
  ]);
  assert.equal(controlLane(ctl), ctl, "wrapping twice adds no layer");
});
