import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, isMessage, toBinary } from "@bufbuild/protobuf";
import { type File, FileSchema, MetaFileSchema } from "../gen/brpb_pb.ts";
import {
  type BackupFile,
  ByteWriter,
  encodeFile,
  FileArena,
  type FileSums,
  isPackedFile,
  packable,
  toFileMessage,
} from "./_packed_files.ts";
import { RangeTree } from "./rangetree.ts";
import { MetaWriter } from "./metawriter.ts";
import { dataFile, MapStorage } from "./_meta_test_util.ts";

function rnd(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s;
  };
}

/** Files that reach every branch of the encoder: big and zero uint64s, UTF-8, table metas. */
function variedFiles(n: number): File[] {
  const r = rnd(42);
  const u64 = (i: number): bigint => {
    switch (i % 5) {
      case 0:
        return 0n;
      case 1:
        return BigInt(r() % 128);
      case 2:
        return (1n << 64n) - 1n - BigInt(r() % 1000);
      case 3:
        return (1n << 53n) + BigInt(r());
      default:
        return BigInt(r()) * 4096n + BigInt(r() % 4096);
    }
  };
  const bytes = (len: number) => Uint8Array.from({ length: len }, () => r() & 255);
  return Array.from({ length: n }, (_, i) =>
    create(FileSchema, {
      name: i % 7 === 3 ? `région_${i}_✓.sst` : i % 11 === 7
        ? `${"long/".repeat(40)}${i}é.sst` // a UTF-8 length of 128 bytes or more
        : `1_${i}_${"ab".repeat(32)}_${i % 2 ? "default" : "write"}.sst`,
      sha256: bytes(i % 4 === 0 ? 0 : 32),
      startKey: bytes(i % 9),
      endKey: bytes(200 + (i % 3)),
      startVersion: u64(i),
      endVersion: u64(i + 1),
      crc64xor: u64(i + 2),
      totalKvs: u64(i + 3),
      totalBytes: u64(i + 4),
      cf: i % 2 ? "default" : "",
      size: u64(i + 5),
      cipherIv: bytes(i % 3 === 0 ? 16 : 0),
      tableMetas: i % 6 === 5
        ? [
          { physicalId: -5n, crc64xor: u64(i), totalKvs: 3n, totalBytes: 7n },
          { physicalId: BigInt(i), crc64xor: 1n, totalKvs: 0n, totalBytes: u64(i + 7) },
        ]
        : [],
    }));
}

const FIELDS = [
  "name",
  "sha256",
  "startKey",
  "endKey",
  "startVersion",
  "endVersion",
  "crc64xor",
  "totalKvs",
  "totalBytes",
  "cf",
  "size",
  "cipherIv",
] as const;

function assertSameFile(got: BackupFile, want: BackupFile): void {
  // Buffers (from node:crypto) and Uint8Arrays of the same bytes are the same field.
  const plain = (v: unknown) => (v instanceof Uint8Array ? Uint8Array.from(v) : v);
  for (const f of FIELDS) assert.deepEqual(plain(got[f]), plain(want[f]), f);
  assert.deepEqual(
    got.tableMetas.map((m) => [m.physicalId, m.crc64xor, m.totalKvs, m.totalBytes]),
    want.tableMetas.map((m) => [m.physicalId, m.crc64xor, m.totalKvs, m.totalBytes]),
  );
}

/** Region i's write and default SST, as a store reports them for a backup at ts 5. */
function regionFiles(i: number): File[] {
  return [
    dataFile(`1_${i}_write.sst`, 5n, BigInt(i), BigInt(i + 1), { crc: 3n, kvs: 1n, bytes: 9n }),
    dataFile(`1_${i}_default.sst`, 5n, BigInt(i), BigInt(i + 1), {
      crc: BigInt(i),
      kvs: 2n,
      bytes: 99n,
      cf: "default",
    }),
  ];
}

