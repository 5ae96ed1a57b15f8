/**
 * GCS resumable uploads, spoken directly over `fetch` once the SDK has opened the session (the
 * SDK signs that request; the session URI is then the credential, as GCS documents). Each part
 * is one chunk PUT at its offset; the last carries the total size and commits the object.
 *
 * Written here rather than through the SDK's write stream because that stream keeps every
 * uploaded byte reachable under Bun (RSS grew by the object's size) and gives no say over
 * retries: here memory is the part writer's, and a chunk whose fate is unknown is resumed from
 * the offset the server reports.
 * @module
 */
import { StorageError } from "../../src/storage/errors.ts";
import type { ObjectStat } from "../../src/storage/types.ts";
import type { PartSink } from "../_cloud/_part_writer.ts";
import { errorOf } from "./_media.ts";

/** Rounds of "the server kept fewer bytes than sent, send the rest" before giving up. */
const MAX_ROUNDS = 8;

/** What the resumable sink is built from. */
export interface ResumableInit {
  /** Opens the upload session and returns its URI. */
  openSession(signal: AbortSignal): Promise<string>;
  /** Bytes per part; a multiple of 256 KiB, as GCS requires of every chunk but the last. */
  partSize: number;
  /** Writes an object smaller than one part in a single request. */
  putWhole(data: Uint8Array, signal: AbortSignal): Promise<ObjectStat>;
  /** Turns any failure into the StorageError the writer reports. */
  mapError(err: unknown, operation: string): unknown;
}

/** A `PartSink` over one GCS resumable session; parts must come one at a time, in order. */
export class ResumableSink implements PartSink {
  readonly #init: ResumableInit;
  #session: Promise<string> | undefined;
  /** Bytes the server has acknowledged (the end of its `Range` header, plus one). */
  #confirmed = 0;
  /** Offsets already sent once: sending one again means the first try's outcome is unknown. */
  readonly #sent = new Set<number>();

  constructor(init: ResumableInit) {
    this.#init = init;
  }

  async uploadPart(index: number, data: Uint8Array, signal: AbortSignal): Promise<void> {
    await this.#send(index * this.#init.partSize, data, undefined, signal);
  }

  async finish(
    index: number,
    data: Uint8Array,
    size: number,
    signal: AbortSignal,
  ): Promise<ObjectStat> {
    const stat = await this.#send(index * this.#init.partSize, data, size, signal);
    if (!stat) throw this.#unexpected("the server did not commit the object", "writer.close");
    return stat;
  }

  putWhole(data: Uint8Array, signal: AbortSignal): Promise<ObjectStat> {
    return this.#init.putWhole(data, signal);
  }

  complete(): Promise<ObjectStat> {
    // Never called: `finish` commits.
    return Promise.reject(this.#unexpected("complete() is not used", "writer.close"));
  }

  async abort(): Promise<void> {
    if (!this.#session) return;
    try {
      const uri = await this.#session;
      // GCS answers 499 to a cancelled session; the bytes are dropped.
      const res = await fetch(uri, { method: "DELETE" });
      await res.body?.cancel();
    } catch {
      // An unfinished session expires after a week and never becomes an object.
    }
  }

  #unexpected(what: string, operation: string): StorageError {
    return new StorageError(`resumable upload failed: ${what}; write the object again`, {
      code: "Unexpected",
      operation,
      temporary: true,
    });
  }

  /**
   * Sends `data` to offset `start` (with the total when it is the last chunk); resolves with
   * the object's stat when the server commits it. Bytes the server already has are skipped.
   */
  async #send(
    start: number,
    data: Uint8Array,
    total: number | undefined,
    signal: AbortSignal,
  ): Promise<ObjectStat | undefined> {
    const op = total === undefined ? "writer.write" : "writer.close";
    try {
      this.#session ??= this.#init.openSession(signal);
      const uri = await this.#session;
      if (this.#sent.has(start)) {
        const committed = await this.#queryStatus(uri, signal);
        if (committed) {
          // The earlier try of the last chunk did commit; only its answer was lost.
          if (total !== undefined) return committed;
          throw this.#unexpected("the server committed the object before its end", op);
        }
      }
      this.#sent.add(start);
      const end = start + data.length;
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const skip = Math.max(0, this.#confirmed - start);
        if (skip > data.length) {
          throw this.#unexpected(`the server has ${this.#confirmed} bytes, past ${end}`, op);
        }
        if (skip === data.length && total === undefined) return undefined;
        const body = data.subarray(skip);
        const from = start + skip;
        const range = body.length === 0
          ? `bytes */${total}`
          : `bytes ${from}-${from + body.length - 1}/${total ?? "*"}`;
        const res = await fetch(uri, {
          method: "PUT",
          // Part buffers are plain ArrayBuffers; the DOM typings just cannot tell.
          body: body as Uint8Array<ArrayBuffer>,
          headers: { "content-range": range },
          signal,
        });
        if (res.status === 308) {
          await res.body?.cancel();
          this.#acknowledge(res.headers.get("range"));
          if (total === undefined && this.#confirmed >= end) return undefined;
          continue;
        }
        if (res.ok) {
          if (total === undefined) {
            await res.body?.cancel();
            throw this.#unexpected("the server committed the object before its end", op);
          }
          return await statOf(res);
        }
        throw await errorOf(res);
      }
      throw this.#unexpected(`the server kept fewer bytes than sent ${MAX_ROUNDS} times`, op);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw this.#init.mapError(err, op);
    }
  }

  /**
   * Asks the server how much it has, after a chunk whose outcome is unknown; resolves with the
   * object's stat if the session is already committed.
   */
  async #queryStatus(uri: string, signal: AbortSignal): Promise<ObjectStat | undefined> {
    const res = await fetch(uri, {
      method: "PUT",
      headers: { "content-range": "bytes */*" },
      signal,
    });
    if (res.ok) return await statOf(res);
    if (res.status !== 308) throw await errorOf(res);
    await res.body?.cancel();
    this.#acknowledge(res.headers.get("range"));
    return undefined;
  }

  #acknowledge(range: string | null): void {
    const last = /-(\d+)$/.exec(range ?? "")?.[1];
    this.#confirmed = last === undefined ? 0 : Number(last) + 1;
  }
}

async function statOf(res: Response): Promise<ObjectStat> {
  const meta = await res.json() as { size?: string; generation?: string };
  return { size: Number(meta.size ?? 0), version: String(meta.generation ?? "") };
}
