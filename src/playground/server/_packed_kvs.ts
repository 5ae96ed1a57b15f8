/**
 * Key/value pairs packed into shared chunks (16 KiB doubling to 4 MiB), for a downloaded file
 * the playground keeps until its ingest (TiKV keeps it on disk). A pair costs 16 bytes of
 * bookkeeping beside its bytes, where an object holding two typed arrays costs about 200 on
 * either runtime: a restore with many files in flight stages millions of pairs.
 * @module
 */

/** Chunks start small and double up to this, so a file of a few pairs holds a few KiB. */
const FIRST_CHUNK = 16 << 10;
const CHUNK = 4 << 20;
/** Per pair: chunk index, offset in the chunk, key length, value length. */
const FIELDS = 4;

/** Append-only key/value pairs; `key(i)` and `value(i)` are views into the chunks. */
export class PackedKvs {
  readonly #chunks: Uint8Array[] = [];
  #used = 0;
  #meta = new Uint32Array(64);
  #n = 0;
  /** Key and value bytes held. */
  bytes = 0;

  /** Pairs held. */
  get length(): number {
    return this.#n;
  }

  /**
   * Makes room for a pair of `keyLen` + `valueLen` bytes and returns it, key then value, for
   * the caller to fill: pairs built from parts are written once, where they lie.
   */
  add(keyLen: number, valueLen: number): Uint8Array {
    const size = keyLen + valueLen;
    let chunk = this.#chunks.at(-1);
    if (chunk === undefined || this.#used + size > chunk.length) {
      const next = chunk === undefined ? FIRST_CHUNK : Math.min(CHUNK, chunk.length * 2);
      chunk = new Uint8Array(Math.max(next, size));
      this.#chunks.push(chunk);
      this.#used = 0;
    }
    if ((this.#n + 1) * FIELDS > this.#meta.length) {
      const grown = new Uint32Array(this.#meta.length * 2);
      grown.set(this.#meta);
      this.#meta = grown;
    }
    const m = this.#n * FIELDS;
    this.#meta[m] = this.#chunks.length - 1;
    this.#meta[m + 1] = this.#used;
    this.#meta[m + 2] = keyLen;
    this.#meta[m + 3] = valueLen;
    this.#n++;
    this.bytes += size;
    const out = chunk.subarray(this.#used, this.#used + size);
    this.#used += size;
    return out;
  }

  /** Appends a copy of `key` and `value`. */
  push(key: Uint8Array, value: Uint8Array): void {
    const out = this.add(key.length, value.length);
    out.set(key);
    out.set(value, key.length);
  }

  /** The key of pair `i`. */
  key(i: number): Uint8Array {
    const m = this.#at(i);
    const start = this.#meta[m + 1]!;
    return this.#chunks[this.#meta[m]!]!.subarray(start, start + this.#meta[m + 2]!);
  }

  /** The value of pair `i`. */
  value(i: number): Uint8Array {
    const m = this.#at(i);
    const start = this.#meta[m + 1]! + this.#meta[m + 2]!;
    return this.#chunks[this.#meta[m]!]!.subarray(start, start + this.#meta[m + 3]!);
  }

  /** Every pair in the order added. */
  *[Symbol.iterator](): IterableIterator<{ key: Uint8Array; value: Uint8Array }> {
    for (let i = 0; i < this.#n; i++) yield { key: this.key(i), value: this.value(i) };
  }

  #at(i: number): number {
    if (!(i >= 0 && i < this.#n)) throw new RangeError(`pair ${i} of ${this.#n}`);
    return i * FIELDS;
  }
}
