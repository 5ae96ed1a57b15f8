/**
 * Stream and cancellation glue for SDKs that speak Node streams and take no AbortSignal.
 * @module
 */
import { forEachPool } from "../../src/pool.ts";
import type { Readable } from "node:stream";
import type { StorageReader } from "../../src/storage/types.ts";

/**
 * A web stream over a Node readable; errors pass through `mapError` (so readers see
 * StorageErrors) and cancelling destroys the source, releasing its connection.
 */
export function webStreamOf(
  src: Readable,
  mapError: (err: unknown) => unknown,
): ReadableStream<Uint8Array> {
  const it = src[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      try {
        const r = await it.next();
        if (r.done) ctl.close();
        else ctl.enqueue(r.value as Uint8Array);
      } catch (err) {
        ctl.error(mapError(err));
      }
    },
    cancel() {
      src.destroy();
    },
  }, { highWaterMark: 0 });
}

/**
 * Settles like `p`, or rejects with the signal's reason as soon as it aborts. For SDK calls
 * without cancellation: the request may still complete in the background.
 */
export function raceSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Runs `fn` over `items` with at most `limit` calls in flight; stops at the first failure. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  await forEachPool(items, { concurrency: limit }, (item) => fn(item));
}

/**
 * Destroys `src` when `signal` aborts while it is open, so a reader stops mid-body: SDKs honour
 * the signal only until the response headers arrive.
 */
export function destroyOnAbort(src: Readable, signal: AbortSignal | undefined): void {
  if (!signal) return;
  const onAbort = () => {
    src.destroy(signal.reason instanceof Error ? signal.reason : undefined);
  };
  if (signal.aborted) return onAbort();
  signal.addEventListener("abort", onAbort, { once: true });
  src.once("close", () => signal.removeEventListener("abort", onAbort));
}

/** A reader of an empty range (or object) of an object of `size` bytes. */
export function emptyReader(size: number): StorageReader {
  return {
    size,
    stream: new ReadableStream<Uint8Array>({ start: (c) => c.close() }),
    close: () => Promise.resolve(),
  };
}

/**
 * A StorageReader over an SDK's Node response body: aborting `signal` destroys the body (and
 * its connection), read errors are mapped with `mapError` unless the read was aborted, and
 * `close` releases the body whether or not the stream was read.
 */
export function readerOfBody(
  body: Readable,
  size: number,
  signal: AbortSignal | undefined,
  mapError: (err: unknown) => unknown,
): StorageReader {
  destroyOnAbort(body, signal);
  const stream = webStreamOf(body, (err) => (signal?.aborted ? signal.reason : mapError(err)));
  let closed = false;
  return {
    size,
    stream,
    close: async () => {
      if (closed) return;
      closed = true;
      if (!stream.locked) await stream.cancel().catch(() => {});
      else body.destroy();
    },
  };
}
