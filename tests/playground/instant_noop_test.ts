// `instantNoop`: backups to noop storage answer every region without building SST files, with
// the same responses, file names and checksums as a real backup; other backends are unaffected.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type BackupRequestSchema,
  type BackupResponse,
  CompressionType,
} from "../../src/gen/brpb_pb.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { encodeBytes } from "../../src/codec/bytes.ts";
import { Clients, contextFor, startSmall, tempDir } from "./_helpers.ts";

type Req = MessageInitShape<typeof BackupRequestSchema>;

describe("playground instant noop backups", () => {
  let pg: Playground;
  let c: Clients;
  const tmp = tempDir("instant");

  before(async () => {
    pg = await startSmall({ instantNoop: true, instantImport: true });
    c = new Clients(pg);
  });
  after(async () => {
    c.close();
    await pg.stop();
    tmp.cleanup();
  });

  async function backupAll(req: Req): Promise<BackupResponse[]> {
    const all = await Promise.all(
      [...pg.storeAddresses().keys()].map(async (sid) => {
        const list: BackupResponse[] = [];
        for await (const r of c.backup(sid).backup(req)) list.push(r);
        return list;
      }),
    );
    return all.flat();
  }

  test("every region answers with named, checksummed files of no bytes", async () => {
    const ts = pg.cluster.ts();
    const before = pg.stats.backupFiles;
    const resps = await backupAll({
      clusterId: pg.cluster.clusterId,
      endVersion: ts,
      storageBackend: { backend: { case: "noop", value: {} } },
      compressionType: CompressionType.ZSTD,
    });
    assert.equal(resps.length, pg.cluster.regions.size);
    let files = 0;
    for (const r of resps) {
      assert.equal(r.error, undefined);
      for (const f of r.files) {
        files++;
        assert.match(f.name, /^\d+_\d+_\d+_[0-9a-f]{64}_\d+_(write|default)\.sst$/);
        assert.equal(f.size, 0n);
        assert.deepEqual(f.sha256, new Uint8Array(createHash("sha256").digest()));
        assert.deepEqual(f.startKey, r.startKey);
        assert.deepEqual(f.endKey, r.endKey);
        assert.equal(f.endVersion, ts);
      }
    }
    assert.equal(pg.stats.backupFiles - before, files);
    // The whole keyspace's sums equal the cluster's own ground truth at the backup ts.
    const crc = resps.flatMap((r) => r.files).reduce((x, f) => x ^ f.crc64xor, 0n);
    const kvs = resps.flatMap((r) => r.files).reduce((x, f) => x + f.totalKvs, 0n);
    const bytes = resps.flatMap((r) => r.files).reduce((x, f) => x + f.totalBytes, 0n);
    const truth = pg.cluster.checksum(new Uint8Array(), new Uint8Array(), ts);
    assert.deepEqual(
      { crc64xor: crc, totalKvs: kvs, totalBytes: bytes },
      { crc64xor: truth.crc64xor, totalKvs: truth.totalKvs, totalBytes: truth.totalBytes },
    );
  });

  test("raw KV is answered the same way, one file per region with data", async () => {
    const resps = await backupAll({
      clusterId: pg.cluster.clusterId,
      endVersion: pg.cluster.ts(),
      storageBackend: { backend: { case: "noop", value: {} } },
      isRawKv: true,
      cf: "default",
    });
    const files = resps.flatMap((r) => r.files);
    assert.ok(files.length > 0);
    for (const f of files) assert.equal(f.cf, "default");
    const truth = pg.cluster.rawChecksum(new Uint8Array(), new Uint8Array());
    assert.equal(files.reduce((x, f) => x + f.totalKvs, 0n), truth.totalKvs);
    assert.equal(files.reduce((x, f) => x ^ f.crc64xor, 0n), truth.crc64xor);
  });

  test("other backends still get real SST files", async () => {
    const resps = await backupAll({
      clusterId: pg.cluster.clusterId,
      endVersion: pg.cluster.ts(),
      storageBackend: { backend: { case: "local", value: { path: tmp.path } } },
      compressionType: CompressionType.ZSTD,
    });
    const files = resps.flatMap((r) => r.files);
    assert.ok(files.length > 0);
    for (const f of files) assert.ok(f.size > 0n, `${f.name} has ${f.size} bytes`);
  });

  test("instant import: Download reads nothing, ingest writes nothing, every check kept", async () => {
    const key = new TextEncoder().encode("t");
    const { context, region } = contextFor(pg, key);
    const before = pg.cluster.mvcc.stats();
    const meta = {
      uuid: new Uint8Array(16).fill(3),
      range: { start: encodeBytes(key), end: encodeBytes(key) },
      cfName: "write",
      regionId: region.id,
      regionEpoch: region.epoch,
    };
    const imp = c.importSst(region.leader.storeId);
    const d = await imp.download({
      sst: meta,
      name: "no/such/file.sst",
      storageBackend: { backend: { case: "noop", value: {} } },
    });
    assert.equal(d.error, undefined);
    // The range's first key as both bounds, with a ts (cut by the client before it ingests).
    assert.deepEqual(d.range?.start.subarray(0, meta.range.start.length), meta.range.start);
    assert.equal(d.range?.start.length, meta.range.start.length + 8);
    assert.deepEqual(d.range?.end, d.range?.start);
    const stale = await imp.multiIngest({
      context: { ...context, regionEpoch: { confVer: 0n, version: 0n } },
      ssts: [meta],
    });
    assert.ok(stale.error?.epochNotMatch);
    const missing = await imp.multiIngest({
      context,
      ssts: [{ ...meta, uuid: new Uint8Array(16) }],
    });
    assert.ok(missing.error?.staleCommand);
    assert.equal((await imp.multiIngest({ context, ssts: [meta] })).error, undefined);
    assert.deepEqual(pg.cluster.mvcc.stats(), before);
  });
});
