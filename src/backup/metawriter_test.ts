import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BackupMetaSchema, type File, FileSchema, MetaFileSchema } from "../gen/brpb_pb.ts";
import { EncryptionMethod } from "../crypto/cipher.ts";
import { newDatabase, newTable } from "../tidb/model.ts";
import { DEFAULT_METAFILE_SIZE, metafileName, MetaWriter } from "./metawriter.ts";
import { MetaReader } from "./metareader.ts";
import { aesCtrDecrypt, dataFile, MapStorage, sha256Hex } from "./_meta_test_util.ts";

const FIELDS = {
  clusterId: 7102345678901234567n,
  clusterVersion: "v7.5.0",
  brVersion: "tibr 0.1.0",
  startVersion: 0n,
  endVersion: 434_000_000_000_000_123n,
};
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const AES256 = { method: EncryptionMethod.AES256_CTR, key: KEY } as const;

function rangeFiles(table: bigint, n: number, base: number): File[] {
  const from = BigInt(n) * 100n;
  return [
    dataFile(`1_${base + n}_write.sst`, table, from, from + 100n, {
      crc: BigInt(base * 1000 + n) * 0x9e3779b97f4a7c15n % (1n << 64n),
      kvs: 100n,
      bytes: 4000n + BigInt(n),
    }),
    dataFile(`1_${base + n}_default.sst`, table, from, from + 100n, {
      crc: 0n,
      kvs: 0n,
      bytes: 0n,
      size: 9000n,
      cf: "default",
    }),
  ];
}

