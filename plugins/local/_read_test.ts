import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ChunkReader, openFile } from "./_read.ts";
import { alignedBuffer } from "../../src/storage/buffer.ts";

const dir = mkdtempSync(join(tmpdir(), "tibr-local-read-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Concatenates what `reader` yields, checking each chunk's length against `chunk`. */
async function drain(reader: ChunkReader, chunk: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let c = await reader.next(); c; c = await reader.next()) {
    assert.ok(c.length <= chunk, `chunk of ${c.length} bytes, limit ${chunk}`);
    out.push(c);
  }
  return out;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

describe("chunked parallel reads", () => {
  test("every range of a file comes back exactly, whatever the chunk size and depth", async () => {
    const data = randomBytes(1000);
    const path = join(dir, "ranges");
    writeFileSync(path, data);
    const { fh, size } = await openFile(path);
    try {
      assert.equal(size, 1000);
      for (const [start, end] of [[0, 1000], [0, 0], [3, 997], [999, 1000], [128, 256]]) {
        for (const [chunk, depth] of [[1000, 1], [7, 3], [64, 2], [128, 5]]) {
          const r = new ChunkReader(fh, start!, end!, chunk!, depth!);
          const got = concat(await drain(r, chunk!));
          assert.deepEqual(got, new Uint8Array(data.subarray(start, end)), `${start}-${end}`);
        }
      }
    } finally {
      await fh.close();
    }
  });

  test("chunks are fresh buffers the caller may keep, or views of the target buffer", async () => {
    const data = randomBytes(300);
    const path = join(dir, "keep");
    writeFileSync(path, data);
    const { fh } = await openFile(path);
    try {
      const kept = await drain(new ChunkReader(fh, 0, 300, 100, 3), 100);
      assert.equal(new Set(kept.map((c) => c.buffer)).size, 3, "no buffer is reused");
      assert.deepEqual(concat(kept), new Uint8Array(data));
      const into = alignedBuffer(300);
      const views = await drain(new ChunkReader(fh, 0, 300, 100, 3, into), 100);
      assert.ok(views.every((v) => v.buffer === into.buffer));
      assert.deepEqual(into, new Uint8Array(data));
    } finally {
      await fh.close();
    }
  });

  test("a file that shrank after open ends early, and no unfilled bytes leak", async () => {
    const data = randomBytes(1000);
    const path = join(dir, "shrinks");
    writeFileSync(path, data);
    const { fh, size } = await openFile(path);
    try {
      truncateSync(path, 450);
      const chunks = await drain(new ChunkReader(fh, 0, size, 100, 4), 100);
      assert.deepEqual(concat(chunks), new Uint8Array(data.subarray(0, 450)));
      const last = chunks.at(-1)!;
      assert.equal(last.length, 50);
      assert.equal(last.buffer.byteLength, 50, "the short chunk is a copy of what was read");
    } finally {
      await fh.close();
    }
  });

  test("settle stops reading; a directory is refused with EISDIR", async () => {
    const path = join(dir, "settle");
    writeFileSync(path, randomBytes(500));
    const { fh } = await openFile(path);
    const r = new ChunkReader(fh, 0, 500, 10, 3);
    assert.equal((await r.next())?.length, 10);
    await r.settle();
    assert.equal(await r.next(), undefined);
    await fh.close();
    await assert.rejects(openFile(dir), (e: unknown) => (e as { code?: string }).code === "EISDIR");
  });
});
