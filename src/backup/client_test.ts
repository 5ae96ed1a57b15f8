import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { BackupResponseSchema } from "../gen/brpb_pb.ts";
import type { LockInfo } from "../gen/kvrpcpb_pb.ts";
import type { LockResolver } from "../txn/lock_resolver.ts";
import { BACKOFF, BackupError, isRetryableStorageMessage, onBackupResponse } from "./client.ts";

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
