/**
 * The schema phase of a backup: after the data, every selected table's schema is read again
 * from the meta keys at the backup ts, a chunk at a time; each table of a chunk gets its
 * cluster checksum (compared with its files') and, when asked, its statistics, then the chunk's
 * schemas go to the metadata writer in plan order and the chunk is dropped. As BR's
 * `BackupSchemas` (schemas sent to the metawriter as they finish), but bounded: what is held is
 * one chunk of TableInfos, whatever the number of tables (BR held them all: tidb#38892).
 * @module
 */
import type { StatsFileIndex } from "../gen/brpb_pb.ts";
import type { TableFilter } from "../filter/mod.ts";
import { forEachPool } from "../pool.ts";
import type { SchemaReader } from "../tidb/meta.ts";
import type { DBInfo } from "../tidb/model.ts";
import { BackupError } from "./client.ts";
import type { SchemaInput, TableChecksum } from "./metawriter.ts";
import {
  type BackupPlan,
  type BackupTable,
  PlanDigest,
  SCHEMA_CHUNK,
  walkBackupTables,
} from "./ranges.ts";

/** What the schema phase needs; each part injected, so it runs without a cluster. */
export interface SchemaPhase {
  /** Reads the schemas at the backup ts. */
  reader: SchemaReader;
  filter: TableFilter;
  /** The plan the data was backed up by: the walk must meet the same tables. */
  plan: BackupPlan;
  /** The cluster's checksum of a table; undefined when not compared. */
  checksum?: (t: BackupTable, signal: AbortSignal) => Promise<TableChecksum | undefined>;
  /** The checksum of a table's backed-up files (the writer's `tableChecksum`). */
  fromFiles: (physicalIds: bigint[]) => TableChecksum;
  /** The statistics files of a table; undefined when it has none. */
  stats?: (t: BackupTable, signal: AbortSignal) => Promise<StatsFileIndex[] | undefined>;
  /** Writes one schema (the writer's `appendSchema`), called in plan order. */
  write: (schema: SchemaInput) => Promise<void>;
  /** Tables per chunk (default `SCHEMA_CHUNK`). */
  chunk?: number;
  /** Tables checksummed (and their statistics read) at a time. */
  concurrency: number;
  signal?: AbortSignal;
  /** A worker's first failure (the run's scope fails with it). */
  onFail?: (err: unknown) => void;
  /** After each table. */
  tick?: () => void;
}

/** Runs the schema phase; returns how many tables got statistics. */
export async function backupSchemas(p: SchemaPhase): Promise<{ withStats: number }> {
  const digest = new PlanDigest();
  const empty: DBInfo[] = [];
  let withStats = 0;
  const walk = walkBackupTables(p.reader, p.filter, {
    chunk: p.chunk ?? SCHEMA_CHUNK,
    autoIds: true,
    onEmptyDatabase: (db) => empty.push(db),
    ...(p.signal ? { signal: p.signal } : {}),
  });
  for await (const chunk of walk) {
    const sums: (TableChecksum | undefined)[] = new Array(chunk.length);
    const stats: (StatsFileIndex[] | undefined)[] = new Array(chunk.length);
    if (p.checksum || p.stats) {
      await forEachPool(chunk, {
        concurrency: p.concurrency,
        ...(p.signal ? { signal: p.signal } : {}),
        ...(p.onFail ? { onFail: p.onFail } : {}),
      }, async (t, i, signal) => {
        if (p.checksum && t.ranges.length > 0) sums[i] = await p.checksum(t, signal);
        if (p.stats) {
          stats[i] = await p.stats(t, signal);
          if (stats[i]) withStats++;
        }
        p.tick?.();
      });
    } else {
      for (let i = 0; i < chunk.length; i++) p.tick?.();
    }
    for (let i = 0; i < chunk.length; i++) {
      const t = chunk[i]!;
      digest.add(t);
      const fromFiles = p.fromFiles(t.physicalIds);
      const sum = sums[i];
      if (sum) checkTableChecksum(`${t.db.db_name.O}.${t.table.name.O}`, fromFiles, sum);
      const statsIndex = stats[i];
      await p.write({
        db: t.db,
        table: t.table,
        ...fromFiles,
        ...(statsIndex ? { statsIndex } : {}),
      });
    }
  }
  if (digest.tables !== p.plan.tables || digest.hex() !== p.plan.digest) {
    // The same snapshot read twice gives the same tables; anything else is a bug or a cluster
    // that changed history under the backup ts, and the metadata would not match the data.
    throw new BackupError(
      `the schemas read at the backup ts changed between the two reads (${p.plan.tables} ` +
        `tables planned, ${digest.tables} read back): run the backup again`,
    );
  }
  for (const db of empty) await p.write({ db });
  return { withStats };
}

/** Fails the backup when the files' sums differ from the cluster's, naming the table. */
export function checkTableChecksum(
  name: string,
  files: TableChecksum,
  cluster: TableChecksum,
): void {
  if (
    files.crc64xor !== cluster.crc64xor || files.totalKvs !== cluster.totalKvs ||
    files.totalBytes !== cluster.totalBytes
  ) {
    throw new BackupError(
      `checksum mismatch for table ${name}: backup files have crc64xor ${files.crc64xor}, ` +
        `${files.totalKvs} kvs, ${files.totalBytes} bytes; the cluster has crc64xor ` +
        `${cluster.crc64xor}, ${cluster.totalKvs} kvs, ${cluster.totalBytes} bytes`,
    );
  }
}
