/**
 * Private: a worker thread that builds backup SST files for the stores (see `_sst_pool.ts`):
 * it receives packed KV batches, feeds them to an `SstWriter` (blocks, compression, checksums,
 * encryption, SHA-256) and streams the file to the request's storage. The MVCC scan stays on the
 * main thread; this is the CPU-heavy half of a backup.
 *
 * Messages in: `open`, `add` (a transferred buffer of `[u32 key len][u32 value len][key][value]`
 * records), `finish`, `abort`, `end` (a request is over: close its storage). Out: `ack` per
 * `add`, `done` with size and sha256, or `error` with a one-line message, per file.
 * @module
 */
import { parentPort } from "node:worker_threads";
import { fromBinary } from "@bufbuild/protobuf";
import { StorageBackendSchema } from "../../gen/brpb_pb.ts";
import type { SstCompression } from "../../sst/_compression.ts";
import { SstWriter } from "../../sst/writer.ts";
import { storageFromBackend } from "../../storage/from_backend.ts";
import type { ExternalStorage } from "../../storage/types.ts";
import { hex } from "../../codec/bytes.ts";
import { SharedStorages, type StorageLease } from "./_storage_cache.ts";
import type { CipherInfo } from "../../crypto/cipher.ts";

/** Opens a file of a request. */
export interface OpenMessage {
  type: "open";
  file: number;
  request: number;
  /** `backup.StorageBackend`, serialized. */
  backend: Uint8Array;
  name: string;
  compression: SstCompression;
  compressionLevel?: number;
  blockSize: number;
  cf: string;
  cfId: number;
  cipher?: { method: number; key: Uint8Array; iv: Uint8Array };
}

/** A message to the worker. */
export type WorkerIn =
  | OpenMessage
  | { type: "add"; file: number; buf: ArrayBuffer; len: number }
  | { type: "finish"; file: number }
  | { type: "abort"; file: number }
  | { type: "end"; request: number };

/** A message from the worker (`ready` once, when it has loaded). */
export type WorkerOut =
  | { type: "ready"; file?: undefined }
  | { type: "ack"; file: number }
  | { type: "done"; file: number; size: number; sha256: Uint8Array }
  | { type: "error"; file: number; message: string };

interface FileState {
  writer?: SstWriter;
  chain: Promise<void>;
  failed: boolean;
}

const port = parentPort;
if (port) {
  // A request's storage, shared with the other requests writing to the same backend.
  const shared = new SharedStorages();
  const storages = new Map<number, Promise<StorageLease>>();
  const files = new Map<number, FileState>();
  const send = (m: WorkerOut) => port.postMessage(m);
  const oneLine = (err: unknown) => ((err as Error)?.message ?? String(err)).split("\n")[0]!;

  const storageOf = async (m: OpenMessage): Promise<ExternalStorage> => {
    let s = storages.get(m.request);
    if (!s) {
      s = shared.acquireKey(
        hex(m.backend),
        () => storageFromBackend(fromBinary(StorageBackendSchema, m.backend)),
      );
      storages.set(m.request, s);
    }
    return (await s).storage;
  };

  const fail = (id: number, f: FileState, err: unknown) => {
    if (f.failed) return;
    f.failed = true;
    void f.writer?.abort(err).catch(() => {});
    send({ type: "error", file: id, message: oneLine(err) });
  };

  const handle = async (m: WorkerIn, f: FileState): Promise<void> => {
    if (f.failed && m.type !== "abort") return;
    switch (m.type) {
      case "open": {
        const storage = await storageOf(m);
        const sink = await storage.create(m.name);
        f.writer = new SstWriter(sink, {
          name: m.name,
          compression: m.compression,
          ...(m.compressionLevel !== undefined ? { compressionLevel: m.compressionLevel } : {}),
          blockSize: m.blockSize,
          columnFamily: { name: m.cf, id: m.cfId },
          ...(m.cipher
            ? {
              cipher: {
                info: { method: m.cipher.method as CipherInfo["method"], key: m.cipher.key },
                iv: m.cipher.iv,
              },
            }
            : {}),
        });
        return;
      }
      case "add": {
        const u8 = new Uint8Array(m.buf, 0, m.len);
        const dv = new DataView(m.buf);
        let p = 0;
        while (p < m.len) {
          const kl = dv.getUint32(p, true);
          const vl = dv.getUint32(p + 4, true);
          p += 8;
          const key = u8.subarray(p, p + kl);
          p += kl;
          await f.writer!.add(key, u8.subarray(p, p + vl));
          p += vl;
        }
        send({ type: "ack", file: m.file });
        return;
      }
      case "finish": {
        const r = await f.writer!.finish();
        files.delete(m.file);
        send({ type: "done", file: m.file, size: r.size, sha256: r.sha256 });
        return;
      }
      case "abort":
        files.delete(m.file);
        await f.writer?.abort(new Error("aborted by the store"));
        return;
      case "end":
        return;
    }
  };

  port.on("message", (m: WorkerIn) => {
    if (m.type === "end") {
      const s = storages.get(m.request);
      storages.delete(m.request);
      // Files of the request have finished or been aborted before the request ends.
      void s?.then((lease) => lease.release()).catch(() => {});
      return;
    }
    let f = files.get(m.file);
    if (!f) {
      f = { chain: Promise.resolve(), failed: false };
      files.set(m.file, f);
    }
    const state = f;
    state.chain = state.chain.then(() => handle(m, state)).catch((err) => fail(m.file, state, err));
  });
  send({ type: "ready" });
}
