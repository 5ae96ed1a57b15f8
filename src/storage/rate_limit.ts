/**
 * The rate-limit layer: caps data-lane transfer at a number of bytes per second with a token
 * bucket. Bytes are charged before an upload (`writeFile`, writer chunks) and as a download is
 * consumed (`readFile`, reader chunks). Control-lane calls (locks, checkpoints) are never
 * delayed; see `Lane`.
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";
import { ForwardingStorage, mapReader, pullThrough } from "./_forward.ts";
import { laneOf } from "./lane.ts";
import type {
  CreateOptions,
  ExternalStorage,
  ObjectStat,
  ReadFileOptions,
  ReadOptions,
  StorageReader,
  StorageWriter,
  WriteOptions,
} from "./types.ts";

/** Options of the rate-limit layer. */
export interface RateLimitOptions {
  /** Sustained data-lane throughput, bytes per second (upload and download share it). */
  bytesPerSecond: number;
  /** Bytes that may pass at once after idling (default: one second's worth). */
  burstBytes?: number;
  /** Time source. */
  clock?: Clock;
}

/**
 * A token bucket that lets a take run into debt: a caller takes what it needs at once and then
 * waits until the bucket is back to zero, so a chunk larger than the burst still passes and
 * concurrent callers queue up in proportion to what they took.
 */
export class TokenBucket {
  #tokens: number;
  #last: number;

  /** `rate` tokens (bytes) per second, holding at most `burst`; starts full. */
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly clock: Clock = systemClock,
  ) {
    this.#tokens = burst;
    this.#last = clock.now();
  }

  /** Takes `n` tokens; resolves when the debt they caused is repaid. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    const now = this.clock.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.rate) / 1000);
    this.#last = now;
    this.#tokens -= n;
    if (this.#tokens < 0) await this.clock.sleep((-this.#tokens / this.rate) * 1000, signal);
  }
}

/** Wraps `inner` so data-lane bytes flow at most at `bytesPerSecond`. */
export function withRateLimit(inner: ExternalStorage, opts: RateLimitOptions): ExternalStorage {
  if (!(opts.bytesPerSecond > 0)) return inner;
  const bucket = new TokenBucket(
    opts.bytesPerSecond,
    opts.burstBytes ?? opts.bytesPerSecond,
    opts.clock,
  );
  return new RateLimitedStorage(inner, bucket);
}

class RateLimitedStorage extends ForwardingStorage {
  constructor(inner: ExternalStorage, private readonly bucket: TokenBucket) {
    super(inner);
  }

  override async writeFile(
    name: string,
    data: Uint8Array,
    opts?: WriteOptions,
  ): Promise<ObjectStat> {
    if (laneOf(opts) === "data") await this.bucket.take(data.length, opts?.signal);
    return this.inner.writeFile(name, data, opts);
  }

  override async readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    const data = await this.inner.readFile(name, opts);
    if (laneOf(opts) === "data") await this.bucket.take(data.length, opts?.signal);
    return data;
  }

  override async open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    const reader = await this.inner.open(name, opts);
    if (laneOf(opts) === "control") return reader;
    const stream = pullThrough(reader.stream, async (read) => {
      const r = await read();
      if (!r.done) await this.bucket.take(r.value.length, opts?.signal);
      return r;
    });
    return mapReader(reader, stream);
  }

  override async create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    const writer = await this.inner.create(name, opts);
    if (laneOf(opts) === "control") return writer;
    return {
      write: async (chunk) => {
        await this.bucket.take(chunk.length, opts?.signal);
        await writer.write(chunk);
      },
      close: () => writer.close(),
      abort: (reason) => writer.abort(reason),
    };
  }
}
