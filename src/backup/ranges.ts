/**
 * What a backup covers: BR's BuildBackupRangeAndSchema. The schema is read at the backup ts;
 * every selected table contributes its record range and one range per public index (per
 * partition for partitioned tables), and its schema with auto-id counters filled in.
 * @module
 */
import { backsUpSchema, type TableFilter } from "../filter/mod.ts";
import type { SchemaReader } from "../tidb/meta.ts";
import type { DBInfo, TableInfo } from "../tidb/model.ts";
import { indexRange, recordRange } from "../tidb/tablecodec.ts";
import { ColumnFlag, SchemaState } from "../tidb/types.ts";
import type { ChecksumRange } from "./checksum.ts";
import type { KeyRange } from "./rangetree.ts";
import { log } from "../log.ts";

/** One table of the backup: its schema and the ranges that hold its data. */
export interface BackupTable {
  db: DBInfo;
  table: TableInfo;
  /** Physical ids whose data belongs to this table (the table id, or its partition ids). */
  physicalIds: bigint[];
  /** Ranges to back up and to checksum. */
  ranges: ChecksumRange[];
}

/** The ranges and schemas of a backup of TiDB tables. */
export interface BackupPlan {
  ranges: KeyRange[];
  tables: BackupTable[];
  /** Databases selected but without tables (recorded as schemas without a table, as BR). */
  emptyDatabases: DBInfo[];
}

function tableRanges(table: TableInfo, physicalId: bigint): ChecksumRange[] {
  const rec = recordRange(physicalId);
  const out: ChecksumRange[] = [{ startKey: rec.start, endKey: rec.end, scanOn: "table" }];
  for (const idx of table.index_info ?? []) {
    if (idx.state !== SchemaState.Public) continue;
    const r = indexRange(physicalId, BigInt(idx.id));
    out.push({ startKey: r.start, endKey: r.end, scanOn: "index" });
  }
  return out;
}

/** BR's `utils.NeedAutoID`: a table with a `_tidb_rowid` or an AUTO_INCREMENT column. */
function _needsAutoId(t: TableInfo): boolean {
  const hasRowId = !t.pk_is_handle && !t.is_common_handle;
  return hasRowId || t.cols.some((c) => (c.type.Flag & ColumnFlag.AutoIncrement) !== 0);
}

/**
 * Reads every database and table at the reader's ts, keeps what `filter` selects (memory and
 * BR-temporary schemas are always skipped), and returns the ranges and schemas to back up.
 */
export async function buildBackupPlan(
  reader: SchemaReader,
  filter: TableFilter,
): Promise<BackupPlan> {
  const plan: BackupPlan = { ranges: [], tables: [], emptyDatabases: [] };
  for (const { info: db } of await reader.listDatabases()) {
    if (!backsUpSchema(filter, db.db_name.O)) continue;
    const tables = await reader.listTables(db.id);
    let selected = 0;
    for (const { info: table } of tables) {
      if (!filter.matchTable(db.db_name.O, table.name.O)) continue;
      selected++;
      // BR (backup.BuildBackupRangeAndInitSchema) records the next IDs: the stored allocator
      // base + 1, and 1 for views and tables with no allocator.
      let base = 0n;
      if (table.sequence) base = await reader.getSequenceValue(db.id, table.id);
      else if (!table.view && _needsAutoId(table)) {
        base = await reader.getAutoTableId(db.id, table.id);
      }
      table.auto_inc_id = Number(base + 1n);
      if (table.pk_is_handle && table.auto_random_bits > 0) {
        table.auto_rand_id = Number(await reader.getAutoRandomId(db.id, table.id) + 1n);
      }
      // BR records only public indexes: the others are half-built and restore must not see them.
      table.index_info = (table.index_info ?? []).filter((i) => i.state === SchemaState.Public);
      const physicalIds = table.partition
        ? table.partition.definitions.map((d) => BigInt(d.id))
        : [BigInt(table.id)];
      const ranges = table.view ? [] : physicalIds.flatMap((id) => tableRanges(table, id));
      plan.tables.push({ db, table, physicalIds, ranges });
      for (const r of ranges) plan.ranges.push({ startKey: r.startKey, endKey: r.endKey });
    }
    if (selected === 0 && tables.length === 0 && filter.matchTable(db.db_name.O, "")) {
      log("backup").warn("database {db} has no tables; backing up its schema only", {
        db: db.db_name.O,
      });
      plan.emptyDatabases.push(db);
    }
  }
  return plan;
}
