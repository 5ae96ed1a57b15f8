/**
 * BackupMeta V2 written and read through real storage plugins (local disk and memory, with the
 * default layers), encrypted and plain.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDecipheriv, createHash } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { BackupMetaSchema, MetaFileSchema } from "../../src/gen/brpb_pb.ts";
import { openStorage } from "../../src/storage/registry.ts";
import type { ExternalStorage } from "../../src/storage/types.ts";
import { EncryptionMethod } from "../../src/crypto/cipher.ts";
import { MetaWriter } from "../../src/backup/metawriter.ts";
import { MetaReader } from "../../src/backup/metareader.ts";
import { newDatabase, newTable } from "../../src/tidb/model.ts";
import { dataFile } from "../../src/backup/_meta_test_util.ts";

const FIELDS = {
  clusterId: 7_000_000_000_000_000_042n,
  clusterVersion: "v8.1.0",
  brVersion: "tibr test",
  startVersion: 0n,
  endVersion: 450_000_000_000_000_000n,
};
const KEY = Uint8Array.from({ length: 24 }, (_, i) => i + 100);
const AES192 = { method: EncryptionMethod.AES192_CTR, key: KEY } as const;

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function localDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "tibr-meta-"));
  dirs.push(d);
  return d;
}

async function writeSome(storage: ExternalStorage, cipher?: typeof AES192): Promise<MetaWriter> {
  const w = new MetaWriter(storage, { cipher, metafileSizeLimit: 2048 });
  for (let i = 0; i < 60; i++) {
    const table = BigInt(100 + (i % 3));
    await w.appendDataFiles([
      dataFile(`5_${i}_1_w.sst`, table, BigInt(i) * 10n, BigInt(i) * 10n + 10n, {
        crc: BigInt(i) * 0x123456789n,
        kvs: 10n,
        bytes: 321n,
      }),
    ]);
  }
  const db = newDatabase(9, "app");
  for (const id of [100, 101, 102]) {
    await w.appendSchema({
      db,
      table: newTable({ id, name: `t${id}`, columns: [] }),
      ...w.tableChecksum(BigInt(id)),
    });
  }
  return w;
}

describe("BackupMeta V2 through storage plugins", () => {
  for (const cipher of [undefined, AES192]) {
    const label = cipher ? "AES192-CTR" : "plain";

    test(`local disk holds exactly BR's file layout (${label})`, async () => {
      const dir = await localDir();
      const storage = await openStorage(join(dir, "bk"), { env: {} });
      const w = await writeSome(storage, cipher);
      assert.equal(await storage.fileExists("backupmeta"), false);
      await w.finish(FIELDS);
      // The local plugin stages atomic writes in a dot-directory of its own.
      const names = (await readdir(join(dir, "bk"))).filter((n) => !n.startsWith(".")).sort();
      assert.ok(names.includes("backupmeta"));
      const metafiles = names.filter((n) => n !== "backupmeta");
      assert.ok(metafiles.length > 3);
      for (const n of metafiles) assert.match(n, /^backupmeta\.(datafile|schema)\.\d{9}$/);

      // Decode the files on disk with node:crypto directly, as BR would.
      let raw = new Uint8Array(await readFile(join(dir, "bk", "backupmeta")));
      const open = (iv: Uint8Array, data: Uint8Array) => {
        const d = createDecipheriv("aes-192-ctr", KEY, iv);
        return new Uint8Array(Buffer.concat([d.update(data), d.final()]));
      };
      if (cipher) raw = open(raw.subarray(0, 16), raw.subarray(16));
      const meta = fromBinary(BackupMetaSchema, raw);
      assert.equal(meta.version, 1);
      let files = 0;
      for (const e of meta.fileIndex!.metaFiles) {
        let body = new Uint8Array(await readFile(join(dir, "bk", e.name)));
        if (cipher) body = open(e.cipherIv, body);
        assert.equal(
          createHash("sha256").update(body).digest("hex"),
          Buffer.from(e.sha256).toString("hex"),
        );
        assert.equal(BigInt(body.length), e.size);
        files += fromBinary(MetaFileSchema, body).dataFiles.length;
      }
      assert.equal(files, 60);

      const reader = await MetaReader.open(await openStorage(join(dir, "bk"), { env: {} }), {
        cipher,
      });
      let n = 0;
      for await (const _ of reader.dataFiles()) n++;
      assert.equal(n, 60);
      const tables = [];
      for await (const t of reader.tables()) tables.push(t);
      assert.deepEqual(tables.map((t) => [t.table?.id, t.files.length]), [[100, 20], [101, 20], [
        102,
        20,
      ]]);
      for (const t of tables) {
        let crc = 0n;
        for (const f of t.files) crc ^= f.crc64xor;
        assert.equal(t.crc64xor, crc);
      }
    });

    test(`memory storage round trip, and an aborted writer leaves no backupmeta (${label})`, async () => {
      const bucket = `meta-${crypto.randomUUID()}`;
      const storage = await openStorage(`memory://${bucket}/a`, { env: {} });
      const w = await writeSome(storage, cipher);
      w.abort();
      await assert.rejects(w.finish(FIELDS), /aborted/);
      assert.equal(await storage.fileExists("backupmeta"), false);

      const other = await openStorage(`memory://${bucket}/b`, { env: {} });
      await (await writeSome(other, cipher)).finish(FIELDS);
      const reader = await MetaReader.open(other, { cipher });
      const schemas = [];
      for await (const s of reader.schemas()) schemas.push(s.table?.name.O);
      assert.deepEqual(schemas, ["t100", "t101", "t102"]);
    });
  }
});
