/**
 * Checks that the data files a backup lists are in the storage as the stores reported them:
 * present, with their size, and (with `--verify-files`) their sha256. Runs before `backupmeta`
 * is written, and on resume for the files the checkpoint lists, so a file deleted, truncated or
 * damaged in the storage never ends up listed by a backup that reports success.
 *
 * The storage is listed once (`walkDir`, which reports sizes); a plugin that cannot list is
 * asked per file (`stat`).
 *
 * Also finds orphans: SST files the stores wrote for this backup (TiKV's naming, written after
 * the backup's first run started) that no range kept, e.g. those of a range an interrupted run
 * had not yet checkpointed. They are removed before `backupmeta` is written.
 * @module
 */
import { createHash } from "node:crypto";
import { hex } from "../codec/bytes.ts";
import { isStorageError } from "../storage/errors.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { log } from "../log.ts";
import { forEachPool } from "../pool.ts";

/** The part of a backup `File` the check reads. */
export interface ListedFile {
  name: string;
  size: bigint | number;
  sha256?: Uint8Array;
}

/**
 * The files a backup's metadata lists, by name: a size each (and a sha256 only when it is
 * compared), not an object and a bigint (100k tables list 300k files). The listing of the
 * storage puts the sizes it finds for them here too (`StoredFiles.list` with this), so it keeps
 * no second string a file.
 */
export class ListedFiles {
  readonly #index = new Map<string, number>();
  readonly #sizes: number[] = [];
  /** The size the storage's listing found for each file (NaN: not found, or not listed). */
  #stored: Float64Array | undefined;
  readonly #sha256 = new Map<number, Uint8Array>();

  /** Records a file (a name listed again replaces the earlier entry). */
  set(name: string, size: bigint | number, sha256?: Uint8Array): void {
    let i = this.#index.get(name);
    if (i === undefined) {
      i = this.#sizes.length;
      this.#index.set(name, i);
      this.#sizes.push(0);
    }
    this.#sizes[i] = Number(size);
    if (sha256) this.#sha256.set(i, sha256);
    else this.#sha256.delete(i);
  }

  has(name: string): boolean {
    return this.#index.has(name);
  }

  get size(): number {
    return this.#index.size;
  }

  /** Each file as the check reads it, made as iterated. */
  *values(): Generator<ListedFile> {
    for (const [name, i] of this.#index) {
      const sha256 = this.#sha256.get(i);
      const size = this.#sizes[i]!;
      yield sha256 ? { name, size, sha256 } : { name, size };
    }
  }

  /** Starts taking a listing's sizes: every file not found until `seen` says otherwise. */
  _startListing(): void {
    this.#stored = new Float64Array(this.#sizes.length).fill(NaN);
  }

  /** Takes the size the listing found for `name`; false when `name` is not listed here. */
  _seen(name: string, size: number): boolean {
    const i = this.#index.get(name);
    if (i === undefined || !this.#stored) return false;
    this.#stored[i] = size;
    return true;
  }

  /**
   * The size the listing found for a listed file: a number, NaN when not found, or undefined
   * when `name` is not listed here or no listing was taken.
   */
  _storedSize(name: string): number | undefined {
    const i = this.#index.get(name);
    return i === undefined || !this.#stored ? undefined : this.#stored[i];
  }
}

/**
 * TiKV's backup file name: `[{store}/]{store}_{region}_{epoch version}_{key hash}_{unix ms}_{cf}.sst`
 * (`components/backup/src/utils.rs`, `backup_file_name`).
 */
const TIKV_SST = /^(?:\d+\/)?\d+_\d+_\d+_[0-9a-f]+_(\d+)_[a-z]+\.sst$/;

/** Whether `name` is a data file as TiKV names them. */
export function isBackupDataFile(name: string): boolean {
  return TIKV_SST.test(name);
}

/** Files read back at once by `--verify-files`. */
const VERIFY_CONCURRENCY = 8;

/**
 * The storage's objects and their sizes, from one listing; or, per file, from `stat`. Listed
 * with the backup's `ListedFiles`, the sizes of those files go there and only the other names
 * (the orphan candidates) are kept here.
 */
export class StoredFiles {
  readonly #storage: ExternalStorage;
  readonly #sizes: Map<string, number> | undefined;
  readonly #listed: ListedFiles | undefined;
  readonly #signal: AbortSignal | undefined;

  private constructor(
    storage: ExternalStorage,
    sizes: Map<string, number> | undefined,
    listed: ListedFiles | undefined,
    signal: AbortSignal | undefined,
  ) {
    this.#storage = storage;
    this.#sizes = sizes;
    this.#listed = listed;
    this.#signal = signal;
  }

