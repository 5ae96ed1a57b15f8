import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { crc64 } from "../codec/crc64.ts";
import { decodeBytes, decodeUintDesc } from "../codec/bytes.ts";
import { decodeWriteValue } from "../codec/tikv.ts";
import {
  hasDefaultCfValue,
  LockedError,
  type Mutation,
  MvccStore,
  TxnAction,
  writeRecordOf,
} from "./mvcc.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string) => enc.encode(s);
const str = (u: Uint8Array | null) => (u === null ? null : dec.decode(u));
/** A ts whose physical part is `ms` and logical part `logical`. */
const ts = (ms: number, logical = 0) => (BigInt(ms) << 18n) | BigInt(logical);

function put(key: string, value: string): Mutation {
  return { op: "put", key: b(key), value: b(value) };
}

function commitTxn(s: MvccStore, startTs: bigint, commitTs: bigint, muts: Mutation[]): void {
  const pw = s.prewrite({ mutations: muts, primary: muts[0]!.key, startTs, lockTtl: 3000n });
  assert.deepEqual(pw.errors, []);
  assert.deepEqual(s.commit(muts.map((m) => m.key), startTs, commitTs), {});
}

describe("mvcc reads and writes", () => {
  test("a committed put is visible at and after its commit ts only", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 11n, [put("a", "v1")]);
    commitTxn(s, 20n, 21n, [put("a", "v2")]);
    assert.equal(str(s.get(b("a"), 10n).value), null);
    assert.equal(str(s.get(b("a"), 11n).value), "v1");
    assert.equal(str(s.get(b("a"), 20n).value), "v1");
    assert.equal(str(s.get(b("a"), 21n).value), "v2");
    commitTxn(s, 30n, 31n, [{ op: "delete", key: b("a") }]);
    assert.equal(s.get(b("a"), 40n).value, null);
    assert.equal(str(s.get(b("a"), 30n).value), "v2");
  });

  test("lock records and rollbacks are skipped by reads", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 11n, [put("k", "v")]);
    commitTxn(s, 20n, 21n, [{ op: "lock", key: b("k") }]);
    assert.deepEqual(s.rollback([b("k")], 30n), {});
    assert.equal(str(s.get(b("k"), 100n).value), "v");
    assert.deepEqual([...s.versionsOf(b("k"))].map((v) => v.type), ["rollback", "lock", "put"]);
  });

  test("short values go inline in the write CF and long ones to the default CF", () => {
    const s = new MvccStore();
    const long = "x".repeat(300);
    commitTxn(s, 10n, 11n, [put("short", "tiny"), put("long", long)]);
    const writes = [...s.writeCfEntries(new Uint8Array(0), new Uint8Array(0))];
    assert.equal(writes.length, 2);
    const byKey = new Map(writes.map((w) => [str(decodeBytes(w.key).value), w]));
    const shortRec = decodeWriteValue(byKey.get("short")!.value);
    assert.equal(shortRec.type, "put");
    assert.equal(shortRec.startTs, 10n);
    assert.equal(str(shortRec.shortValue!), "tiny");
    const longKey = byKey.get("long")!.key;
    assert.equal(decodeUintDesc(longKey, longKey.length - 8), 11n);
    assert.equal(decodeWriteValue(byKey.get("long")!.value).shortValue, undefined);
    const defaults = [...s.defaultCfEntries(new Uint8Array(0), new Uint8Array(0))];
    assert.equal(defaults.length, 1);
    assert.equal(decodeUintDesc(defaults[0]!.key, defaults[0]!.key.length - 8), 10n);
    assert.equal(str(defaults[0]!.value), long);
  });

  test("prewrite after a newer commit is a write conflict and writes nothing", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 15n, [put("a", "1")]);
    const r = s.prewrite({
      mutations: [put("a", "2"), put("b", "2")],
      primary: b("a"),
      startTs: 12n,
      lockTtl: 100n,
    });
    assert.equal(r.errors[0]?.kind, "writeConflict");
    if (r.errors[0]?.kind === "writeConflict") {
      assert.equal(r.errors[0].conflictCommitTs, 15n);
      assert.equal(r.errors[0].conflictTs, 10n);
    }
    assert.equal(s.stats().locks, 0);
  });

  test("insert of an existing key fails with alreadyExist", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 11n, [put("a", "1")]);
    const r = s.prewrite({
      mutations: [{ op: "insert", key: b("a"), value: b("2") }],
      primary: b("a"),
      startTs: 20n,
      lockTtl: 100n,
    });
    assert.equal(r.errors[0]?.kind, "alreadyExist");
  });

  test("scan honours range, limit, reverse and reports locked keys in place", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 11n, ["a", "b", "c", "d", "e"].map((k) => put(k, k.toUpperCase())));
    s.prewrite({
      mutations: [put("c", "C2"), put("cc", "new")],
      primary: b("c"),
      startTs: 20n,
      lockTtl: 100n,
    });
    const all = s.scan(b("a"), new Uint8Array(0), 30n);
    assert.deepEqual(all.map((p) => [str(p.key), p.error?.kind ?? str(p.value)]), [
      ["a", "A"],
      ["b", "B"],
      ["c", "locked"],
      ["cc", "locked"],
      ["d", "D"],
      ["e", "E"],
    ]);
    assert.deepEqual(s.scan(b("b"), b("d"), 15n).map((p) => str(p.value)), ["B", "C"]);
    assert.deepEqual(s.scan(b("a"), new Uint8Array(0), 30n, 2).map((p) => str(p.key)), ["a", "b"]);
    const rev = s.scan(b("b"), b("e"), 30n, 0, { reverse: true });
    assert.deepEqual(rev.map((p) => str(p.key)), ["d", "cc", "c", "b"]);
    assert.equal(s.scan(b("a"), b("z"), 30n, 0, { bypassLocks: [20n] }).length, 5);
  });
});

