import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { BackupResponseSchema } from "../gen/brpb_pb.ts";
import type { LockInfo } from "../gen/kvrpcpb_pb.ts";
import type { LockResolver } from "../txn/lock_resolver.ts";
import type { PdClient } from "../pd/client.ts";
import { ManualClock } from "../storage/clock.ts";
import { type StoreConnections, StoreUnreachableError } from "../tikv/stores.ts";
import {
  BACKOFF,
  BackupClient,
  BackupError,
  FINE_GRAINED_MAX_BACKOFF_MS,
  isRetryableStorageMessage,
  onBackupResponse,
} from "./client.ts";
import { RangeTree } from "./rangetree.ts";

function resolver(ms: number, seen: LockInfo[] = []): LockResolver {
  return {
    resolveLocks(_ts: bigint, locks: LockInfo[]) {
      seen.push(...locks);
      return Promise.resolve(ms);
    },
  } as unknown as LockResolver;
}

test("a response without error is accepted as is", async () => {
  const resp = create(BackupResponseSchema, { startKey: new Uint8Array([1]) });
  const out = await onBackupResponse(1n, 10n, resolver(0), resp);
  assert.equal(out.response, resp);
  assert.equal(out.backoffMs, 0);
});

test("a locked key is resolved and retried after the lock's remaining TTL", async () => {
  const seen: LockInfo[] = [];
  const resp = create(BackupResponseSchema, {
    error: {
      detail: { case: "kvError", value: { locked: { lockVersion: 7n, key: new Uint8Array([9]) } } },
    },
  });
  const out = await onBackupResponse(1n, 10n, resolver(1500, seen), resp);
  assert.equal(out.response, undefined);
  assert.equal(out.backoffMs, 1500);
  assert.equal(seen[0]?.lockVersion, 7n);
});

test("retryable region errors back off one second; others fail", async () => {
  for (const kind of ["notLeader", "epochNotMatch", "serverIsBusy", "regionNotFound"] as const) {
    const resp = create(BackupResponseSchema, {
      error: { detail: { case: "regionError", value: { [kind]: {} } } },
    });
    const out = await onBackupResponse(1n, 10n, resolver(0), resp);
    assert.equal(out.backoffMs, BACKOFF.regionError, kind);
  }
  const fatal = create(BackupResponseSchema, {
    error: {
      detail: {
        case: "regionError",
        value: { message: "raft entry too large", raftEntryTooLarge: {} },
      },
    },
  });
  await assert.rejects(onBackupResponse(1n, 10n, resolver(0), fatal), BackupError);
});

test("a cluster id mismatch and a non-lock KV error are fatal", async () => {
  const cluster = create(BackupResponseSchema, {
    error: { detail: { case: "clusterIdError", value: { current: 1n, request: 2n } } },
  });
  await assert.rejects(
    onBackupResponse(3n, 10n, resolver(0), cluster),
    /belongs to cluster 1, not 2/,
  );
  const kv = create(BackupResponseSchema, {
    error: { detail: { case: "kvError", value: { abort: "txn aborted" } } },
  });
  await assert.rejects(onBackupResponse(3n, 10n, resolver(0), kv), BackupError);
});

test("temporary storage failures back off 3 s, permanent ones fail", async () => {
  const temp = create(BackupResponseSchema, {
    error: { msg: "failed to put object: connection reset by peer" },
  });
  assert.equal(
    (await onBackupResponse(1n, 10n, resolver(0), temp)).backoffMs,
    BACKOFF.retryableStorage,
  );
  const perm = create(BackupResponseSchema, { error: { msg: "Permission denied (os error 13)" } });
  await assert.rejects(onBackupResponse(1n, 10n, resolver(0), perm), /Permission denied/);
  assert.ok(isRetryableStorageMessage('Io(Custom { kind: Other, error: "SlowDown" })'));
  assert.ok(!isRetryableStorageMessage("NoSuchBucket"));
});

/**
 * A client whose PD puts every key on store 4, which cannot be reached; `onRequest` runs at
 * each backup request (counted from 1).
 */
function unreachableStoreClient(
  clock: ManualClock,
  onRequest: (n: number) => void,
  signal?: AbortSignal,
) {
  let requests = 0;
  const pd = {
    getRegion: () => Promise.resolve({ leader: { storeId: 4n } }),
  } as unknown as PdClient;
  const stores = {
    backup: (id: bigint) => {
      onRequest(++requests);
      return Promise.reject(new StoreUnreachableError(`store ${id} cannot be reached`));
    },
  } as unknown as StoreConnections;
  const client = new BackupClient(pd, stores, resolver(0), {
    clusterId: 1n,
    newTree: () => new RangeTree(),
    clock,
    ...(signal ? { signal } : {}),
  });
  const range = { startKey: new Uint8Array([1]), endKey: new Uint8Array([9]) };
  return { run: () => client.fineGrainedBackup(range, {}, new RangeTree(), {}) };
}

// BR's fine-grained phase against a store that stays unreachable: each round backs off
// BACKOFF.storeUnreachable (20 s) until the next would pass the 80 s budget. On a ManualClock the
// 80 s are virtual: the test takes milliseconds of real time.
test("the fine-grained phase gives up after its 80 s budget, naming the store (fake clock)", async () => {
  const clock = new ManualClock();
  let requests = 0;
  const { run } = unreachableStoreClient(clock, (n) => requests = n);
  const started = performance.now();
  const err = await run().catch((e) => e);
  assert.ok(err instanceof BackupError, String(err));
  assert.equal(FINE_GRAINED_MAX_BACKOFF_MS, 80_000);
  assert.equal(
    err.message,
    "backup of range [01, 09) gave up after 80 s of its 80 s retry budget: store 4 cannot be " +
      "reached; bring store 4 back, or wait until its regions elect leaders on live stores, " +
      "then run the backup again",
  );
  assert.deepEqual(clock.sleeps, Array(4).fill(BACKOFF.storeUnreachable));
  assert.equal(requests, 5, "one request per round: four backoffs, then the budget is spent");
  assert.ok(performance.now() - started < 1000, "virtual time, not real time");
});

test("an aborted run stops the fine-grained phase before its next request", async () => {
  const ac = new AbortController();
  let requests = 0;
  const { run } = unreachableStoreClient(new ManualClock(), (n) => {
    requests = n;
    if (n === 2) ac.abort(new Error("interrupted by SIGINT"));
  }, ac.signal);
  await assert.rejects(run(), /SIGINT/);
  assert.equal(requests, 2);
});
