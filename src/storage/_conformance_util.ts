/**
 * Helpers of the conformance suite: reproducible data, stream draining, independent ordering
 * and error assertions.
 * @module
 */
import { forEachPool } from "../pool.ts";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { isStorageError, type StorageErrorCode } from "./errors.ts";

/** 1 MiB. */
export const MiB = 1 << 20;

/**
 * Fills `buf` with bytes that depend only on their absolute position `offset + i` and `seed`,
 * so a large object can be generated chunk by chunk and checked without keeping it.
 */
export function fillPattern(buf: Uint8Array, offset: number, seed: number): Uint8Array {
  for (let i = 0; i < buf.length; i++) {
    let x = (offset + i + seed * 0x9e3779b1) | 0;
    x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
    x ^= x >>> 13;
    buf[i] = x & 0xff;
  }
  return buf;
}

/** `size` bytes of the pattern. */
export function pattern(size: number, seed: number): Uint8Array {
  return fillPattern(new Uint8Array(size), 0, seed);
}

/** Drains a stream into one array. */
export async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of stream) {
    parts.push(chunk);
    n += chunk.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** SHA-256 hex of a stream, and its length, without keeping it. */
export async function hashStream(
  stream: ReadableStream<Uint8Array>,
): Promise<{ sha256: string; size: number }> {
  const h = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    h.update(chunk);
    size += chunk.length;
  }
  return { sha256: h.digest("hex"), size };
}

/** Byte-equality with a short message instead of a multi-megabyte diff. */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.length);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.length);
  if (!a.equals(b)) {
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    assert.fail(`${what}: bytes differ at offset ${i}`);
  }
}

/** Sorts names by their UTF-8 bytes (computed here, independently of the code under test). */
export function byteSorted(names: Iterable<string>): string[] {
  return [...names].sort(compareBytes);
}

/** Compares two names by their UTF-8 bytes. */
export function compareBytes(x: string, y: string): number {
  return Buffer.compare(Buffer.from(x), Buffer.from(y));
}

/** Asserts that `p` rejects with a StorageError of `code`; returns the error. */
export async function rejectsWith(
  p: Promise<unknown>,
  code: StorageErrorCode,
  what: string,
): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(
      isStorageError(err, code),
      `${what}: expected StorageError ${code}, got ${
        isStorageError(err) ? `StorageError ${err.code}` : String(err)
      }`,
    );
    return err as Error;
  }
  assert.fail(`${what}: expected StorageError ${code}, but it succeeded`);
}

/** Asserts that `p` rejects because of an abort. */
export async function rejectsAborted(p: Promise<unknown>, reason: unknown, what: string) {
  try {
    await p;
  } catch (err) {
    const name = (err as { name?: unknown } | null)?.name;
    assert.ok(
      err === reason || name === "AbortError",
      `${what}: expected the abort reason, got ${String(err)}`,
    );
    return;
  }
  assert.fail(`${what}: expected an abort, but it succeeded`);
}

/** Runs `fn` over `items` with at most `width` at once. */
export async function parallel<T>(
  items: readonly T[],
  width: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  await forEachPool(items, { concurrency: width }, (item, i) => fn(item, i));
}

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
