import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { StorageError } from "../../src/storage/errors.ts";
import type { ObjectStat } from "../../src/storage/types.ts";
import { type PartSink, PartWriter, type PartWriterOptions } from "./_part_writer.ts";

/** A sink that keeps parts in memory and records what the writer did to it. */
class FakeSink implements PartSink {
  parts = new Map<number, Uint8Array>();
  inFlight = 0;
  maxInFlight = 0;
  /** Distinct buffers seen: the writer must recycle them. */
  buffers = new Set<ArrayBufferLike>();
  whole: Uint8Array | undefined;
  aborted = 0;
  completed: { count: number; size: number } | undefined;
  /** Called before each part upload; may throw to fail it. */
  onPart: (index: number, attempt: number) => void = () => {};
  attempts = new Map<number, number>();
  delayMs = 2;

  async uploadPart(index: number, data: Uint8Array, signal: AbortSignal): Promise<void> {
    const attempt = (this.attempts.get(index) ?? 0) + 1;
    this.attempts.set(index, attempt);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.buffers.add(data.buffer);
    try {
      await new Promise((r) => setTimeout(r, this.delayMs));
      if (signal.aborted) throw signal.reason;
      this.onPart(index, attempt);
      this.parts.set(index, data.slice());
    } finally {
      this.inFlight--;
    }
  }
  complete(count: number, size: number): Promise<ObjectStat> {
    this.completed = { count, size };
    return Promise.resolve({ size, version: "v-multipart" });
  }
  putWhole(data: Uint8Array): Promise<ObjectStat> {
    this.whole = data.slice();
    return Promise.resolve({ size: data.length, version: "v-whole" });
  }
  abort(): Promise<void> {
    this.aborted++;
    return Promise.resolve();
  }
  assembled(): Uint8Array {
    const out: number[] = [];
    for (let i = 0; i < this.parts.size; i++) out.push(...this.parts.get(i)!);
    return Uint8Array.from(out);
  }
}

function writer(sink: FakeSink, over: Partial<PartWriterOptions> = {}): PartWriter {
  return new PartWriter(sink, {
    partSize: 1000,
    concurrency: 3,
    maxParts: 10_000,
    partAttempts: 3,
    describe: "test://x",
    path: "x",
    ...over,
  });
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("PartWriter", () => {
  test("cuts bytes into fixed parts, bounds parallel uploads, recycles buffers", async () => {
    const sink = new FakeSink();
    const w = writer(sink);
    const chunk = new Uint8Array(333);
    const expected: number[] = [];
    for (let i = 0; i < 60; i++) {
      // The same buffer every time: the writer must copy before write() resolves.
      chunk.fill(i);
      expected.push(...chunk);
      await w.write(chunk);
    }
    const st = await w.close();
    assert.deepEqual(st, { size: 19_980, version: "v-multipart" });
    assert.deepEqual(sink.completed, { count: 20, size: 19_980 });
    assert.equal(sha(sink.assembled()), sha(Uint8Array.from(expected)));
    assert.ok(sink.maxInFlight <= 3, `at most 3 parts at once, saw ${sink.maxInFlight}`);
    assert.ok(sink.maxInFlight >= 2, "parts do upload in parallel");
    assert.ok(sink.buffers.size <= 4, `${sink.buffers.size} part buffers for 20 parts`);
    assert.equal(sink.whole, undefined);
  });

  test("an object smaller than a part is one whole-object write, empty ones too", async () => {
    const sink = new FakeSink();
    const w = writer(sink);
    await w.write(Uint8Array.of(1, 2, 3));
    assert.deepEqual(await w.close(), { size: 3, version: "v-whole" });
    assert.deepEqual([...sink.whole!], [1, 2, 3]);
    assert.equal(sink.parts.size, 0);

    const empty = new FakeSink();
    assert.deepEqual(await writer(empty).close(), { size: 0, version: "v-whole" });
    assert.equal(empty.whole?.length, 0);
  });

  test("a temporary part failure is retried; a permanent one aborts the upload", async () => {
    const sink = new FakeSink();
    sink.onPart = (i, attempt) => {
      if (i === 1 && attempt === 1) {
        throw new StorageError("slow down", { code: "RateLimited", operation: "w" });
      }
    };
    const w = writer(sink);
    await w.write(new Uint8Array(2500).fill(7));
    await w.close();
    assert.equal(sink.attempts.get(1), 2);
    assert.equal(sink.aborted, 0);

    const bad = new FakeSink();
    const denied = new StorageError("denied", { code: "PermissionDenied", operation: "w" });
    bad.onPart = (i) => {
      if (i === 2) throw denied;
    };
    const w2 = writer(bad);
    const failure = (async () => {
      for (let i = 0; i < 20; i++) await w2.write(new Uint8Array(1000));
      await w2.close();
    })();
    await assert.rejects(failure, (e) => e === denied);
    assert.equal(bad.attempts.get(2), 1, "a permanent error is not retried");
    assert.equal(bad.aborted, 1, "uploaded parts are released");
    assert.equal(bad.completed, undefined);
    await assert.rejects(w2.write(new Uint8Array(1)), (e) => e === denied);
  });

  test("abort() and the caller's signal discard the upload, idempotently", async () => {
    const sink = new FakeSink();
    const w = writer(sink);
    await w.write(new Uint8Array(2500));
    await w.abort(new Error("stop"));
    await w.abort();
    assert.equal(sink.aborted, 1);
    await assert.rejects(w.close());

    const ctl = new AbortController();
    const sink2 = new FakeSink();
    const w2 = writer(sink2, { signal: ctl.signal });
    await w2.write(new Uint8Array(1500));
    const reason = new Error("caller gave up");
    ctl.abort(reason);
    await assert.rejects(w2.write(new Uint8Array(10)), (e) => e === reason);
    await assert.rejects(w2.close(), (e) => e === reason);
    assert.equal(sink2.aborted, 1);
  });

  test("more parts than the backend allows fail with a hint to raise partSize", async () => {
    const sink = new FakeSink();
    const w = writer(sink, { maxParts: 2, partSize: 10 });
    await assert.rejects(
      (async () => {
        for (let i = 0; i < 5; i++) await w.write(new Uint8Array(10));
      })(),
      /more than 2 parts of 10 bytes; write it with a larger partSize/,
    );
    assert.equal(sink.aborted, 1);
  });
});
