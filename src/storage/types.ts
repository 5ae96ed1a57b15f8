/**
 * The ExternalStorage contract: BR's method set, with cancellation on every call, declared
 * capabilities and conditional writes. Backup, checkpoint and lock code reach storage only
 * through it; every backend (built-in or custom) is a plugin that implements it.
 *
 * Names are `/`-separated paths relative to the storage root (`backupmeta`,
 * `checkpoints/backup/checkpoint.lock`). A name that is empty, absolute, or contains a `..`
 * segment is rejected with `ConfigInvalid` by every plugin.
 * @module
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StorageError } from "./errors.ts";
import type { StorageBackendSchema } from "../gen/brpb_pb.ts";

/**
 * Which queue a call joins in the concurrency and rate-limit layers. `control` calls (locks,
 * checkpoints, which ask for it with `controlLane`) never wait behind data transfers; `data`
 * calls (the default) share the limits.
 */
export type Lane = "control" | "data";

/** Options every call accepts. */
export interface CallOptions {
  /** Cancels the call; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** The call's lane (see `Lane`); `data` when unset. Plugins ignore it. */
  lane?: Lane;
}

/** Options for `readFile`. */
export interface ReadFileOptions extends CallOptions {
  /**
   * A buffer the object may be read into when it fits, so a caller reading many objects can
   * reuse one instead of getting fresh memory for each. The result is then a view of `into`'s
   * first bytes, valid until the caller reuses `into`. A plugin may ignore it and return a
   * fresh buffer; only the returned bytes count, never what `into` holds afterwards.
   */
  into?: Uint8Array;
}

/** Preconditions for `writeFile`. At most one may be given. */
export interface WriteOptions extends CallOptions {
  /** Create only if no object has this name; otherwise fail with `ConditionNotMatch`. */
  ifNoneMatch?: "*";
  /**
   * Replace only if the current object's version tag equals this; else (also when the object
   * is missing) `ConditionNotMatch`.
   */
  ifMatch?: string;
}

/** What `stat` and conditional writes report about an object. */
export interface ObjectStat {
  /** Size in bytes. */
  size: number;
  /**
   * Opaque version tag (S3/Azure ETag, GCS generation, a local content hash); changes on every
   * write, and is what `ifMatch` compares against.
   */
  version: string;
}

/** Options for `walkDir`. */
export interface WalkOptions extends CallOptions {
  /** Only names under this directory (`sub/dir`), relative to the root. */
  subDir?: string;
  /** Only names whose part after `subDir/` starts with this string. */
  objPrefix?: string;
  /** Page size hint for list calls (S3's 1000 when unset). */
  listCount?: number;
  /** Only names strictly greater (byte order) than this full name. */
  startAfter?: string;
}

/** Called once per object by `walkDir`; may be async, and is awaited before the next. */
export type WalkFn = (name: string, size: number) => void | Promise<void>;

/** A ranged read of one object. */
export interface ReadOptions extends CallOptions {
  /** First byte offset, inclusive (default 0). */
  start?: number;
  /** Byte offset to stop before, exclusive (default: the object's size). */
  end?: number;
}

/** A ranged reader returned by `open`. */
export interface StorageReader {
  /** Total size of the object (not of the range). */
  readonly size: number;
  /** The bytes of the requested range, in order. Read it once. */
  readonly stream: ReadableStream<Uint8Array>;
  /** Releases the underlying connection or file handle early. Idempotent. */
  close(): Promise<void>;
}

/** Options for the streaming writer. */
export interface CreateOptions extends CallOptions {
  /** Parts uploaded at once (multipart / block upload); default 1 for local, 4 for clouds. */
  concurrency?: number;
  /** Part size in bytes for multipart uploads; default 5 MiB (S3's minimum). */
  partSize?: number;
}

/**
 * A streaming writer. The object appears, whole, only when `close` resolves; `abort` (or an
 * error) leaves no object and releases uploaded parts. Memory use is bounded by
 * concurrency × partSize whatever the total size.
 */
export interface StorageWriter {
  /**
   * Appends bytes; resolves once they are buffered or uploaded (back-pressure). The caller may
   * reuse `chunk` once the promise resolves, so a plugin that keeps bytes must copy them.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Completes the object and returns its stat. */
  close(): Promise<ObjectStat>;
  /** Discards everything written. Idempotent. */
  abort(reason?: unknown): Promise<void>;
}

