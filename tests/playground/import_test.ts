// The import service end to end, as BR's restore drives it: tibr backs up playground A (the
// backup client, encrypted), and the files are downloaded with rewrite rules into an empty
// playground B and ingested with MultiIngest through the real kvproto messages. B's checksums
// (through the ChecksumRewriteRule) equal A's ground truth and B holds the same rows; raw KV
// likewise; and every TiKV error case answers as TiKV does (src/import/sst_service.rs,
// components/sst_importer, raftstore's IngestSst checks).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { clone, create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { MetaReader } from "../../src/backup/metareader.ts";
import { runBackup } from "../../src/backup/task.ts";
import { compareBytes, concatBytes, encodeBytes, hex } from "../../src/codec/bytes.ts";
import { EncryptionMethod } from "../../src/crypto/cipher.ts";
import { type File, StorageBackendSchema } from "../../src/gen/brpb_pb.ts";
import {
  ChecksumAlgorithm,
  ChecksumRequestSchema,
  ChecksumResponseSchema,
  ChecksumScanOn,
} from "../../src/gen/checksum_pb.ts";
import type { RewriteRuleSchema, SSTMeta } from "../../src/gen/import_sstpb_pb.ts";
import { RangeSchema, SSTMetaSchema, SwitchMode } from "../../src/gen/import_sstpb_pb.ts";
import type { Checksum } from "../../src/playground/cluster.ts";
import { rawBoundOf } from "../../src/playground/regions.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import type { TableInfo } from "../../src/tidb/model.ts";
import { physicalTableIds, publicIndexes } from "../../src/tidb/model.ts";
import { decodeTableId, indexRange, recordRange, tablePrefix } from "../../src/tidb/tablecodec.ts";
import { Clients, openLocal, pairFiles, startSmall, tempDir } from "./_helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const CIPHER = { method: EncryptionMethod.AES256_CTR, key: new Uint8Array(32).fill(9) };
const CIPHER_PB = { cipherType: CIPHER.method, cipherKey: CIPHER.key };
/** New physical table id = old + this. */
const SHIFT = 5000n;

/**
 * BR's encodeKeyPrefix (br/pkg/restore, legacy rewrite mode): TiKV rewrites encoded keys, so
 * the full 8-byte groups of a raw prefix are memcomparable-encoded and the tail stays raw.
 */
function encodeKeyPrefix(key: Uint8Array): Uint8Array {
  const ungrouped = key.length % 8;
  const e = encodeBytes(key.subarray(0, key.length - ungrouped));
  return concatBytes(e.subarray(0, e.length - 9), key.subarray(key.length - ungrouped));
}

function localBackend(dir: string) {
  return create(StorageBackendSchema, { backend: { case: "local", value: { path: dir } } });
}

function maxKey(a: Uint8Array, b: Uint8Array): Uint8Array {
  return compareBytes(a, b) >= 0 ? a : b;
}

/** BR's GetSSTMetaFromFile: the file's rewritten prefix range cut to the region. */
function sstMeta(
  f: File,
  region: { id: bigint; startKey: Uint8Array; endKey: Uint8Array; regionEpoch?: unknown },
  newPrefix: Uint8Array,
): SSTMeta {
  const start = maxKey(newPrefix, region.startKey);
  let end = concatBytes(newPrefix, new Uint8Array(10).fill(0xff));
  if (region.endKey.length > 0 && compareBytes(end, region.endKey) > 0) end = region.endKey;
  return create(SSTMetaSchema, {
    uuid: new Uint8Array(randomBytes(16)),
    range: { start, end },
    cfName: f.cf,
    regionId: region.id,
    regionEpoch: region.regionEpoch as SSTMeta["regionEpoch"],
    length: f.size,
    cipherIv: f.cipherIv,
  });
}

const truncateTs = (k: Uint8Array) => k.subarray(0, k.length - 8);