describe("MetaWriter", () => {
  test("writes V2 metafiles named by one shared counter, backupmeta last", async () => {
    const store = new MapStorage();
    const w = new MetaWriter(store.storage);
    for (let i = 0; i < 3; i++) await w.appendDataFiles(rangeFiles(10n, i, 0));
    const db = newDatabase(2, "shop");
    const table = newTable({
      id: 10,
      name: "orders",
      columns: [],
      updateTs: 434_000_000_000_000_001n,
    });
    await w.appendSchema({ db, table, ...w.tableChecksum(10n) });
    await w.appendSchema({ db: newDatabase(3, "empty") });
    await w.appendDDL(
      new TextEncoder().encode(`{"id":41,"type":3,"query":"create table x(a int)"}`),
    );
    await w.appendDDL({
      id: 42,
      type: 4,
      query: "drop table x",
      start_ts: 434_000_000_000_000_002n,
    });
    assert.equal(store.files.has("backupmeta"), false, "backupmeta must not exist before finish");
    const meta = await w.finish(FIELDS);

    assert.deepEqual(store.writes, [
      "backupmeta.datafile.000000001",
      "backupmeta.schema.000000002",
      "backupmeta.ddl.000000003",
      "backupmeta",
    ]);
    // Decode what is stored directly, independent of MetaReader.
    const stored = fromBinary(BackupMetaSchema, store.files.get("backupmeta")!);
    assert.equal(stored.version, 1);
    assert.equal(stored.clusterId, FIELDS.clusterId);
    assert.equal(stored.clusterVersion, "v7.5.0");
    assert.equal(stored.brVersion, "tibr 0.1.0");
    assert.equal(stored.endVersion, FIELDS.endVersion);
    assert.equal(new TextDecoder().decode(stored.ddls), "[]");
    assert.equal(stored.files.length, 0);
    assert.equal(stored.schemas.length, 0);
    assert.equal(stored.rawRangeIndex, undefined);
    for (
      const [index, name] of [
        [stored.fileIndex, "backupmeta.datafile.000000001"],
        [stored.schemaIndex, "backupmeta.schema.000000002"],
        [stored.ddlIndexes, "backupmeta.ddl.000000003"],
      ] as const
    ) {
      assert.equal(index?.metaFiles.length, 1);
      const entry = index.metaFiles[0]!;
      const bytes = store.files.get(name)!;
      assert.equal(entry.name, name);
      assert.equal(Buffer.from(entry.sha256).toString("hex"), sha256Hex(bytes));
      assert.equal(entry.size, BigInt(bytes.length));
      assert.equal(entry.cipherIv.length, 0);
    }
    const dataMeta = fromBinary(MetaFileSchema, store.files.get("backupmeta.datafile.000000001")!);
    assert.deepEqual(dataMeta.dataFiles.map((f) => f.name), [
      "1_0_write.sst",
      "1_0_default.sst",
      "1_1_write.sst",
      "1_1_default.sst",
      "1_2_write.sst",
      "1_2_default.sst",
    ]);
    const ddlMeta = fromBinary(MetaFileSchema, store.files.get("backupmeta.ddl.000000003")!);
    assert.equal(ddlMeta.ddls.length, 2);
    assert.match(new TextDecoder().decode(ddlMeta.ddls[1]), /"start_ts":434000000000000002/);

    // backup_size: metafiles as stored + data files + backupmeta without backup_size, as BR.
    const metaFiles = [1, 2, 3].map((i) =>
      store.files.get(metafileName(["datafile", "schema", "ddl"][i - 1] as "datafile", i))!.length
    );
    const dataSize = (9000n + 2000n) * 3n + 0n + 1n; // write sizes are bytes/2: 2000, 2000, 2001
    const withoutSize = toBinary(
      BackupMetaSchema,
      create(BackupMetaSchema, { ...stored, backupSize: 0n }),
    );
    assert.equal(
      stored.backupSize,
      BigInt(metaFiles.reduce((a, b) => a + b, 0)) + dataSize + BigInt(withoutSize.length),
    );
    assert.equal(meta.backupSize, stored.backupSize);
  });

  test("data files flushed before the schemas make the same metafiles as at finish", async () => {
    const write = async (early: boolean) => {
      const store = new MapStorage();
      const w = new MetaWriter(store.storage);
      for (let i = 0; i < 3; i++) await w.appendDataFiles(rangeFiles(10n, i, 0));
      if (early) {
        await w.flushDataFiles();
        assert.equal(w.stats.bufferedBytes, 0);
      }
      const table = newTable({ id: 10, name: "orders", columns: [] });
      await w.appendSchema({ db: newDatabase(2, "shop"), table, ...w.tableChecksum(10n) });
      await w.finish(FIELDS);
      return store;
    };
    const [late, early] = [await write(false), await write(true)];
    assert.deepEqual(early.writes, late.writes);
    for (const name of late.writes) assert.deepEqual(early.files.get(name), late.files.get(name));
  });

  test("sums crc64xor by XOR and kvs/bytes by addition per table, using table_metas when set", async () => {
    const w = new MetaWriter(new MapStorage().storage);
    const a = dataFile("a", 10n, 0n, 10n, { crc: 0xf0f0n, kvs: 3n, bytes: 30n });
    const b = dataFile("b", 10n, 10n, 20n, { crc: 0x0ff0n, kvs: 4n, bytes: 40n });
    const c = dataFile("c", 11n, 0n, 10n, { crc: 0x1n, kvs: 1n, bytes: 5n });
    // A file spanning tables 11 and 12 with per-table statistics.
    const d = dataFile("d", 11n, 10n, 0n, { crc: 0xffn, kvs: 9n, bytes: 90n });
    d.tableMetas = [
      {
        $typeName: "backup.TableMeta",
        physicalId: 11n,
        crc64xor: 0x10n,
        totalKvs: 2n,
        totalBytes: 20n,
      },
      {
        $typeName: "backup.TableMeta",
        physicalId: 12n,
        crc64xor: 0xefn,
        totalKvs: 7n,
        totalBytes: 70n,
      },
    ];
    const raw = create(FileSchema, { name: "raw", startKey: new Uint8Array([1, 2]), crc64xor: 5n });
    await w.appendDataFiles([a, b]);
    await w.appendDataFiles([c, d, raw]);
    assert.deepEqual(w.tableChecksum(10n), { crc64xor: 0xff00n, totalKvs: 7n, totalBytes: 70n });
    assert.deepEqual(w.tableChecksum(11n), { crc64xor: 0x11n, totalKvs: 3n, totalBytes: 25n });
    assert.deepEqual(w.tableChecksum(12n), { crc64xor: 0xefn, totalKvs: 7n, totalBytes: 70n });
    // A partitioned table is the XOR/sum of its partitions; unknown ids add nothing.
    assert.deepEqual(w.tableChecksum(11n, 12n, 99n), {
      crc64xor: 0xfen,
      totalKvs: 10n,
      totalBytes: 95n,
    });
    assert.deepEqual([...w.tableChecksums().keys()].sort(), [10n, 11n, 12n]);
  });

  test("encrypts every metafile and backupmeta with AES-CTR under fresh IVs", async () => {
    const store = new MapStorage();
    const w = new MetaWriter(store.storage, { cipher: AES256, metafileSizeLimit: 600 });
    for (let i = 0; i < 6; i++) await w.appendDataFiles(rangeFiles(20n, i, 100));
    await w.appendSchema({
      db: newDatabase(2, "s"),
      table: newTable({ id: 20, name: "t", columns: [] }),
    });
    await w.finish(FIELDS);

    const sealed = store.files.get("backupmeta")!;
    assert.throws(() => fromBinary(BackupMetaSchema, sealed));
    // BR's layout: 16-byte IV, then AES-CTR of the BackupMeta proto.
    const meta = fromBinary(
      BackupMetaSchema,
      aesCtrDecrypt(KEY, sealed.subarray(0, 16), sealed.subarray(16)),
    );
    assert.equal(meta.clusterId, FIELDS.clusterId);
    const entries = [...meta.fileIndex!.metaFiles, ...meta.schemaIndex!.metaFiles];
    assert.ok(meta.fileIndex!.metaFiles.length > 1, "the small limit splits the data files");
    const ivs = new Set<string>();
    let names: string[] = [];
    for (const e of entries) {
      assert.equal(e.cipherIv.length, 16);
      ivs.add(Buffer.from(e.cipherIv).toString("hex"));
      const stored = store.files.get(e.name)!;
      const plain = aesCtrDecrypt(KEY, e.cipherIv, stored);
      // sha256 and size describe the plaintext, as BR's metautil records them.
      assert.equal(Buffer.from(e.sha256).toString("hex"), sha256Hex(plain));
      assert.equal(e.size, BigInt(plain.length));
      assert.notEqual(sha256Hex(stored), sha256Hex(plain));
      names = names.concat(fromBinary(MetaFileSchema, plain).dataFiles.map((f) => f.name));
    }
    assert.equal(ivs.size, entries.length, "each metafile gets its own IV");
    assert.equal(names.length, 12);

    const reader = await MetaReader.open(store.storage, { cipher: AES256 });
    const files: string[] = [];
    for await (const f of reader.dataFiles()) files.push(f.name);
    assert.deepEqual(files, names);
  });

  test("splits each kind at the size limit, never splitting one range's files", async () => {
    const store = new MapStorage();
    const limit = 1500;
    const w = new MetaWriter(store.storage, { metafileSizeLimit: limit });
    for (let i = 0; i < 40; i++) await w.appendDataFiles(rangeFiles(30n, i, 200));
    for (let i = 0; i < 30; i++) {
      await w.appendSchema({
        db: newDatabase(5, "d"),
        table: newTable({ id: 100 + i, name: `t${i}`, columns: [] }),
      });
    }
    await w.finish(FIELDS);
    const meta = fromBinary(BackupMetaSchema, store.files.get("backupmeta")!);
    const dataEntries = meta.fileIndex!.metaFiles;
    const schemaEntries = meta.schemaIndex!.metaFiles;
    assert.ok(dataEntries.length >= 5 && schemaEntries.length >= 2);
    const all = [...dataEntries, ...schemaEntries];
    for (const e of all) {
      assert.ok(e.size <= BigInt(limit), `${e.name} is ${e.size} bytes`);
      assert.equal(e.size, BigInt(store.files.get(e.name)!.length));
    }
    // One counter for all kinds: numbers 1..n each used once, ascending within each index.
    const seq = (e: { name: string }) => Number(e.name.split(".").pop());
    for (const [kind, entries] of [["datafile", dataEntries], ["schema", schemaEntries]] as const) {
      entries.forEach((e, i) => {
        assert.equal(e.name, metafileName(kind, seq(e)));
        if (i > 0) assert.ok(seq(e) > seq(entries[i - 1]!));
      });
    }
    assert.deepEqual(all.map(seq).sort((a, b) => a - b), all.map((_, i) => i + 1));
    let seen = 0;
    for (const e of dataEntries) {
      const files = fromBinary(MetaFileSchema, store.files.get(e.name)!).dataFiles;
      assert.equal(files.length % 2, 0);
      for (let j = 0; j < files.length; j += 2) {
        assert.equal(files[j]!.name.replace("write", "default"), files[j + 1]!.name);
      }
      seen += files.length;
    }
    assert.equal(seen, 80);
  });

  test("by default a schema metafile ends at 16 MiB, not BR's 128", async () => {
    const store = new MapStorage();
    const w = new MetaWriter(store.storage);
    // ~4 KiB TableInfos, as TiDB writes them for a small table: 6,000 of them fill 24 MiB.
    const comment = "c".repeat(4000);
    for (let i = 0; i < 6000; i++) {
      await w.appendSchema({
        db: newDatabase(5, "d"),
        table: { ...newTable({ id: 100 + i, name: `t${i}`, columns: [] }), comment },
      });
    }
    await w.finish(FIELDS);
    const meta = fromBinary(BackupMetaSchema, store.files.get("backupmeta")!);
    const sizes = meta.schemaIndex!.metaFiles.map((e) => Number(e.size));
    assert.equal(DEFAULT_METAFILE_SIZE, 16 * 1024 * 1024);
    assert.equal(sizes.length, 2);
    assert.ok(sizes[0]! <= DEFAULT_METAFILE_SIZE && sizes[0]! > DEFAULT_METAFILE_SIZE - 8192);
    let n = 0;
    for await (const _ of (await MetaReader.open(store.storage)).schemas()) n++;
    assert.equal(n, 6000);
  });

  test("concurrent appends keep their call order", async () => {
    const store = new MapStorage();
    const w = new MetaWriter(store.storage, { metafileSizeLimit: 700 });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => w.appendDataFiles(rangeFiles(40n, i, 300))),
    );
    await w.finish(FIELDS);
    const names: string[] = [];
    for await (const f of (await MetaReader.open(store.storage)).dataFiles()) names.push(f.name);
    assert.deepEqual(
      names,
      Array.from({ length: 20 }, (_, i) => [`1_${300 + i}_write.sst`, `1_${300 + i}_default.sst`])
        .flat(),
    );
  });

  test("raw ranges go inline in backupmeta with the raw-KV flag", async () => {
    const store = new MapStorage();
    const w = new MetaWriter(store.storage);
    w.appendRawRange({
      startKey: new Uint8Array([0x61]),
      endKey: new Uint8Array([0x7a]),
      cf: "default",
    });
    await w.appendDataFiles([
      create(FileSchema, { name: "r.sst", startKey: new Uint8Array([0x61]) }),
    ]);
    await w.finish({ ...FIELDS, isRawKv: true, apiVersion: 2 });
    const meta = fromBinary(BackupMetaSchema, store.files.get("backupmeta")!);
    assert.equal(meta.isRawKv, true);
    assert.equal(meta.apiVersion, 2);
    assert.equal(meta.rawRanges.length, 1);
    assert.equal(meta.rawRanges[0]!.cf, "default");
    assert.equal(meta.schemaIndex, undefined);
    assert.equal(w.tableChecksums().size, 0);
  });

  test("an abort, a failed write or a failed fencing check leaves no backupmeta", async () => {
    const aborted = new MapStorage();
    const w1 = new MetaWriter(aborted.storage, { metafileSizeLimit: 500 });
    for (let i = 0; i < 5; i++) await w1.appendDataFiles(rangeFiles(50n, i, 400));
    w1.abort();
    await assert.rejects(w1.appendDataFiles(rangeFiles(50n, 9, 400)), /aborted/);
    await assert.rejects(w1.finish(FIELDS), /aborted/);
    assert.ok(aborted.writes.length > 0);
    assert.equal(aborted.files.has("backupmeta"), false);

    const failing = new MapStorage();
    failing.failWrite = (name) => name === "backupmeta.datafile.000000002";
    const w2 = new MetaWriter(failing.storage, { metafileSizeLimit: 500 });
    let err: unknown;
    for (let i = 0; i < 10 && !err; i++) {
      await w2.appendDataFiles(rangeFiles(50n, i, 500)).catch((e) => (err = e));
    }
    assert.match(String(err), /injected failure/);
    // The first failure sticks: nothing more is written, finish reports it.
    await assert.rejects(w2.appendSchema({ db: newDatabase(1, "x") }), /injected failure/);
    await assert.rejects(w2.finish(FIELDS), /injected failure/);
    assert.equal(failing.files.has("backupmeta"), false);

    const fenced = new MapStorage();
    const w3 = new MetaWriter(fenced.storage);
    await w3.appendDataFiles(rangeFiles(50n, 0, 600));
    await assert.rejects(
      w3.finish(FIELDS, {
        beforeWrite: () => {
          throw new Error("checkpoint lock lost");
        },
      }),
      /checkpoint lock lost/,
    );
    assert.deepEqual(fenced.writes, ["backupmeta.datafile.000000001"]);
    await assert.rejects(w3.finish(FIELDS), /checkpoint lock lost/);
  });

  test("finish twice is refused, and invalid options are rejected up front", async () => {
    const w = new MetaWriter(new MapStorage().storage);
    await w.finish(FIELDS);
    await assert.rejects(w.finish(FIELDS), /already finished/);
    assert.throws(() => w.appendRawRange({}), /already finished/);
    assert.throws(
      () => new MetaWriter(new MapStorage().storage, { metafileSizeLimit: 0 }),
      /positive/,
    );
    assert.throws(
      () =>
        new MetaWriter(new MapStorage().storage, {
          cipher: { method: 4, key: new Uint8Array(16) },
        }),
      /16 bytes but must be 32/,
    );
  });
});
