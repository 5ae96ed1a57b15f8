/**
 * The semantic check of `tibr verify`: rows and index entries of a backup decoded with their
 * table's TableInfo, and the two sides compared.
 *
 * Memory stays bounded whatever the backup's size, and files can be read in any order and
 * concurrently: every row yields the index entries TiDB would have written for it (key, and the
 * handle the entry points to), and each entry is folded into an order-independent fingerprint,
 * per (physical table, index) and per one of `BUCKETS` hash buckets of the key: a 32-bit count
 * and two 32-bit sums of two hashes of (key, handle). The index entries found in the files are
 * folded the same way. Equal fingerprints mean the entries match (a false match needs a 64-bit
 * hash sum to collide); unequal buckets name where they differ. Only then is a second pass made,
 * over that table's files, keeping just the entries of a few differing buckets (1/BUCKETS of the
 * index each) to name the rows, index entries and keys at fault. State: 12 bytes per bucket and
 * index, nothing per row.
 * @module
 */
import { decodeInt, encodeInt, hex } from "../codec/bytes.ts";
import { decodeKeyDatum, NULL_DATUM } from "../tidb/datum.ts";
import type { ColumnInfo, IndexInfo, TableInfo } from "../tidb/model.ts";
import { encodeIndexKey, type Handle } from "../tidb/tablecodec.ts";
import { SchemaState } from "../tidb/types.ts";
import { RowDecoder } from "../tidb/row_decode.ts";
import { indexableType, indexDatum, prefixOf, rowProblem } from "./_columns.ts";

/** Hash buckets of each index's fingerprint. */
export const BUCKETS = 256;
/** Sample keys kept per problem kind and index. */
const SAMPLES = 3;

/** A semantic finding, before the report names its level. */
export interface SemanticProblem {
  code:
    | "RowUndecodable"
    | "RowWithoutIndexEntry"
    | "IndexEntryWithoutRow"
    | "IndexEntryWrongHandle"
    | "DuplicateUniqueKey"
    | "IndexEntryUndecodable";
  table: string;
  index?: string;
  key: string;
  message: string;
}

interface IndexState {
  info: IndexInfo;
  cols: ColumnInfo[];
  /** Why this index is not cross-checked, when it is not. */
  skip?: string;
  expected: Uint32Array;
  actual: Uint32Array;
}

interface PhysicalState {
  physicalId: bigint;
  table: TableState;
  indexes: Map<number, IndexState>;
}

interface TableState {
  label: string;
  info: TableInfo;
  /** The shared row decoder (export's too). */
  decoder: RowDecoder;
  publicCols: ColumnInfo[];
  rows: number;
  undecodable: number;
  samples: SemanticProblem[];
}

/** Which buckets of which index to collect in the second pass. */
export interface DiagnoseTarget {
  physicalId: bigint;
  indexId: number;
  buckets: Set<number>;
}

interface Collected {
  expected: Map<string, string[]>;
  actual: Map<string, string>;
}

const EMPTY = new Uint8Array(0);