describe("mvcc lock semantics", () => {
  test("a lock at or below the read ts blocks; above it, or of type lock, does not", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 11n, [put("k", "old")]);
    s.prewrite({ mutations: [put("k", "new")], primary: b("k"), startTs: 20n, lockTtl: 100n });
    assert.equal(str(s.get(b("k"), 19n).value), "old");
    const blocked = s.get(b("k"), 25n);
    assert.equal(blocked.error?.kind, "locked");
    if (blocked.error?.kind === "locked") {
      assert.equal(blocked.error.lock.lockVersion, 20n);
      assert.equal(str(blocked.error.lock.primaryLock), "k");
      assert.equal(blocked.error.lock.lockType, "put");
    }
    assert.equal(str(s.get(b("k"), 25n, { bypassLocks: [20n] }).value), "old");
    s.prewrite({
      mutations: [{ op: "lock", key: b("m") }],
      primary: b("m"),
      startTs: 20n,
      lockTtl: 100n,
    });
    assert.equal(s.get(b("m"), 25n).error, undefined);
  });

  test("a crashed txn's lock expires by TTL and is rolled back; a live one is reported", () => {
    const s = new MvccStore();
    const start = ts(1000);
    s.prewrite({
      mutations: [put("p", "1"), put("s", "1")],
      primary: b("p"),
      startTs: start,
      lockTtl: 3000n,
    });
    const live = s.checkTxnStatus({
      primaryKey: b("p"),
      lockTs: start,
      callerStartTs: ts(2000),
      currentTs: ts(2000),
    });
    assert.equal(live.lockTtl, 3000n);
    assert.equal(live.commitVersion, 0n);
    assert.equal(live.lockInfo?.lockVersion, start);
    // A heartbeat keeps it alive past its first TTL.
    assert.equal(s.txnHeartBeat(b("p"), start, 10_000n).lockTtl, 10_000n);
    const stillLive = s.checkTxnStatus({
      primaryKey: b("p"),
      lockTs: start,
      callerStartTs: ts(5000),
      currentTs: ts(5000),
    });
    assert.ok(stillLive.lockTtl > 0n);
    const expired = s.checkTxnStatus({
      primaryKey: b("p"),
      lockTs: start,
      callerStartTs: ts(20_000),
      currentTs: ts(20_000),
    });
    assert.deepEqual([expired.lockTtl, expired.commitVersion, expired.action], [
      0n,
      0n,
      TxnAction.TTLExpireRollback,
    ]);
    // The secondary is resolved as rolled back; the txn can no longer commit.
    assert.equal(s.resolveLock({ startTs: start, commitTs: 0n, keys: [b("s")] }).resolved, 1);
    assert.equal(s.commit([b("p")], start, ts(20_001)).error?.kind, "retryable");
    assert.equal(s.stats().locks, 0);
    const again = s.checkTxnStatus({
      primaryKey: b("p"),
      lockTs: start,
      callerStartTs: ts(30_000),
      currentTs: ts(30_000),
    });
    assert.deepEqual([again.lockTtl, again.commitVersion, again.error], [0n, 0n, undefined]);
    const re = s.prewrite({
      mutations: [put("p", "2")],
      primary: b("p"),
      startTs: start,
      lockTtl: 100n,
    });
    assert.equal(re.errors[0]?.kind, "writeConflict");
  });

  test("a missing primary is txnNotFound unless rollbackIfNotExist, which blocks it", () => {
    const s = new MvccStore();
    const r = s.checkTxnStatus({
      primaryKey: b("p"),
      lockTs: 50n,
      callerStartTs: 60n,
      currentTs: 60n,
    });
    assert.equal(r.error?.kind, "txnNotFound");
    const rb = s.checkTxnStatus({
      primaryKey: b("p"),
      lockTs: 50n,
      callerStartTs: 60n,
      currentTs: 60n,
      rollbackIfNotExist: true,
    });
    assert.equal(rb.action, TxnAction.LockNotExistRollback);
    const late = s.prewrite({
      mutations: [put("p", "x")],
      primary: b("p"),
      startTs: 50n,
      lockTtl: 100n,
    });
    assert.equal(late.errors[0]?.kind, "writeConflict");
    if (late.errors[0]?.kind === "writeConflict") assert.equal(late.errors[0].reason, 3);
  });

  test("check_txn_status reports the commit ts of a committed txn", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 14n, [put("p", "v")]);
    const r = s.checkTxnStatus({
      primaryKey: b("p"),
      lockTs: 10n,
      callerStartTs: 20n,
      currentTs: 20n,
    });
    assert.equal(r.commitVersion, 14n);
  });

  test("check_txn_status pushes min_commit_ts of a large txn for the caller", () => {
    const s = new MvccStore();
    s.prewrite({
      mutations: [put("p", "v")],
      primary: b("p"),
      startTs: ts(100),
      lockTtl: 60_000n,
      minCommitTs: ts(100) + 1n,
    });
    const r = s.checkTxnStatus({
      primaryKey: b("p"),
      lockTs: ts(100),
      callerStartTs: ts(200),
      currentTs: ts(200),
    });
    assert.equal(r.action, TxnAction.MinCommitTSPushed);
    assert.equal(r.lockInfo?.minCommitTs, ts(200) + 1n);
    // The pushed lock no longer blocks a read at the caller's ts.
    assert.equal(s.get(b("p"), ts(200)).error, undefined);
    assert.equal(s.commit([b("p")], ts(100), ts(150)).error?.kind, "commitTsExpired");
  });

  test("async commit: min_commit_ts above every read, secondaries decide the outcome", () => {
    const s = new MvccStore();
    s.get(b("x"), 500n); // a read at 500 must not see a commit below it
    const pw = s.prewrite({
      mutations: [put("p", "1"), put("s1", "1"), put("s2", "1")],
      primary: b("p"),
      startTs: 100n,
      lockTtl: 1n,
      useAsyncCommit: true,
      secondaries: [b("s1"), b("s2")],
    });
    assert.deepEqual(pw.errors, []);
    assert.equal(pw.minCommitTs, 501n);
    // Even long expired, check_txn_status does not roll an async-commit lock back.
    const st = s.checkTxnStatus({
      primaryKey: b("p"),
      lockTs: 100n,
      callerStartTs: ts(10_000),
      currentTs: ts(10_000),
    });
    assert.equal(st.lockInfo?.useAsyncCommit, true);
    assert.deepEqual(st.lockInfo?.secondaries.map(str), ["s1", "s2"]);
    const all = s.checkSecondaryLocks([b("s1"), b("s2")], 100n);
    assert.equal(all.locks.length, 2);
    assert.equal(all.commitTs, 0n);
    // One secondary committed (at >= min commit ts): the txn is committed.
    assert.deepEqual(s.commit([b("s1")], 100n, 600n), {});
    assert.equal(s.checkSecondaryLocks([b("s1"), b("s2")], 100n).commitTs, 600n);
    assert.equal(s.resolveLock({ startTs: 100n, commitTs: 600n }).resolved, 2);
    assert.equal(str(s.get(b("s2"), 700n).value), "1");
  });

  test("async commit: a secondary that never got its lock rolls the txn back", () => {
    const s = new MvccStore();
    s.prewrite({
      mutations: [put("p", "1"), put("s1", "1")],
      primary: b("p"),
      startTs: 100n,
      lockTtl: 1n,
      useAsyncCommit: true,
      secondaries: [b("s1"), b("s2")],
    });
    const r = s.checkSecondaryLocks([b("s1"), b("s2")], 100n);
    assert.deepEqual([r.locks.length, r.commitTs], [0, 0n]);
    // The missing key now holds a rollback, so the lost prewrite can never land.
    const late = s.prewrite({
      mutations: [put("s2", "1")],
      primary: b("p"),
      startTs: 100n,
      lockTtl: 1n,
    });
    assert.equal(late.errors[0]?.kind, "writeConflict");
    assert.equal(
      s.resolveLock({
        startTs: 100n,
        commitTs: 0n,
        range: { start: new Uint8Array(0), end: new Uint8Array(0) },
      }).resolved,
      2,
    );
    assert.equal(s.get(b("p"), 1000n).value, null);
  });

  test("resolve_lock over a range touches only the given txn", () => {
    const s = new MvccStore();
    s.prewrite({
      mutations: [put("a", "1"), put("b", "1")],
      primary: b("a"),
      startTs: 10n,
      lockTtl: 1n,
    });
    s.prewrite({ mutations: [put("c", "2")], primary: b("c"), startTs: 11n, lockTtl: 1n });
    assert.equal(
      s.resolveLock({ startTs: 10n, commitTs: 12n, range: { start: b("a"), end: b("z") } })
        .resolved,
      2,
    );
    assert.deepEqual(
      s.scanLock(100n, new Uint8Array(0), new Uint8Array(0)).map((l) => str(l.key)),
      ["c"],
    );
    assert.equal(str(s.get(b("b"), 12n).value), "1");
  });

  test("pessimistic locks: invisible to reads, required by pessimistic prewrite", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 11n, [put("k", "v0")]);
    assert.deepEqual(
      s.pessimisticLock({
        keys: [b("k")],
        primary: b("k"),
        startTs: 20n,
        forUpdateTs: 20n,
        lockTtl: 100n,
      }).errors,
      [],
    );
    assert.equal(str(s.get(b("k"), 30n).value), "v0");
    const other = s.pessimisticLock({
      keys: [b("k")],
      primary: b("k"),
      startTs: 25n,
      forUpdateTs: 25n,
      lockTtl: 100n,
    });
    assert.equal(other.errors[0]?.kind, "locked");
    const noLock = s.prewrite({
      mutations: [put("j", "x")],
      primary: b("k"),
      startTs: 20n,
      lockTtl: 100n,
      forUpdateTs: 20n,
      pessimisticChecks: [true],
    });
    assert.equal(noLock.errors[0]?.kind, "retryable");
    const pw = s.prewrite({
      mutations: [put("k", "v1")],
      primary: b("k"),
      startTs: 20n,
      lockTtl: 100n,
      forUpdateTs: 20n,
      pessimisticChecks: [true],
    });
    assert.deepEqual(pw.errors, []);
    assert.equal(s.get(b("k"), 30n).error?.kind, "locked");
    assert.deepEqual(s.commit([b("k")], 20n, 31n), {});
    assert.equal(str(s.get(b("k"), 31n).value), "v1");
    s.pessimisticLock({
      keys: [b("q")],
      primary: b("q"),
      startTs: 40n,
      forUpdateTs: 40n,
      lockTtl: 100n,
    });
    s.pessimisticRollback([b("q")], 40n, 40n);
    assert.equal(s.stats().locks, 0);
  });

  test("a rollback at a ts another txn committed at marks that record instead", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 20n, [put("k", "v")]);
    assert.deepEqual(s.rollback([b("k")], 20n), {});
    const versions = [...s.versionsOf(b("k"))];
    assert.equal(versions.length, 1);
    assert.equal(str(s.get(b("k"), 25n).value), "v");
    const w = [...s.writeCfEntries(new Uint8Array(0), new Uint8Array(0))][0]!;
    assert.equal(decodeWriteValue(w.value).hasOverlappedRollback, true);
    const late = s.prewrite({
      mutations: [put("k", "x")],
      primary: b("k"),
      startTs: 20n,
      lockTtl: 1n,
    });
    assert.equal(late.errors[0]?.kind, "writeConflict");
  });

  test("rolling back a committed txn is refused", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 11n, [put("k", "v")]);
    assert.equal(s.rollback([b("k")], 10n).error?.kind, "abort");
  });
});