/** What a plugin guarantees; code that needs a guarantee checks it here and says so if absent. */
export interface StorageCapabilities {
  /** `writeFile` honours `ifNoneMatch: "*"` atomically (exactly one of racing creators wins). */
  conditionalCreate: boolean;
  /** `writeFile` honours `ifMatch` atomically. */
  compareAndSwap: boolean;
  /** A reader sees either the old or the new content of a `writeFile`, never a part. */
  atomicReplace: boolean;
  /** A completed write is visible to every later read and listing. */
  strongConsistency: boolean;
  /** `open` reads a byte range without transferring the whole object. */
  rangeRead: boolean;
  /** Most names one `deleteFiles` request removes; larger batches are split by the plugin. */
  maxDeleteBatch: number;
  /**
   * Writes succeed and are dropped (`noop://`): nothing written can be read back, so callers
   * skip what only makes sense on real storage (checkpoints, resuming). Unset: false.
   */
  discardsWrites?: boolean;
}

/**
 * `backup.StorageBackend` as protobuf-es init data (or the message itself): what a TiKV store
 * is sent to write backup files here. Plugins that cannot import protobuf-es (a plain `.js`
 * custom plugin) return a plain object like `{ backend: { case: "local", value: { path } } }`;
 * `toStorageBackend` turns either into the message.
 */
export type StorageBackendInit = MessageInitShape<typeof StorageBackendSchema>;

/** The ExternalStorage contract. All methods may reject with a `StorageError`. */
export interface ExternalStorage {
  /**
   * Writes the whole object. Atomic: a concurrent reader sees the old or the new content. With
   * `ifNoneMatch`/`ifMatch`, fails with `ConditionNotMatch` when the precondition does not hold
   * (and with `Unsupported` if the plugin does not declare the capability).
   */
  writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat>;
  /**
   * Reads the whole object; `NotFound` if missing. With `opts.into` the bytes may land in the
   * caller's buffer (see `ReadFileOptions`).
   */
  readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array>;
  /** Whether the object exists; never throws `NotFound`. */
  fileExists(name: string, opts?: CallOptions): Promise<boolean>;
  /** Size and version tag; `NotFound` if missing. */
  stat(name: string, opts?: CallOptions): Promise<ObjectStat>;
  /** Deletes the object. Idempotent: deleting a missing object succeeds. */
  deleteFile(name: string, opts?: CallOptions): Promise<void>;
  /** Deletes many objects in batches of `maxDeleteBatch`; missing names are not an error. */
  deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void>;
  /** A ranged reader; `NotFound` if missing; a range past the end is clamped to the size. */
  open(name: string, opts?: ReadOptions): Promise<StorageReader>;
  /**
   * Calls `fn` once for every object whose name starts with `subDir/` + `objPrefix`, in
   * ascending byte (UTF-8) order of name, each name exactly once (paging is hidden). Names are
   * relative to the storage root. A missing `subDir` lists nothing and is not an error.
   */
  walkDir(opts: WalkOptions, fn: WalkFn): Promise<void>;
  /** A URL naming this storage, with every credential removed. */
  uri(): string;
  /** A streaming writer for large objects (multipart/block uploads). */
  create(name: string, opts?: CreateOptions): Promise<StorageWriter>;
  /**
   * Moves an object, replacing any object at `to`; `NotFound` if `from` is missing. Atomic where
   * the backend can (local); clouds copy then delete, so `from` and `to` may briefly coexist.
   */
  rename(from: string, to: string, opts?: CallOptions): Promise<void>;
  /** Declared guarantees. */
  capabilities(): StorageCapabilities;
  /**
   * The `backup.StorageBackend` that lets a TiKV store write here. With `sendCredentials`
   * false, no secret is put in it (stores then use their own credentials). Throws
   * `Unsupported` when stores cannot reach this storage (memory, custom plugins without it).
   */
  storageBackend(sendCredentials: boolean): StorageBackendInit;
  /** Releases clients and handles. Further calls fail. Idempotent. */
  close(): Promise<void>;
}

/** The error type of this contract, re-exported for plugin authors. */
export type { StorageError };
