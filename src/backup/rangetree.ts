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
import type { File } from "../gen/brpb_pb.ts";
import { compareBytes } from "../codec/bytes.ts";

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
export interface Range<F = File> extends KeyRange {
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
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

function compareStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether `key` lies in `[r.startKey, r.endKey)`. */
function contains(r: KeyRange, key: Uint8Array): boolean {
  return compareBytes(key, r.startKey) >= 0 &&
    (r.endKey.length === 0 || compareBytes(key, r.endKey) < 0);
}

/** The ranges of a backup, sorted by start key and never overlapping. */
export class RangeTree<F extends { name: string } = File> implements Iterable<Range<F>> {
  readonly #tree = new BTree(undefined, compareStr, NODE_SIZE) as SortedMap<Range<F>>;

  /** Number of ranges. */
  get len(): number {
    return this.#tree.size;
  }

  /**
   * Records that `[startKey, endKey)` is backed up by `files`. Ranges it overlaps are removed
   * first (their files with them): the newest response for a key range wins. Returns how many
   * ranges were replaced.
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
    const start = keyString(startKey);
    let replaced = 0;
    const before = this.#tree.getPairOrNextLower(start);
    if (before && contains(before[1], startKey)) {
      this.#tree.delete(before[0]);
      replaced++;
    }
    // Then every range starting inside [start, end). Usually there is none: one look-up.
    const end = endKey.length === 0 ? undefined : keyString(endKey);
    for (
      let next = this.#tree.getPairOrNextHigher(start);
      next !== undefined && (end === undefined || next[0] < end);
      next = this.#tree.nextHigherPair(next[0])
    ) {
      this.#tree.delete(next[0]);
      replaced++;
    }
    this.#tree.set(start, { startKey, endKey, files });
    return replaced;
  }

  /** The range containing `key`, if any. */
  find(key: Uint8Array): Range<F> | undefined {
    const pair = this.#tree.getPairOrNextLower(keyString(key));
    return pair && contains(pair[1], key) ? pair[1] : undefined;
  }

  /**
   * The parts of `[startKey, endKey)` no range covers yet, in key order (BR's
   * `GetIncompleteRange`). An empty request (`startKey` equal to a non-empty `endKey`) has none.
   */
  getIncompleteRanges(startKey: Uint8Array, endKey: Uint8Array): KeyRange[] {
    const bounded = endKey.length > 0;
    if (bounded && compareBytes(startKey, endKey) >= 0) return [];
    const gaps: KeyRange[] = [];
    // The first range to look at is the one containing startKey, else the next one after it.
    let from = keyString(startKey);
    const before = this.#tree.getPairOrNextLower(from);
    if (before && contains(before[1], startKey)) from = before[0];
    // `cursor` is where coverage ends so far; `done` once a range reaches +infinity.
    let cursor = startKey;
    let done = false;
    for (const [, r] of this.#tree.entries(from)) {
      if (bounded && compareBytes(r.startKey, endKey) >= 0) break;
      if (compareBytes(cursor, r.startKey) < 0) gaps.push({ startKey: cursor, endKey: r.startKey });
      if (r.endKey.length === 0) {
        done = true;
        break;
      }
      if (compareBytes(r.endKey, cursor) > 0) cursor = r.endKey;
      if (bounded && compareBytes(cursor, endKey) >= 0) break;
    }
    if (!done && (!bounded || compareBytes(cursor, endKey) < 0)) {
      gaps.push({ startKey: cursor, endKey });
    }
    return gaps;
  }

  /** Ranges in ascending start-key order. */
  *ranges(): IterableIterator<Range<F>> {
    for (const [, r] of this.#tree.entries()) yield r;
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
