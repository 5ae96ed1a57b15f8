/**
 * Private helpers of the playground tests: a small sample, clients of the servers, and the
 * independent check of a backup: every table's crc64xor / kvs / bytes recomputed from its SST
 * files (src/sst/backup.ts) and compared with the playground's ground truth at the backup ts.
 * @module
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { MetaReader } from "../../src/backup/metareader.ts";
import { hex } from "../../src/codec/bytes.ts";
import { ChecksumAccumulator } from "../../src/codec/crc64.ts";
import type { CipherInfo } from "../../src/crypto/cipher.ts";
import { Backup, type File } from "../../src/gen/brpb_pb.ts";
import { ImportSST } from "../../src/gen/import_sstpb_pb.ts";
import { PD } from "../../src/gen/pdpb_pb.ts";
import { Tikv } from "../../src/gen/tikvpb_pb.ts";
import type { Checksum } from "../../src/playground/cluster.ts";
import type { SampleSpec } from "../../src/playground/sample.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import type { PlaygroundOptions } from "../../src/playground/server/mod.ts";
import { createConnection, type RpcConnection } from "../../src/rpc/transport.ts";
import {
  checksumBackupFiles,
  decodeBackupFile,
  type KvChecksum,
  openBackupSst,
} from "../../src/sst/backup.ts";
import { SstReader } from "../../src/sst/reader.ts";
import { decryptingSource, storageSource } from "../../src/sst/source.ts";
import { openStorage } from "../../src/storage/registry.ts";
import type { ExternalStorage } from "../../src/storage/types.ts";

/** A small sample: every table kind, long values (default CF), raw KV, ~100 regions. */
export const SMALL_SPEC: SampleSpec = {
  seed: 3,
  databases: [
    {
      name: "shop",
      tables: [
        { name: "users", kind: "int", rows: 1500, payload: 80 },
        { name: "orders", kind: "clustered", rows: 1200 },
        { name: "events", kind: "partitioned", rows: 1200, partitions: 3 },
        { name: "blobs", kind: "rowid", rows: 300, payload: 600 },
        { name: "items", kind: "nonpublic-index", rows: 600 },
      ],
    },
    { name: "hr", tables: [{ name: "staff", kind: "int", rows: 400 }] },
    { name: "empty_db" },
  ],
  rawKv: { keys: 800, valueBytes: 40, prefix: "raw_", cf: "default" },
  regions: { maxBytes: 24 * 1024, maxKeys: 0, splitTables: true },
};

/** Starts a playground over the small sample on OS-picked ports. */
export function startSmall(opts: PlaygroundOptions = {}): Promise<Playground> {
  return startPlayground({ data: SMALL_SPEC, electionMs: 300, ...opts });
}

/** A fresh temporary directory; `cleanup` removes it. */
export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `tibr-pg-${prefix}-`));
  return {
    path,
    // Retries: a store may still be removing an aborted file when the test ends.
    cleanup: () => rmSync(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }),
  };
}

/** Connect clients of a playground's PD and stores. */
export class Clients {
  #conns: RpcConnection[] = [];
  readonly pd: Client<typeof PD>;

  constructor(readonly pg: Playground) {
    this.pd = createClient(PD, this.#conn(pg.pdAddress).transport);
  }

  #conn(address: string): RpcConnection {
    const c = createConnection(address);
    this.#conns.push(c);
    return c;
  }

  /** The PD request header with the cluster id. */
  get header(): { clusterId: bigint } {
    return { clusterId: this.pg.cluster.clusterId };
  }

