/**
 * Private helper of the restore tests: what a table backup holds, decoded from its SST files
 * with tibr's SST reader and row decoder and keyed by names instead of IDs, so that backups of
 * two clusters (a source and the cluster it was restored into) compare table by table:
 *
 * - a record is its partition, handle and column values by column name;
 * - an index entry is its partition, index name and the key's values; its value too, unless
 *   the two tables number their columns differently (a re-encoded table: index values that
 *   carry restored data hold column IDs).
 *
 * Commit timestamps are left out: a restore commits at its own ts.
 * @module
 */
import { MetaReader } from "../../src/backup/metareader.ts";
import { hex } from "../../src/codec/bytes.ts";
import type { File } from "../../src/gen/brpb_pb.ts";
import { decodeBackupFile, openBackupSst } from "../../src/sst/backup.ts";
import { openStorage } from "../../src/storage/registry.ts";
import type { TableInfo } from "../../src/tidb/model.ts";
import { RowDecoder, type SqlValue } from "../../src/tidb/row_decode.ts";

/** One table of a backup, decoded. */
export interface BackupTable {
  table: TableInfo;
  /** Records and index entries, one string each, sorted. */
  rows: string[];
}

// Byte lengths of `t{id}_r` and `t{id}_i{id}` (tablecodec).
const RECORD_PREFIX = 11;
const INDEX_PREFIX = 19;

function _text(v: SqlValue): unknown {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return `0x${hex(v)}`;
  return v;
}

function _int(b: Uint8Array, at: number): bigint {
  // The sign bit of a key's int64 is flipped so that keys sort as numbers.
  return new DataView(b.buffer, b.byteOffset + at, 8).getBigUint64(0) ^ (1n << 63n);
}

/** The tables of the backup at `url` (`db.table` → decoded rows); `only` limits the names. */
export async function backupRows(
  url: string,
  only?: (name: string) => boolean,
  withIndexValues: (name: string) => boolean = () => true,
): Promise<Map<string, BackupTable>> {
  const storage = await openStorage(url);
  const out = new Map<string, BackupTable>();
  try {
    const reader = await MetaReader.open(storage);
    for await (const t of reader.tables()) {
      if (!t.table) continue;
      const name = `${t.db.db_name.O}.${t.table.name.O}`;
      if (only && !only(name)) continue;
      const table = t.table;
      const physical = new Map<bigint, string>([[BigInt(table.id), ""]]);
      for (const p of table.partition?.definitions ?? []) physical.set(BigInt(p.id), p.name.O);
      const indexes = new Map((table.index_info ?? []).map((i) => [BigInt(i.id), i.idx_name.O]));
      const decoder = new RowDecoder(table);
      const columns = decoder.columns.map((c) => c.name.O);
      const rows: string[] = [];
      const pairs = new Map<string, { write?: File; default?: File }>();
      for (const f of t.files) {
        const stem = f.name.replace(/_(default|write)\.sst$/, "");
        const p = pairs.get(stem) ?? {};
        if (f.cf === "default") p.default = f;
        else p.write = f;
        pairs.set(stem, p);
      }
      for (const pair of pairs.values()) {
        const open = (f: File) =>
          openBackupSst(storage, { name: f.name, size: Number(f.size), cipherIv: f.cipherIv });
        const write = await open(pair.write!);
        const dflt = pair.default ? await open(pair.default) : undefined;
        for await (const kv of decodeBackupFile({ write, ...(dflt ? { default: dflt } : {}) })) {
          if (kv.type !== "put") continue;
          const k = kv.rawKey;
          const part = physical.get(_int(k, 1));
          if (part === undefined) throw new Error(`${name}: key ${hex(k)} of another table`);
          if (k[9] === 0x5f && k[10] === 0x72) {
            const values = decoder.decode(k, kv.value);
            const row = Object.fromEntries(values.map((v, i) => [columns[i]!, _text(v)]));
            rows.push(`r ${part} ${hex(k.subarray(RECORD_PREFIX))} ${JSON.stringify(row)}`);
          } else {
            const index = indexes.get(_int(k, 11)) ?? `?${_int(k, 11)}`;
            const value = withIndexValues(name) ? hex(kv.value) : "-";
            rows.push(`i ${part} ${index} ${hex(k.subarray(INDEX_PREFIX))} ${value}`);
          }
        }
      }
      out.set(name, { table, rows: rows.sort() });
    }
  } finally {
    await storage.close();
  }
  return out;
}
