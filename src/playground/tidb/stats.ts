/**
 * Table statistics of the playground's TiDB, computed from its own rows as TiDB's ANALYZE
 * (statistics version 2) does, and served and loaded in TiDB's JSON form (`JSONTable` of
 * pingcap/tidb `pkg/statistics/util/json_objects.go`; histograms, buckets and top-N as tipb's
 * `Histogram`, `Bucket` and `CMSketch` marshal to JSON, bytes in base64):
 *
 * - per table: `count` (rows) and `modify_count` (rows inserted, updated or deleted since);
 * - per column and index: the NDV, the NULL count, a top-N of the most frequent values (at most
 *   100 values seen more than once, TiDB's default `WITH 100 TOPN`) and an equal-depth histogram
 *   of the other values (at most 256 buckets, `WITH 256 BUCKETS`; a value never spans two
 *   buckets; each bucket has its bounds, the cumulative count, the repeats of its upper bound
 *   and its NDV).
 *
 * Column bounds are the values' text (TiDB converts column histograms to blobs before dumping),
 * index bounds and every top-N value are memcomparable keys (`codec.EncodeKey`), as TiDB dumps
 * them. A partitioned table has statistics per partition plus the global ones, dumped under
 * `partitions` (by partition name, and `global`).
 * @module
 */
import { Buffer } from "node:buffer";
import type { ColumnInfo, IndexInfo, TableInfo } from "../../tidb/model.ts";
import { SchemaState } from "../../tidb/types.ts";
import { type Datum, encodeKey } from "../../tidb/datum.ts";
import { datumToText } from "./values.ts";
import { indexDatum, type StoredRow } from "./engine.ts";

/** tipb `Bucket` as JSON. */
export interface JsonBucket {
  /** Rows up to and including this bucket (cumulative, as TiDB stores it). */
  count: number;
  lower_bound: string;
  upper_bound: string;
  repeats: number;
  ndv: number;
}

/** tipb `Histogram` as JSON. */
export interface JsonHistogram {
  ndv: number;
  buckets: JsonBucket[];
}

/** tipb `CMSketch` as JSON: statistics version 2 keeps only the top-N in it. */
export interface JsonCmSketch {
  rows: null;
  top_n: { data: string; count: number }[];
  default_value: number;
}

/** `JSONColumn` (columns and indexes alike). */
export interface JsonColumn {
  histogram: JsonHistogram;
  cm_sketch: JsonCmSketch | null;
  fm_sketch: null;
  stats_ver: number;
  null_count: number;
  tot_col_size: number;
  /** TSO of the ANALYZE (or LOAD STATS) that wrote it. */
  last_update_version: bigint;
  correlation: number;
}

/** `JSONTable`. */
export interface JsonTable {
  database_name: string;
  table_name: string;
  columns: Record<string, JsonColumn> | null;
  indices: Record<string, JsonColumn> | null;
  partitions: Record<string, JsonTable> | null;
  ext_stats: null;
  predicate_columns: null;
  count: number;
  modify_count: number;
  /** TSO of the last statistics write. */
  version: bigint;
  is_historical_stats: boolean;
}

/** TiDB's key of the global statistics of a partitioned table (`util.TiDBGlobalStats`). */
export const GLOBAL_STATS = "global";
const TOPN = 100;
const BUCKETS = 256;

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString("base64");
const utf8 = new TextEncoder();

/** The bytes as a string of code units 0-255: compares as the bytes do. */
function keyStr(k: Uint8Array): string {
  return Buffer.from(k.buffer, k.byteOffset, k.length).toString("latin1");
}

interface Group {
  key: string;
  /** The first row holding the value. */
  row: number;
  encoded: Uint8Array;
  count: number;
}

/**
 * Top-N and histogram of one column's or index's non-NULL values, given per row in handle
 * order as memcomparable keys (`null` for NULL): they order the values and are the top-N's
 * data. `boundOf(row)` is what a histogram bound holds for the value of that row.
 */
function summarize(
  values: (Uint8Array | null)[],
  boundOf: (row: number) => Uint8Array,
  version: bigint,
  totColSize: number,
): JsonColumn {
  const groups = new Map<string, Group>();
  let nulls = 0;
  const order: string[] = [];
  for (let row = 0; row < values.length; row++) {
    const v = values[row]!;
    if (v === null) {
      nulls++;
      continue;
    }
    const key = keyStr(v);
    order.push(key);
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { key, row, encoded: v, count: 1 });
  }
  const sorted = [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  // The top-N: the most frequent values seen more than once (ties by value order).
  const top = sorted.filter((g) => g.count > 1).sort((a, b) => b.count - a.count).slice(0, TOPN);
  const inTop = new Set(top.map((g) => g.key));
  const rest = sorted.filter((g) => !inTop.has(g.key));
  const restRows = rest.reduce((n, g) => n + g.count, 0);
  const depth = Math.max(1, Math.ceil(restRows / BUCKETS));
  const buckets: JsonBucket[] = [];
  let cumulative = 0;
  let cur: { lower: Group; upper: Group; rows: number; ndv: number } | undefined;
  const close = () => {
    if (!cur) return;
    cumulative += cur.rows;
    buckets.push({
      count: cumulative,
      lower_bound: b64(boundOf(cur.lower.row)),
      upper_bound: b64(boundOf(cur.upper.row)),
      repeats: cur.upper.count,
      ndv: cur.ndv,
    });
    cur = undefined;
  };
  for (const g of rest) {
    if (cur && cur.rows >= depth) close();
    if (!cur) cur = { lower: g, upper: g, rows: 0, ndv: 0 };
    cur.upper = g;
    cur.rows += g.count;
    cur.ndv++;
  }
  close();
  // Correlation of the values' order with the rows' (handle) order, as TiDB's ANALYZE
  // computes it: Pearson's coefficient over the ranks.
  const rank = new Map(sorted.map((g, i) => [g.key, i]));
  let correlation = 0;
  const n = order.length;
  if (n > 1) {
    let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (let i = 0; i < n; i++) {
      const y = rank.get(order[i]!)!;
      sx += i;
      sy += y;
      sxx += i * i;
      syy += y * y;
      sxy += i * y;
    }
    const den = Math.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy));
    correlation = den === 0 ? 0 : (n * sxy - sx * sy) / den;
  }
  return {
    histogram: { ndv: groups.size, buckets },
    cm_sketch: {
      rows: null,
      top_n: top.map((g) => ({ data: b64(g.encoded), count: g.count })),
      default_value: 0,
    },
    fm_sketch: null,
    stats_ver: 2,
    null_count: nulls,
    tot_col_size: totColSize,
    last_update_version: version,
    correlation,
  };
}

