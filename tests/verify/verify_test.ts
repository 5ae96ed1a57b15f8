// `tibr verify` and `tibr debug` against backups of one playground: clean backups (every
// compression, encrypted, raw, txn) pass every level; each kind of damage is found and named at
// the lowest level that can see it, and not below.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  readdirSync,
  readFileSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BackupConfig, runBackup } from "../../src/backup/task.ts";
import { EncryptionMethod } from "../../src/crypto/cipher.ts";
import type { File } from "../../src/gen/brpb_pb.ts";
import { MetaReader } from "../../src/backup/metareader.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { decodeInt } from "../../src/codec/bytes.ts";
import type { TableInfo } from "../../src/tidb/model.ts";
import { decodeRow, encodeRow } from "../../src/tidb/rowcodec.ts";

/** The row value with column 2 (name) replaced, every other column's bytes kept. */
function withName(value: Uint8Array, name: string): Uint8Array {
  const cols = [...decodeRow(value)].map(([id, v]) => ({
    id,
    datum: id === 2
      ? { kind: "bytes" as const, value: new TextEncoder().encode(name) }
      : v === null
      ? { kind: "null" as const }
      : { kind: "bytes" as const, value: v },
  }));
  return encodeRow(cols);
}
import { verifyBackup, type VerifyLevel, type VerifyReport } from "../../src/verify/verify.ts";
import { startSmall, tempDir } from "../playground/_helpers.ts";
import { filesUnder, runTibr } from "../backup/_cli.ts";
import { copyBackup, forgeFile, rewriteMeta } from "./_forge.ts";
import { decodeMetaFile, encodeMetaFile } from "../../src/debug/debug.ts";

const KEY = new Uint8Array(32).fill(7);
const CIPHER = { method: EncryptionMethod.AES256_CTR, key: KEY };

/** Verifies in-thread: under `deno test` every worker start type-checks its module (seconds). */
async function verify(
  dir: string,
  level: VerifyLevel,
  cipher = false,
  workers = 0,
): Promise<VerifyReport> {
  const storage = await openStorage(`local://${dir}`);
  try {
    return await verifyBackup(storage, {
      level,
      workers,
      ...(cipher ? { cipher: CIPHER } : {}),
    });
  } finally {
    await storage.close();
  }
}

function codes(r: VerifyReport): string[] {
  return [...new Set(r.problems.map((p) => p.code))];
}

/** The problem is seen at `level` (with `code`) and not at the level below it. */
async function foundAt(dir: string, level: VerifyLevel, code: string): Promise<VerifyReport> {
  const order: VerifyLevel[] = ["meta", "files", "data", "semantic"];
  const below = order[order.indexOf(level) - 1];
  if (below) {
    const r = await verify(dir, below);
    assert.ok(r.ok, `level ${below} must not see it: ${JSON.stringify(r.problems)}`);
  }
  const r = await verify(dir, level);
  assert.ok(!r.ok);
  assert.ok(codes(r).includes(code), `expected ${code}, got ${JSON.stringify(r.problems)}`);
  return r;
}

async function dataFiles(dir: string): Promise<File[]> {
  const storage = await openStorage(`local://${dir}`);
  try {
    const r = await MetaReader.open(storage);
    const out: File[] = [];
    for await (const f of r.dataFiles()) out.push(f);
    return out;
  } finally {
    await storage.close();
  }
}

/** Table id of `shop.users` in the backup. */
async function tableId(dir: string, name: string): Promise<{ id: bigint; info: TableInfo }> {
  const storage = await openStorage(`local://${dir}`);
  try {
    const r = await MetaReader.open(storage);
    for await (const s of r.schemas()) {
      if (s.table?.name.O === name) return { id: BigInt(s.table.id), info: s.table };
    }
    throw new Error(`no table ${name}`);
  } finally {
    await storage.close();
  }
}

function isIndexOf(key: Uint8Array, table: bigint, index: number): boolean {
  return key[10] === 0x69 && decodeInt(key, 1) === table && decodeInt(key, 11) === BigInt(index);
}

function isRowOf(key: Uint8Array, table: bigint): boolean {
  return key[10] === 0x72 && decodeInt(key, 1) === table;
}