describe("packed backup files", () => {
  test("encodeFile writes the same bytes as protobuf-es toBinary", () => {
    const w = new ByteWriter(8);
    for (const f of variedFiles(300)) {
      w.reset();
      encodeFile(w, f);
      assert.deepEqual(w.view(), toBinary(FileSchema, f), f.name);
    }
    // An init object without $typeName encodes as the message create() makes of it.
    w.reset();
    encodeFile(w, { name: "x.sst", totalKvs: 3n, tableMetas: [{ physicalId: 9n }] });
    assert.deepEqual(
      w.view(),
      toBinary(
        FileSchema,
        create(FileSchema, { name: "x.sst", totalKvs: 3n, tableMetas: [{ physicalId: 9n }] }),
      ),
    );
  });

  test("a message with unknown fields keeps them through encodeFile, and is not packed", () => {
    const plain = toBinary(FileSchema, create(FileSchema, { name: "a.sst", size: 5n }));
    // Field 900 (varint 1), as a newer kvproto could send.
    const withUnknown = fromBinary(FileSchema, Uint8Array.from([...plain, 0xa0, 0x38, 0x01]));
    assert.equal(withUnknown.$unknown?.length, 1);
    const w = new ByteWriter();
    encodeFile(w, withUnknown);
    assert.deepEqual(w.view(), toBinary(FileSchema, withUnknown));
    assert.equal(packable([withUnknown]), false);
    assert.equal(packable([{ name: "not a message" }]), false);
  });

  test("views decode every field of what was packed and pass for File messages", () => {
    const arena = new FileArena();
    const files = variedFiles(60);
    const positions: number[] = [];
    for (let i = 0; i < files.length; i += 3) {
      positions.push(arena.add(new Uint8Array([i]), new Uint8Array([i, 1]), files.slice(i, i + 3)));
    }
    positions.forEach((pos, j) => {
      assert.deepEqual(arena.endKey(pos), new Uint8Array([j * 3, 1]));
      const views = arena.files(pos);
      assert.equal(views.length, 3);
      views.forEach((v, k) => {
        const want = files[j * 3 + k]!;
        assert.ok(isPackedFile(v));
        // A view is not a message and does not pose as one: toMessage is its edge.
        assert.ok(!isMessage(v, FileSchema));
        assertSameFile(v, want);
        assert.deepEqual(v.encoded, toBinary(FileSchema, want));
        assert.deepEqual(toBinary(FileSchema, v.toMessage()), v.encoded);
        assert.deepEqual(toBinary(FileSchema, toFileMessage(v)), v.encoded);
        assert.equal(toFileMessage(want), want, "a message passes through");
        const sums = v.sums({} as FileSums);
        assert.equal(sums.size, want.size);
        assert.equal(sums.hasTableMetas, want.tableMetas.length > 0);
      });
    });
    // Byte fields are copies: changing one does not change the packed bytes.
    const v = arena.files(positions[1]!)[0]!;
    const sha = v.sha256;
    sha.fill(0);
    assert.deepEqual(v.sha256, files[3]!.sha256);
  });

  test("the range tree packs File messages and gives them back field for field", () => {
    const tree = new RangeTree();
    const key = (i: number) => new TextEncoder().encode(`k${String(i).padStart(6, "0")}`);
    const want = new Map<number, File[]>();
    for (let i = 0; i < 500; i++) {
      const files = regionFiles(i);
      tree.put(key(i), key(i + 1), files);
      want.set(i, files);
    }
    // A later response for [k5, k8) replaces three ranges and their files.
    const redo = [dataFile("1_redo_write.sst", 5n, 5n, 8n, { crc: 1n, kvs: 1n, bytes: 1n })];
    assert.equal(tree.put(key(5), key(8), redo), 3);
    assert.equal(tree.len, 498);
    const found = tree.find(key(6))!;
    assert.deepEqual(found.startKey, key(5));
    assert.deepEqual(found.endKey, key(8));
    assertSameFile(found.files[0]!, redo[0]!);
    let n = 0;
    for (const r of tree.ranges()) {
      const i = Number(new TextDecoder().decode(r.startKey).slice(1));
      const files = i === 5 ? redo : want.get(i)!;
      assert.equal(r.files.length, files.length);
      r.files.forEach((f, k) => assertSameFile(f, files[k]!));
      n++;
    }
    assert.equal(n, 498);
    assert.deepEqual(tree.getIncompleteRanges(key(0), key(501)), [
      { startKey: key(500), endKey: key(501) },
    ]);
    tree.checkDupFiles();
  });

  test("a streaming tree lets go of the slabs of what it handed over", () => {
    const tree = new RangeTree();
    const key = (i: number) => new TextEncoder().encode(`k${String(i).padStart(7, "0")}`);
    const n = 20_000; // about 6 MiB packed
    let handed = 0;
    let maxHeld = 0;
    let prev = -1;
    tree.stream(key(0), (r) => {
      const i = Number(new TextDecoder().decode(r.startKey).slice(1));
      assert.equal(i, prev + 1);
      prev = i;
      // The views outlive the release of their record.
      assertSameFile(r.files[1]!, regionFiles(i)[1]!);
      handed++;
    });
    // Two stores answering alternate regions, one running 500 regions behind the other.
    for (let i = 0; i < n + 500; i++) {
      if (i < n && i % 2 === 0) tree.put(key(i), key(i + 1), regionFiles(i));
      const j = i - 500;
      if (j >= 0 && j % 2 === 1) tree.put(key(j), key(j + 1), regionFiles(j));
      maxHeld = Math.max(maxHeld, tree.heldBytes);
    }
    assert.equal(handed, n);
    assert.equal(tree.len, n);
    assert.ok(maxHeld <= 2 * 1024 * 1024, `held up to ${maxHeld} bytes`);
    // Without streaming the same puts hold every file.
    const whole = new RangeTree();
    for (let i = 0; i < n; i++) whole.put(key(i), key(i + 1), regionFiles(i));
    assert.ok(whole.heldBytes > 4 * 1024 * 1024, `held ${whole.heldBytes} bytes`);
  });

  test("a tree that outlives its range holds no slab once it handed everything over", () => {
    // A backup with a checkpoint keeps one tree per range for the whole run; with 10k small
    // tables each kept a 1 MiB slab for one handed-over region.
    const key = (i: number) => new TextEncoder().encode(`t${String(i).padStart(7, "0")}`);
    const trees = Array.from({ length: 50 }, () => new RangeTree());
    trees.forEach((tree, t) => {
      tree.stream(key(t * 10), () => {});
      for (let i = t * 10; i < t * 10 + 3; i++) tree.put(key(i), key(i + 1), regionFiles(i));
      assert.equal(tree.len, 3);
    });
    assert.equal(trees.reduce((n, t) => n + t.heldBytes, 0), 0);
    // A tree used again after that (a region past a gap, held) starts a new slab.
    trees[0]!.put(key(5), key(6), regionFiles(5));
    assert.ok(trees[0]!.heldBytes > 0);
  });

  test("a range of one region takes a small slab; slabs double for ranges of many", () => {
    // A backup of many small tables builds a tree per range of one region: a 1 MiB slab each
    // was 1 MiB allocated and zeroed per range.
    const key = (i: number) => new TextEncoder().encode(`t${String(i).padStart(7, "0")}`);
    const small = new RangeTree();
    small.put(key(0), key(1), regionFiles(0));
    assert.ok(small.heldBytes <= 4096, `one region held ${small.heldBytes} bytes`);
    const big = new RangeTree();
    for (let i = 0; i < 20_000; i++) big.put(key(i), key(i + 1), regionFiles(i));
    // 4 KiB, 8 KiB, ... 1 MiB, then 1 MiB slabs: few slabs, little waste.
    assert.ok(big.heldBytes >= 2 * 1024 * 1024, `held ${big.heldBytes} bytes`);
  });

  test("metafiles from packed views equal those from the messages, and so do the sums", async () => {
    const build = async (fromTree: boolean) => {
      const store = new MapStorage();
      const w = new MetaWriter(store.storage, { metafileSizeLimit: 4000 });
      const tree = new RangeTree();
      for (let i = 0; i < 200; i++) {
        // Tables in key order, so the tree's order is the order of the appends.
        const table = BigInt(10 + Math.floor(i / 50));
        const files = [
          dataFile(`1_${i}_write.sst`, table, BigInt(i), BigInt(i + 1), {
            crc: BigInt(i) * 0x9e3779b97f4a7c15n % (1n << 64n),
            kvs: 3n,
            bytes: 300n,
          }),
          dataFile(`1_${i}_default.sst`, table, BigInt(i), BigInt(i + 1), {
            crc: BigInt(i * 7),
            kvs: 1n,
            bytes: 700n,
            cf: "default",
          }),
        ];
        if (fromTree) tree.put(files[0]!.startKey, files[0]!.endKey, files);
        else await w.appendDataFiles(files);
      }
      // All ranges in one call, as the backup task hands over a range's tree.
      if (fromTree) await w.appendDataFiles([...tree.ranges()].flatMap((r) => r.files));
      const sums = [10n, 11n, 12n, 13n].map((t) => w.tableChecksum(t));
      const archive = w.stats.archiveSize;
      await w.finish({
        clusterId: 1n,
        clusterVersion: "v8.5.0",
        brVersion: "tibr test",
        startVersion: 0n,
        endVersion: 2n,
      });
      return { store, sums, archive };
    };
    const a = await build(false);
    const b = await build(true);
    assert.deepEqual(b.sums, a.sums);
    assert.equal(b.archive, a.archive);
    const names = [...a.store.files.keys()].filter((n) => n.startsWith("backupmeta.datafile"));
    assert.ok(names.length > 5, `${names.length} data metafiles`);
    for (const name of names) {
      assert.deepEqual(b.store.files.get(name), a.store.files.get(name), name);
      // A region's write and default files stay in the same metafile.
      const files = fromBinary(MetaFileSchema, a.store.files.get(name)!).dataFiles;
      assert.equal(files.length % 2, 0);
    }
  });
});
