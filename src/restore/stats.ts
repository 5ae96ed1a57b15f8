/**
 * Loads the backup's table statistics into the restored tables (`--load-stats`, default true as
 * in BR), after their data and checksums, as BR does at the end of a snapshot restore. BR loads
 * them through its embedded TiDB's stats handle; tibr sends each table's JSON to a TiDB server
 * with `LOAD STATS` (the client sends the file through MySQL's LOCAL INFILE protocol).
 *
 * Both of BR's forms are read: the stats files of `Schema.stats_index` (BR v7.5 and later, what
 * tibr writes) and the JSON of the older `Schema.stats`. Blocks are matched to the restored
 * table by the backup's physical IDs (a partition's by its name, the global statistics by the
 * table), so the JSON TiDB loads names the restored table and its partitions.
 *
 * A table whose statistics fail to load is reported and left to TiDB's auto-analyze; the
 * restored data is complete either way.
 * @module
 */
import type { MetaReader } from "../backup/metareader.ts";
import { blockText, GLOBAL_STATS, readTableStats } from "../backup/stats.ts";
import type { CipherInfo } from "../crypto/cipher.ts";
import { log } from "../log.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { parseJson, type TableInfo, toJson } from "../tidb/model.ts";
import type { SelectedTable } from "./plan.ts";
import type { TidbClient } from "./tidb.ts";

type Json = Record<string, unknown>;

/** What the load did. */
export interface StatsLoadResult {
  /** Tables whose statistics TiDB loaded. */
  loaded: number;
  /** Tables the backup has statistics for whose load failed (`db.table: reason`). */
  failed: string[];
}

/**
 * The JSONTable to load for one restored table from its backed-up blocks (undefined when the
 * backup has none for it).
 */
export function statsJsonFor(
  t: SelectedTable,
  blocks: { physicalId: bigint; json: Json }[],
): Json | undefined {
  if (blocks.length === 0) return undefined;
  const named = (j: Json): Json => ({
    ...j,
    database_name: t.db.db_name.O,
    table_name: t.table.name.O,
  });
  const defs = t.table.partition?.definitions ?? [];
  if (defs.length === 0) {
    const own = blocks.find((b) => b.physicalId === BigInt(t.table.id));
    return own ? named(own.json) : undefined;
  }
  const partitions: Record<string, Json> = {};
  for (const b of blocks) {
    if (b.physicalId === BigInt(t.table.id)) partitions[GLOBAL_STATS] = named(b.json);
    const d = defs.find((x) => BigInt(x.id) === b.physicalId);
    if (d) partitions[d.name.L] = named(b.json);
  }
  if (Object.keys(partitions).length === 0) return undefined;
  return named({
    columns: null,
    indices: null,
    partitions,
    ext_stats: null,
    predicate_columns: null,
    count: 0,
    modify_count: 0,
    version: 0,
    is_historical_stats: false,
  });
}

/** Loads the statistics of every restored table the backup has them for. */
export async function loadStatistics(
  reader: MetaReader,
  storage: ExternalStorage,
  cipher: CipherInfo | undefined,
  tables: SelectedTable[],
  tidb: TidbClient,
  signal?: AbortSignal,
): Promise<StatsLoadResult> {
  const byId = new Map(tables.map((t) => [t.table.id, t]));
  const result: StatsLoadResult = { loaded: 0, failed: [] };
  for await (const raw of reader.rawSchemas()) {
    // Only schemas that carry statistics are decoded (a backup without them, BR's default, is
    // then one cheap pass).
    if (raw.statsIndex.length === 0 && raw.stats.length === 0) continue;
    if (raw.table.length === 0) continue;
    const s = { raw, table: parseJson<TableInfo>(raw.table) };
    const t = byId.get(s.table.id);
    if (!t) continue;
    const name = `${t.db.db_name.O}.${t.table.name.O}`;
    let json: Json | undefined;
    if (s.raw.statsIndex.length > 0) {
      const blocks = await readTableStats(storage, cipher, s.raw.statsIndex, signal);
      json = statsJsonFor(
        t,
        blocks.map((b) => ({
          physicalId: b.physicalId,
          json: parseJson<Json>(blockText(b)),
        })),
      );
    } else if (s.raw.stats.length > 0) {
      json = { ...parseJson<Json>(s.raw.stats), database_name: t.db.db_name.O };
      json.table_name = t.table.name.O;
    }
    if (!json) continue;
    try {
      await tidb.loadStats(toJson(json));
      result.loaded++;
    } catch (err) {
      signal?.throwIfAborted();
      const reason = (err as Error).message;
      result.failed.push(`${name}: ${reason}`);
      log("restore").warn("loading the statistics of {table} failed: {reason}", {
        table: name,
        reason,
      });
    }
  }
  log("restore").info("loaded the statistics of {n} tables", { n: result.loaded });
  return result;
}