describe("tibr verify", () => {
  let pg: Playground;
  const tmp = tempDir("verify");
  let n = 0;
  let clean = "";
  before(async () => {
    pg = await startSmall();
  });
  after(async () => {
    await pg.stop();
    tmp.cleanup();
  });

  async function backup(extra: Partial<BackupConfig> = {}): Promise<string> {
    const dir = join(tmp.path, `b${++n}`);
    await runBackup({
      mode: "full",
      pd: [pg.pdAddress],
      storage: `local://${dir}`,
      sendCredentials: true,
      concurrency: 4,
      checksum: false,
      compression: "zstd",
      progress: "quiet",
      ...extra,
    });
    return dir;
  }

  test("a clean full backup passes every level, semantic included", async () => {
    clean = await backup();
    for (const level of ["meta", "files", "data", "semantic"] as const) {
      const r = await verify(clean, level);
      assert.deepEqual(r.problems, [], `level ${level}`);
      assert.ok(r.ok);
      assert.equal(r.tables.length, 6);
      assert.ok(r.tables.every((t) => t.result === "ok"));
      if (level === "data" || level === "semantic") {
        assert.ok(r.tables.every((t) => BigInt(t.kvs) > 0n));
        assert.ok(
          r.tables.every((t) => t.kvs === t.schema.totalKvs && t.crc64xor === t.schema.crc64xor),
        );
      }
    }
  });

  test("decode workers find what the main thread finds", async () => {
    const inThread = await verify(clean, "data");
    const workers = await verify(clean, "data", false, 2);
    assert.deepEqual(workers, inThread);
    const dir = join(tmp.path, "flip-workers");
    copyBackup(clean, dir);
    const f = (await dataFiles(dir)).find((x) => x.cf === "write")!;
    const storage = await openStorage(`local://${dir}`);
    // Damage the file and record the damaged bytes' sha256: only decoding can see it.
    const b = readFileSync(join(dir, f.name));
    b[Math.floor(b.length / 2)]! ^= 0x01;
    writeFileSync(join(dir, f.name), b);
    await storage.close();
    const files = await dataFiles(dir);
    const g = files.find((x) => x.name === f.name)!;
    g.sha256 = new Uint8Array(createHash("sha256").update(b).digest());
    await rewriteMeta(dir, files);
    const r = await verify(dir, "data", false, 2);
    assert.deepEqual(codes(r), ["SstCorrupt"]);
    assert.equal(r.problems[0]!.file, f.name);
    assert.match(r.problems[0]!.message, /checksum mismatch/);
  });

  test("encrypted backups and every compression pass every level", async () => {
    const enc = await backup({ compression: "lz4", cipher: CIPHER });
    const r = await verify(enc, "semantic", true);
    assert.deepEqual(r.problems, []);
    const wrong = await verify(enc, "meta");
    assert.deepEqual(codes(wrong), ["MetaUndecodable"]);
    // debug decode/encode of encrypted metadata: decrypted to JSON, re-encrypted to the same bytes.
    const storage = await openStorage(`local://${enc}`);
    try {
      for (const file of ["backupmeta", readdirSync(enc).find((x) => x.includes(".datafile."))!]) {
        const d = await decodeMetaFile(storage, file, CIPHER);
        assert.ok(d.cipherIv, file);
        assert.deepEqual(encodeMetaFile(d, CIPHER), new Uint8Array(readFileSync(join(enc, file))));
      }
    } finally {
      await storage.close();
    }
    const snappy = await backup({ compression: "snappy" });
    assert.deepEqual((await verify(snappy, "semantic")).problems, []);
  });

  test("raw and txn backups pass every level", async () => {
    const raw = await backup({
      mode: "raw",
      raw: { start: "raw_", end: "raw`", format: "raw", cf: "default" },
    });
    const r = await verify(raw, "data");
    assert.deepEqual(r.problems, []);
    assert.equal(r.kind, "raw");
    assert.ok(BigInt(r.kvs) > 0n);
    const txn = await backup({ mode: "txn" });
    const t = await verify(txn, "semantic");
    assert.deepEqual(t.problems, []);
    assert.equal(t.kind, "txn");
  });

  test("a truncated SST and a missing data file are seen by meta", async () => {
    const dir = join(tmp.path, "trunc");
    copyBackup(clean, dir);
    const files = await dataFiles(dir);
    truncateSync(join(dir, files[0]!.name), Number(files[0]!.size) - 10);
    unlinkSync(join(dir, files[1]!.name));
    const r = await verify(dir, "meta");
    assert.deepEqual(codes(r).sort(), ["MissingFile", "SizeMismatch"]);
    assert.ok(r.problems.some((p) => p.file === files[1]!.name));
    assert.ok(r.tables.some((t) => t.result === "failed"));
  });

  test("a flipped bit in an SST is seen by files (sha256), not by meta", async () => {
    const dir = join(tmp.path, "flip");
    copyBackup(clean, dir);
    const f = (await dataFiles(dir))[2]!;
    const path = join(dir, f.name);
    const b = readFileSync(path);
    b[Math.floor(b.length / 3)]! ^= 0x10;
    writeFileSync(path, b);
    const r = await foundAt(dir, "files", "Sha256Mismatch");
    assert.equal(r.problems[0]!.file, f.name);
  });

  test("a metafile whose sha256 no longer matches is seen by meta", async () => {
    const dir = join(tmp.path, "metafile");
    copyBackup(clean, dir);
    const name = readdirSync(dir).find((x) => x.startsWith("backupmeta.datafile."))!;
    appendFileSync(join(dir, name), Uint8Array.of(0));
    const r = await verify(dir, "meta");
    assert.ok(codes(r)[0]!.startsWith("Metafile"), JSON.stringify(r.problems));
    assert.match(r.problems[0]!.message, /sha256/);
  });

  test("a range gap (a data file dropped from the metadata) is seen by meta", async () => {
    const dir = join(tmp.path, "gap");
    copyBackup(clean, dir);
    const { id } = await tableId(dir, "users");
    const files = await dataFiles(dir);
    const mine = files.filter((f) => f.cf === "write" && decodeInt(f.startKey, 1) === id);
    assert.ok(mine.length >= 3);
    const drop = mine[1]!;
    const stem = drop.name.replace(/_write\.sst$/, "");
    await rewriteMeta(dir, files.filter((f) => !f.name.startsWith(stem)));
    const r = await verify(dir, "meta");
    assert.deepEqual(codes(r), ["RangeGap"]);
    assert.equal(r.problems[0]!.table, "shop.users");
  });

  test("an SST rewritten without one index entry is seen only by semantic", async () => {
    const dir = join(tmp.path, "noindex");
    copyBackup(clean, dir);
    const { id } = await tableId(dir, "users");
    await forgeFile(
      dir,
      (f) => isIndexOf(f.startKey, id, 2),
      (kvs) => kvs.filter((_, i) => i !== 5),
    );
    const r = await foundAt(dir, "semantic", "RowWithoutIndexEntry");
    const p = r.problems[0]!;
    assert.equal(p.table, "shop.users");
    assert.equal(p.index, "idx_age");
    assert.ok(p.key && p.key.length > 0);
  });

  test("a row without its index entry, and an entry without its row, are seen by semantic", async () => {
    const dir = join(tmp.path, "renamed");
    copyBackup(clean, dir);
    const { id } = await tableId(dir, "staff");
    // Row 0 gets a new name: no uk_name entry has it, and the old entry points at no row with it.
    await forgeFile(
      dir,
      (f) => isRowOf(f.startKey, id),
      (kvs) =>
        kvs.map((
          kv,
          i,
        ) => (i === 0 ? { ...kv, value: withName(kv.value, "nobody-has-this") } : kv)),
    );
    const r = await foundAt(dir, "semantic", "RowWithoutIndexEntry");
    assert.ok(codes(r).includes("IndexEntryWithoutRow"), JSON.stringify(r.problems));
    assert.ok(r.problems.every((p) => p.table === "hr.staff" && p.index === "uk_name"));
  });

  test("a duplicated unique key is seen by semantic", async () => {
    const dir = join(tmp.path, "dup");
    copyBackup(clean, dir);
    const { id } = await tableId(dir, "staff");
    // Row 1 takes row 0's name: two rows, one unique key.
    await forgeFile(dir, (f) => isRowOf(f.startKey, id), (kvs) => {
      const name = decodeRow(kvs[0]!.value).get(2)!;
      return kvs.map((kv, i) =>
        i === 1 ? { ...kv, value: withName(kv.value, new TextDecoder().decode(name)) } : kv
      );
    });
    const r = await foundAt(dir, "semantic", "DuplicateUniqueKey");
    const p = r.problems.find((x) => x.code === "DuplicateUniqueKey")!;
    assert.equal(p.index, "uk_name");
    assert.equal(p.table, "hr.staff");
  });

  test("a row that does not decode against its schema is seen by semantic", async () => {
    const dir = join(tmp.path, "badrow");
    copyBackup(clean, dir);
    const { id } = await tableId(dir, "staff");
    await forgeFile(dir, (f) => isRowOf(f.startKey, id), (kvs) => {
      // Column 4 (score, DECIMAL(10,2)) gets three bytes: not a decimal of that type.
      const bad = encodeRow([
        {
          id: 2,
          datum: { kind: "string", value: new TextEncoder().encode("x"), collation: "utf8mb4_bin" },
        },
        { id: 4, datum: { kind: "bytes", value: Uint8Array.of(1, 2, 3) } },
      ]);
      return kvs.map((kv, i) => (i === 3 ? { ...kv, value: bad } : kv));
    });
    const r = await foundAt(dir, "semantic", "RowUndecodable");
    assert.match(r.problems[0]!.message, /score/);
  });

  test("the CLI exits 0 when clean, 1 with the problems listed, 2 for usage", async () => {
    const log = join(tmp.path, "verify.log");
    const ok = await runTibr([
      "--log-file",
      log,
      "verify",
      "-s",
      `local://${clean}`,
      "--progress",
      "quiet",
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    // Decode workers start from the sources and from the binary (its embedded entry point).
    assert.match(readFileSync(log, "utf8"), /decoding ["']?in \d+ worker threads/);
    assert.match(ok.stdout, /shop\.users .* ok/);
    assert.match(ok.stdout, /OK: no problem found at level data/);
    const dir = join(tmp.path, "trunc");
    const bad = await runTibr([
      "verify",
      "-s",
      `local://${dir}`,
      "--output",
      "json",
      "--level",
      "meta",
    ]);
    assert.equal(bad.code, 1);
    const report = JSON.parse(bad.stdout);
    assert.equal(report.ok, false);
    assert.ok(report.problems.some((p: { code: string }) => p.code === "MissingFile"));
    assert.match(bad.stderr, /MissingFile|SizeMismatch/);
    const usage = await runTibr(["verify", "-s", `local://${clean}`, "--level", "deep"]);
    assert.equal(usage.code, 2);
    assert.ok(filesUnder(clean).includes("backupmeta"));
  });

  test("debug decode and encode round-trip backupmeta and metafiles to the same bytes", async () => {
    const out = join(tmp.path, "meta.json");
    for (
      const file of [
        "backupmeta",
        readdirSync(clean).find((x) => x.startsWith("backupmeta.schema."))!,
      ]
    ) {
      const d = await runTibr([
        "debug",
        "decode",
        "-s",
        `local://${clean}`,
        "--file",
        file,
        "--out",
        out,
      ]);
      assert.equal(d.code, 0, d.stderr);
      const bin = join(tmp.path, "meta.bin");
      const e = await runTibr(["debug", "encode", "--input", out, "--out", bin]);
      assert.equal(e.code, 0, e.stderr);
      assert.deepEqual(readFileSync(bin), readFileSync(join(clean, file)), file);
    }
  });

  test("debug checksum prints each table's recomputed triple, debug sst a file's keys", async () => {
    const c = await runTibr(["debug", "checksum", "-s", `local://${clean}`]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /shop\.users: crc64xor \d+, total_kvs \d+, total_bytes \d+/);
    const f = (await dataFiles(clean)).find((x) => x.cf === "write")!;
    const s = await runTibr([
      "debug",
      "sst",
      "-s",
      `local://${clean}`,
      "--file",
      f.name,
      "--limit",
      "3",
    ]);
    assert.equal(s.code, 0, s.stderr);
    const lines = s.stdout.trim().split("\n");
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^t\d+_(r|i).* ts=\d+ put start_ts=\d+/);
  });
});