  /** The Tikv client of a store. */
  tikv(storeId: bigint): Client<typeof Tikv> {
    return createClient(Tikv, this.#conn(this.#address(storeId)).transport);
  }

  /** The ImportSST client of a store. */
  importSst(storeId: bigint): Client<typeof ImportSST> {
    return createClient(ImportSST, this.#conn(this.#address(storeId)).transport);
  }

  /** The Backup client of a store. */
  backup(storeId: bigint): Client<typeof Backup> {
    return createClient(Backup, this.#conn(this.#address(storeId)).transport);
  }

  #address(storeId: bigint): string {
    const a = this.pg.storeAddresses().get(storeId);
    if (!a) throw new Error(`no store ${storeId}`);
    return a;
  }

  close(): void {
    for (const c of this.#conns) c.close();
  }
}

/** The Context addressing the region holding raw `key` at its leader. */
export function contextFor(pg: Playground, key: Uint8Array) {
  const r = pg.cluster.regions.getRegionByRawKey(key)!;
  return {
    region: r,
    context: {
      regionId: r.id,
      regionEpoch: { confVer: r.epoch.confVer, version: r.epoch.version },
      peer: { id: r.leader.id, storeId: r.leader.storeId },
    },
  };
}

/** Opens a local directory as storage (no retries, so tests see every failure). */
export function openLocal(dir: string): Promise<ExternalStorage> {
  return openStorage(`local://${dir}`, { layers: false });
}

/** Groups data files into the pairs TiKV wrote per region: `{default?, write}` by name stem. */
export function pairFiles(files: File[]): { write?: File; default?: File }[] {
  const byStem = new Map<string, { write?: File; default?: File }>();
  for (const f of files) {
    const stem = f.name.replace(/_(default|write)\.sst$/, "");
    const p = byStem.get(stem) ?? {};
    if (f.cf === "default") p.default = f;
    else p.write = f;
    byStem.set(stem, p);
  }
  return [...byStem.values()];
}

/** A checksum triple from an accumulator or a File/Schema. */
export function triple(c: { crc64xor: bigint; totalKvs: bigint; totalBytes: bigint }): Checksum {
  return { crc64xor: c.crc64xor, totalKvs: c.totalKvs, totalBytes: c.totalBytes };
}

/**
 * Recomputes the checksums of data files from their SSTs and checks each File's own numbers
 * (crc64xor / total_kvs / total_bytes credited per CF, as TiKV does). Returns the total.
 */
export async function checksumFiles(
  storage: ExternalStorage,
  files: File[],
  cipher?: CipherInfo,
): Promise<KvChecksum> {
  const acc = { crc64xor: 0n, totalKvs: 0n, totalBytes: 0n };
  for (const pair of pairFiles(files)) {
    assert.ok(pair.write, `a default-CF file without its write-CF file: ${pair.default?.name}`);
    const open = (f: File) =>
      openBackupSst(
        storage,
        { name: f.name, size: Number(f.size), cipherIv: f.cipherIv },
        cipher,
      );
    const write = await open(pair.write);
    const dflt = pair.default ? await open(pair.default) : undefined;
    const sums = await checksumBackupFiles({ write, ...(dflt ? { default: dflt } : {}) });
    assert.deepEqual(triple(sums.write), triple(pair.write), `File numbers of ${pair.write.name}`);
    if (pair.default) {
      assert.deepEqual(
        triple(sums.default),
        triple(pair.default),
        `File numbers of ${pair.default.name}`,
      );
    } else {
      assert.equal(sums.default.totalKvs, 0n);
    }
    acc.crc64xor ^= sums.total.crc64xor;
    acc.totalKvs += sums.total.totalKvs;
    acc.totalBytes += sums.total.totalBytes;
  }
  return acc;
}

/** What a txn backup holds per table, recomputed from its files. */
export interface VerifiedTable {
  name: string;
  fromFiles: KvChecksum;
  truth: Checksum;
  files: number;
}

/**
 * Verifies a table backup at `dir` against the playground's ground truth at its backup ts:
 * every table's files recompute to the table's checksum, which also matches its schema entry.
 */
export async function verifyTableBackup(
  dir: string,
  pg: Playground,
  cipher?: CipherInfo,
): Promise<{ ts: bigint; tables: VerifiedTable[]; databases: string[] }> {
  const storage = await openLocal(dir);
  try {
    const reader = await MetaReader.open(storage, cipher ? { cipher } : {});
    const ts = reader.meta.endVersion;
    const tables: VerifiedTable[] = [];
    const databases = new Set<string>();
    for await (const t of reader.tables()) {
      databases.add(t.db.db_name.O);
      if (!t.table) continue;
      const name = `${t.db.db_name.O}.${t.table.name.O}`;
      const fromFiles = await checksumFiles(storage, t.files, cipher);
      const truth = pg.cluster.tableChecksum(t.table, ts);
      assert.deepEqual(triple(fromFiles), truth, `table ${name}: files vs ground truth`);
      assert.deepEqual(triple(t), truth, `table ${name}: schema entry vs ground truth`);
      tables.push({ name, fromFiles, truth, files: t.files.length });
    }
    return { ts, tables, databases: [...databases] };
  } finally {
    await storage.close();
  }
}

/** Every data file listed by a backup's metadata. */
export async function dataFilesOf(dir: string, cipher?: CipherInfo): Promise<File[]> {
  const storage = await openLocal(dir);
  try {
    const reader = await MetaReader.open(storage, cipher ? { cipher } : {});
    const out: File[] = [];
    for await (const f of reader.dataFiles()) out.push(f);
    return out;
  } finally {
    await storage.close();
  }
}

/** The backup ts recorded in a backup's metadata. */
export async function backupTsOf(dir: string, cipher?: CipherInfo): Promise<bigint> {
  const storage = await openLocal(dir);
  try {
    return (await MetaReader.open(storage, cipher ? { cipher } : {})).meta.endVersion;
  } finally {
    await storage.close();
  }
}

/** Checksum of raw-KV backup files (`z + key` → value), each File's numbers checked. */
export async function checksumRawFiles(storage: ExternalStorage, files: File[]): Promise<Checksum> {
  const total = new ChecksumAccumulator();
  for (const f of files) {
    const acc = new ChecksumAccumulator();
    const r = await SstReader.open(
      decryptingSource(await storageSource(storage, f.name, Number(f.size)), undefined, f.cipherIv),
    );
    for await (const e of r.entries()) {
      assert.equal(e.key[0], 0x7a, `raw key ${hex(e.key)} lacks the z prefix`);
      acc.add(e.key.subarray(1), e.value);
      total.add(e.key.subarray(1), e.value);
    }
    assert.deepEqual(triple(acc), triple(f), `File numbers of ${f.name}`);
  }
  return triple(total);
}

/** Every record of a file pair, decoded (for incremental checks). */
export async function recordsOf(
  storage: ExternalStorage,
  pair: { write?: File; default?: File },
): Promise<{ key: Uint8Array; type: string; value: Uint8Array; commitTs: bigint }[]> {
  const open = (f: File) =>
    openBackupSst(storage, { name: f.name, size: Number(f.size), cipherIv: f.cipherIv });
  const write = await open(pair.write!);
  const dflt = pair.default ? await open(pair.default) : undefined;
  const out = [];
  for await (const kv of decodeBackupFile({ write, ...(dflt ? { default: dflt } : {}) })) {
    out.push({ key: kv.rawKey, type: kv.type, value: kv.value, commitTs: kv.commitTs });
  }
  return out;
}
