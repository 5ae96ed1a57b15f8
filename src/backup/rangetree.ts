/**
 * BR's range tree (`rtree.RangeTree`): the key ranges a backup has finished, each with the files
 * TiKV wrote for it. Ranges never overlap; a later `put` replaces every range it overlaps, as BR's
 * `Update` does, so a region backed up twice (after a split or a retry) keeps only its latest
 * files. `getIncompleteRanges` gives the gaps the fine-grained phase still has to back up.
 *
 * Keys are raw TiKV keys compared bytewise; an empty end key means +infinity. The tree is a
 * B+ tree keyed by the start key held as a latin1 string (one char per byte), whose `<` order is
 * exactly bytewise order and which costs far less memory than a second byte array per range.
 *
 * Memory: `put` packs File messages into shared slabs (`_packed_files.ts`): about 145 bytes a
 * File instead of 900 or more, and nothing of the response that brought them stays reachable.
 * What `ranges()` and `find()` return holds read-only `BackupFile` views decoded field by
 * field (not messages: `toFileMessage` makes one), whose keys and files are made when read;
 * other file types (tests, callers' own records) are kept as given.
 *
 * Streaming (`stream`): without it a backup of a million regions would keep two million Files
 * here until its range is done. Once streaming from a key, the tree hands every range of the
 * contiguous finished prefix from that key to a sink, in key order, and forgets it; stores back
 * up their regions in key order, so only the ranges past the first gap stay. A handed-over range
 * is final: a later `put` overlapping it is refused (BR would let the newer response replace
 * it; both are the same snapshot, and what the refused one covered past the prefix stays a gap
 * for the fine-grained phase).
 *
 * ```ts
 * import { RangeTree } from "./rangetree.ts";
 * const tree = new RangeTree();
 * tree.put(new Uint8Array([1]), new Uint8Array([5]), []);
 * tree.getIncompleteRanges(new Uint8Array(), new Uint8Array([9])); // [[], [1]) and [[5], [9])
 * ```
 * @module
 */
import { logKey } from "../log.ts";
import sortedBtree from "sorted-btree";
import { Buffer } from "node:buffer";
import { compareBytes } from "../codec/bytes.ts";
import { type BackupFile, FileArena, packable, type PackedFileStore } from "./_packed_files.ts";

/** The part of sorted-btree's `BTree<string, V>` this module uses. */
interface SortedMap<V> {
  readonly size: number;
  set(key: string, value: V): boolean;
  delete(key: string): boolean;
  getPairOrNextLower(key: string): [string, V] | undefined;
  getPairOrNextHigher(key: string): [string, V] | undefined;
  nextHigherPair(key: string): [string, V] | undefined;
  entries(lowestKey?: string): IterableIterator<[string, V]>;
}
type SortedMapClass = new (
  entries: undefined,
  compare: (a: string, b: string) => number,
  maxNodeSize: number,
) => SortedMap<unknown>;

// A CommonJS module: Deno's default import is its exports object (the class is `.default`), Bun's
// is the class itself; follow `.default` until the constructor turns up.
function btreeClass(mod: unknown): SortedMapClass {
  let m = mod;
  for (let i = 0; i < 3 && typeof m !== "function"; i++) m = (m as { default?: unknown }).default;
  if (typeof m !== "function") throw new Error("sorted-btree did not load: reinstall dependencies");
  return m as SortedMapClass;
}
const BTree = btreeClass(sortedBtree);

/** Wide nodes keep a tree of a million ranges shallow and its per-entry overhead small. */
const NODE_SIZE = 64;

/** A key range `[startKey, endKey)`; an empty `endKey` is unbounded. */
export interface KeyRange {
  startKey: Uint8Array;
  endKey: Uint8Array;
}

/** A finished range and the files backing it. Treat the keys as read-only. */
export interface Range<F = BackupFile> extends KeyRange {
  files: F[];
}

/** Raised by `checkDupFiles` when two ranges claim the same file. */
export class DuplicateFileError extends Error {
  override name = "DuplicateFileError";
  /** Every file name seen more than once. */
  readonly names: string[];

  constructor(names: string[]) {
    const shown = names.slice(0, 3).join(", ") + (names.length > 3 ? ", ..." : "");
    super(
      `${names.length} backup file(s) appear in more than one range (${shown}); TiKV returned ` +
        "overlapping results, so the backup would restore data twice: run the backup again",
    );
    this.names = names;
  }
}

