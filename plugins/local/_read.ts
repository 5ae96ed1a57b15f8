/**
 * Fast object reads for the local plugin: several positioned reads of one handle in flight
 * (Deno and Bun run each on its own I/O thread), into buffers that are not zero-filled first
 * (Bun zero-fills in user space, so the buffer would be written twice) and start on a page
 * boundary where the runtime can tell (`alignedBuffer`, src/storage/buffer.ts).
 *
 * Why several: a read copies out of the page cache and faults in the fresh pages it copies to,
 * which on a VM costs about as much as the copy; with one read at a time the disk idles while
 * that happens, with a few the copying of one chunk overlaps the disk reading the next.
 * @module
 */
import { type FileHandle, open } from "node:fs/promises";
import { alignedBuffer } from "../../src/storage/buffer.ts";

/**
 * Opens `path` for reading and returns the handle with the file's size. Rejects with the error
 * of `open` or `fstat`, or with an `EISDIR` error when the path is not a regular file.
 */
export async function openFile(path: string): Promise<{ fh: FileHandle; size: number }> {
  const fh = await open(path, "r");
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error("not a file"), { code: "EISDIR" });
    return { fh, size: st.size };
  } catch (err) {
    await fh.close().catch(() => {});
    throw err;
  }
}

/** Fills `buf` from `position` on; fewer bytes only at end of file. */
async function readExact(fh: FileHandle, buf: Uint8Array, position: number): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

interface Pending {
  /** Bytes asked for. */
  len: number;
  read: Promise<Uint8Array>;
}

/**
 * Reads bytes [start, end) of an open file in order, `chunk` bytes per read, keeping `depth`
 * reads in flight. Chunks are fresh buffers the caller may keep, or views of `into` (at offset
 * `position - start`) when it is given. Call `settle` before closing the handle.
 */
export class ChunkReader {
  readonly #fh: FileHandle;
  readonly #start: number;
  readonly #end: number;
  readonly #chunk: number;
  readonly #into: Uint8Array | undefined;
  readonly #queue: Pending[] = [];
  #pos: number;
  #done = false;

  /** Starts the first `depth` reads right away. */
  constructor(
    fh: FileHandle,
    start: number,
    end: number,
    chunk: number,
    depth: number,
    into?: Uint8Array,
  ) {
    this.#fh = fh;
    this.#start = start;
    this.#end = end;
    this.#chunk = chunk;
    this.#into = into;
    this.#pos = start;
    for (let i = 0; i < depth; i++) this.#issue();
  }

  #issue(): void {
    if (this.#pos >= this.#end) return;
    const at = this.#pos;
    const len = Math.min(this.#chunk, this.#end - at);
    this.#pos += len;
    const into = this.#into;
    const buf = into ? into.subarray(at - this.#start, at - this.#start + len) : alignedBuffer(len);
    const read = readExact(this.#fh, buf, at).then((n) =>
      // A fresh buffer read short is copied, so its unfilled tail never leaves this module.
      n === len ? buf : into ? buf.subarray(0, n) : buf.slice(0, n)
    );
    // Handled here as well: a later read may fail while an earlier one is awaited.
    read.catch(() => {});
    this.#queue.push({ len, read });
  }

  /**
   * The next chunk, or undefined at the end of the range or of the file (a file that shrank
   * ends early). After a rejection the reader is done.
   */
  async next(): Promise<Uint8Array | undefined> {
    const p = this.#done ? undefined : this.#queue.shift();
    if (!p) {
      this.#done = true;
      return undefined;
    }
    let chunk: Uint8Array;
    try {
      chunk = await p.read;
    } catch (err) {
      this.#done = true;
      throw err;
    }
    if (chunk.length < p.len) this.#done = true;
    else this.#issue();
    return chunk.length > 0 ? chunk : undefined;
  }

  /** Stops reading and waits for the reads in flight; then the handle may be closed. */
  async settle(): Promise<void> {
    this.#done = true;
    await Promise.allSettled(this.#queue.splice(0).map((p) => p.read));
  }
}
