import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { createHash } from "node:crypto";
import { BackupMetaSchema, SchemaSchema } from "../gen/brpb_pb.ts";
import { EncryptionMethod } from "../crypto/cipher.ts";
import { newDatabase, newPartitionInfo, newTable, toJson } from "../tidb/model.ts";
import { PartitionType } from "../tidb/types.ts";
import { MetaWriter } from "./metawriter.ts";
import { BackupMetaError, MetaReader, readBackupMeta } from "./metareader.ts";
import { dataFile, MapStorage } from "./_meta_test_util.ts";

const FIELDS = {
  clusterId: 6_900_000_000_000_000_001n,
  clusterVersion: "v7.5.0",
  brVersion: "tibr 0.1.0",
  startVersion: 0n,
  endVersion: 434_000_000_000_000_000n,
};
const KEY = Uint8Array.from({ length: 16 }, (_, i) => 200 - i);
const AES128 = { method: EncryptionMethod.AES128_CTR, key: KEY } as const;

/** A small backup: a plain table, a partitioned one, an empty database, two DDL jobs. */
async function writeBackup(
  store: MapStorage,
  opts: { cipher?: typeof AES128; limit?: number } = {},
) {
  const w = new MetaWriter(store.storage, {
    cipher: opts.cipher,
    metafileSizeLimit: opts.limit ?? 300,
  });
  const stats = (n: number) => ({
    crc: BigInt(n) * 0x1111n,
    kvs: BigInt(n),
    bytes: BigInt(n) * 10n,
  });
  await w.appendDataFiles([dataFile("t10_a.sst", 10n, 0n, 50n, stats(1))]);
  await w.appendDataFiles([dataFile("t10_b.sst", 10n, 50n, 90n, stats(2))]);
  await w.appendDataFiles([dataFile("p21.sst", 21n, 0n, 9n, stats(3))]);
  await w.appendDataFiles([dataFile("p22.sst", 22n, 0n, 9n, stats(4))]);
  const db = newDatabase(2, "Shop");
  await w.appendSchema({
    db,
    table: newTable({ id: 10, name: "Orders", columns: [], updateTs: 434_000_000_000_000_777n }),
    ...w.tableChecksum(10n),
  });
  const part = newTable({
    id: 20,
    name: "events",
    columns: [],
    partition: newPartitionInfo(PartitionType.Hash, "`id`", [{ id: 21, name: "p0" }, {
      id: 22,
      name: "p1",
    }]),
  });
  await w.appendSchema({ db, table: part, ...w.tableChecksum(21n, 22n) });
  await w.appendSchema({ db: newDatabase(3, "empty") });
  await w.appendDDL({
    id: 7,
    type: 3,
    query: "create table a(i int)",
    real_start_ts: 434_000_000_000_000_001n,
  });
  await w.appendDDL({
    id: 8,
    type: 4,
    query: "drop table a",
    real_start_ts: 434_000_000_000_000_002n,
  });
  await w.finish(FIELDS);
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("MetaReader", () => {
  for (const cipher of [undefined, AES128]) {
    test(`reads back what the writer wrote (${cipher ? "AES128-CTR" : "plain"})`, async () => {
      const store = new MapStorage();
      await writeBackup(store, { cipher });
      const r = await MetaReader.open(store.storage, { cipher });
      assert.equal(r.version, 1);
      assert.equal(r.meta.clusterId, FIELDS.clusterId);
      assert.deepEqual((await collect(r.dataFiles())).map((f) => f.name), [
        "t10_a.sst",
        "t10_b.sst",
        "p21.sst",
        "p22.sst",
      ]);
      const schemas = await collect(r.schemas());
      assert.deepEqual(schemas.map((s) => [s.db.db_name.O, s.table?.name.O]), [
        ["Shop", "Orders"],
        ["Shop", "events"],
        ["empty", undefined],
      ]);
      // TSO fields stay exact through JSON.
      assert.equal(schemas[0]!.table!.update_timestamp, 434_000_000_000_000_777n);
      assert.deepEqual([schemas[0]!.crc64xor, schemas[0]!.totalKvs, schemas[0]!.totalBytes], [
        0x1111n ^ 0x2222n,
        3n,
        30n,
      ]);
      assert.deepEqual([schemas[1]!.crc64xor, schemas[1]!.totalKvs], [0x3333n ^ 0x4444n, 7n]);
      const jobs = await collect(r.ddlJobs());
      assert.deepEqual(jobs.map((j) => [j.id, j.real_start_ts]), [
        [7, 434_000_000_000_000_001n],
        [8, 434_000_000_000_000_002n],
      ]);
      const merged = new TextDecoder().decode(await r.readDDLs());
      assert.equal(JSON.parse(merged).length, 2);
      assert.match(merged, /^\[\{"id":7,.*\},\{"id":8,.*\}\]$/);
      const tables = await collect(r.tables());
      assert.deepEqual(tables.map((t) => t.files.map((f) => f.name)), [
        ["t10_a.sst", "t10_b.sst"],
        ["p21.sst", "p22.sst"],
        [],
      ]);
    });
  }

  test("reads a V1 backupmeta with everything inline", async () => {
    const store = new MapStorage();
    const db = newDatabase(4, "old");
    const table = newTable({ id: 40, name: "t", columns: [] });
    const v1 = create(BackupMetaSchema, {
      clusterId: 1n,
      endVersion: 5n,
      files: [dataFile("v1.sst", 40n, 0n, 1n, { crc: 9n, kvs: 1n, bytes: 2n })],
      schemas: [create(SchemaSchema, { db: toJson(db), table: toJson(table), crc64xor: 9n })],
      ddls: new TextEncoder().encode(`[{"id":1,"query":"q1"},{"id":2,"query":"q2"}]`),
    });
    store.files.set("backupmeta", toBinary(BackupMetaSchema, v1));
    const r = await MetaReader.open(store.storage);
    assert.equal(r.version, 0);
    assert.deepEqual((await collect(r.dataFiles())).map((f) => f.name), ["v1.sst"]);
    assert.deepEqual((await collect(r.schemas())).map((s) => s.table?.name.L), ["t"]);
    assert.deepEqual((await collect(r.ddlJobs())).map((j) => j.query), ["q1", "q2"]);
    assert.equal(
      new TextDecoder().decode(await r.readDDLs()),
      `[{"id":1,"query":"q1"},{"id":2,"query":"q2"}]`,
    );
    assert.deepEqual((await collect(r.tables()))[0]!.files.map((f) => f.name), ["v1.sst"]);
  });

  test("a wrong or missing crypter key is reported as such", async () => {
    const enc = new MapStorage();
    await writeBackup(enc, { cipher: AES128 });
    const wrong = { method: EncryptionMethod.AES128_CTR, key: new Uint8Array(16).fill(1) };
    await assert.rejects(readBackupMeta(enc.storage, { cipher: wrong }), (e: unknown) => {
      assert.ok(e instanceof BackupMetaError);
      assert.equal(e.code, "Undecodable");
      assert.match(e.message, /crypter key is wrong/);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
    await assert.rejects(readBackupMeta(enc.storage), /give its crypter key/);

    const plain = new MapStorage();
    await writeBackup(plain);
    await assert.rejects(
      readBackupMeta(plain.storage, { cipher: AES128 }),
      /crypter key is wrong, or the backup is not encrypted/,
    );
    await assert.rejects(readBackupMeta(new MapStorage().storage), (e: unknown) => {
      assert.ok(e instanceof BackupMetaError);
      assert.equal(e.code, "NotFound");
      assert.match(e.message, /not a finished backup/);
      return true;
    });
  });

  test("a damaged, resized or missing metafile is detected by name", async () => {
    for (const cipher of [undefined, AES128]) {
      const store = new MapStorage();
      await writeBackup(store, { cipher });
      const r = await MetaReader.open(store.storage, { cipher });
      const victim = r.meta.fileIndex!.metaFiles[1]!.name;
      const bytes = store.files.get(victim)!;
      bytes[bytes.length >> 1]! ^= 0x40;
      store.files.set(victim, bytes);
      await assert.rejects(collect(r.dataFiles()), (e: unknown) => {
        assert.ok(e instanceof BackupMetaError);
        assert.equal(e.code, "Corrupt");
        assert.ok(e.message.includes(`memory://unit/${victim} has sha256`), e.message);
        assert.match(e.message, cipher ? /crypter key is wrong or the file is damaged/ : /damaged/);
        return true;
      });
      // The schema and DDL metafiles are untouched and still read.
      assert.equal((await collect(r.schemas())).length, 3);
    }

    const store = new MapStorage();
    await writeBackup(store);
    const meta = fromBinary(BackupMetaSchema, store.files.get("backupmeta")!);
    meta.schemaIndex!.metaFiles[0]!.size += 1n;
    store.files.set("backupmeta", toBinary(BackupMetaSchema, meta));
    const r = await MetaReader.open(store.storage);
    await assert.rejects(collect(r.schemas()), /holds \d+ bytes but backupmeta records \d+/);
    store.files.delete(r.meta.ddlIndexes!.metaFiles[0]!.name);
    await assert.rejects(collect(r.ddlJobs()), (e: unknown) => {
      assert.ok(e instanceof BackupMetaError);
      assert.equal(e.code, "NotFound");
      assert.match(e.message, /is missing though backupmeta references it/);
      return true;
    });
  });

  test("an encrypted metafile under a plain backupmeta asks for the key", async () => {
    const store = new MapStorage();
    await writeBackup(store, { cipher: AES128 });
    const r = await MetaReader.open(store.storage, { cipher: AES128 });
    // The same index read without a cipher: each entry carries an IV.
    const plainReader = new MetaReader(store.storage, r.meta);
    await assert.rejects(
      collect(plainReader.dataFiles()),
      /is encrypted; give the backup's crypter key/,
    );
  });

  test("stopping early while later metafiles are read ahead leaves no stray rejection", async () => {
    const store = new MapStorage();
    await writeBackup(store, { limit: 120 });
    const r = await MetaReader.open(store.storage, { prefetch: 4 });
    assert.ok(r.meta.fileIndex!.metaFiles.length >= 3);
    for (const e of r.meta.fileIndex!.metaFiles.slice(1)) store.files.delete(e.name);
    for await (const f of r.dataFiles()) {
      assert.equal(f.name, "t10_a.sst");
      break;
    }
    // Give any unhandled rejection a chance to surface and fail the test run.
    await new Promise((resolve) => setTimeout(resolve, 20));
  });

  test("metafiles are read ahead within a byte budget, the one being read counted", async () => {
    const store = new MapStorage();
    await writeBackup(store, { limit: 120 });
    const meta = (await MetaReader.open(store.storage)).meta;
    const reads: string[] = [];
    const read = store.readFile.bind(store);
    store.readFile = (name: string) => {
      reads.push(name);
      return read(name);
    };
    const storage = store.storage;
    const children = meta.fileIndex!.metaFiles;
    assert.ok(children.length >= 3);
    // A budget below one metafile: the next is read only once the current one is done.
    const tight = new MetaReader(storage, meta, {
      prefetch: 4,
      prefetchBytes: 1,
    });
    for await (const f of tight.dataFiles()) {
      assert.equal(f.name, "t10_a.sst");
      break;
    }
    assert.deepEqual(reads, [children[0]!.name]);
    // ... and every metafile still comes, one after the other.
    const all = await collect(new MetaReader(storage, meta, { prefetchBytes: 1 }).dataFiles());
    assert.deepEqual(all.map((f) => f.name), ["t10_a.sst", "t10_b.sst", "p21.sst", "p22.sst"]);
    // A roomy budget reads `prefetch` ahead of the one being read.
    reads.length = 0;
    const roomy = new MetaReader(storage, meta, { prefetch: 2 });
    for await (const _ of roomy.dataFiles()) break;
    assert.deepEqual(reads, children.slice(0, 3).map((c) => c.name));
  });

  test("a data file read from a metafile holds its own bytes, not the metafile's", async () => {
    const store = new MapStorage();
    await writeBackup(store, { limit: 100_000 });
    const r = await MetaReader.open(store.storage);
    const child = r.meta.fileIndex!.metaFiles[0]!;
    const files = await collect(r.dataFiles());
    assert.ok(files.length >= 2, "one metafile lists several files");
    // Every bytes field is a view: of the entry's own copy, not of the whole metafile (which a
    // restore's ranges in flight would otherwise keep alive long after its turn).
    for (const f of files) {
      for (const b of [f.startKey, f.endKey, f.sha256]) {
        assert.ok(
          b.buffer.byteLength < Number(child.size),
          `${f.name}: a ${b.buffer.byteLength}-byte buffer behind a ${child.size}-byte metafile`,
        );
      }
    }
  });

  test("a metafile's entries are decoded as they are read, each checked", async () => {
    const store = new MapStorage();
    await writeBackup(store, {});
    const r = await MetaReader.open(store.storage);
    const first = r.meta.fileIndex!.metaFiles[0]!;
    // Damage one File entry's inner bytes while keeping the framing, and re-record its digest:
    // the files before it still come out, then one Corrupt error names the metafile.
    const data = store.files.get(first.name)!.slice();
    const entries: number[] = [];
    const w = new BinaryReader(data);
    while (w.pos < w.len) {
      const [no, wire] = w.tag();
      if (no === 2) entries.push(w.pos);
      w.skip(wire, no);
    }
    assert.ok(entries.length >= 2, "the first metafile lists several files");
    // The last File's first inner tag (after its one-byte length): field 31, wire type 7.
    data[entries[entries.length - 1]! + 1] = 0xff;
    store.files.set(first.name, data);
    first.sha256 = createHash("sha256").update(data).digest();
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const f of r.dataFiles()) seen.push(f.name);
      })(),
      (e: Error) => e instanceof BackupMetaError && /is not a MetaFile/.test(e.message),
    );
    assert.deepEqual(seen.length, entries.length - 1, "entries before the damaged one came out");
  });
});
