/**
 * Private helpers of the restore tests: the tables of a backup mapped onto new IDs as TiDB would
 * create them, and the data-phase context against a playground (no TiDB needed).
 * @module
 */
import { MetaReader } from "../../src/backup/metareader.ts";
import { PdClient } from "../../src/pd/client.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { isTikv } from "../../src/restore/cluster.ts";
import { phasedProgress } from "../../src/restore/progress.ts";
import { tableRewrite } from "../../src/restore/rewrite.ts";
import type { DataContext, Restored } from "../../src/restore/task.ts";
import { openStorage } from "../../src/storage/registry.ts";
import type { TableInfo } from "../../src/tidb/model.ts";
import { StoreConnections } from "../../src/tikv/stores.ts";

/** The table as TiDB would create it elsewhere: ids shifted, index ids shuffled. */
export function recreated(t: TableInfo, shift: number): TableInfo {
  const c = structuredClone(t);
  c.id += shift;
  if (c.partition) { for (const d of c.partition.definitions) d.id += shift; }
  for (const i of c.index_info ?? []) i.id = i.id + 7;
  return c;
}

/** A data-phase context against `pg` for the backup at `dir`, and its tables under new IDs. */
export async function dataContext(
  pg: Playground,
  dir: string,
  shift: number,
): Promise<{
  ctx: DataContext;
  restored: Restored[];
  backupTs: bigint;
  close: () => Promise<void>;
}> {
  const storage = await openStorage(`local://${dir}`);
  const pd = await PdClient.connect({ endpoints: [pg.pdAddress] });
  const stores = new StoreConnections(pd);
  const reader = await MetaReader.open(storage);
  const newTs = await pd.getTS();
  const restored: Restored[] = [];
  for await (const t of reader.tables()) {
    if (!t.table) continue;
    restored.push({
      sel: { ...t, table: t.table, fileCount: t.files.length },
      rewrite: tableRewrite(t.table, recreated(t.table, shift), newTs),
    });
  }
  return {
    ctx: {
      pd,
      stores,
      storage,
      tikvs: (await pd.getAllStores()).filter(isTikv),
      progress: phasedProgress("quiet"),
    },
    restored,
    backupTs: reader.meta.endVersion,
    close: async () => {
      stores.close();
      pd.close();
      await storage.close();
    },
  };
}
