import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { BackupKv } from "../sst/backup.ts";
import { committedRecords } from "./records.ts";

const enc = new TextEncoder();
const kv = (key: string, commitTs: number, type: BackupKv["type"], value = ""): BackupKv => ({
  rawKey: enc.encode(key),
  commitTs: BigInt(commitTs),
  startTs: BigInt(commitTs - 1),
  type,
  value: enc.encode(value),
  fromDefault: false,
});

async function* from(list: BackupKv[]) {
  yield* list;
}

async function visible(list: BackupKv[], ts: number, start = "", end = "") {
  const out: string[] = [];
  const dec = new TextDecoder();
  for await (
    const r of committedRecords(from(list), BigInt(ts), enc.encode(start), enc.encode(end))
  ) {
    out.push(`${dec.decode(r.key)}=${dec.decode(r.value)}`);
  }
  return out;
}

// Per key newest first, as TiKV's write CF orders commit records (tikv components/txn_types
// write.rs: Put, Delete, Lock, Rollback).
describe("committed records at a snapshot", () => {
  const records = [
    kv("a", 50, "put", "a50"), // after the snapshot
    kv("a", 30, "rollback"),
    kv("a", 20, "lock"),
    kv("a", 10, "put", "a10"),
    kv("b", 25, "delete"),
    kv("b", 5, "put", "b5"),
    kv("c", 45, "delete"), // deleted after the snapshot: still there at 40
    kv("c", 8, "put", "c8"),
    kv("d", 12, "rollback"),
    kv("e", 41, "put", "e41"),
  ];

  test("keeps the newest Put at or below the ts; Delete hides; Lock and Rollback are skipped", async () => {
    assert.deepEqual(await visible(records, 40), ["a=a10", "c=c8"]);
    assert.deepEqual(await visible(records, 50), ["a=a50", "e=e41"]);
    assert.deepEqual(await visible(records, 9), ["b=b5", "c=c8"]);
  });

  test("keeps only keys inside the range", async () => {
    assert.deepEqual(await visible(records, 100, "b", "e"), []);
    assert.deepEqual(await visible(records, 40, "b", ""), ["c=c8"]);
  });
});
