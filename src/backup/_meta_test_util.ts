/**
 * Test helpers for the metadata writer and reader: a map-backed storage with fault hooks, and
 * builders of data files with table keys. Not used by production code.
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { Buffer } from "node:buffer";
import { createDecipheriv, createHash } from "node:crypto";
import { type File, FileSchema } from "../gen/brpb_pb.ts";
import { encodeInt } from "../codec/bytes.ts";
import { StorageError } from "../storage/errors.ts";
import type { ExternalStorage, ObjectStat } from "../storage/types.ts";

/** Just enough of ExternalStorage for the metadata code: whole-object writes and reads. */
export class MapStorage {
  readonly files = new Map<string, Uint8Array>();
  /** Names in write order. */
  readonly writes: string[] = [];
  /** When it returns true for a name, that write fails with a temporary-looking error. */
  failWrite?: (name: string) => boolean;
  /** Keep only sha256 and size of written objects (for memory tests). */
  discard = false;
  readonly digests = new Map<string, { sha256: string; size: number }>();

  writeFile(name: string, data: Uint8Array): Promise<ObjectStat> {
    if (this.failWrite?.(name)) {
      return Promise.reject(
        new StorageError(`injected failure writing ${name}`, {
          code: "Unexpected",
          operation: "writeFile",
          path: name,
        }),
      );
    }
    this.writes.push(name);
    this.digests.set(name, { sha256: sha256Hex(data), size: data.length });
    if (!this.discard) this.files.set(name, data.slice());
    return Promise.resolve({ size: data.length, version: String(this.writes.length) });
  }

  readFile(name: string): Promise<Uint8Array> {
    const d = this.files.get(name);
    if (!d) {
      return Promise.reject(
        new StorageError(`memory://unit/${name} does not exist`, {
          code: "NotFound",
          operation: "readFile",
          path: name,
        }),
      );
    }
    return Promise.resolve(d.slice());
  }

  fileExists(name: string): Promise<boolean> {
    return Promise.resolve(this.files.has(name));
  }

  uri(): string {
    return "memory://unit";
  }

  /** This object typed as the contract (only the methods above are called). */
  get storage(): ExternalStorage {
    return this as unknown as ExternalStorage;
  }
}

/** Hex sha256. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** AES-CTR decryption done directly with node:crypto, independent of src/crypto. */
export function aesCtrDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const d = createDecipheriv(`aes-${key.length * 8}-ctr`, key, iv);
  return new Uint8Array(Buffer.concat([d.update(data), d.final()]));
}

/** `t{id}_r{handle}` with TiDB's int encoding. */
export function recordKey(tableId: bigint, handle: bigint): Uint8Array {
  const out = new Uint8Array(19);
  out[0] = 0x74;
  out.set(encodeInt(tableId), 1);
  out[9] = 0x5f;
  out[10] = 0x72;
  out.set(encodeInt(handle), 11);
  return out;
}

/** A data file of table `tableId` covering handles [from, to), with made-up statistics. */
export function dataFile(
  name: string,
  tableId: bigint,
  from: bigint,
  to: bigint,
  stats: { crc: bigint; kvs: bigint; bytes: bigint; size?: bigint; cf?: string },
): File {
  return create(FileSchema, {
    name,
    sha256: createHash("sha256").update(name).digest(),
    startKey: recordKey(tableId, from),
    endKey: recordKey(tableId, to),
    startVersion: 0n,
    endVersion: 434_000_000_000_000_000n,
    crc64xor: stats.crc,
    totalKvs: stats.kvs,
    totalBytes: stats.bytes,
    cf: stats.cf ?? "write",
    size: stats.size ?? stats.bytes / 2n,
  });
}
