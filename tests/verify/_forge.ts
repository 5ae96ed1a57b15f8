/**
 * Forges damaged but self-consistent backups for the verify tests: one data file's KVs
 * rewritten by a function, the file written again with tibr's SST writer (same compression
 * and encryption), its File entry (sha256, size, crc64xor, kvs, bytes) and its table's schema
 * totals updated, and all metadata written again with the meta writer. Only a semantic check
 * can tell such a backup from a good one.
 * @module
 */
import { cpSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { MetaReader } from "../../src/backup/metareader.ts";
import { BACKUP_META_FILE, MetaWriter } from "../../src/backup/metawriter.ts";
import { ChecksumAccumulator } from "../../src/codec/crc64.ts";
import { dataKey, encodeWriteValue } from "../../src/codec/tikv.ts";
import type { File, Schema } from "../../src/gen/brpb_pb.ts";
import { decodeBackupFile, openBackupSst } from "../../src/sst/backup.ts";
import { SstWriter } from "../../src/sst/writer.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { toJson } from "../../src/tidb/model.ts";
import { decodeTableId } from "../../src/tidb/tablecodec.ts";

/** A committed KV of a data file, as the forge function sees and returns it. */
export interface ForgeKv {
  key: Uint8Array;
  value: Uint8Array;
  commitTs: bigint;
  startTs: bigint;
}

/** Copies the backup at `from` to `to`. */
export function copyBackup(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  cpSync(from, to, { recursive: true });
}

/**
 * Rewrites the first write-CF file (without a default-CF file) that `pick` accepts, with its KVs
 * passed through `edit`; keys must stay sorted and inside the file's range. Returns the file name.
 */
export async function forgeFile(
  dir: string,
  pick: (f: File) => boolean,
  edit: (kvs: ForgeKv[]) => ForgeKv[],
): Promise<string> {
  const storage = await openStorage(`local://${dir}`);
  try {
    const reader = await MetaReader.open(storage);
    const files: File[] = [];
    for await (const f of reader.dataFiles()) files.push(f);
    const stems = new Set(
      files.filter((f) => f.cf === "default").map((f) => f.name.replace(/_default\.sst$/, "")),
    );
    const target = files.find((f) =>
      f.cf === "write" && !stems.has(f.name.replace(/_write\.sst$/, "")) && pick(f)
    );
    if (!target) throw new Error("no data file matches the forge's pick");
    const sst = await openBackupSst(storage, { name: target.name, size: Number(target.size) });
    const kvs: ForgeKv[] = [];
    for await (const kv of decodeBackupFile({ write: sst })) {
      kvs.push({ key: kv.rawKey, value: kv.value, commitTs: kv.commitTs, startTs: kv.startTs });
    }
    await sst.close();
    const compression = sst.properties.compression === "ZSTD" ? "zstd" : "none";
    const edited = edit(kvs);
    const w = SstWriter.toMemory({ compression, columnFamily: { name: "write", id: 2 } });
    const acc = new ChecksumAccumulator();
    for (const kv of edited) {
      await w.add(
        dataKey(kv.key, kv.commitTs),
        encodeWriteValue({ type: "put", startTs: kv.startTs, shortValue: kv.value }),
      );
      acc.add(kv.key, kv.value);
    }
    const { bytes } = await w.finish();
    await storage.writeFile(target.name, bytes);
    const old = { crc: target.crc64xor, kvs: target.totalKvs, bytes: target.totalBytes };
    target.sha256 = new Uint8Array(createHash("sha256").update(bytes).digest());
    target.size = BigInt(bytes.length);
    target.crc64xor = acc.crc64xor;
    target.totalKvs = acc.totalKvs;
    target.totalBytes = acc.totalBytes;
    const tableId = decodeTableId(target.startKey);
    const schemas: Schema[] = [];
    for await (const s of reader.rawSchemas()) {
      if (s.table.length > 0) {
        const info = JSON.parse(new TextDecoder().decode(s.table));
        const ids = [
          info.id,
          ...(info.partition?.definitions ?? []).map((d: { id: number }) => d.id),
        ];
        if (ids.some((id: number) => BigInt(id) === tableId)) {
          s.crc64xor = s.crc64xor ^ old.crc ^ acc.crc64xor;
          s.totalKvs = s.totalKvs - old.kvs + acc.totalKvs;
          s.totalBytes = s.totalBytes - old.bytes + acc.totalBytes;
        }
      }
      schemas.push(s);
    }
    await rewriteMeta(dir, files, schemas);
    return target.name;
  } finally {
    await storage.close();
  }
}

/** Writes all metadata again from `files` and `schemas` (old metafiles are removed first). */
export async function rewriteMeta(dir: string, files: File[], schemas?: Schema[]): Promise<void> {
  const storage = await openStorage(`local://${dir}`);
  try {
    const reader = await MetaReader.open(storage);
    const meta = reader.meta;
    const all = schemas ?? [];
    if (!schemas) { for await (const s of reader.rawSchemas()) all.push(s); }
    const ddls: Uint8Array[] = [];
    for await (const j of reader.ddlJobs()) ddls.push(toJson(j));
    const names: string[] = [];
    await storage.walkDir({}, (n) => {
      if (n.startsWith("backupmeta")) names.push(n);
    });
    for (const n of names) await storage.deleteFile(n);
    const w = new MetaWriter(storage);
    await w.appendDataFiles(files);
    for (const s of all) await w.appendSchema(s);
    for (const d of ddls) await w.appendDDL(d);
    await w.finish({
      clusterId: meta.clusterId,
      clusterVersion: meta.clusterVersion,
      brVersion: meta.brVersion,
      startVersion: meta.startVersion,
      endVersion: meta.endVersion,
      isRawKv: meta.isRawKv,
      isTxnKv: meta.isTxnKv,
    });
    void BACKUP_META_FILE;
  } finally {
    await storage.close();
  }
}
