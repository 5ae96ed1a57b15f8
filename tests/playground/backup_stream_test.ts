// The stores' /backup.Backup/backup stream at the protocol level: one response per led region
// covering the range exactly, TiKV's file names and File fields, compression, encryption, the
// error cases (cluster id, locks, region errors, storage failures), raw KV, sub ranges,
// incremental scans and the rate limit. Files are checked against the ground truth.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { isRetryableStorageMessage } from "../../src/backup/client.ts";
import { compareBytes, hex } from "../../src/codec/bytes.ts";
import { EncryptionMethod } from "../../src/crypto/cipher.ts";
import {
  type BackupRequestSchema,
  type BackupResponse,
  CompressionType,
  type File,
} from "../../src/gen/brpb_pb.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { recordRange, tablePrefix } from "../../src/tidb/tablecodec.ts";
import { openBackupSst } from "../../src/sst/backup.ts";
import {
  checksumFiles,
  checksumRawFiles,
  Clients,
  openLocal,
  recordsOf,
  startSmall,
  tempDir,
  triple,
} from "./_helpers.ts";

type Req = MessageInitShape<typeof BackupRequestSchema>;

describe("playground backup stream", () => {
  let pg: Playground;
  let c: Clients;
  const tmp = tempDir("stream");
  let n = 0;

  before(async () => {
    pg = await startSmall();
    c = new Clients(pg);
  });
  after(async () => {
    c.close();
    await pg.stop();
    tmp.cleanup();
  });

  function dir(): string {
    return join(tmp.path, `b${++n}`);
  }

  /** Sends `req` to every store; returns each store's responses. */
  async function backupAll(req: Req): Promise<Map<bigint, BackupResponse[]>> {
    const out = new Map<bigint, BackupResponse[]>();
    await Promise.all(
      [...pg.storeAddresses().keys()].map(async (sid) => {
        const list: BackupResponse[] = [];
        for await (const r of c.backup(sid).backup(req)) list.push(r);
        out.set(sid, list);
      }),
    );
    return out;
  }

  function localReq(path: string, extra: Record<string, unknown> = {}): Req {
    return {
      clusterId: pg.cluster.clusterId,
      endVersion: pg.cluster.ts(),
      storageBackend: { backend: { case: "local", value: { path } } },
      compressionType: CompressionType.ZSTD,
      ...extra,
    } as Req;
  }

  function usersRange() {
    const t = pg.catalog!.table("shop", "users")!;
    return { id: BigInt(t.info.id), ...recordRange(BigInt(t.info.id)) };
  }

  test("each store answers one response per region it leads; together they cover the range", async () => {
    const path = dir();
    const { start, end } = recordRange(BigInt(pg.catalog!.table("shop", "blobs")!.info.id));
    const req = localReq(path, { startKey: start, endKey: end });
    const res = await backupAll(req);
    const all = [...res.values()].flat();
    assert.ok(all.every((r) => !r.error), JSON.stringify(all.find((r) => r.error)?.error));
    const regions = pg.admin.regions(start, end);
    assert.ok(regions.length >= 3, "the table spans several regions");
    assert.equal(all.length, regions.length);
    for (const [sid, list] of res) {
      assert.equal(list.length, regions.filter((r) => r.leaderStore === String(sid)).length);
    }
    // Sorted by start, the responses tile [start, end) without gaps or overlaps.
    all.sort((a, b) => compareBytes(a.startKey, b.startKey));
    assert.deepEqual(all[0]!.startKey, start);
    assert.deepEqual(all[all.length - 1]!.endKey, end);
    for (let i = 1; i < all.length; i++) assert.deepEqual(all[i]!.startKey, all[i - 1]!.endKey);

    const files = all.flatMap((r) => r.files);
    const storage = await openLocal(path);
    try {
      const sum = await checksumFiles(storage, files);
      assert.deepEqual(triple(sum), pg.cluster.checksum(start, end, req.endVersion!));
    } finally {
      await storage.close();
    }
    // Long values (600-byte payloads) live in default-CF files.
    assert.ok(files.some((f) => f.cf === "default"));
    for (const r of all) {
      for (const f of r.files) {
        assert.match(
          f.name,
          /^(\d+)\/\1_(\d+)_(\d+)_[0-9a-f]{64}_(\d{13})_(default|write)\.sst$/,
          "TiKV's file name, under the store's directory for local storage",
        );
        const [, store, region, version] = /^(\d+)\/\d+_(\d+)_(\d+)_/.exec(f.name)!;
        const reg = regions.find((x) => x.id === region)!;
        assert.equal(reg.version, version);
        assert.equal(reg.leaderStore, store);
        const sha = createHash("sha256").update(f.name.split("_")[3]!).digest("hex");
        assert.equal(sha.length, 64);
        assert.equal(
          f.name.split("_")[3],
          createHash("sha256").update(r.startKey).digest("hex"),
          "the sha256 of the start key",
        );
        const bytes = readFileSync(join(path, f.name));
        assert.equal(BigInt(bytes.length), f.size);
        assert.equal(hex(createHash("sha256").update(bytes).digest()), hex(f.sha256));
        assert.deepEqual(f.startKey, r.startKey);
        assert.deepEqual(f.endKey, r.endKey);
        assert.equal(f.startVersion, 0n);
        assert.equal(f.endVersion, req.endVersion);
      }
    }
  });

  test("a region without long values gets no default-CF file, as TiKV skips empty files", async () => {
    const path = dir();
    const { start, end } = usersRange();
    const res = [...(await backupAll(localReq(path, { startKey: start, endKey: end }))).values()]
      .flat();
    const files = res.flatMap((r) => r.files);
    assert.ok(files.length > 0);
    assert.ok(files.every((f) => f.cf === "write"), "80-byte payloads stay inline");
  });

  test("compression follows compression_type and the files read back", async () => {
    const { start, end } = usersRange();
    for (
      const [type, name] of [
        [CompressionType.LZ4, "LZ4"],
        [CompressionType.SNAPPY, "Snappy"],
        [CompressionType.ZSTD, "ZSTD"],
      ] as const
    ) {
      const path = dir();
      const req = localReq(path, { startKey: start, endKey: end, compressionType: type });
      const files = [...(await backupAll(req)).values()].flat().flatMap((r) => r.files);
      const storage = await openLocal(path);
      try {
        const r = await openBackupSst(storage, { name: files[0]!.name });
        assert.equal(r.properties.compression, name);
        assert.deepEqual(
          triple(await checksumFiles(storage, files)),
          pg.cluster.checksum(start, end, req.endVersion!),
        );
      } finally {
        await storage.close();
      }
    }
  });

  test("cipher_info encrypts every file with its own IV in File.cipher_iv", async () => {
    const path = dir();
    const key = new Uint8Array(32).map((_, i) => i + 1);
    const cipher = { method: EncryptionMethod.AES256_CTR, key };
    const { start, end } = usersRange();
    const req = localReq(path, {
      startKey: start,
      endKey: end,
      cipherInfo: { cipherType: EncryptionMethod.AES256_CTR, cipherKey: key },
    });
    const files = [...(await backupAll(req)).values()].flat().flatMap((r) => r.files);
    assert.ok(files.every((f) => f.cipherIv.length === 16));
    assert.equal(new Set(files.map((f) => hex(f.cipherIv))).size, files.length);
    const storage = await openLocal(path);
    try {
      await assert.rejects(checksumFiles(storage, files), "unreadable without the key");
      assert.deepEqual(
        triple(await checksumFiles(storage, files, cipher)),
        pg.cluster.checksum(start, end, req.endVersion!),
      );
    } finally {
      await storage.close();
    }
  });

  test("a request for another cluster gets cluster_id_error", async () => {
    const res = await backupAll(localReq(dir(), { clusterId: 12345n }));
    for (const list of res.values()) {
      assert.equal(list.length, 1);
      const e = list[0]!.error!;
      assert.equal(e.detail.case, "clusterIdError");
      assert.equal(e.detail.value?.current, pg.cluster.clusterId);
      assert.equal(e.detail.value?.request, 12345n);
    }
  });

  test("a lock at or below the backup ts fails its region with kv_error.locked", async () => {
    const { start, end } = usersRange();
    const t = pg.catalog!.table("shop", "users")!;
    const key = pg.catalog!.rowKvsOf(t, 10n)[0]!.key;
    const startTs = pg.cluster.ts();
    pg.cluster.mvcc.prewrite({
      mutations: [{ op: "put", key, value: new Uint8Array([1]) }],
      primary: key,
      startTs,
      lockTtl: 60_000n,
    });
    try {
      const all = [...(await backupAll(localReq(dir(), { startKey: start, endKey: end }))).values()]
        .flat();
      const locked = all.filter((r) => r.error);
      assert.equal(locked.length, 1);
      const e = locked[0]!.error!;
      assert.equal(e.detail.case, "kvError");
      const lock = e.detail.case === "kvError" ? e.detail.value.locked : undefined;
      assert.equal(lock?.lockVersion, startTs);
      assert.deepEqual(lock?.key, key);
      assert.deepEqual(locked[0]!.files, []);
      assert.ok(all.filter((r) => !r.error).length >= 1, "other regions are backed up");
    } finally {
      pg.cluster.mvcc.rollback([key], startTs);
    }
  });

  test("an injected region error and a storage failure come back per region, leaving no files", async () => {
    const { start, end } = usersRange();
    const rule = pg.admin.injectRegionError({
      kind: "epochNotMatch",
      probability: 1,
      remaining: 1,
    });
    const path = dir();
    try {
      const all = [...(await backupAll(localReq(path, { startKey: start, endKey: end }))).values()]
        .flat();
      assert.equal(all.filter((r) => r.error?.detail.case === "regionError").length, 1);
    } finally {
      pg.admin.clearRegionErrors(rule);
    }
    pg.admin.failStorageWrites({ probability: 1, remaining: 1 });
    const path2 = dir();
    const all = [...(await backupAll(localReq(path2, { startKey: start, endKey: end }))).values()]
      .flat();
    const failed = all.filter((r) => r.error);
    assert.equal(failed.length, 1);
    assert.ok(isRetryableStorageMessage(failed[0]!.error!.msg), failed[0]!.error!.msg);
    const written = readdirSync(path2, { recursive: true }).filter((f) =>
      String(f).endsWith(".sst")
    );
    assert.equal(written.length, all.flatMap((r) => r.files).length, "no partial file remains");
  });

  test("raw KV mode backs up the raw keyspace of the cf", async () => {
    const path = dir();
    const te = new TextEncoder();
    const req = localReq(path, {
      isRawKv: true,
      cf: "default",
      startKey: te.encode("raw_"),
      endKey: te.encode("raw`"),
    });
    const all = [...(await backupAll(req)).values()].flat();
    assert.ok(all.every((r) => !r.error));
    const files = all.flatMap((r) => r.files);
    assert.ok(files.every((f) => f.cf === "default"));
    const storage = await openLocal(path);
    try {
      const sum = await checksumRawFiles(storage, files);
      assert.deepEqual(sum, pg.cluster.rawChecksum(te.encode("raw_"), te.encode("raw`")));
      assert.equal(sum.totalKvs, 800n);
    } finally {
      await storage.close();
    }
  });

  test("sub_ranges limit the backup to those ranges", async () => {
    const a = recordRange(BigInt(pg.catalog!.table("shop", "users")!.info.id));
    const b = recordRange(BigInt(pg.catalog!.table("hr", "staff")!.info.id));
    const all = [
      ...(await backupAll(localReq(dir(), {
        subRanges: [{ startKey: a.start, endKey: a.end }, { startKey: b.start, endKey: b.end }],
      }))).values(),
    ].flat();
    const inRange = (k: Uint8Array, e: Uint8Array, r: { start: Uint8Array; end: Uint8Array }) =>
      compareBytes(k, r.start) >= 0 && compareBytes(e, r.end) <= 0;
    assert.ok(
      all.every((r) => inRange(r.startKey, r.endKey, a) || inRange(r.startKey, r.endKey, b)),
    );
    assert.ok(all.some((r) => inRange(r.startKey, r.endKey, b)));
  });

  test("an incremental backup holds only what changed after start_version, deletes included", async () => {
    const t = pg.catalog!.table("hr", "staff")!;
    const tid = BigInt(t.info.id);
    const since = pg.cluster.ts();
    const del = pg.catalog!.deleteMutations(t, 5n)!;
    pg.cluster.runTxn(del);
    pg.catalog!.applyDelete(t, 5n);
    const ins = pg.catalog!.insertMutations(t);
    pg.cluster.runTxn(ins.mutations);
    pg.catalog!.applyInsert(t, ins.id);
    const path = dir();
    const prefix = tablePrefix(tid);
    const end = tablePrefix(tid + 1n);
    const req = localReq(path, { startKey: prefix, endKey: end, startVersion: since });
    const all = [...(await backupAll(req)).values()].flat();
    const storage = await openLocal(path);
    try {
      const records = [];
      for (const r of all) {
        for (const f of r.files) assert.equal(f.startVersion, since);
        const byStem = new Map<string, { write?: File; default?: File }>();
        for (const f of r.files) {
          const s = f.name.replace(/_(default|write)\.sst$/, "");
          byStem.set(s, { ...byStem.get(s), [f.cf]: f });
        }
        for (const p of byStem.values()) records.push(...await recordsOf(storage, p));
      }
      const deletes = records.filter((x) => x.type === "delete");
      const puts = records.filter((x) => x.type === "put");
      assert.equal(deletes.length, del.length, "the row and its index entries were deleted");
      assert.equal(puts.length, ins.mutations.length);
      assert.ok(records.every((x) => x.commitTs > since));
    } finally {
      await storage.close();
    }
  });

  test("rate_limit bounds the bytes written per second", async () => {
    const { start, end } = recordRange(BigInt(pg.catalog!.table("shop", "blobs")!.info.id));
    const leader = pg.cluster.regions.getRegionByRawKey(start)!.leader.storeId;
    const run = async (rateLimit: bigint) => {
      const t0 = performance.now();
      let bytes = 0;
      const req = localReq(dir(), { startKey: start, endKey: end, rateLimit, concurrency: 1 });
      for await (const r of c.backup(leader).backup(req)) {
        assert.equal(r.error, undefined);
        for (const f of r.files) bytes += Number(f.size);
      }
      return { bytes, secs: (performance.now() - t0) / 1000 };
    };
    const free = await run(0n);
    assert.ok(free.bytes > 20_000, `enough data to measure (${free.bytes} bytes)`);
    // At a rate that needs about 1.2 s for the data (the bucket starts empty).
    const rate = Math.floor(free.bytes / 1.2);
    const limited = await run(BigInt(rate));
    assert.ok(limited.secs >= 0.8, `${limited.bytes} bytes at ${rate} B/s took ${limited.secs} s`);
    assert.ok(free.secs < limited.secs);
  });
});