/** The meta with another range (BR sends the downloaded range to ingest). */
function withRange(meta: SSTMeta, start: Uint8Array, end: Uint8Array): SSTMeta {
  const m = clone(SSTMetaSchema, meta);
  m.range = create(RangeSchema, { start, end });
  return m;
}

describe("the playground's import service", () => {
  let a: Playground;
  let b: Playground;
  let ca: Clients;
  let cb: Clients;
  const tmp = tempDir("import");
  const dir = join(tmp.path, "full");
  const rawDir = join(tmp.path, "raw");
  let backupTs = 0n;
  let tables: TableInfo[] = [];
  const files: File[] = [];

  before(async () => {
    a = await startSmall({ sstWorkers: 0 });
    b = await startPlayground({
      data: "empty",
      stores: 4,
      electionMs: 300,
      scatterMs: 20,
      importModeTimeoutMs: 300,
      sstWorkers: 0,
    });
    ca = new Clients(a);
    cb = new Clients(b);
    const common = {
      pd: [a.pdAddress],
      sendCredentials: true,
      concurrency: 4,
      checksum: true,
      compression: "zstd" as const,
      progress: "quiet" as const,
    };
    await runBackup({ ...common, mode: "full", storage: `local://${dir}`, cipher: CIPHER });
    await runBackup({
      ...common,
      mode: "raw",
      storage: `local://${rawDir}`,
      raw: { start: hex(enc("raw_")), end: "", format: "hex", cf: "default" },
    });
    const storage = await openLocal(dir);
    try {
      const reader = await MetaReader.open(storage, { cipher: CIPHER });
      backupTs = reader.meta.endVersion;
      for await (const t of reader.tables()) {
        if (!t.table) continue;
        tables.push(t.table);
        files.push(...t.files);
      }
    } finally {
      await storage.close();
    }
    tables = tables.sort((x, y) => x.id - y.id);
  });

  after(async () => {
    ca?.close();
    cb?.close();
    await a?.stop();
    await b?.stop();
    tmp.cleanup();
  });

  /** Splits B at every new table prefix and scatters the pieces, waiting for the operators. */
  async function prepareRegions(ids: bigint[]): Promise<void> {
    const keys = ids.flatMap((id) => [tablePrefix(id), tablePrefix(id + 1n)]).map((k) =>
      encodeBytes(k)
    );
    const split = await cb.pd.splitRegions({ header: cb.header, splitKeys: keys });
    assert.equal(split.finishedPercentage, 100n);
    const sc = await cb.pd.scatterRegion({
      header: cb.header,
      regionsId: split.regionsId,
      group: "restore",
    });
    assert.deepEqual(sc.failedRegionsId, []);
    for (const id of split.regionsId) {
      for (;;) {
        const op = await cb.pd.getOperator({ header: cb.header, regionId: id });
        if (op.header?.error || op.status !== 4 /* RUNNING */) break;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  /**
   * Restores file pairs into B as BR does: each file is downloaded to every peer of each region
   * its rewritten range meets, then the region's files are ingested together on its leader.
   */
  async function restore(
    pairs: { write?: File; default?: File }[],
    opts: {
      backend: ReturnType<typeof localBackend>;
      raw?: boolean;
      ruleOf?: (f: File) => { old: Uint8Array; new: Uint8Array };
      newTs?: bigint;
    },
  ): Promise<number> {
    let ingested = 0;
    // Eight pairs in flight, as a restore keeps several files going per store.
    const queue = [...pairs];
    const worker = async () => {
      for (let pair = queue.shift(); pair; pair = queue.shift()) await one(pair);
    };
    const one = async (pair: { write?: File; default?: File }) => {
      const present = [pair.default, pair.write].filter((f): f is File => f !== undefined);
      const first = present[0]!;
      const r = opts.ruleOf?.(first);
      const swap = (k: Uint8Array) => r ? concatBytes(r.new, k.subarray(r.old.length)) : k;
      const start = encodeBytes(swap(first.startKey));
      const end = first.endKey.length > 0 ? encodeBytes(swap(first.endKey)) : new Uint8Array(0);
      const scan = await cb.pd.scanRegions({ header: cb.header, startKey: start, endKey: end });
      for (const { region, leader } of scan.regions) {
        const rg = region!;
        const rule: MessageInitShape<typeof RewriteRuleSchema> = r
          ? {
            oldKeyPrefix: encodeKeyPrefix(r.old),
            newKeyPrefix: encodeKeyPrefix(r.new),
            newTimestamp: opts.newTs ?? 0n,
          }
          : {};
        const metas: SSTMeta[] = [];
        for (const f of present) {
          let meta: SSTMeta;
          if (opts.raw) {
            meta = create(SSTMetaSchema, {
              uuid: new Uint8Array(randomBytes(16)),
              range: { start: f.startKey, end: f.endKey },
              endKeyExclusive: true,
              cfName: f.cf,
              regionId: rg.id,
              regionEpoch: rg.regionEpoch,
              length: f.size,
              cipherIv: f.cipherIv,
            });
          } else {
            meta = sstMeta(f, { ...rg, regionEpoch: rg.regionEpoch }, rule.newKeyPrefix!);
          }
          let leaderRange: { start: Uint8Array; end: Uint8Array } | undefined;
          await Promise.all(rg.peers.map(async (peer) => {
            const resp = await cb.importSst(peer.storeId).download({
              sst: meta,
              name: f.name,
              rewriteRule: rule,
              storageBackend: opts.backend,
              isRawKv: opts.raw ?? false,
              ...(f.cipherIv.length > 0 ? { cipherInfo: CIPHER_PB } : {}),
            });
            assert.equal(resp.error, undefined, `download ${f.name}: ${resp.error?.message}`);
            if (peer.storeId === leader!.storeId && !resp.isEmpty) leaderRange = resp.range;
          }));
          if (!leaderRange) continue;
          metas.push(
            opts.raw
              ? withRange(meta, leaderRange.start, leaderRange.end)
              : withRange(meta, truncateTs(leaderRange.start), truncateTs(leaderRange.end)),
          );
        }
        if (metas.length === 0) continue;
        const resp = await cb.importSst(leader!.storeId).multiIngest({
          context: { regionId: rg.id, regionEpoch: rg.regionEpoch, peer: leader },
          ssts: metas,
        });
        assert.equal(resp.error, undefined, `ingest: ${resp.error?.message}`);
        ingested += metas.length;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return ingested;
  }

  /** A table's coprocessor checksum on B, each key mapped back through the rewrite rule. */
  async function checksumOnB(table: TableInfo, ts: bigint): Promise<Checksum> {
    const acc = { crc: 0n, kvs: 0n, bytes: 0n };
    for (const id of physicalTableIds(table)) {
      const oldId = BigInt(id);
      const newId = oldId + SHIFT;
      const data = toBinary(
        ChecksumRequestSchema,
        create(ChecksumRequestSchema, {
          scanOn: ChecksumScanOn.Table,
          algorithm: ChecksumAlgorithm.Crc64_Xor,
          rule: { oldPrefix: tablePrefix(oldId), newPrefix: tablePrefix(newId) },
        }),
      );
      const ranges = [
        recordRange(newId),
        ...publicIndexes(table).map((i) => indexRange(newId, BigInt(i.id))),
      ];
      for (const rg of ranges) {
        const scan = await cb.pd.scanRegions({
          header: cb.header,
          startKey: encodeBytes(rg.start),
          endKey: encodeBytes(rg.end),
        });
        for (const { region, leader } of scan.regions) {
          const lo = rawBoundOf(region!.startKey);
          const hi = rawBoundOf(region!.endKey);
          const start = maxKey(rg.start, lo);
          const end = hi.length > 0 && compareBytes(hi, rg.end) < 0 ? hi : rg.end;
          const resp = await cb.tikv(leader!.storeId).coprocessor({
            context: { regionId: region!.id, regionEpoch: region!.regionEpoch, peer: leader },
            tp: 105n,
            data,
            startTs: ts,
            ranges: [{ start, end }],
          });
          assert.equal(resp.otherError, "");
          const sum = fromBinary(ChecksumResponseSchema, resp.data);
          acc.crc ^= sum.checksum ?? 0n;
          acc.kvs += sum.totalKvs ?? 0n;
          acc.bytes += sum.totalBytes ?? 0n;
        }
      }
    }
    return { crc64xor: acc.crc, totalKvs: acc.kvs, totalBytes: acc.bytes };
  }

  test("backup files downloaded with rewrite rules and MultiIngested give the source's checksums and rows", async () => {
    const ids = tables.flatMap((t) => physicalTableIds(t).map((id) => BigInt(id) + SHIFT));
    await prepareRegions(ids);
    const moved = b.cluster.regions.all().some((r) => r.epoch.confVer > 3n);
    assert.ok(moved, "the scatter moved peers between B's four stores");
    const newTs = b.cluster.ts();
    const ingested = await restore(pairFiles(files), {
      backend: localBackend(dir),
      newTs,
      ruleOf: (f) => {
        const old = decodeTableId(f.startKey)!;
        return { old: tablePrefix(old), new: tablePrefix(old + SHIFT) };
      },
    });
    assert.ok(ingested >= files.length, `${ingested} files ingested, ${files.length} backed up`);
    assert.equal(b.imports.stats.ingestErrors, 0);
    assert.equal(b.imports.stats.missingOnFollowers, 0);
    const ts = b.cluster.ts();
    for (const t of tables) {
      const want = a.cluster.tableChecksum(t, backupTs);
      assert.ok(want.totalKvs > 0n);
      assert.deepEqual(await checksumOnB(t, ts), want, `table ${t.name.O}`);
      for (const id of physicalTableIds(t)) {
        // What BR backs up of a table: its records and public indexes.
        const rangesOf = (pid: bigint) => [
          recordRange(pid),
          ...publicIndexes(t).map((i) => indexRange(pid, BigInt(i.id))),
        ];
        const scan = (pg: Playground, pid: bigint, at: bigint) =>
          rangesOf(pid).flatMap((r) => [...pg.cluster.mvcc.backupScan(r.start, r.end, at)]);
        const src = scan(a, BigInt(id), backupTs);
        const dst = scan(b, BigInt(id) + SHIFT, ts);
        assert.equal(dst.length, src.length, `rows of ${t.name.O} (${id})`);
        for (let i = 0; i < src.length; i++) {
          assert.deepEqual(dst[i]!.key.subarray(9), src[i]!.key.subarray(9));
          assert.deepEqual(dst[i]!.value, src[i]!.value);
          assert.equal(dst[i]!.commitTs, newTs);
        }
      }
    }
    // A key outside the rule's new prefix is TiKV's "Wrong prefix expect" error.
    const t0 = BigInt(physicalTableIds(tables[0]!)[0]!) + SHIFT;
    const rg = recordRange(t0);
    const scan = await cb.pd.getRegion({ header: cb.header, regionKey: encodeBytes(rg.start) });
    const bad = await cb.tikv(scan.leader!.storeId).coprocessor({
      context: {
        regionId: scan.region!.id,
        regionEpoch: scan.region!.regionEpoch,
        peer: scan.leader,
      },
      tp: 105n,
      data: toBinary(
        ChecksumRequestSchema,
        create(ChecksumRequestSchema, {
          rule: { oldPrefix: tablePrefix(1n), newPrefix: tablePrefix(t0 + 1n) },
        }),
      ),
      startTs: ts,
      ranges: [{ start: rg.start, end: rg.end }],
    });
    assert.equal(bad.otherError, `Wrong prefix expect: [${tablePrefix(t0 + 1n).join(", ")}]`);
    // Ingest consumed every staged copy, on the leaders and the followers.
    for (
      const s of Object.values(b.imports.status().stores as Record<string, { stagedFiles: number }>)
    ) {
      assert.equal(s.stagedFiles, 0);
    }
  });

  test("raw-KV files come back whole", async () => {
    const storage = await openLocal(rawDir);
    let raws: File[] = [];
    try {
      const reader = await MetaReader.open(storage);
      for await (const f of reader.dataFiles()) raws.push(f);
    } finally {
      await storage.close();
    }
    raws = raws.filter((f) => f.size > 0n);
    assert.ok(raws.length > 0);
    await restore(raws.map((f) => ({ default: f })), { backend: localBackend(rawDir), raw: true });
    assert.deepEqual(
      b.cluster.rawChecksum(enc("raw_"), new Uint8Array(0)),
      a.cluster.rawChecksum(enc("raw_"), new Uint8Array(0)),
    );
  });

  /** One file of A staged on every peer of B's region for it; what an ingest needs. */
  async function stageOne() {
    const f = files.find((x) => x.cf === "write")!;
    const old = decodeTableId(f.startKey)!;
    const newPrefix = encodeKeyPrefix(tablePrefix(old + SHIFT));
    const rule = {
      oldKeyPrefix: encodeKeyPrefix(tablePrefix(old)),
      newKeyPrefix: newPrefix,
      newTimestamp: b.cluster.ts(),
    };
    const key = encodeBytes(concatBytes(tablePrefix(old + SHIFT), f.startKey.subarray(9)));
    const { region, leader } = await cb.pd.getRegion({ header: cb.header, regionKey: key });
    const meta = sstMeta(f, { ...region!, regionEpoch: region!.regionEpoch }, newPrefix);
    let range;
    for (const p of region!.peers) {
      const r = await cb.importSst(p.storeId).download({
        sst: meta,
        name: f.name,
        rewriteRule: rule,
        storageBackend: localBackend(dir),
        cipherInfo: CIPHER_PB,
      });
      assert.equal(r.error, undefined);
      range = r.range!;
    }
    const ingestMeta = withRange(meta, truncateTs(range!.start), truncateTs(range!.end));
    const context = { regionId: region!.id, regionEpoch: region!.regionEpoch, peer: leader };
    return { f, rule, region: region!, leader: leader!, meta, ingestMeta, context };
  }

  test("ingest answers NotLeader, EpochNotMatch, KeyNotInRegion and StaleCommand as TiKV", async () => {
    const s = await stageOne();
    const follower = s.region.peers.find((p) => p.storeId !== s.leader.storeId)!;
    const notLeader = await cb.importSst(follower.storeId).multiIngest({
      context: { ...s.context, peer: follower },
      ssts: [s.ingestMeta],
    });
    assert.equal(notLeader.error?.notLeader?.leader?.storeId, s.leader.storeId);

    const stale = { confVer: s.region.regionEpoch!.confVer, version: 1n };
    const epoch = await cb.importSst(s.leader.storeId).multiIngest({
      context: { ...s.context, regionEpoch: stale },
      ssts: [s.ingestMeta],
    });
    assert.equal(
      epoch.error?.epochNotMatch?.currentRegions.some((r) => r.id === s.region.id),
      true,
    );

    const outside = withRange(s.ingestMeta, s.ingestMeta.range!.start, encodeBytes(enc("zzzz")));
    const notIn = await cb.importSst(s.leader.storeId).multiIngest({
      context: s.context,
      ssts: [outside],
    });
    assert.ok(notIn.error?.keyNotInRegion, "a range outside the region is KeyNotInRegion");

    const never = clone(SSTMetaSchema, s.ingestMeta);
    never.uuid = new Uint8Array(randomBytes(16));
    const missing = await cb.importSst(s.leader.storeId).ingest({ context: s.context, sst: never });
    assert.ok(missing.error?.staleCommand);
    assert.equal(missing.error?.message, "The file which would be ingested doest not exist.");

    // The staged file still ingests after all those refusals, once.
    const ok = await cb.importSst(s.leader.storeId).ingest({
      context: s.context,
      sst: s.ingestMeta,
    });
    assert.equal(ok.error, undefined);
    const again = await cb.importSst(s.leader.storeId).ingest({
      context: s.context,
      sst: s.ingestMeta,
    });
    assert.ok(again.error?.staleCommand, "an ingested file is consumed");
  });

  test("injected ServerIsBusy and EpochNotMatch hit ingest only", async () => {
    const s = await stageOne();
    const busy = b.admin.injectRegionError({
      kind: "serverIsBusy",
      probability: 1,
      rpc: "ingest",
      remaining: 1,
    });
    const epoch = b.admin.injectRegionError({
      kind: "epochNotMatch",
      probability: 1,
      rpc: "ingest",
      remaining: 1,
    });
    const tikv = cb.tikv(s.leader.storeId);
    const get = await tikv.kvGet({
      context: s.context,
      key: rawBoundOf(s.region.startKey),
      version: b.cluster.ts(),
    });
    assert.equal(get.regionError, undefined, "a KvGet meets no ingest-only fault");
    const r1 = await cb.importSst(s.leader.storeId).multiIngest({
      context: s.context,
      ssts: [s.ingestMeta],
    });
    assert.equal(r1.error?.serverIsBusy?.reason, "too many sst files are ingesting");
    const r2 = await cb.importSst(s.leader.storeId).multiIngest({
      context: s.context,
      ssts: [s.ingestMeta],
    });
    assert.ok(r2.error?.epochNotMatch);
    const r3 = await cb.importSst(s.leader.storeId).multiIngest({
      context: s.context,
      ssts: [s.ingestMeta],
    });
    assert.equal(r3.error, undefined);
    b.admin.clearRegionErrors(busy);
    b.admin.clearRegionErrors(epoch);
  });

  test("Download answers TiKV's errors for a wrong key, a wrong prefix and unreadable storage", async () => {
    const f = files.find((x) => x.cf === "write" && x.size > 0n)!;
    const old = decodeTableId(f.startKey)!;
    const rule = {
      oldKeyPrefix: encodeKeyPrefix(tablePrefix(old)),
      newKeyPrefix: encodeKeyPrefix(tablePrefix(old + SHIFT)),
    };
    const { region } = await cb.pd.getRegion({
      header: cb.header,
      regionKey: encodeBytes(tablePrefix(old + SHIFT)),
    });
    const meta = sstMeta(f, { ...region!, regionEpoch: region!.regionEpoch }, rule.newKeyPrefix);
    const imp = cb.importSst(region!.peers[0]!.storeId);
    const wrongKey = await imp.download({
      sst: meta,
      name: f.name,
      rewriteRule: rule,
      storageBackend: localBackend(dir),
      cipherInfo: { cipherType: CIPHER.method, cipherKey: new Uint8Array(32).fill(1) },
    });
    assert.match(wrongKey.error?.message ?? "", /^Engine .*Corruption/);

    const other = tablePrefix(old + 1n);
    // With no range, the scan starts at the file's first key, which lacks the old prefix.
    const wrongPrefix = await imp.download({
      sst: withRange(meta, new Uint8Array(0), new Uint8Array(0)),
      name: f.name,
      rewriteRule: { ...rule, oldKeyPrefix: encodeKeyPrefix(other) },
      storageBackend: localBackend(dir),
      cipherInfo: CIPHER_PB,
    });
    assert.match(
      wrongPrefix.error?.message ?? "",
      /^Key in SST has wrong prefix: key [0-9A-F]+ does not start with [0-9A-F]+$/,
    );

    const unreadable = await imp.download({
      sst: meta,
      name: f.name,
      rewriteRule: rule,
      storageBackend: localBackend(join(tmp.path, "nowhere")),
      cipherInfo: CIPHER_PB,
    });
    assert.match(
      unreadable.error?.message ?? "",
      /^Cannot read local:\/\/.*nowhere.* into import\/\.temp\//,
    );
    assert.ok(b.imports.stats.downloadErrors >= 3);
  });

  test("the fault API fails and slows Downloads on one store", async () => {
    const s = await stageOne();
    const target = s.leader.storeId;
    const id = b.admin.injectDownloadFault({ store: String(target), probability: 1, remaining: 1 });
    const args = {
      sst: s.meta,
      name: s.f.name,
      rewriteRule: s.rule,
      storageBackend: localBackend(dir),
      cipherInfo: CIPHER_PB,
    };
    const failed = await cb.importSst(target).download(args);
    assert.match(failed.error?.message ?? "", /injected download failure/);
    const other = s.region.peers.find((p) => p.storeId !== target)!.storeId;
    assert.equal((await cb.importSst(other).download(args)).error, undefined);
    assert.equal((await cb.importSst(target).download(args)).error, undefined, "remaining: 1");
    b.imports.clearDownloadFaults(id);
    const slow = b.admin.injectDownloadFault({ store: String(target), delayMs: 150 });
    const t0 = performance.now();
    assert.equal((await cb.importSst(target).download(args)).error, undefined);
    assert.ok(performance.now() - t0 >= 140);
    b.imports.clearDownloadFaults(slow);
  });

  // As tikv's components/sst_importer/src/import_mode.rs test_import_mode_timeout, with the
  // same 300 ms timeout.
  test("Import mode lapses after its timeout unless renewed; the speed limit is per store", async () => {
    const sid = b.cluster.regions.stores()[0]!.id;
    const imp = cb.importSst(sid);
    await imp.switchMode({ mode: SwitchMode.Import });
    const mode = () =>
      (b.admin.status().import as { stores: Record<string, { mode: string }> }).stores[String(sid)]!
        .mode;
    assert.equal(mode(), "Import");
    await new Promise((r) => setTimeout(r, 200));
    await imp.switchMode({ mode: SwitchMode.Import });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(mode(), "Import", "renewed 200 ms ago, the 300 ms timeout has not passed");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(mode(), "Normal");
    await imp.setDownloadSpeedLimit({ speedLimit: 1n << 20n });
    assert.equal(b.imports.store(sid).speedLimit, 1 << 20);
    await imp.setDownloadSpeedLimit({ speedLimit: 0n });
    assert.equal(b.imports.store(sid).speedLimit, 0);
  });

  test("a store stopped during an import refuses its Downloads and keeps what it staged", async () => {
    const s = await stageOne();
    const follower = s.region.peers.find((p) => p.storeId !== s.leader.storeId)!.storeId;
    const stagedBefore = b.imports.store(follower).staged.size;
    assert.ok(stagedBefore > 0);
    await b.admin.stopStore(String(follower));
    try {
      await assert.rejects(
        cb.importSst(follower).download({
          sst: s.meta,
          name: s.f.name,
          rewriteRule: s.rule,
          storageBackend: localBackend(dir),
          cipherInfo: CIPHER_PB,
        }, { timeoutMs: 3000 }),
        (err: unknown) => ConnectError.from(err).code === Code.Unavailable,
      );
    } finally {
      await b.admin.restartStore(String(follower));
    }
    // TiKV's import directory survives a restart: the staged copy is still there to ingest.
    assert.equal(b.imports.store(follower).staged.size, stagedBefore);
    const fresh = new Clients(b);
    try {
      const ok = await fresh.importSst(s.leader.storeId).multiIngest({
        context: s.context,
        ssts: [s.ingestMeta],
      });
      assert.equal(ok.error, undefined);
    } finally {
      fresh.close();
    }
    assert.equal(b.imports.store(follower).staged.size, stagedBefore - 1);
  });
});
