import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { compareBytes, concatBytes } from "../codec/bytes.ts";
import { decrypt, EncryptionMethod, randomIv } from "../crypto/cipher.ts";
import { SstError } from "./errors.ts";
import { SstReader } from "./reader.ts";
import { bytesSource, decryptingSource } from "./source.ts";
import { type SstSink, SstWriter } from "./writer.ts";
import { mulberry32 } from "../random.ts";

function randomKvs(seed: number, n: number): [Uint8Array, Uint8Array][] {
  const r = mulberry32(seed);
  const bytes = (len: number, alphabet: number) =>
    Uint8Array.from({ length: len }, () => Math.floor(r() * alphabet));
  const map = new Map<string, [Uint8Array, Uint8Array]>();
  const prefix = bytes(4, 256);
  while (map.size < n) {
    // Shared prefixes, empty keys/values, 0xff runs and big values all occur.
    const key = r() < 0.5
      ? concatBytes(prefix, bytes(Math.floor(r() * 12), 4))
      : bytes(Math.floor(r() * 40), 256);
    const vlen = r() < 0.05 ? Math.floor(r() * 20000) : Math.floor(r() * 200);
    const value = r() < 0.5 ? bytes(vlen, 3) : bytes(vlen, 256);
    map.set(key.join(","), [key, value]);
  }
  return [...map.values()].sort((a, b) => compareBytes(a[0], b[0]));
}

async function readAll(bytes: Uint8Array): Promise<[Uint8Array, Uint8Array][]> {
  const r = await SstReader.open(bytesSource(bytes));
  const out: [Uint8Array, Uint8Array][] = [];
  for await (const e of r.entries()) {
    assert.equal(e.seqno, 0n);
    assert.equal(e.type, 1);
    out.push([e.key, e.value]);
  }
  return out;
}

