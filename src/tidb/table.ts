/**
 * How TiDB turns a row of a table into KV pairs: the record (row format v2 under the record key)
 * and one entry per index that is writable (write-only, write-reorganization or public). The
 * playground's loader and workload write rows through this; BR only reads what it produces.
 * @module
 */
import type { Datum } from "./datum.ts";
import { isPkHandleColumn, primaryIndex, type TableInfo } from "./model.ts";
import { encodeRow } from "./rowcodec.ts";
import {
  commonHandle,
  encodeIndexKey,
  encodeIndexValue,
  encodeRecordKey,
  type Handle,
} from "./tablecodec.ts";
import { PartitionType, SchemaState } from "./types.ts";

/** One KV pair of a row; `indexId` is set for index entries. */
export interface RowKv {
  key: Uint8Array;
  value: Uint8Array;
  indexId?: number;
}

const WRITABLE_INDEX_STATES: ReadonlySet<number> = new Set([
  SchemaState.WriteOnly,
  SchemaState.WriteReorganization,
  SchemaState.Public,
]);

function intOf(d: Datum | undefined, what: string): bigint {
  if (d === undefined || (d.kind !== "int" && d.kind !== "uint")) {
    throw new Error(`${what} must be an integer value`);
  }
  return d.value;
}

/**
 * The handle of a row: the int primary key of a pk-is-handle table, the encoded primary key of a
 * clustered table, or `rowId` (`_tidb_rowid`) otherwise. `row` is indexed by column offset.
 */
export function rowHandle(table: TableInfo, row: readonly Datum[], rowId?: bigint): Handle {
  if (table.pk_is_handle) {
    const col = table.cols.find((c) => isPkHandleColumn(table, c));
    if (!col) {
      throw new Error(`table ${table.name.O} is pk_is_handle but has no primary key column`);
    }
    return intOf(row[col.offset], `primary key ${col.name.O}`);
  }
  if (table.is_common_handle) {
    const pk = primaryIndex(table);
    if (!pk) throw new Error(`clustered table ${table.name.O} has no primary key index`);
    return commonHandle(pk.idx_cols.map((c) => row[c.offset] ?? { kind: "null" }));
  }
  if (rowId === undefined) {
    throw new Error(`table ${table.name.O} has no clustered key; pass the row's _tidb_rowid`);
  }
  return rowId;
}

/** The id of the partition (physical table) a row belongs to; the table id when unpartitioned. */
export function physicalIdForRow(table: TableInfo, row: readonly Datum[]): number {
  const pi = table.partition;
  if (!pi?.enable) return table.id;
  const name = pi.expr.replace(/`/g, "").trim().toLowerCase();
  const col = table.cols.find((c) => c.name.L === name);
  if (!col) throw new Error(`partition expression ${pi.expr} of ${table.name.O} is not a column`);
  const v = intOf(row[col.offset], `partition column ${col.name.O}`);
  if (pi.type === PartitionType.Hash) {
    // TiDB takes |v mod n| (Go's remainder keeps the sign of v).
    const r = v % BigInt(pi.definitions.length);
    const idx = Number(r < 0n ? -r : r);
    return pi.definitions[idx]!.id;
  }
  if (pi.type === PartitionType.Range) {
    for (const d of pi.definitions) {
      const bound = d.less_than?.[0];
      if (bound === undefined || bound.toUpperCase() === "MAXVALUE" || v < BigInt(bound)) {
        return d.id;
      }
    }
    throw new Error(`value ${v} of ${table.name.O}.${col.name.O} fits no range partition`);
  }
  throw new Error(
    `partition type ${pi.type} of ${table.name.O} is not supported by the playground`,
  );
}

/**
 * The record value (row format v2): every public column except an int handle column and
 * virtual generated columns.
 */
export function encodeTableRow(table: TableInfo, row: readonly Datum[]): Uint8Array {
  const cols = [];
  for (const c of table.cols) {
    if (c.state !== SchemaState.Public || isPkHandleColumn(table, c)) continue;
    // Virtual generated columns are computed on read, never stored.
    if (c.generated_expr_string !== "" && !c.generated_stored) continue;
    cols.push({ id: c.id, datum: row[c.offset] ?? { kind: "null" as const } });
  }
  return encodeRow(cols);
}

/**
 * Every KV pair TiDB writes for one row: the record, then an entry for each writable index
 * (the primary index of a clustered or pk-is-handle table is the record itself).
 */
export function rowKvs(table: TableInfo, row: readonly Datum[], rowId?: bigint): RowKv[] {
  const handle = rowHandle(table, row, rowId);
  const physId = BigInt(physicalIdForRow(table, row));
  const out: RowKv[] = [
    { key: encodeRecordKey(physId, handle), value: encodeTableRow(table, row) },
  ];
  for (const idx of table.index_info ?? []) {
    if (!WRITABLE_INDEX_STATES.has(idx.state)) continue;
    if (idx.is_primary && (table.pk_is_handle || table.is_common_handle)) continue;
    const values = idx.idx_cols.map((c) => row[c.offset] ?? { kind: "null" as const });
    const distinct = idx.is_unique && values.every((v) => v.kind !== "null");
    out.push({
      key: encodeIndexKey(physId, BigInt(idx.id), values, distinct ? undefined : handle),
      value: encodeIndexValue(handle, distinct),
      indexId: idx.id,
    });
  }
  return out;
}

/** The keys `rowKvs` wrote for this row, to delete it. */
export function rowKeys(table: TableInfo, row: readonly Datum[], rowId?: bigint): Uint8Array[] {
  return rowKvs(table, row, rowId).map((kv) => kv.key);
}