describe("mvcc backup scans", () => {
  test("full scan yields the newest put at the ts; incremental yields changes with deletes", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 11n, [put("a", "a1"), put("b", "b1"), put("c", "c1")]);
    commitTxn(s, 20n, 21n, [put("a", "a2"), { op: "delete", key: b("b") }]);
    commitTxn(s, 30n, 31n, [put("d", "d1")]);
    commitTxn(s, 40n, 41n, [put("c", "c2")]);
    const all = (from: bigint, to: bigint, inc: boolean) =>
      [...s.backupScan(new Uint8Array(0), new Uint8Array(0), to, {
        afterTs: from,
        includeDeletes: inc,
      })]
        .map((e) => `${str(e.key)}:${e.type}:${str(e.value)}@${e.commitTs}/${e.startTs}`);
    assert.deepEqual(all(0n, 35n, false), ["a:put:a2@21/20", "c:put:c1@11/10", "d:put:d1@31/30"]);
    assert.deepEqual(all(11n, 35n, true), ["a:put:a2@21/20", "b:delete:@21/20", "d:put:d1@31/30"]);
    assert.deepEqual(all(21n, 41n, true), ["c:put:c2@41/40", "d:put:d1@31/30"]);
    assert.deepEqual(all(41n, 100n, true), []);
  });

  test("the scan fails at a blocking lock after yielding the keys before it", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 11n, ["a", "b", "c", "d"].map((k) => put(k, k)));
    s.prewrite({ mutations: [put("c", "x")], primary: b("c"), startTs: 20n, lockTtl: 100n });
    const seen: string[] = [];
    assert.throws(() => {
      for (const e of s.backupScan(new Uint8Array(0), new Uint8Array(0), 30n, { batchSize: 1 })) {
        seen.push(str(e.key)!);
      }
    }, (err: unknown) => err instanceof LockedError && str(err.lock.key) === "c");
    assert.deepEqual(seen, ["a", "b"]);
    // Below the lock's ts, or with the lock bypassed, the scan completes.
    assert.equal([...s.backupScan(new Uint8Array(0), new Uint8Array(0), 19n)].length, 4);
    assert.equal(
      [...s.backupScan(new Uint8Array(0), new Uint8Array(0), 30n, { bypassLocks: [20n] })].length,
      4,
    );
  });

  test("a lock on a key with no committed version still fails the scan", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 11n, [put("a", "a")]);
    s.prewrite({ mutations: [put("new", "x")], primary: b("new"), startTs: 20n, lockTtl: 100n });
    assert.throws(() => [...s.backupScan(new Uint8Array(0), new Uint8Array(0), 30n)], LockedError);
  });

  test("entries map to write records and default-CF values like TiKV's", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 11n, [put("s", "short"), put("l", "y".repeat(256))]);
    const es = [...s.backupScan(new Uint8Array(0), new Uint8Array(0), 20n)];
    const l = es.find((e) => str(e.key) === "l")!;
    const sh = es.find((e) => str(e.key) === "s")!;
    assert.equal(hasDefaultCfValue(l), true);
    assert.equal(writeRecordOf(l).shortValue, undefined);
    assert.equal(hasDefaultCfValue(sh), false);
    assert.equal(str(writeRecordOf(sh).shortValue!), "short");
  });

  test("ground-truth checksum is crc64 of key ‖ value xor-ed over the visible puts", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 11n, [put("a", "1"), put("b", "2"), put("c", "3")]);
    commitTxn(s, 20n, 21n, [{ op: "delete", key: b("b") }, put("c", "33")]);
    const acc = s.checksum(new Uint8Array(0), new Uint8Array(0), 25n);
    const expected = crc64(b("a1")) ^ crc64(b("c33"));
    assert.equal(acc.crc64xor, expected);
    assert.equal(acc.totalKvs, 2n);
    assert.equal(acc.totalBytes, 5n);
    const old = s.checksum(b("a"), b("c"), 15n);
    assert.equal(old.crc64xor, crc64(b("a1")) ^ crc64(b("b2")));
  });
});

