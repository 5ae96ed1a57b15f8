/**
 * Private: storages opened by backup requests, shared by the requests that use the same
 * backend at the same time. TiKV opens the storage per request, which is cheap for it; a
 * plugin's open here is not (the local plugin checks its root and sweeps its staging directory
 * on every open), and a backup client sends a request per range to every store at once, so a
 * backup of many small tables paid an open (a readdir and a stat per staged file) per range
 * and store. A storage is closed when its last user releases it, so a finished backup leaves
 * its root as a per-request open did.
 * @module
 */
import { toBinary } from "@bufbuild/protobuf";
import { hex } from "../../codec/bytes.ts";
import { type StorageBackend, StorageBackendSchema } from "../../gen/brpb_pb.ts";
import { storageFromBackend } from "../../storage/from_backend.ts";
import type { ExternalStorage } from "../../storage/types.ts";

interface _Entry {
  storage: Promise<ExternalStorage>;
  users: number;
}

/** A storage in use; `release()` once the request is done with it. */
export interface StorageLease {
  storage: ExternalStorage;
  release(): Promise<void>;
}

/** Storages by serialized backend, each open while some request holds it. */
export class SharedStorages {
  readonly #open = new Map<string, _Entry>();
  /** Opens a storage: the default is the plugin registry's. */
  constructor(
    readonly opener: (backend: StorageBackend | undefined) => Promise<ExternalStorage> = (b) =>
      storageFromBackend(b),
  ) {}

  /**
   * The storage `backend` names, opened unless a running request has it open already. A
   * request cancelled while the open runs gets its signal's reason (the open goes on for the
   * others; the lease is given back when it arrives).
   */
  async acquire(backend: StorageBackend | undefined, signal?: AbortSignal): Promise<StorageLease> {
    signal?.throwIfAborted();
    const key = backend ? hex(toBinary(StorageBackendSchema, backend)) : "";
    const leasing = this.acquireKey(key, () => this.opener(backend));
    if (!signal) return await leasing;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([leasing, aborted]);
    } catch (err) {
      if (signal.aborted) void leasing.then((l) => l.release(), () => {});
      throw err;
    } finally {
      signal.removeEventListener("abort", onAbort!);
    }
  }

  /** As `acquire`, for a caller that holds the serialized backend already. */
  async acquireKey(key: string, open: () => Promise<ExternalStorage>): Promise<StorageLease> {
    let e = this.#open.get(key);
    if (!e) {
      e = { storage: open(), users: 0 };
      this.#open.set(key, e);
    }
    const entry = e;
    entry.users++;
    let storage: ExternalStorage;
    try {
      storage = await entry.storage;
    } catch (err) {
      // A failed open is not kept: the next request tries again.
      entry.users--;
      if (this.#open.get(key) === entry) this.#open.delete(key);
      throw err;
    }
    let released = false;
    return {
      storage,
      release: async () => {
        if (released) return;
        released = true;
        if (--entry.users > 0) return;
        if (this.#open.get(key) === entry) this.#open.delete(key);
        await storage.close();
      },
    };
  }

  /** Storages open now (for tests). */
  get size(): number {
    return this.#open.size;
  }
}