function columnStats(col: ColumnInfo, rows: StoredRow[], version: bigint): JsonColumn {
  let size = 0;
  const values = rows.map((r) => {
    const d = r.datums[col.offset] ?? { kind: "null" };
    if (d.kind === "null") return null;
    const encoded = encodeKey([d]);
    size += encoded.length;
    return encoded;
  });
  const boundOf = (row: number) => {
    const d = rows[row]!.datums[col.offset]!;
    return d.kind === "bytes" ? d.value : utf8.encode(datumToText(col, d) ?? "");
  };
  return summarize(values, boundOf, version, size);
}

function indexStats(
  table: TableInfo,
  idx: IndexInfo,
  rows: StoredRow[],
  version: bigint,
): JsonColumn {
  const values = rows.map((r) => {
    const ds: Datum[] = idx.idx_cols.map((ic) =>
      indexDatum(table.cols[ic.offset]!, r.datums[ic.offset] ?? { kind: "null" }, ic.length)
    );
    if (ds.every((d) => d.kind === "null")) return null;
    return encodeKey(ds);
  });
  const s = summarize(values, (row) => values[row]!, version, 0);
  s.correlation = 0;
  return s;
}

/** The statistics of one physical table (or the global ones) from its rows. */
export function analyzeRows(
  table: TableInfo,
  rows: StoredRow[],
  version: bigint,
): JsonTable {
  const columns: Record<string, JsonColumn> = {};
  for (const c of table.cols) {
    if (c.state !== SchemaState.Public) continue;
    columns[c.name.O] = columnStats(c, rows, version);
  }
  const indices: Record<string, JsonColumn> = {};
  for (const idx of table.index_info ?? []) {
    if (idx.state !== SchemaState.Public) continue;
    indices[idx.idx_name.O] = indexStats(table, idx, rows, version);
  }
  return {
    database_name: "",
    table_name: "",
    columns,
    indices,
    partitions: null,
    ext_stats: null,
    predicate_columns: null,
    count: rows.length,
    modify_count: 0,
    version,
    is_historical_stats: false,
  };
}

/** Statistics kept per physical table ID (TiDB keeps them in `mysql.stats_*`). */
export class StatsStore {
  readonly #analyzed = new Map<number, JsonTable>();
  /** Rows and modifications since the last analyze, per table ID (DML deltas, stats_meta). */
  readonly #meta = new Map<number, { count: number; modify: number }>();

  /** Records what a DML statement did to a table: rows added (negative: removed), touched. */
  noteDml(tableId: number, delta: number, touched: number): void {
    const m = this.#meta.get(tableId) ?? { count: 0, modify: 0 };
    m.count = Math.max(0, m.count + delta);
    m.modify += touched;
    this.#meta.set(tableId, m);
  }

  /** Replaces the statistics of one physical table (ANALYZE, LOAD STATS). */
  set(physicalId: number, stats: JsonTable, isTable: boolean): void {
    this.#analyzed.set(physicalId, stats);
    if (isTable) this.#meta.set(physicalId, { count: stats.count, modify: stats.modify_count });
  }

  /** Drops every statistic of a dropped or truncated table. */
  drop(table: TableInfo): void {
    this.#meta.delete(table.id);
    this.#analyzed.delete(table.id);
    for (const d of table.partition?.definitions ?? []) this.#analyzed.delete(d.id);
  }

  /** The JSONTable TiDB's `/stats/dump/{db}/{table}` serves. */
  dump(db: string, table: TableInfo): JsonTable {
    const named = (s: JsonTable | undefined, id: number, isTable: boolean): JsonTable => {
      const m = isTable ? this.#meta.get(id) : undefined;
      return {
        ...(s ?? {
          columns: {},
          indices: {},
          partitions: null,
          ext_stats: null,
          predicate_columns: null,
          count: 0,
          modify_count: 0,
          version: 0n,
          is_historical_stats: false,
        }),
        database_name: db,
        table_name: table.name.O,
        ...(m ? { count: m.count, modify_count: m.modify } : {}),
      };
    };
    const defs = table.partition?.definitions ?? [];
    if (defs.length === 0) return named(this.#analyzed.get(table.id), table.id, true);
    const partitions: Record<string, JsonTable> = {};
    for (const d of defs) partitions[d.name.L] = named(this.#analyzed.get(d.id), d.id, false);
    const global = this.#analyzed.get(table.id);
    if (global) partitions[GLOBAL_STATS] = named(global, table.id, true);
    return {
      database_name: db,
      table_name: table.name.O,
      columns: null,
      indices: null,
      partitions,
      ext_stats: null,
      predicate_columns: null,
      count: 0,
      modify_count: 0,
      version: global?.version ?? 0n,
      is_historical_stats: false,
    };
  }
}