describe("SstWriter round trip", () => {
  test("random KVs come back exactly for every compression, block size and restart interval", async () => {
    let seed = 1;
    for (const compression of ["none", "snappy", "lz4", "zstd"] as const) {
      for (const [blockSize, restartInterval] of [[4096, 16], [64, 1], [1 << 16, 3]] as const) {
        const kvs = randomKvs(seed++, 300);
        const w = SstWriter.toMemory({ compression, blockSize, restartInterval });
        for (const [k, v] of kvs) await w.add(k, v);
        const res = await w.finish();
        const label = `${compression} block ${blockSize} restart ${restartInterval} seed ${
          seed - 1
        }`;
        assert.deepEqual(await readAll(res.bytes), kvs, label);
        assert.equal(res.size, res.bytes.length);
        assert.deepEqual(
          res.sha256,
          new Uint8Array(createHash("sha256").update(res.bytes).digest()),
        );
        assert.equal(res.entries, kvs.length);
        assert.deepEqual(res.smallestKey, kvs[0]![0]);
        assert.deepEqual(res.largestKey, kvs.at(-1)![0]);
        const props = (await SstReader.open(bytesSource(res.bytes))).properties;
        assert.equal(props.numEntries, kvs.length);
        assert.equal(props.rawKeySize, kvs.reduce((s, [k]) => s + k.length + 8, 0));
        assert.equal(props.rawValueSize, kvs.reduce((s, [, v]) => s + v.length, 0));
        assert.deepEqual({ ...props, raw: undefined }, { ...res.properties, raw: undefined });
      }
    }
  });

  test("compression shrinks compressible data and leaves incompressible blocks raw", async () => {
    const sizes: Record<string, number> = {};
    for (const compression of ["none", "snappy", "lz4", "zstd"] as const) {
      const w = SstWriter.toMemory({ compression });
      for (let i = 0; i < 2000; i++) {
        await w.add(
          new TextEncoder().encode(`key${String(i).padStart(8, "0")}`),
          new Uint8Array(100).fill(i % 5),
        );
      }
      const res = await w.finish();
      sizes[compression] = res.size;
      assert.equal(
        res.properties.compression,
        { none: "NoCompression", snappy: "Snappy", lz4: "LZ4", zstd: "ZSTD" }[compression],
      );
    }
    for (const c of ["snappy", "lz4", "zstd"]) {
      assert.ok(sizes[c]! < sizes.none! / 3, `${c}: ${JSON.stringify(sizes)}`);
    }
    const r = mulberry32(9);
    const w = SstWriter.toMemory({ compression: "zstd" });
    await w.add(Uint8Array.of(1), Uint8Array.from({ length: 50000 }, () => Math.floor(r() * 256)));
    const res = await w.finish();
    assert.deepEqual((await readAll(res.bytes))[0]![1].length, 50000);
  });

  test("streams through a storage-style sink in bounded chunks and returns close()'s result", async () => {
    const chunks: Uint8Array[] = [];
    let closed = 0;
    const sink: SstSink = {
      write: (c) => Promise.resolve(void chunks.push(c)),
      close: () => Promise.resolve({ size: -1, version: "v1", closed: ++closed }),
    };
    const w = new SstWriter(sink, { chunkSize: 8192, compression: "lz4" });
    const kvs = randomKvs(77, 2000);
    for (const [k, v] of kvs) await w.add(k, v);
    const res = await w.finish();
    assert.ok(chunks.length > 10);
    assert.ok(chunks.every((c) => c.length <= 8192));
    assert.deepEqual(res.closeResult, { size: -1, version: "v1", closed: 1 });
    assert.deepEqual(await readAll(concatBytes(...chunks)), kvs);
  });

  test("a failing sink aborts it and the error reaches the caller", async () => {
    let aborted: unknown;
    const boom = new Error("disk full");
    const sink: SstSink = {
      write: () => Promise.reject(boom),
      close: () => Promise.resolve(),
      abort: (r) => Promise.resolve(void (aborted = r)),
    };
    const w = new SstWriter(sink, { chunkSize: 4096 });
    await assert.rejects(async () => {
      for (let i = 0; i < 10000; i++) {
        await w.add(Uint8Array.of(i >> 8, i & 255), new Uint8Array(64));
      }
      await w.finish();
    }, /disk full/);
    assert.equal(aborted, boom);
    await w.abort(new Error("again"));
    assert.equal(aborted, boom);
    await assert.rejects(w.finish(), /writer is failed/);
  });

  test("rejects unordered or duplicate keys, empty files and use after finish", async () => {
    const w = SstWriter.toMemory({ name: "x.sst" });
    await w.add(Uint8Array.of(2), new Uint8Array());
    await assert.rejects(
      w.add(Uint8Array.of(1), new Uint8Array()),
      (e: SstError) =>
        e.code === "InvalidArgument" &&
        /x\.sst: keys must be added in strictly increasing order/.test(e.message),
    );
    await assert.rejects(w.add(Uint8Array.of(2), new Uint8Array()), /strictly increasing/);
    await w.finish();
    await assert.rejects(w.add(Uint8Array.of(3), new Uint8Array()), /writer is finished/);
    await assert.rejects(SstWriter.toMemory().finish(), /no entries/);
    assert.throws(() => SstWriter.toMemory({ blockSize: 10 }), /blockSize must be >= 64/);
    assert.throws(
      () => SstWriter.toMemory({ compression: "bzip2" as unknown as "none" }),
      /unknown compression "bzip2"/,
    );
  });

  test("encrypts the whole file with AES-CTR; sha256 is of the stored bytes", async () => {
    const info = { method: EncryptionMethod.AES256_CTR, key: new Uint8Array(32).fill(3) } as const;
    const iv = randomIv();
    const kvs = randomKvs(5, 500);
    const plainW = SstWriter.toMemory({ compression: "snappy", fileCreationTime: 7 });
    const encW = SstWriter.toMemory({
      compression: "snappy",
      fileCreationTime: 7,
      cipher: { info, iv },
    });
    for (const [k, v] of kvs) {
      await plainW.add(k, v);
      await encW.add(k, v);
    }
    const plain = await plainW.finish();
    const sealed = await encW.finish();
    assert.equal(sealed.size, plain.size);
    assert.notDeepEqual(sealed.bytes, plain.bytes);
    assert.deepEqual(decrypt(info, iv, sealed.bytes), plain.bytes);
    assert.deepEqual(
      sealed.sha256,
      new Uint8Array(createHash("sha256").update(sealed.bytes).digest()),
    );
    const r = await SstReader.open(decryptingSource(bytesSource(sealed.bytes), info, iv));
    assert.equal(await r.verify(), kvs.length);
    await assert.rejects(SstReader.open(bytesSource(sealed.bytes)), SstError);
    await assert.rejects(
      SstReader.open(
        decryptingSource(bytesSource(sealed.bytes), { ...info, key: new Uint8Array(32) }, iv),
      ),
      (e: SstError) => e.code === "Corruption" || e.code === "Unsupported",
    );
  });
});
