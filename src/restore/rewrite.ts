/**
 * Rewrite rules: how keys of a backed-up table map onto the table restore created, as BR's
 * `GetRewriteRulesMap` with detail rules. Physical tables (the table, or each partition matched
 * by name) map `t{old}_r` → `t{new}_r`, and each index matched by name maps
 * `t{old}_i{oldIdx}` → `t{new}_i{newIdx}`; every rule carries the fresh TSO that becomes the
 * commit ts of the restored data.
 *
 * The prefixes are raw table keys. TiKV's `Download` replaces prefixes of the memcomparable
 * keys stored in the SST files, so the rules sent to it are encoded with `encodeKeyPrefix`
 * (BR's legacy rewrite mode, which every TiKV serves).
 * @module
 */
import { compareBytes, concatBytes, encodeBytes } from "../codec/bytes.ts";
import type { ColumnInfo, IndexInfo, TableInfo } from "../tidb/model.ts";
import { physicalTableIds } from "../tidb/model.ts";
import { decodeTableId, indexPrefix, recordPrefix, tablePrefix } from "../tidb/tablecodec.ts";

/** One prefix rule, raw keys (`import_sstpb.RewriteRule` without the encoding). */
export interface RewriteRule {
  oldKeyPrefix: Uint8Array;
  newKeyPrefix: Uint8Array;
  newTimestamp: bigint;
}

/**
 * The mapping of one backed-up table onto its restored copy. It holds IDs only: a restore of
 * 100k tables keeps 100k of these, so the rules (a dozen small byte arrays a table) are made
 * when asked for, not held.
 */
export interface TableRewrite {
  /** Physical table ids (table or partitions), old → new. */
  readonly tableIds: ReadonlyMap<bigint, bigint>;
  /** Index ids, old → new (by index name). */
  readonly indexIds: ReadonlyMap<bigint, bigint>;
  /** Old ids of the physical tables that hold data (not a partitioned table's own id). */
  readonly physical: readonly bigint[];
  /** The commit ts of the restored data. */
  readonly newTs: bigint;
  /** Record and index rules of every physical table, made afresh on each read. */
  readonly rules: RewriteRule[];
}

/**
 * An old → new id map packed in one `BigInt64Array` (ids are int64), in insertion order: a
 * `Map` costs about 300 bytes even for one entry, and a restore holds two per table. Lookups
 * are linear up to 16 entries, else by binary search over a sorted copy of the keys.
 */
export class IdMap implements ReadonlyMap<bigint, bigint> {
  /** Keys and values interleaved: k0, v0, k1, v1, … */
  readonly #pairs: BigInt64Array;
  /** Entry numbers sorted by key, for maps of more than 16 entries. */
  #sorted: Uint32Array | undefined;

  constructor(entries: Iterable<readonly [bigint, bigint]>) {
    const list = [...entries];
    this.#pairs = new BigInt64Array(list.length * 2);
    list.forEach(([k, v], i) => {
      this.#pairs[2 * i] = k;
      this.#pairs[2 * i + 1] = v;
    });
  }

  get size(): number {
    return this.#pairs.length / 2;
  }

