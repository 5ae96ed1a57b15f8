/**
 * What a backup covers: BR's BuildBackupRangeAndSchema. The schema is read at the backup ts;
 * every selected table contributes its record range and one range per public index (per
 * partition for partitioned tables), and its schema with auto-id counters filled in. The plan
 * keeps the ranges only; the schemas are walked again, a chunk at a time, when written.
 * @module
 */
import { ByteSlab } from "../codec/bytes.ts";
import { heapCheck } from "../heap.ts";
import { backsUpSchema, type TableFilter } from "../filter/mod.ts";
import type { SchemaReader } from "../tidb/meta.ts";
import type { DBInfo, TableInfo } from "../tidb/model.ts";
import { indexRange, recordRange } from "../tidb/tablecodec.ts";
import { ColumnFlag, SchemaState } from "../tidb/types.ts";
import type { ChecksumRange } from "./checksum.ts";
import type { KeyRange } from "./rangetree.ts";
import { log } from "../log.ts";
import { forEachPool } from "../pool.ts";
import { createHash } from "node:crypto";

/** Allocator counters read at a time per chunk. */
const AUTO_ID_CONCURRENCY = 8;

/** One table of the backup: its schema and the ranges that hold its data. */
export interface BackupTable {
  db: DBInfo;
  table: TableInfo;
  /** Physical ids whose data belongs to this table (the table id, or its partition ids). */
  physicalIds: bigint[];
  /** Ranges to back up and to checksum. */
  ranges: ChecksumRange[];
}

/**
 * What the backup keeps of its tables for the whole run: the key ranges, how many tables there
 * are and a digest of their ids. The schemas themselves are read again, a chunk at a time, when
 * they are written (`walkBackupTables`): held whole, 100k TableInfos took gigabytes (tidb#38892).
 */
export interface BackupPlan {
  ranges: KeyRange[];
  /** Tables selected (views and sequences included). */
  tables: number;
  /** sha256 of the selected tables' `dbId.tableId` in plan order (hex). */
  digest: string;
  /** Databases selected but without tables (recorded as schemas without a table, as BR). */
  emptyDatabases: DBInfo[];
}

/** Options of `walkBackupTables`. */
export interface WalkOptions {
  /** Tables per chunk (and per page read from the meta keys); default `SCHEMA_CHUNK`. */
  chunk?: number;
  /**
   * Fill in BR's next IDs (`auto_inc_id`, `auto_rand_id`) from the allocators' counters: one
   * read per table, which only the schemas written need (the ranges do not).
   */
  autoIds?: boolean;
  /** Each selected database without any table, as met. */
  onEmptyDatabase?: (db: DBInfo) => void;
  /** Counter reads at a time (with `autoIds`). */
  concurrency?: number;
  signal?: AbortSignal;
}

/** Tables read, checksummed and written at a time by the schema phase. */
export const SCHEMA_CHUNK = 256;

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
 * Walks every table `filter` selects at the reader's ts (memory and BR-temporary schemas are
 * always skipped) in plan order (databases in id order, tables in field order), `chunk` tables
 * at a time: at most a chunk and a page of TableInfos are held at once.
 */
export async function* walkBackupTables(
  reader: SchemaReader,
  filter: TableFilter,
  opts: WalkOptions = {},
): AsyncGenerator<BackupTable[]> {
  const size = opts.chunk ?? SCHEMA_CHUNK;
  let chunk: BackupTable[] = [];
  for (const { info: db } of await reader.listDatabases()) {
    if (!backsUpSchema(filter, db.db_name.O)) continue;
    let seen = 0;
    let selected = 0;
    for await (const page of reader.tablePages(db.id, size)) {
      seen += page.length;
      const picked: BackupTable[] = [];
      for (const { info: table } of page) {
        // Pages of decoded TableInfos seldom wait on I/O: the heap keeper looks in here.
        heapCheck();
        if (!filter.matchTable(db.db_name.O, table.name.O)) continue;
        selected++;
        picked.push(_backupTable(db, table));
      }
      if (opts.autoIds) await _fillAutoIds(reader, picked, opts);
      for (const t of picked) {
        chunk.push(t);
        if (chunk.length >= size) {
          yield chunk;
          chunk = [];
        }
      }
    }
    if (selected === 0 && seen === 0 && filter.matchTable(db.db_name.O, "")) {
      opts.onEmptyDatabase?.(db);
    }
  }
  if (chunk.length > 0) yield chunk;
}

