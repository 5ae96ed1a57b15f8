import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { ExternalStorage } from "../storage/types.ts";
import { SstError } from "./errors.ts";
import { SstReader } from "./reader.ts";
import { bytesSource, fileSource, storageSource } from "./source.ts";
import { SstWriter } from "./writer.ts";

const enc = new TextEncoder();
const key = (i: number) => enc.encode(`k${String(i).padStart(6, "0")}`);

// Even keys only, so odd keys probe the gaps.
async function evenFile(n = 3000, compression: "none" | "zstd" = "none"): Promise<Uint8Array> {
  const w = SstWriter.toMemory({ compression, blockSize: 512 });
  for (let i = 0; i < n; i += 2) await w.add(key(i), enc.encode(`v${i}`));
  return (await w.finish()).bytes;
}

async function keysIn(
  r: SstReader,
  range: { start?: Uint8Array; end?: Uint8Array },
): Promise<string[]> {
  const out: string[] = [];
  for await (const e of r.entries(range)) out.push(new TextDecoder().decode(e.key));
  return out;
}

describe("SstReader", () => {
  test("seek, get and cursors find keys across block boundaries", async () => {
    const r = await SstReader.open(bytesSource(await evenFile(3000, "zstd")));
    assert.ok(r.dataBlocks > 20);
    assert.equal(new TextDecoder().decode((await r.get(key(1234)))!.value), "v1234");
    assert.equal(await r.get(key(1235)), undefined);
    assert.equal(await r.get(enc.encode("zzz")), undefined);
    const c = r.cursor();
    await c.seek(key(1235));
    assert.deepEqual(c.key, key(1236));
    await c.next();
    assert.deepEqual(c.key, key(1238));
    await c.seek(enc.encode("a"));
    assert.deepEqual(c.key, key(0));
    let n = 0;
    for (await c.seek(key(2990)); c.valid; await c.next()) n++;
    assert.equal(n, 5);
    await c.seek(key(5000));
    assert.equal(c.valid, false);
    assert.throws(() => c.key, /not at an entry/);
  });

  test("range scans honour inclusive start and exclusive end", async () => {
    const r = await SstReader.open(bytesSource(await evenFile()));
    const got = await keysIn(r, { start: key(101), end: key(110) });
    assert.deepEqual(got, ["k000102", "k000104", "k000106", "k000108"]);
    assert.deepEqual(await keysIn(r, { start: key(2998) }), ["k002998"]);
    assert.deepEqual(await keysIn(r, { end: key(4) }), ["k000000", "k000002"]);
    assert.deepEqual(await keysIn(r, { start: key(9000) }), []);
    let seen = 0;
    assert.equal(await r.scan(() => ++seen < 10), 10);
    assert.equal(await r.verify(), 1500);
  });

  test("reads through a local file and through external storage with and without ranges", async () => {
    const bytes = await evenFile(500);
    const dir = mkdtempSync(join(tmpdir(), "tibr-sst-"));
    try {
      const path = join(dir, "a.sst");
      writeFileSync(path, bytes);
      const fr = await SstReader.open(await fileSource(path), { readahead: 1000 });
      assert.equal(await fr.verify(), 250);
      await fr.close();
      await fr.close();
    } finally {
      rmSync(dir, { recursive: true });
    }
    for (const rangeRead of [true, false]) {
      let ranged = 0;
      const storage = {
        capabilities: () => ({ rangeRead }),
        readFile: () => Promise.resolve(bytes),
        stat: () => Promise.resolve({ size: bytes.length, version: "1" }),
        open: (_name: string, o: { start: number; end: number }) => {
          ranged++;
          const part = bytes.subarray(o.start, o.end);
          return Promise.resolve({
            size: bytes.length,
            stream: new ReadableStream({
              start(ctl) {
                ctl.enqueue(part.subarray(0, 7));
                ctl.enqueue(part.subarray(7));
                ctl.close();
              },
            }),
            close: () => Promise.resolve(),
          });
        },
      } as unknown as ExternalStorage;
      const r = await SstReader.open(await storageSource(storage, "1/a.sst"));
      assert.equal(await r.verify(), 250);
      assert.equal(ranged > 0, rangeRead);
    }
  });

  test("rejects files that are too short, not SSTs, or plain tables, naming the file", async () => {
    const check = async (bytes: Uint8Array, code: string, msg: RegExp) => {
      await assert.rejects(SstReader.open(bytesSource(bytes, "f.sst")), (e: unknown) => {
        assert.ok(e instanceof SstError, String(e));
        assert.equal(e.code, code);
        assert.match(e.message, /^f\.sst/);
        assert.match(e.message, msg);
        return true;
      });
    };
    await check(new Uint8Array(10), "Truncated", /too short/);
    await check(new Uint8Array(100), "Corruption", /bad table magic number/);
    const plain = new Uint8Array(100);
    new DataView(plain.buffer).setBigUint64(92, 0x8242229663bf9564n, true);
    await check(plain, "Unsupported", /plain table/);
    const good = await evenFile(100);
    await check(good.subarray(0, good.length - 1), "Corruption", /magic/);
  });

  test("without checksum verification a damaged value passes; with it, never", async () => {
    const bytes = await evenFile(200);
    const bad = bytes.slice();
    // First entry: 3 header bytes, 15-byte internal key, then its value "v0" at 18..19.
    assert.equal(new TextDecoder().decode(bad.subarray(18, 20)), "v0");
    bad[19]! ^= 0x01;
    await assert.rejects(
      (await SstReader.open(bytesSource(bad, "d.sst"))).verify(),
      /d\.sst at offset 0: data block checksum mismatch/,
    );
    const lax = await SstReader.open(bytesSource(bad), { verifyChecksums: false });
    assert.equal(new TextDecoder().decode((await lax.get(key(0)))!.value), "v1");
  });
});