  /** Lists the storage (everything outside `checkpoints/`) once; falls back to `stat` per file. */
  static async list(
    storage: ExternalStorage,
    signal?: AbortSignal,
    listed?: ListedFiles,
  ): Promise<StoredFiles> {
    const sizes = new Map<string, number>();
    listed?._startListing();
    try {
      await storage.walkDir({ ...(signal ? { signal } : {}) }, (name, size) => {
        if (name.startsWith("checkpoints/")) return;
        if (!listed?._seen(name, size)) sizes.set(name, size);
      });
    } catch (err) {
      if (!isStorageError(err, "Unsupported")) throw err;
      log("backup").info("{uri} cannot be listed: data files are checked one by one", {
        uri: storage.uri(),
      });
      return new StoredFiles(storage, undefined, undefined, signal);
    }
    return new StoredFiles(storage, sizes, listed, signal);
  }

  /** Whether the check used one listing (false: a stat per file). */
  get listed(): boolean {
    return this.#sizes !== undefined;
  }

  /** The size of `name`, or undefined when it is not there. */
  async sizeOf(name: string): Promise<number | undefined> {
    if (this.#sizes) {
      const found = this.#listed?._storedSize(name);
      if (found !== undefined) return Number.isNaN(found) ? undefined : found;
      return this.#sizes.get(name);
    }
    try {
      return (await this.#storage.stat(name, this.#signal ? { signal: this.#signal } : {})).size;
    } catch (err) {
      if (isStorageError(err, "NotFound")) return undefined;
      throw err;
    }
  }

  /**
   * Listed names (none when the storage could not be listed); listed with the backup's files,
   * only the names that are not among them.
   */
  names(): Iterable<string> {
    return this.#sizes?.keys() ?? [];
  }
}

/** Hex sha256 of an object, streamed. */
export async function sha256Of(
  storage: ExternalStorage,
  name: string,
  signal?: AbortSignal,
): Promise<string> {
  const hash = createHash("sha256");
  const reader = await storage.open(name, signal ? { signal } : {});
  try {
    for await (const chunk of reader.stream) hash.update(chunk);
  } finally {
    await reader.close();
  }
  return hash.digest("hex");
}

/** What is wrong with a listed file, in a few words; undefined when it is fine. */
export async function fileProblem(
  storage: ExternalStorage,
  stored: StoredFiles,
  file: ListedFile,
  verify: boolean,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const size = await stored.sizeOf(file.name);
  if (size === undefined) return "missing";
  if (BigInt(size) !== BigInt(file.size)) return `${size} bytes, the store wrote ${file.size}`;
  if (verify && file.sha256 && file.sha256.length > 0) {
    const got = await sha256Of(storage, file.name, signal);
    if (got !== hex(file.sha256)) return "sha256 differs from what the store wrote";
  }
  return undefined;
}

/** A listed file and what is wrong with it. */
export interface FileProblem {
  name: string;
  problem: string;
}

/** Checks every file of `files`; returns the problems found (at most VERIFY_CONCURRENCY at once). */
export async function checkFiles(
  storage: ExternalStorage,
  stored: StoredFiles,
  files: Iterable<ListedFile>,
  verify: boolean,
  signal?: AbortSignal,
): Promise<FileProblem[]> {
  const problems: FileProblem[] = [];
  // Without reads the check is a map look-up per file; only stats and sha256 reads overlap.
  const concurrency = verify || !stored.listed ? VERIFY_CONCURRENCY : 1;
  await forEachPool(
    files,
    { concurrency, ...(signal ? { signal } : {}) },
    async (file, _i, sig) => {
      const problem = await fileProblem(storage, stored, file, verify, sig);
      if (problem) problems.push({ name: file.name, problem });
    },
  );
  problems.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return problems;
}

/**
 * SST files the stores wrote for this backup that `listed` does not hold: TiKV-named files
 * whose write time (the name's unix ms) is not before `sinceMs`.
 */
export function orphanFiles(
  stored: StoredFiles,
  listed: { has(name: string): boolean },
  sinceMs: number,
): string[] {
  const out: string[] = [];
  for (const name of stored.names()) {
    if (listed.has(name)) continue;
    const m = TIKV_SST.exec(name);
    if (m && Number(m[1]) >= sinceMs) out.push(name);
  }
  return out;
}

/** The one-line error for files a backup cannot list. */
export function filesProblemMessage(uri: string, problems: FileProblem[], total: number): string {
  const first = problems.slice(0, 3).map((p) => `${p.name} (${p.problem})`).join(", ");
  const more = problems.length > 3 ? ` and ${problems.length - 3} more` : "";
  return `${problems.length} of ${total} data files at ${uri} are missing or damaged: ` +
    `${first}${more}; rerun the same command: its ranges are then backed up again`;
}