function keyString(key: Uint8Array): string {
  // fromCharCode over the bytes is about twice as fast as a Buffer for the short keys of
  // regions; long ones go through Buffer (apply's argument count is limited).
  if (key.length <= 256) return String.fromCharCode.apply(null, key as unknown as number[]);
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

function compareStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Bytes of a latin1 key string (one char per byte). */
function keyBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Bytewise order of `a` against the key held in latin1 string `s`. */
function compareToKey(a: Uint8Array, s: string): number {
  const n = Math.min(a.length, s.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - s.charCodeAt(i);
    if (d !== 0) return d;
  }
  return a.length - s.length;
}

/** A tree entry: a packed record's position in the arena, or the range as given. */
type Entry<F> = number | Range<F>;

/** A packed range as `Range`: its keys (copies) and file views are made when read. */
class PackedRange<F> implements Range<F> {
  readonly #arena: PackedFileStore;
  readonly #pos: number;
  #files: F[] | undefined;
  constructor(arena: PackedFileStore, pos: number) {
    this.#arena = arena;
    this.#pos = pos;
  }
  get startKey(): Uint8Array {
    return this.#arena.startKey(this.#pos).slice();
  }
  get endKey(): Uint8Array {
    return this.#arena.endKey(this.#pos).slice();
  }
  get files(): F[] {
    return this.#files ??= this.#arena.files(this.#pos) as unknown as F[];
  }
}

/** The ranges of a backup, sorted by start key and never overlapping. */
export class RangeTree<F extends { name: string } = BackupFile> implements Iterable<Range<F>> {
  readonly #tree = new BTree(undefined, compareStr, NODE_SIZE) as SortedMap<Entry<F>>;
  #arena: PackedFileStore | undefined;
  /** Streaming: where the handed-over prefix starts and ends, and where ranges go. */
  #stream: { start: Uint8Array; frontier: Uint8Array; sink: (r: Range<F>) => void } | undefined;
  /** The handed-over prefix reaches +infinity. */
  #streamDone = false;
  #handed = 0;

  /** Number of ranges, counting those handed over by streaming. */
  get len(): number {
    return this.#tree.size + this.#handed;
  }

  /** Bytes of packed files held (slabs still in use). */
  get heldBytes(): number {
    return this.#arena?.bytes ?? 0;
  }

  /** Ranges handed over by streaming. */
  get handedOver(): number {
    return this.#handed;
  }

  /**
   * From now on hands each range of the finished prefix starting at `start` to `sink`, in key
   * order, and forgets it (see the module doc); ranges already here are handed over at once
   * when they form such a prefix. `sink` must not call back into the tree.
   */
  stream(start: Uint8Array, sink: (r: Range<F>) => void): void {
    if (this.#stream) throw new Error("the range tree is already streaming");
    this.#stream = { start, frontier: start, sink };
    this.#drain();
  }

  /** Hands over the ranges that continue the prefix. */
  #drain(): void {
    const st = this.#stream!;
    while (!this.#streamDone) {
      const pair = this.#tree.getPairOrNextLower(keyString(st.frontier));
      if (!pair || !this.#holds(pair[1], st.frontier)) return;
      const [key, e] = pair;
      this.#tree.delete(key);
      let range: Range<F>;
      if (typeof e === "number") {
        const arena = this.#arena!;
        range = {
          startKey: arena.startKey(e).slice(),
          endKey: arena.endKey(e).slice(),
          files: arena.files(e) as unknown as F[],
        };
        arena.release(e);
      } else {
        range = e;
      }
      this.#handed++;
      if (range.endKey.length === 0) this.#streamDone = true;
      else st.frontier = range.endKey;
      st.sink(range);
    }
  }

  /** Removes an entry (a replaced range). */
  #delete(key: string, e: Entry<F>): void {
    this.#tree.delete(key);
    if (typeof e === "number") this.#arena!.release(e);
  }

  /** The entry's end key (for a packed one, a view into the arena: do not keep or modify). */
  #endKey(e: Entry<F>): Uint8Array {
    return typeof e === "number" ? this.#arena!.endKey(e) : e.endKey;
  }

  /** Whether the entry starting at `start` holds `key` (known to be at or after its start). */
  #holds(e: Entry<F>, key: Uint8Array): boolean {
    const end = this.#endKey(e);
    return end.length === 0 || compareBytes(key, end) < 0;
  }

  #range(e: Entry<F>): Range<F> {
    return typeof e === "number" ? new PackedRange<F>(this.#arena!, e) : e;
  }

  /**
   * Records that `[startKey, endKey)` is backed up by `files`. Ranges it overlaps are removed
   * first (their files with them): the newest response for a key range wins. Returns how many
   * ranges were replaced, or -1 when streaming and the range starts before the end of what was
   * handed over: then nothing is recorded. File messages are copied in (packed); later changes
   * to them are not seen.
   */
  put(startKey: Uint8Array, endKey: Uint8Array, files: F[]): number {
    if (endKey.length > 0 && compareBytes(startKey, endKey) > 0) {
      throw new Error(
        `cannot record backup range [${logKey(startKey)}, ${
          logKey(endKey)
        }): its start key is after ` +
          "its end key",
      );
    }
    const st = this.#stream;
    if (st && (this.#streamDone || compareBytes(startKey, st.frontier) < 0)) return -1;
    const start = keyString(startKey);
    let replaced = 0;
    const before = this.#tree.getPairOrNextLower(start);
    if (before && this.#holds(before[1], startKey)) {
      this.#delete(before[0], before[1]);
      replaced++;
    }
    // Then every range starting inside [start, end). Usually there is none: one look-up.
    const end = endKey.length === 0 ? undefined : keyString(endKey);
    for (
      let next = this.#tree.getPairOrNextHigher(start);
      next !== undefined && (end === undefined || next[0] < end);
      next = this.#tree.nextHigherPair(next[0])
    ) {
      this.#delete(next[0], next[1]);
      replaced++;
    }
    if (files.length > 0 && packable(files)) {
      this.#arena ??= new FileArena();
      this.#tree.set(start, this.#arena.add(startKey, endKey, files as unknown as BackupFile[]));
    } else {
      this.#tree.set(start, { startKey, endKey, files });
    }
    if (st && compareBytes(startKey, st.frontier) === 0) this.#drain();
    return replaced;
  }

  /** The range containing `key`, if any (none once handed over by streaming). */
  find(key: Uint8Array): Range<F> | undefined {
    const pair = this.#tree.getPairOrNextLower(keyString(key));
    return pair && this.#holds(pair[1], key) ? this.#range(pair[1]) : undefined;
  }

  /**
   * The parts of `[startKey, endKey)` no range covers yet, in key order (BR's
   * `GetIncompleteRange`). An empty request (`startKey` equal to a non-empty `endKey`) has none.
   * What streaming handed over counts as finished.
   */
  getIncompleteRanges(startKey: Uint8Array, endKey: Uint8Array): KeyRange[] {
    const st = this.#stream;
    if (st && compareBytes(startKey, st.start) >= 0) {
      if (this.#streamDone) return [];
      if (compareBytes(startKey, st.frontier) < 0) startKey = st.frontier.slice();
    }
    const bounded = endKey.length > 0;
    if (bounded && compareBytes(startKey, endKey) >= 0) return [];
    const gaps: KeyRange[] = [];
    // The first range to look at is the one containing startKey, else the next one after it.
    let from = keyString(startKey);
    const before = this.#tree.getPairOrNextLower(from);
    if (before && this.#holds(before[1], startKey)) from = before[0];
    // `cursor` is where coverage ends so far; `done` once a range reaches +infinity.
    let cursor = startKey;
    let done = false;
    // A cursor taken from a packed entry is a view into the arena: copied when it is handed out.
    const own = (k: Uint8Array) => (k === startKey ? k : k.slice());
    for (const [start, e] of this.#tree.entries(from)) {
      if (bounded && compareToKey(endKey, start) <= 0) break;
      if (compareToKey(cursor, start) < 0) {
        gaps.push({ startKey: own(cursor), endKey: keyBytes(start) });
      }
      const end = this.#endKey(e);
      if (end.length === 0) {
        done = true;
        break;
      }
      if (compareBytes(end, cursor) > 0) cursor = end;
      if (bounded && compareBytes(cursor, endKey) >= 0) break;
    }
    if (!done && (!bounded || compareBytes(cursor, endKey) < 0)) {
      gaps.push({ startKey: own(cursor), endKey });
    }
    return gaps;
  }

  /** Ranges in ascending start-key order (those not handed over by streaming). */
  *ranges(): IterableIterator<Range<F>> {
    for (const [, e] of this.#tree.entries()) yield this.#range(e);
  }

  /** Same as `ranges()`. */
  [Symbol.iterator](): Iterator<Range<F>> {
    return this.ranges();
  }

  /** Names of files that appear in more than one place, in first-seen order. */
  duplicateFiles(): string[] {
    const seen = new Set<string>();
    const dup = new Set<string>();
    for (const r of this.ranges()) {
      for (const f of r.files) {
        if (seen.has(f.name)) dup.add(f.name);
        else seen.add(f.name);
      }
    }
    return [...dup];
  }

  /** Throws `DuplicateFileError` if any file name appears twice (BR's `checkDupFiles`). */
  checkDupFiles(): void {
    const dup = this.duplicateFiles();
    if (dup.length > 0) throw new DuplicateFileError(dup);
  }
}