function _backupTable(db: DBInfo, table: TableInfo): BackupTable {
  // BR records only public indexes: the others are half-built and restore must not see them.
  table.index_info = (table.index_info ?? []).filter((i) => i.state === SchemaState.Public);
  const physicalIds = table.partition
    ? table.partition.definitions.map((d) => BigInt(d.id))
    : [BigInt(table.id)];
  const ranges = table.view ? [] : physicalIds.flatMap((id) => tableRanges(table, id));
  return { db, table, physicalIds, ranges };
}

/**
 * BR (backup.BuildBackupRangeAndInitSchema) records the next IDs: the stored allocator base + 1,
 * and 1 for views and tables with no allocator. `tables` come from one page of one database:
 * their row-id counters are read by one scan; sequences and auto_random counters one by one.
 */
async function _fillAutoIds(
  reader: SchemaReader,
  tables: BackupTable[],
  opts: WalkOptions,
): Promise<void> {
  const rowIds = tables.filter(({ table }) =>
    !table.sequence && !table.view && _needsAutoId(table)
  );
  let counters = new Map<number, bigint>();
  if (rowIds.length > 0) {
    // The page's ids in field order: decimal text, as the `TID:` fields sort.
    const ids = rowIds.map((t) => String(t.table.id)).sort();
    counters = await reader.autoTableIdsBetween(rowIds[0]!.db.id, ids[0]!, ids[ids.length - 1]!);
  }
  await forEachPool(tables, {
    concurrency: opts.concurrency ?? AUTO_ID_CONCURRENCY,
    ...(opts.signal ? { signal: opts.signal } : {}),
  }, async ({ db, table }) => {
    let base = 0n;
    if (table.sequence) base = await reader.getSequenceValue(db.id, table.id);
    else if (!table.view && _needsAutoId(table)) base = counters.get(table.id) ?? 0n;
    table.auto_inc_id = Number(base + 1n);
    if (table.pk_is_handle && table.auto_random_bits > 0) {
      table.auto_rand_id = Number(await reader.getAutoRandomId(db.id, table.id) + 1n);
    }
  });
}

/** The digest `BackupPlan.digest` is made of, fed table by table. */
export class PlanDigest {
  readonly #hash = createHash("sha256");
  tables = 0;

  add(t: BackupTable): void {
    this.#hash.update(`${t.db.id}.${t.table.id},`);
    this.tables++;
  }

  hex(): string {
    return this.#hash.digest("hex");
  }
}

/**
 * The plan of a backup of TiDB tables: the key ranges of every selected table (its record
 * range and one range per public index, per partition for partitioned tables), walking the
 * schemas a chunk at a time and keeping none of them.
 */
export async function buildBackupPlan(
  reader: SchemaReader,
  filter: TableFilter,
  opts: Pick<WalkOptions, "chunk" | "signal"> = {},
): Promise<BackupPlan> {
  const emptyDatabases: DBInfo[] = [];
  const ranges: KeyRange[] = [];
  // The ranges live through the data phase: their keys packed, not a buffer each.
  const keys = new ByteSlab();
  const digest = new PlanDigest();
  for await (
    const chunk of walkBackupTables(reader, filter, {
      ...opts,
      onEmptyDatabase: (db) => {
        log("backup").warn("database {db} has no tables; backing up its schema only", {
          db: db.db_name.O,
        });
        emptyDatabases.push(db);
      },
    })
  ) {
    for (const t of chunk) {
      digest.add(t);
      for (const r of t.ranges) {
        ranges.push({ startKey: keys.copy(r.startKey), endKey: keys.copy(r.endKey) });
      }
    }
  }
  return { ranges, tables: digest.tables, digest: digest.hex(), emptyDatabases };
}