function fnv(seed: number, a: Uint8Array, b: Uint8Array): number {
  let h = seed >>> 0;
  for (let i = 0; i < a.length; i++) h = Math.imul(h ^ a[i]!, 0x01000193);
  h = Math.imul(h ^ 0xff, 0x01000193);
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

function handleBytes(h: Handle): Uint8Array {
  return typeof h === "bigint" ? encodeInt(h) : h;
}

function handleText(h: Uint8Array, common: boolean): string {
  return common ? hex(h) : String(decodeInt(h, 0));
}

/** Adds rows and index entries as they are read; see the module doc for the method. */
export class SemanticChecker {
  readonly #phys = new Map<bigint, PhysicalState>();
  readonly #tables: TableState[] = [];
  #collect: Map<string, Collected> | undefined;
  #targets: Map<string, DiagnoseTarget> | undefined;

  /** Registers a table (every physical id of it). */
  addTable(label: string, info: TableInfo): void {
    const publicCols = info.cols.filter((c) => c.state === SchemaState.Public);
    const t: TableState = {
      label,
      info,
      decoder: new RowDecoder(info),
      publicCols,
      rows: 0,
      undecodable: 0,
      samples: [],
    };
    this.#tables.push(t);
    const ids = info.partition?.enable
      ? info.partition.definitions.map((d) => BigInt(d.id))
      : [BigInt(info.id)];
    for (const id of ids) {
      const indexes = new Map<number, IndexState>();
      for (const idx of info.index_info ?? []) {
        if (idx.state !== SchemaState.Public) continue;
        // The primary index of a clustered or pk-is-handle table is the record itself.
        if (idx.is_primary && (info.pk_is_handle || info.is_common_handle)) continue;
        const cols = idx.idx_cols.map((c) => info.cols[c.offset]!);
        const bad = cols.find((c) => !c || !indexableType(c.type.Tp) || c.generated_expr_string);
        const skip = !bad
          ? undefined
          : bad.generated_expr_string
          ? `column ${bad.name.O} is generated (an expression index): tibr does not evaluate it`
          : `column ${bad?.name.O ?? "?"} has a type tibr does not index`;
        indexes.set(idx.id, {
          info: idx,
          cols,
          ...(skip ? { skip } : {}),
          expected: new Uint32Array(BUCKETS * 3),
          actual: new Uint32Array(BUCKETS * 3),
        });
      }
      this.#phys.set(id, { physicalId: id, table: t, indexes });
    }
  }

  /** The indexes not cross-checked, with why (one line each, for the report's notes). */
  skipped(): string[] {
    const out = new Set<string>();
    for (const ps of this.#phys.values()) {
      for (const idx of ps.indexes.values()) {
        if (idx.skip) {
          out.add(
            `${ps.table.label}: index ${idx.info.idx_name.O} not cross-checked (${idx.skip})`,
          );
        }
      }
    }
    return [...out];
  }

  /** Whether a key belongs to a registered table. */
  has(physicalId: bigint): boolean {
    return this.#phys.has(physicalId);
  }

  /** Feeds one committed KV (a raw TiDB key). */
  add(key: Uint8Array, value: Uint8Array): void {
    if (key.length < 11 || key[0] !== 0x74 || key[9] !== 0x5f) return;
    const ps = this.#phys.get(decodeInt(key, 1));
    if (!ps) return;
    if (key[10] === 0x72) this.#addRow(ps, key, value);
    else if (key[10] === 0x69 && key.length >= 19) this.#addIndex(ps, key, value);
  }

  #fold(
    ps: PhysicalState,
    idx: IndexState,
    side: "expected" | "actual",
    key: Uint8Array,
    handle: Uint8Array,
  ): void {
    const h1 = fnv(0x811c9dc5, key, handle);
    const h2 = fnv(0x9e3779b9, key, handle);
    // The bucket follows the key alone, so rows that claim one unique key meet in one bucket.
    const b = fnv(0x2545f491, key, EMPTY) % BUCKETS;
    if (this.#targets) {
      const t = this.#targets.get(`${ps.physicalId}/${idx.info.id}`);
      if (!t || !t.buckets.has(b)) return;
      const c = this.#collect!.get(`${ps.physicalId}/${idx.info.id}`)!;
      const k = hex(key);
      const common = ps.table.info.is_common_handle;
      if (side === "expected") {
        const list = c.expected.get(k);
        if (list) list.push(handleText(handle, common));
        else c.expected.set(k, [handleText(handle, common)]);
      } else {
        c.actual.set(k, handleText(handle, common));
      }
      return;
    }
    const acc = side === "expected" ? idx.expected : idx.actual;
    acc[b * 3] = (acc[b * 3]! + 1) >>> 0;
    acc[b * 3 + 1] = (acc[b * 3 + 1]! + h1) >>> 0;
    acc[b * 3 + 2] = (acc[b * 3 + 2]! + h2) >>> 0;
  }

  #addRow(ps: PhysicalState, key: Uint8Array, value: Uint8Array): void {
    const t = ps.table;
    const info = t.info;
    const common = info.is_common_handle;
    if (!common && key.length !== 19) {
      this.#rowProblem(t, key, "the record key is not t{id}_r{int handle}");
      return;
    }
    const handle: Handle = common ? key.subarray(11) : decodeInt(key, 11);
    let cols;
    try {
      cols = t.decoder.datums(key, value);
    } catch (err) {
      this.#rowProblem(t, key, (err as Error).message);
      return;
    }
    const why = rowProblem(info, cols, t.publicCols);
    if (why) {
      this.#rowProblem(t, key, why);
      return;
    }
    if (!this.#targets) t.rows++;
    for (const idx of ps.indexes.values()) {
      if (idx.skip) continue;
      const datums = idx.cols.map((c, i) =>
        prefixOf(indexDatum(c, cols.get(c.id) ?? NULL_DATUM), idx.info.idx_cols[i]!.length)
      );
      const distinct = idx.info.is_unique && datums.every((d) => d.kind !== "null");
      const ikey = encodeIndexKey(
        ps.physicalId,
        BigInt(idx.info.id),
        datums,
        distinct ? undefined : handle,
      );
      this.#fold(ps, idx, "expected", ikey, handleBytes(handle));
    }
  }

  #rowProblem(t: TableState, key: Uint8Array, why: string): void {
    if (this.#targets) return;
    t.undecodable++;
    if (t.samples.length < SAMPLES) {
      t.samples.push({
        code: "RowUndecodable",
        table: t.label,
        key: hex(key),
        message: `row ${hex(key)} of ${t.label} does not decode against its schema: ${why}`,
      });
    }
  }

  #addIndex(ps: PhysicalState, key: Uint8Array, value: Uint8Array): void {
    const idx = ps.indexes.get(Number(decodeInt(key, 11)));
    if (!idx || idx.skip) return;
    let handle: Uint8Array;
    try {
      handle = this.#entryHandle(ps, idx, key, value);
    } catch (err) {
      handle = Uint8Array.of(0xff, ...new TextEncoder().encode((err as Error).message));
    }
    this.#fold(ps, idx, "actual", key, handle);
  }

  /** The handle an index entry points to: in its value when distinct, else after the values. */
  #entryHandle(ps: PhysicalState, idx: IndexState, key: Uint8Array, value: Uint8Array): Uint8Array {
    const common = ps.table.info.is_common_handle;
    const fromValue = handleInValue(value, common);
    if (fromValue) return fromValue;
    let pos = 19;
    for (let i = 0; i < idx.cols.length; i++) pos = decodeKeyDatum(key, pos).next;
    if (common) {
      if (pos >= key.length) throw new Error("the entry holds no handle");
      return key.subarray(pos);
    }
    if (key.length !== pos + 9 || key[pos] !== 3) throw new Error("the entry holds no int handle");
    return key.subarray(pos + 1);
  }

  /** Buckets whose fingerprints differ, per index; empty when everything matched. */
  mismatches(maxBucketsPerIndex = 2): DiagnoseTarget[] {
    const out: DiagnoseTarget[] = [];
    for (const ps of this.#phys.values()) {
      if (ps.table.undecodable > 0) continue;
      for (const idx of ps.indexes.values()) {
        const buckets = new Set<number>();
        for (let b = 0; b < BUCKETS && buckets.size < maxBucketsPerIndex; b++) {
          const e = idx.expected;
          const a = idx.actual;
          if (
            e[b * 3] !== a[b * 3] || e[b * 3 + 1] !== a[b * 3 + 1] || e[b * 3 + 2] !== a[b * 3 + 2]
          ) {
            buckets.add(b);
          }
        }
        if (buckets.size > 0) {
          out.push({ physicalId: ps.physicalId, indexId: idx.info.id, buckets });
        }
      }
    }
    return out;
  }

  /** Starts the second pass: only entries of these buckets are kept, by key. */
  startDiagnosis(targets: DiagnoseTarget[]): void {
    this.#targets = new Map(targets.map((t) => [`${t.physicalId}/${t.indexId}`, t]));
    this.#collect = new Map(
      targets.map((
        t,
      ) => [`${t.physicalId}/${t.indexId}`, { expected: new Map(), actual: new Map() }]),
    );
  }

  /** Every problem found: undecodable rows, and after a diagnosis pass the index mismatches. */
  problems(): SemanticProblem[] {
    const out: SemanticProblem[] = [];
    for (const t of this.#tables) {
      out.push(...t.samples);
      if (t.undecodable > t.samples.length) {
        out.push({
          code: "RowUndecodable",
          table: t.label,
          key: t.samples[0]?.key ?? "",
          message: `${t.undecodable} rows of ${t.label} do not decode against its schema ` +
            `(samples above); its indexes were not cross-checked`,
        });
      }
    }
    if (!this.#collect) return out;
    for (const [id, c] of this.#collect) {
      const [pid, iid] = id.split("/");
      const ps = this.#phys.get(BigInt(pid!))!;
      const idx = ps.indexes.get(Number(iid))!;
      const label = ps.table.label;
      const iname = idx.info.idx_name.O;
      const counts = new Map<string, number>();
      const push = (p: SemanticProblem) => {
        const n = counts.get(p.code) ?? 0;
        counts.set(p.code, n + 1);
        if (n < SAMPLES) out.push(p);
      };
      for (const [k, handles] of c.expected) {
        if (handles.length > 1) {
          push({
            code: "DuplicateUniqueKey",
            table: label,
            index: iname,
            key: k,
            message: `unique index ${iname} of ${label} has key ${k} for ${handles.length} rows ` +
              `(handles ${handles.join(", ")})`,
          });
        }
        const got = c.actual.get(k);
        if (got === undefined) {
          push({
            code: "RowWithoutIndexEntry",
            table: label,
            index: iname,
            key: k,
            message: `row with handle ${
              handles[0]
            } of ${label} has no entry ${k} in index ${iname}`,
          });
        } else if (handles.length === 1 && got !== handles[0]) {
          push({
            code: "IndexEntryWrongHandle",
            table: label,
            index: iname,
            key: k,
            message:
              `index ${iname} of ${label}: entry ${k} points to handle ${got}, but the row ` +
              `with these values has handle ${handles[0]}`,
          });
        }
      }
      for (const [k, h] of c.actual) {
        if (c.expected.has(k)) continue;
        push({
          code: "IndexEntryWithoutRow",
          table: label,
          index: iname,
          key: k,
          message: `index ${iname} of ${label}: entry ${k} (handle ${h}) matches no row of the ` +
            "backup",
        });
      }
    }
    return out;
  }
}

