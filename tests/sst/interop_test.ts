/**
 * Interop with real RocksDB (Debian's rocksdb-tools 7.8): files tibr writes are read by
 * `sst_dump` and ingested by `ldb` with exactly our KVs and properties; files RocksDB writes
 * (compacted DBs, WAL-recovered L0 files with deletes and sequence numbers, SstFileWriter files,
 * bloom filters, every compression Debian's build links) are read by tibr exactly as sst_dump
 * reads them.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SstReader } from "../../src/sst/reader.ts";
import { bytesSource, fileSource } from "../../src/sst/source.ts";
import { SstWriter } from "../../src/sst/writer.ts";
import { randomKvs } from "./_data.ts";
import {
  type DumpEntry,
  ensureRocksdbTools,
  ldbHex,
  run,
  sstDumpProperties,
  sstDumpScan,
  upperHex,
} from "./_rocksdb.ts";

let dir = "";
before(() => {
  ensureRocksdbTools();
  dir = mkdtempSync(join(tmpdir(), "tibr-sst-interop-"));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function tibrEntries(path: string): Promise<DumpEntry[]> {
  const r = await SstReader.open(await fileSource(path));
  const out: DumpEntry[] = [];
  try {
    await r.scan((k, v, seq, type) => {
      out.push({ key: upperHex(k), seq: Number(seq), type, value: upperHex(v) });
    });
  } finally {
    await r.close();
  }
  return out;
}

function asDump(kvs: [Uint8Array, Uint8Array][]): DumpEntry[] {
  return kvs.map(([k, v]) => ({ key: upperHex(k), seq: 0, type: 1, value: upperHex(v) }));
}

function loadLines(kvs: [Uint8Array, Uint8Array][]): string {
  return kvs.map(([k, v]) => `${ldbHex(k)} ==> ${ldbHex(v)}\n`).join("");
}

describe("tibr-written SSTs read by RocksDB", () => {
  for (const compression of ["none", "snappy", "lz4", "zstd"] as const) {
    test(`${compression}: sst_dump scans exactly our KVs and shows our properties; ldb ingests them`, async () => {
      const kvs = randomKvs(100 + compression.length, 3000);
      const w = SstWriter.toMemory({
        compression,
        blockSize: compression === "none" ? 1024 : 4096,
        columnFamily: { name: "default", id: 0 },
        fileCreationTime: 1_700_000_000,
      });
      for (const [k, v] of kvs) await w.add(k, v);
      const res = await w.finish();
      const path = join(dir, `tibr-${compression}.sst`);
      writeFileSync(path, res.bytes);

      assert.match(run("sst_dump", [`--file=${path}`, "--command=verify"]), /The file is ok/);
      assert.deepEqual(sstDumpScan(path), asDump(kvs));

      const p = sstDumpProperties(path);
      const rawKey = kvs.reduce((s, [k]) => s + k.length + 8, 0);
      const rawValue = kvs.reduce((s, [, v]) => s + v.length, 0);
      assert.equal(p.get("# entries"), String(kvs.length));
      assert.equal(p.get("raw key size"), String(rawKey));
      assert.equal(p.get("raw value size"), String(rawValue));
      assert.equal(p.get("# data blocks"), String(res.properties.numDataBlocks));
      assert.equal(p.get("data block size"), String(res.properties.dataSize));
      assert.equal(
        p.get("index block size (user-key? 0, delta-value? 0)"),
        String(res.properties.indexSize),
      );
      assert.equal(
        p.get("SST file compression algo"),
        { none: "NoCompression", snappy: "Snappy", lz4: "LZ4", zstd: "ZSTD" }[compression],
      );
      assert.equal(p.get("column family ID"), "0");
      assert.equal(p.get("column family name"), "default");
      assert.equal(p.get("comparator name"), "leveldb.BytewiseComparator");
      assert.equal(p.get("file creation time"), "1700000000");
      assert.equal(p.get("# rocksdb.external_sst_file.version"), "0x02000000");
      assert.equal(p.get("# rocksdb.external_sst_file.global_seqno"), "0x0000000000000000");
      // The sizes add up to the file: data + index + properties + metaindex + footer.
      assert.ok(res.properties.dataSize + res.properties.indexSize < res.size);

      const db = join(dir, `ingest-${compression}`);
      run("ldb", [`--db=${db}`, "--create_if_missing", "put", "seed", "x"]);
      assert.match(run("ldb", [`--db=${db}`, "ingest_extern_sst", path]), /ingested/);
      const scanned = run("ldb", [`--db=${db}`, "--hex", "scan"]).trim().split("\n");
      const want = kvs.map(([k, v]) => `${ldbHex(k)} : ${ldbHex(v)}`);
      want.push(
        `${ldbHex(new TextEncoder().encode("seed"))} : ${ldbHex(new TextEncoder().encode("x"))}`,
      );
      assert.deepEqual(scanned.sort(), want.sort());
    });
  }
});

describe("RocksDB-written SSTs read by tibr", () => {
  // Debian's librocksdb links snappy, zlib, bzip2, lz4 and zstd; tibr reads all but bzip2.
  for (const compression of ["no", "snappy", "zlib", "lz4", "lz4hc", "zstd"]) {
    test(`${compression}: a compacted DB and an SstFileWriter file read back exactly`, async () => {
      const kvs = randomKvs(200 + compression.length, 2500);
      const db = join(dir, `db-${compression}`);
      const opts = [
        `--db=${db}`,
        "--hex",
        `--compression_type=${compression}`,
        "--block_size=2048",
      ];
      if (compression === "zstd") opts.push("--bloom_bits=10");
      run("ldb", [...opts, "--create_if_missing", "load"], loadLines(kvs));
      run("ldb", [...opts, "compact"]);
      const ssts = readdirSync(db).filter((f) => f.endsWith(".sst"));
      assert.ok(ssts.length >= 1, `no SST in ${db}`);
      const all: DumpEntry[] = [];
      for (const f of ssts) {
        const path = join(db, f);
        const ours = await tibrEntries(path);
        assert.deepEqual(ours, sstDumpScan(path), f);
        all.push(...ours);
        const r = await SstReader.open(bytesSource(readFileSync(path), f));
        assert.equal(r.properties.numEntries, ours.length);
        assert.equal(
          r.properties.compression,
          sstDumpProperties(path).get("SST file compression algo"),
        );
        if (compression === "zstd") {
          assert.ok([...r.metaBlocks.keys()].some((k) => k.includes("filter")));
        }
      }
      all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      assert.deepEqual(all, asDump(kvs));

      const ext = join(dir, `ext-${compression}.sst`);
      run("ldb", [...opts, "write_extern_sst", ext], loadLines(kvs));
      assert.deepEqual(await tibrEntries(ext), asDump(kvs));
    });
  }

  test("L0 files with sequence numbers, overwrites and deletions match sst_dump entry for entry", async () => {
    const db = join(dir, "db-l0");
    const opts = [`--db=${db}`, "--hex", "--auto_compaction=false"];
    const kvs = randomKvs(300, 400);
    run("ldb", [...opts, "--create_if_missing", "load"], loadLines(kvs));
    // Each ldb run recovers the previous run's WAL into a new L0 file on open.
    for (let i = 0; i < kvs.length; i += 7) run("ldb", [...opts, "delete", ldbHex(kvs[i]![0])]);
    run("ldb", [...opts, "batchput", ldbHex(kvs[1]![0]), "0xABCD", ldbHex(kvs[3]![0]), "0x"]);
    run("ldb", [...opts, "get", ldbHex(kvs[1]![0])]);
    const ssts = readdirSync(db).filter((f) => f.endsWith(".sst"));
    assert.ok(ssts.length >= 2, `expected several L0 files, got ${ssts.join(",")}`);
    let deletions = 0;
    let sequenced = 0;
    for (const f of ssts) {
      const ours = await tibrEntries(join(db, f));
      assert.deepEqual(ours, sstDumpScan(join(db, f)), f);
      deletions += ours.filter((e) => e.type === 0).length;
      sequenced += ours.filter((e) => e.seq > 0).length;
    }
    assert.equal(deletions, Math.ceil(kvs.length / 7));
    assert.ok(sequenced > 0);
  });
});