describe("mvcc raw KV, GC and sizes", () => {
  test("raw KV lives in its own keyspace per CF", () => {
    const s = new MvccStore();
    s.rawPut(b("r1"), b("v1"));
    s.rawPut(b("r2"), b("v2"));
    s.rawPut(b("r1"), b("w1"), "write");
    assert.equal(str(s.rawGet(b("r1"))), "v1");
    assert.equal(str(s.rawGet(b("r1"), "write")), "w1");
    assert.equal(s.get(b("r1"), 100n).value, null);
    assert.deepEqual(s.rawScan(b("r"), new Uint8Array(0)).map((p) => str(p.value)), ["v1", "v2"]);
    assert.equal(
      s.rawChecksum(b("r"), new Uint8Array(0)).crc64xor,
      crc64(b("r1v1")) ^ crc64(b("r2v2")),
    );
    assert.equal(s.rawDeleteRange(b("r1"), b("r2")), 1);
    assert.deepEqual(
      [...s.rawBatches(new Uint8Array(0), new Uint8Array(0))].flat().map((p) => str(p.key)),
      ["r2"],
    );
  });

  test("gc keeps what reads at or above the safe point can see", () => {
    const s = new MvccStore();
    commitTxn(s, 10n, 11n, [put("a", "1"), put("b", "1")]);
    commitTxn(s, 20n, 21n, [put("a", "2"), { op: "delete", key: b("b") }]);
    commitTxn(s, 30n, 31n, [put("a", "3")]);
    assert.equal(s.gc(25n), 3);
    assert.equal(str(s.get(b("a"), 25n).value), "2");
    assert.equal(str(s.get(b("a"), 40n).value), "3");
    assert.equal(s.get(b("b"), 40n).value, null);
    assert.equal(s.stats().keys, 1);
  });

  test("split keys cut a range into pieces under the size limit", () => {
    const s = new MvccStore();
    const muts = [];
    for (let i = 0; i < 100; i++) muts.push(put(`k${String(i).padStart(3, "0")}`, "v".repeat(80)));
    commitTxn(s, 10n, 11n, muts);
    const total = s.rangeStats(new Uint8Array(0), new Uint8Array(0));
    assert.equal(total.keys, 100);
    const keys = s.splitKeys(new Uint8Array(0), new Uint8Array(0), 1000);
    assert.ok(keys.length >= total.bytes / 1000 - 1, `${keys.length} split keys`);
    let prev: Uint8Array = new Uint8Array(0);
    for (const k of [...keys, new Uint8Array(0)]) {
      assert.ok(s.rangeStats(prev, k).bytes <= 1000);
      prev = k;
    }
    assert.equal(s.splitKeys(new Uint8Array(0), new Uint8Array(0), 1e9, 10).length, 9);
  });
});