/**
 * The handle stored in an index value (`tablecodec.SplitIndexValue`): the 8-byte int handle of
 * the old layout or a tail, or the common handle segment; undefined when the value holds none
 * (non-unique entries keep the handle in the key).
 */
export function handleInValue(value: Uint8Array, common: boolean): Uint8Array | undefined {
  if (value.length <= 9) {
    // Old layout: "0" (handle in the key) or the 8-byte big-endian int handle (+ untouched flag).
    if (value.length < 8) return undefined;
    return intHandleBytes(value.subarray(0, 8));
  }
  const tailLen = value[0]!;
  if (tailLen > value.length - 1) throw new Error("the index value's tail overruns it");
  const version1 = (tailLen === 0 || tailLen === 1) && value[1] === 125;
  const body = value.subarray(version1 ? 3 : 1, value.length - tailLen);
  const tail = value.subarray(value.length - tailLen);
  if (body.length > 0 && body[0] === 127) {
    const len = (body[1]! << 8) | body[2]!;
    if (3 + len > body.length) throw new Error("the index value's common handle overruns it");
    return body.subarray(3, 3 + len);
  }
  if (!version1 && tail.length >= 8 && !common) return intHandleBytes(tail.subarray(0, 8));
  return undefined;
}

/** The memcomparable int64 of a big-endian stored handle, as record keys carry it. */
function intHandleBytes(be: Uint8Array): Uint8Array {
  const out = Uint8Array.from(be);
  out[0] = out[0]! ^ 0x80;
  return out;
}
