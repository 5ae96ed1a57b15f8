/**
 * The control lane, asked for explicitly: lock and checkpoint code wrap their storage with
 * `controlLane`, so their calls pass the rate and concurrency limits without waiting behind
 * data transfers (restic exempts lock files from its semaphore for the same reason: a lock
 * renewal stuck behind uploads would let the lock expire). The core never guesses a lane from
 * a name.
 * @module
 */
import { ForwardingStorage } from "./_forward.ts";
import type {
  CallOptions,
  CreateOptions,
  ExternalStorage,
  Lane,
  ObjectStat,
  ReadFileOptions,
  ReadOptions,
  StorageReader,
  StorageWriter,
  WalkFn,
  WalkOptions,
  WriteOptions,
} from "./types.ts";

/** The lane of a call: what it asked for, `data` when it did not. */
export function laneOf(opts?: CallOptions): Lane {
  return opts?.lane ?? "data";
}

function control<T extends CallOptions>(opts: T | undefined): T {
  return { ...opts, lane: opts?.lane ?? "control" } as T;
}

class ControlLaneStorage extends ForwardingStorage {
  override writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    return this.inner.writeFile(name, data, control(opts));
  }
  override readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    return this.inner.readFile(name, control(opts));
  }
  override fileExists(name: string, opts?: CallOptions): Promise<boolean> {
    return this.inner.fileExists(name, control(opts));
  }
  override stat(name: string, opts?: CallOptions): Promise<ObjectStat> {
    return this.inner.stat(name, control(opts));
  }
  override deleteFile(name: string, opts?: CallOptions): Promise<void> {
    return this.inner.deleteFile(name, control(opts));
  }
  override deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    return this.inner.deleteFiles(names, control(opts));
  }
  override open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    return this.inner.open(name, control(opts));
  }
  override walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
    return this.inner.walkDir(control(opts), fn);
  }
  override create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    return this.inner.create(name, control(opts));
  }
  override rename(from: string, to: string, opts?: CallOptions): Promise<void> {
    return this.inner.rename(from, to, control(opts));
  }
}

/**
 * `storage` with every call on the control lane (a call that names its lane keeps it).
 * Idempotent: wrapping twice adds no second layer.
 */
export function controlLane(storage: ExternalStorage): ExternalStorage {
  return storage instanceof ControlLaneStorage ? storage : new ControlLaneStorage(storage);
}