describe("mvcc snapshots", () => {
  test("a snapshot restores versions, locks, raw KV and max ts exactly", () => {
    const s = new MvccStore();
    for (let i = 0; i < 500; i++) {
      commitTxn(s, BigInt(10 + 2 * i), BigInt(11 + 2 * i), [
        put(`k${i % 97}`, "v".repeat(i % 300)),
      ]);
    }
    s.rollback([b("k1")], 5000n);
    s.prewrite({
      mutations: [put("p", "x"), put("q", "y".repeat(400))],
      primary: b("p"),
      startTs: 6000n,
      lockTtl: 77n,
      useAsyncCommit: true,
      secondaries: [b("q")],
    });
    s.pessimisticLock({
      keys: [b("z")],
      primary: b("z"),
      startTs: 6001n,
      forUpdateTs: 6002n,
      lockTtl: 5n,
    });
    s.rawPut(b("r"), b("raw"), "write");
    s.get(b("k1"), 7000n);
    const chunks = [...s.snapshot(4096)];
    assert.ok(chunks.length > 5, `${chunks.length} chunks`);
    const r = MvccStore.restore(chunks);
    assert.deepEqual(r.stats(), s.stats());
    assert.equal(r.maxTs, s.maxTs);
    const all = new Uint8Array(0);
    assert.deepEqual([...r.writeCfEntries(all, all)], [...s.writeCfEntries(all, all)]);
    assert.deepEqual(r.scanLock(10_000n, all, all), s.scanLock(10_000n, all, all));
    assert.equal(str(r.rawGet(b("r"), "write")), "raw");
    assert.deepEqual(r.checksum(all, all, 7000n), s.checksum(all, all, 7000n));
    assert.throws(() => MvccStore.restore(chunks.slice(0, -1)), /truncated/);
  });
});