  #find(key: bigint): number {
    const p = this.#pairs;
    const n = p.length / 2;
    if (n <= 16) {
      for (let i = 0; i < n; i++) if (p[2 * i] === key) return i;
      return -1;
    }
    this.#sorted ??= Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) =>
      p[2 * a]! < p[2 * b]! ? -1 : p[2 * a]! > p[2 * b]! ? 1 : 0
    );
    const s = this.#sorted;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = p[2 * s[mid]!]!;
      if (k === key) return s[mid]!;
      if (k < key) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  get(key: bigint): bigint | undefined {
    const i = this.#find(key);
    return i < 0 ? undefined : this.#pairs[2 * i + 1];
  }

  has(key: bigint): boolean {
    return this.#find(key) >= 0;
  }

  *entries(): MapIterator<[bigint, bigint]> {
    for (let i = 0; i < this.#pairs.length; i += 2) yield [this.#pairs[i]!, this.#pairs[i + 1]!];
  }

  *keys(): MapIterator<bigint> {
    for (let i = 0; i < this.#pairs.length; i += 2) yield this.#pairs[i]!;
  }

  *values(): MapIterator<bigint> {
    for (let i = 1; i < this.#pairs.length; i += 2) yield this.#pairs[i]!;
  }

  [Symbol.iterator](): MapIterator<[bigint, bigint]> {
    return this.entries();
  }

  forEach(fn: (value: bigint, key: bigint, map: ReadonlyMap<bigint, bigint>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}

/** A table's rewrite as a restore holds it: ids only, its rules made when asked for. */
class PackedRewrite implements TableRewrite {
  readonly tableIds: IdMap;
  readonly indexIds: IdMap;
  readonly newTs: bigint;

  constructor(tableIds: IdMap, indexIds: IdMap, newTs: bigint) {
    this.tableIds = tableIds;
    this.indexIds = indexIds;
    this.newTs = newTs;
  }

  /** The table's own id, or its partitions' (the keys of `tableIds`, which holds no other). */
  get physical(): bigint[] {
    return [...this.tableIds.keys()];
  }

  get rules(): RewriteRule[] {
    return rewriteRules(this);
  }
}

/** The backup and the created table cannot be matched (a partition or index is missing). */
export class RewriteError extends Error {
  override name = "RewriteError";
}

const lower = (s: { L?: string; O: string }) => s.L ?? s.O.toLowerCase();

/**
 * Old → new physical ids: the table itself, or each partition by name (BR's `GetTableIDMap`).
 */
export function tableIdMap(oldTable: TableInfo, newTable: TableInfo): Map<bigint, bigint> {
  const out = new Map<bigint, bigint>();
  const name = `${oldTable.name.O}`;
  const oldParts = oldTable.partition?.enable ? oldTable.partition.definitions : undefined;
  const newParts = newTable.partition?.enable ? newTable.partition.definitions : undefined;
  if (oldParts && newParts) {
    const byName = new Map(newParts.map((p) => [lower(p.name), BigInt(p.id)]));
    for (const p of oldParts) {
      const id = byName.get(lower(p.name));
      if (id === undefined) {
        throw new RewriteError(
          `partition ${p.name.O} of table ${name} is not in the restored table; drop the table ` +
            "in the target cluster and restore it again",
        );
      }
      out.set(BigInt(p.id), id);
    }
  } else if (oldParts || newParts) {
    throw new RewriteError(
      `table ${name} is ${oldParts ? "" : "not "}partitioned in the backup but ` +
        `${newParts ? "" : "not "}in the target cluster; drop it there and restore again`,
    );
  }
  out.set(BigInt(oldTable.id), BigInt(newTable.id));
  return out;
}

/** Old → new index ids, matched by name (BR's `GetIndexIDMap`). */
export function indexIdMap(oldTable: TableInfo, newTable: TableInfo): Map<bigint, bigint> {
  const byName = new Map<string, IndexInfo>(
    (newTable.index_info ?? []).map((i) => [lower(i.idx_name), i]),
  );
  const out = new Map<bigint, bigint>();
  for (const i of oldTable.index_info ?? []) {
    const n = byName.get(lower(i.idx_name));
    if (!n) {
      throw new RewriteError(
        `index ${i.idx_name.O} of table ${oldTable.name.O} is not in the restored table; drop ` +
          "the table in the target cluster and restore it again",
      );
    }
    out.set(BigInt(i.id), BigInt(n.id));
  }
  return out;
}

/** The rewrite of `oldTable` (from the backup) onto `newTable` (created), at `newTs`. */
export function tableRewrite(
  oldTable: TableInfo,
  newTable: TableInfo,
  newTs: bigint,
): TableRewrite {
  const tableIds = tableIdMap(oldTable, newTable);
  // Only physical tables hold data; `tableIdMap` maps exactly those (the table, or its
  // partitions), in the backup's order.
  const physical = physicalTableIds(oldTable).map(BigInt).filter((id) => tableIds.has(id));
  return new PackedRewrite(
    new IdMap(physical.map((id) => [id, tableIds.get(id)!] as const)),
    new IdMap(indexIdMap(oldTable, newTable)),
    newTs,
  );
}

/** The record and index rules of `rw`'s physical tables (BR's detail rules). */
export function rewriteRules(rw: Omit<TableRewrite, "rules">): RewriteRule[] {
  const rules: RewriteRule[] = [];
  for (const oldId of rw.physical) {
    const newId = rw.tableIds.get(oldId)!;
    rules.push({
      oldKeyPrefix: recordPrefix(oldId),
      newKeyPrefix: recordPrefix(newId),
      newTimestamp: rw.newTs,
    });
    for (const [oldIdx, newIdx] of rw.indexIds) {
      rules.push({
        oldKeyPrefix: indexPrefix(oldId, oldIdx),
        newKeyPrefix: indexPrefix(newId, newIdx),
        newTimestamp: rw.newTs,
      });
    }
  }
  return rules;
}

/**
 * Rewrite rules found by the physical table a range starts in, so matching a range costs the
 * rules of one table, not of every restored table (a linear search over 100k tables' rules per
 * range made restore quadratic in tables). Rules of a table are made when its first range is
 * matched and kept while the ranges that follow are of the same table (files come table by
 * table).
 */
export class RuleIndex {
  readonly #byTable: Map<bigint, TableRewrite | RewriteRule[]>;
  readonly #make: (rw: TableRewrite) => RewriteRule[];
  #lastId: bigint | undefined;
  #lastRules: readonly RewriteRule[] = [];

  private constructor(
    byTable: Map<bigint, TableRewrite | RewriteRule[]>,
    make: (rw: TableRewrite) => RewriteRule[] = rewriteRules,
  ) {
    this.#byTable = byTable;
    this.#make = make;
  }

  /**
   * The rules of these tables, each found by its old physical ids (`make` makes a table's
   * rules; tests count its calls).
   */
  static of(
    rewrites: Iterable<TableRewrite>,
    make?: (rw: TableRewrite) => RewriteRule[],
  ): RuleIndex {
    const m = new Map<bigint, TableRewrite>();
    for (const rw of rewrites) for (const id of rw.physical) m.set(id, rw);
    return new RuleIndex(m, make);
  }

  /** A list of rules, grouped by the table their old prefix is in. */
  static ofRules(rules: readonly RewriteRule[]): RuleIndex {
    const m = new Map<bigint, RewriteRule[]>();
    for (const r of rules) {
      const id = decodeTableId(r.oldKeyPrefix);
      if (id === undefined) throw new RewriteError("a rewrite rule's prefix is not a table key");
      const list = m.get(id);
      if (list) list.push(r);
      else m.set(id, [r]);
    }
    return new RuleIndex(m);
  }

  /** The rule of `matchRule` for the file range `[start, end]`, among its table's rules. */
  match(start: Uint8Array, end: Uint8Array): RewriteRule | undefined {
    const id = decodeTableId(start);
    if (id === undefined) return undefined;
    if (id !== this.#lastId) {
      const e = this.#byTable.get(id);
      this.#lastRules = e === undefined ? [] : Array.isArray(e) ? e : this.#make(e);
      this.#lastId = id;
    }
    return matchRule(this.#lastRules, start, end);
  }
}

function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/**
 * The rule whose old prefix covers the whole file range `[start, end]` (BR's
 * `FindMatchedRewriteRule`), or undefined. The longest prefix wins.
 */
export function matchRule(
  rules: readonly RewriteRule[],
  start: Uint8Array,
  end: Uint8Array,
): RewriteRule | undefined {
  let best: RewriteRule | undefined;
  if (end.length === 0) return undefined;
  for (const r of rules) {
    if (!hasPrefix(start, r.oldKeyPrefix)) continue;
    // A file range ends at an exclusive end: the next prefix (t{id}_s) is still this range's end.
    if (!hasPrefix(end, r.oldKeyPrefix) && compareBytes(end, prefixEnd(r.oldKeyPrefix)) > 0) {
      continue;
    }
    if (!best || r.oldKeyPrefix.length > best.oldKeyPrefix.length) best = r;
  }
  return best;
}

/** The smallest key after every key with `prefix`. */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const out = prefix.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]!++;
      return out.subarray(0, i + 1);
    }
  }
  return new Uint8Array();
}

/** `key` with `rule`'s old prefix replaced by its new one; keys outside it come back as is. */
export function rewriteKey(key: Uint8Array, rule: RewriteRule): Uint8Array {
  if (hasPrefix(key, rule.oldKeyPrefix)) {
    return concatBytes(rule.newKeyPrefix, key.subarray(rule.oldKeyPrefix.length));
  }
  const oldEnd = prefixEnd(rule.oldKeyPrefix);
  if (compareBytes(key, oldEnd) === 0) return prefixEnd(rule.newKeyPrefix);
  return key;
}

/**
 * The memcomparable form of a key prefix as it appears at the start of every encoded key that
 * extends it: whole 8-byte groups encoded, the padding group dropped, the rest appended raw
 * (BR's `encodeKeyPrefix`).
 */
export function encodeKeyPrefix(prefix: Uint8Array): Uint8Array {
  const rest = prefix.length % 8;
  const whole = encodeBytes(prefix.subarray(0, prefix.length - rest));
  return concatBytes(whole.subarray(0, whole.length - 9), prefix.subarray(prefix.length - rest));
}

/** A column whose ID differs between the backup and the created table. */
export interface ColumnIdChange {
  name: string;
  oldId: number;
  newId: number;
}

/**
 * Columns whose IDs differ, by name. Rows and index values carry column IDs, so data of a table
 * with any such column cannot be ingested as it is.
 */
export function columnIdChanges(oldTable: TableInfo, newTable: TableInfo): ColumnIdChange[] {
  const byName = new Map<string, ColumnInfo>(newTable.cols.map((c) => [lower(c.name), c]));
  const out: ColumnIdChange[] = [];
  for (const c of oldTable.cols) {
    const n = byName.get(lower(c.name));
    if (!n) {
      throw new RewriteError(
        `column ${c.name.O} of table ${oldTable.name.O} is not in the restored table; drop the ` +
          "table in the target cluster and restore it again",
      );
    }
    if (n.id !== c.id) out.push({ name: c.name.O, oldId: c.id, newId: n.id });
  }
  return out;
}

/** The raw table prefix `t{id}` (whole-table rules, as BR's checksum uses). */
export function tableRule(oldId: bigint, newId: bigint, newTs: bigint): RewriteRule {
  return {
    oldKeyPrefix: tablePrefix(oldId),
    newKeyPrefix: tablePrefix(newId),
    newTimestamp: newTs,
  };
}

/**
 * The column ID changes a table will get when created from its `SHOW CREATE TABLE` text: TiDB
 * numbers the columns of a new table 1..n in the order the statement lists them (by offset).
 * Lets restore refuse such tables before it creates anything.
 */
export function predictedColumnIdChanges(table: TableInfo): ColumnIdChange[] {
  const cols = [...table.cols].sort((a, b) => a.offset - b.offset);
  const out: ColumnIdChange[] = [];
  cols.forEach((c, i) => {
    if (c.id !== i + 1) out.push({ name: c.name.O, oldId: c.id, newId: i + 1 });
  });
  return out;
}
