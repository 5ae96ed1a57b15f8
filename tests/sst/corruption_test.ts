/**
 * Damaged SST files: random byte flips anywhere, exhaustive flips in the tail (index,
 * properties, metaindex, footer) and truncations at every length near the end are all reported
 * as `SstError`, for files tibr writes (each compression) and files RocksDB writes (XXH3
 * checksums, format_version 5, LZ4, ZSTD with a bloom filter). The only flips that read
 * without error are those of the footer's format_version field that change nothing about how
 * the file decodes, and for those the test proves the decoded data is identical.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hex } from "../../src/codec/bytes.ts";
import { SstError } from "../../src/sst/errors.ts";
import { SstReader } from "../../src/sst/reader.ts";
import { bytesSource } from "../../src/sst/source.ts";
import { SstWriter } from "../../src/sst/writer.ts";
import { randomKvs } from "./_data.ts";
import { mulberry32 } from "../../src/random.ts";
import { ensureRocksdbTools, ldbHex, run } from "./_rocksdb.ts";

let dir = "";
before(() => {
  ensureRocksdbTools();
  dir = mkdtempSync(join(tmpdir(), "tibr-sst-corrupt-"));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Everything a reader can observe: properties and every entry, as one string. */
async function readOut(bytes: Uint8Array): Promise<string> {
  const r = await SstReader.open(bytesSource(bytes, "f.sst"));
  const parts: string[] = [];
  for (const [k, v] of r.properties.raw) parts.push(`${k}=${hex(v)}`);
  await r.verify();
  await r.scan((k, v, s, t) => void parts.push(`${hex(k)}:${s}:${t}:${hex(v)}`));
  return parts.join("\n");
}

/**
 * Reads `bad`; passes when an SstError is raised, or when nothing changed for a reader and
 * the byte lies in the footer's format_version field. Returns whether it read without error.
 */
async function expectDetected(bad: Uint8Array, original: string, at: number, what: string) {
  let out: string;
  try {
    out = await readOut(bad);
  } catch (err) {
    assert.ok(err instanceof SstError, `${what}: expected SstError, got ${err}`);
    assert.match(err.message, /^f\.sst/, what);
    return false;
  }
  const versionField = at >= bad.length - 12 && at < bad.length - 8;
  assert.ok(versionField, `${what}: damage at ${at} of ${bad.length} went unnoticed`);
  assert.equal(out, original, `${what}: undetected damage changed the data`);
  return true;
}

async function tortureFile(name: string, bytes: Uint8Array, seed: number) {
  const original = await readOut(bytes);
  const r = mulberry32(seed);
  let harmless = 0;
  const flip = async (at: number, mask: number) => {
    const bad = bytes.slice();
    bad[at]! ^= mask;
    if (await expectDetected(bad, original, at, `${name}: flip 0x${mask.toString(16)} at ${at}`)) {
      harmless++;
    }
  };
  // Random single-byte damage anywhere in the file.
  for (let i = 0; i < 250; i++) {
    await flip(Math.floor(r() * bytes.length), 1 + Math.floor(r() * 255));
  }
  // Every byte of the last 400 (index, properties, metaindex, footer) with two masks.
  for (let at = Math.max(0, bytes.length - 400); at < bytes.length; at++) {
    await flip(at, 0x01);
    await flip(at, 0x80 | Math.floor(r() * 0x80));
  }
  // Truncation at every length in the tail, and at random lengths before it.
  const lengths = new Set<number>();
  for (let n = Math.max(0, bytes.length - 600); n < bytes.length; n++) lengths.add(n);
  for (let i = 0; i < 100; i++) lengths.add(Math.floor(r() * bytes.length));
  for (const n of lengths) {
    await expectDetected(bytes.subarray(0, n), original, -1, `${name}: truncated to ${n}`);
  }
  // Only the version field may absorb a flip, and at most a couple of values there do.
  assert.ok(harmless <= 8, `${name}: ${harmless} harmless flips`);
}

describe("damaged SST files are always reported", () => {
  for (const compression of ["none", "snappy", "lz4", "zstd"] as const) {
    test(`tibr file, ${compression}`, async () => {
      const w = SstWriter.toMemory({ compression, blockSize: 1024 });
      for (const [k, v] of randomKvs(7, 250, 120)) await w.add(k, v);
      await tortureFile(compression, (await w.finish()).bytes, 11);
    });
  }

  test("RocksDB files: SstFileWriter with LZ4, and a compacted DB with ZSTD and a bloom filter", async () => {
    const kvs = randomKvs(8, 250, 120);
    const lines = kvs.map(([k, v]) => `${ldbHex(k)} ==> ${ldbHex(v)}\n`).join("");
    const db = join(dir, "db");
    const ext = join(dir, "ext.sst");
    const common = [`--db=${db}`, "--hex", "--block_size=1024"];
    run("ldb", [
      ...common,
      "--create_if_missing",
      "--compression_type=zstd",
      "--bloom_bits=10",
      "load",
    ], lines);
    run("ldb", [...common, "--compression_type=zstd", "--bloom_bits=10", "compact"]);
    run("ldb", [...common, "--compression_type=lz4", "write_extern_sst", ext], lines);
    await tortureFile("rocksdb-lz4", new Uint8Array(readFileSync(ext)), 12);
    const sst = readdirSync(db).find((f) => f.endsWith(".sst"))!;
    const bytes = new Uint8Array(readFileSync(join(db, sst)));
    const r = await SstReader.open(bytesSource(bytes));
    assert.ok([...r.metaBlocks.keys()].some((k) => k.includes("filter")), r.describe());
    await tortureFile("rocksdb-zstd-bloom", bytes, 13);
  });
});