describe("mvcc ingest", () => {
  test("versions land at once, replacing the same key and commit ts", () => {
    const m = new MvccStore();
    m.ingest([
      { key: b("a"), commitTs: 20n, startTs: 20n, type: "put", value: b("v1") },
      { key: b("a"), commitTs: 10n, startTs: 10n, type: "put", value: b("old") },
      { key: b("b"), commitTs: 20n, startTs: 20n, type: "delete" },
    ]);
    assert.deepEqual(m.get(b("a"), 15n).value, b("old"));
    assert.deepEqual(m.get(b("a"), 25n).value, b("v1"));
    assert.equal(m.get(b("b"), 25n).value, null);
    m.ingest([{ key: b("a"), commitTs: 20n, startTs: 20n, type: "put", value: b("v2") }]);
    assert.deepEqual(m.get(b("a"), 25n).value, b("v2"));
    assert.deepEqual([...m.versionsOf(b("a"))].map((v) => v.commitTs), [20n, 10n]);
  });

  test("versions arriving out of order keep newest-first reads, GC and snapshots", () => {
    const m = new MvccStore();
    // Commit ts 10..4000 by 10, ingested in a shuffled order (a hot key's history).
    const ts = Array.from({ length: 400 }, (_, i) => BigInt((i + 1) * 10));
    const order = ts.map((t, i) => [t, (i * 7919) % 400] as const).sort((x, y) => x[1] - y[1]);
    for (const [t] of order) {
      m.ingest([{ key: b("k"), commitTs: t, startTs: t - 1n, type: "put", value: b(`v${t}`) }]);
    }
    const commits = [...m.versionsOf(b("k"))].map((v) => v.commitTs);
    assert.deepEqual(commits, [...ts].reverse());
    assert.equal(str(m.get(b("k"), 1234n).value), "v1230");
    assert.equal(str(m.get(b("k"), 9999n).value), "v4000");
    const again = MvccStore.restore(m.snapshot(1024));
    assert.deepEqual([...again.versionsOf(b("k"))].map((v) => v.commitTs), commits);
    assert.equal(m.gc(2000n), 199);
    assert.deepEqual(
      [...m.versionsOf(b("k"))].map((v) => v.commitTs),
      [...ts].reverse().slice(0, 201),
    );
    assert.equal(str(m.get(b("k"), 2005n).value), "v2000");
  });
});
