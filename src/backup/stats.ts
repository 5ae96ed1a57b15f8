/**
 * Table statistics in a backup, as BR (v7.5 and later) writes them with `--ignore-stats=false`:
 * each table's statistics are TiDB's JSON dump (`JSONTable`), cut into one `StatsBlock` per
 * physical table (a partition's under the partition's ID, a partitioned table's global ones under
 * the table's ID), gathered in a `StatsFile` and indexed from the table's `Schema.stats_index`
 * (pingcap/tidb `br/pkg/metautil/statsfile.go`): the first (and usually only) file of a table is
 * inlined in the index when under 8 KiB, otherwise it is written as
 * `backupmeta.schema.stats.{physical id:09}` (sealed with the backup's crypter) with its sha256 and
 * sizes in the index. A file is cut when its JSON passes 32 MiB.
 *
 * BR dumps the statistics through its embedded TiDB's stats handle; tibr reads them from a TiDB
 * server of the cluster, found in PD's etcd, through its status API
 * (`/stats/dump/{db}/{table}`). As with BR, a table whose statistics cannot be read is backed up
 * without them, with a warning.
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createHash } from "node:crypto";
import {
  type StatsBlock,
  StatsBlockSchema,
  type StatsFileIndex,
  StatsFileIndexSchema,
  StatsFileSchema,
} from "../gen/brpb_pb.ts";
import { type CipherInfo, decrypt, encrypt, isEncrypting, randomIv } from "../crypto/cipher.ts";
import { log } from "../log.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { parseJson, type TableInfo, toJson } from "../tidb/model.ts";

/** BR's `maxStatsJsonTableSize`: a stats file is cut past this much JSON. */
export const MAX_STATS_FILE_JSON = 32 * 1024 * 1024;
/** BR's `inlineSize`: a table's first stats file under this size goes inline in the index. */
export const STATS_INLINE_SIZE = 8 * 1024;
/** The key of a partitioned table's global statistics in TiDB's dump. */
export const GLOBAL_STATS = "global";

const ENC = new TextEncoder();
const DEC = new TextDecoder();

/** BR's `getStatsFileName`. */
export function statsFileName(physicalId: bigint | number): string {
  return `backupmeta.schema.stats.${String(physicalId).padStart(9, "0")}`;
}

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

type Json = Record<string, unknown>;

/**
 * The blocks of one table's dump: the table's own JSON under its ID, or for a partitioned table
 * each partition's under the partition's ID and the global statistics under the table's ID.
 * Partitions the table does not have are left out. 64-bit numbers (versions) stay exact.
 */
export function statsBlocks(table: TableInfo, dumpText: string): StatsBlock[] {
  const defs = table.partition?.definitions ?? [];
  if (defs.length === 0) {
    return [
      create(StatsBlockSchema, { physicalId: BigInt(table.id), jsonTable: ENC.encode(dumpText) }),
    ];
  }
  const dump = parseJson<Json>(dumpText);
  const out: StatsBlock[] = [];
  for (const [name, part] of Object.entries((dump.partitions ?? {}) as Record<string, Json>)) {
    const id = name === GLOBAL_STATS
      ? table.id
      : defs.find((d) => d.name.L === name.toLowerCase())?.id;
    if (id === undefined || part === null) continue;
    out.push(create(StatsBlockSchema, { physicalId: BigInt(id), jsonTable: toJson(part) }));
  }
  return out;
}

/** Writes one table's stats blocks as BR's StatsWriter does and returns the index entries. */
export async function writeTableStats(
  storage: ExternalStorage,
  cipher: CipherInfo | undefined,
  blocks: StatsBlock[],
  signal?: AbortSignal,
  limits: { maxJson: number; inline: number } = {
    maxJson: MAX_STATS_FILE_JSON,
    inline: STATS_INLINE_SIZE,
  },
): Promise<StatsFileIndex[]> {
  const indexes: StatsFileIndex[] = [];
  let pending: StatsBlock[] = [];
  let size = 0;
  const flush = async (physicalId: bigint) => {
    const content = toBinary(StatsFileSchema, create(StatsFileSchema, { blocks: pending }));
    pending = [];
    size = 0;
    if (indexes.length === 0 && content.length < limits.inline) {
      indexes.push(create(StatsFileIndexSchema, { inlineData: content }));
      return;
    }
    const name = statsFileName(physicalId);
    const iv = isEncrypting(cipher) && content.length > 0 ? randomIv() : new Uint8Array();
    const data = iv.length > 0 ? encrypt(cipher!, iv, content) : content;
    await storage.writeFile(name, data, signal ? { signal } : {});
    indexes.push(create(StatsFileIndexSchema, {
      name,
      sha256: sha256(content),
      sizeEnc: BigInt(data.length),
      sizeOri: BigInt(content.length),
      cipherIv: iv,
    }));
  };
  for (const b of blocks) {
    pending.push(b);
    size += b.jsonTable.length;
    if (size > limits.maxJson) await flush(b.physicalId);
  }
  if (pending.length > 0 && size > 0) await flush(pending[0]!.physicalId);
  return indexes;
}

/** A stats file a backup references could not be read back. */
export class StatsFileError extends Error {
  override name = "StatsFileError";
}

/** Reads the blocks of a table's stats index (inline or from the storage, checked). */
export async function readTableStats(
  storage: ExternalStorage,
  cipher: CipherInfo | undefined,
  indexes: StatsFileIndex[],
  signal?: AbortSignal,
): Promise<StatsBlock[]> {
  const out: StatsBlock[] = [];
  for (const ix of indexes) {
    let content: Uint8Array;
    if (ix.inlineData.length > 0) content = ix.inlineData;
    else {
      const data = await storage.readFile(ix.name, signal ? { signal } : {});
      if (ix.cipherIv.length > 0 && !isEncrypting(cipher)) {
        throw new StatsFileError(
          `${ix.name} of the backup at ${storage.uri()} is encrypted; give the backup's ` +
            "crypter key (--crypter.key)",
        );
      }
      content = ix.cipherIv.length > 0 ? decrypt(cipher!, ix.cipherIv, data) : data;
      const digest = sha256(content);
      if (digest.length !== ix.sha256.length || digest.some((x, i) => x !== ix.sha256[i])) {
        throw new StatsFileError(
          `${ix.name} of the backup at ${storage.uri()} does not match its sha256 in ` +
            "backupmeta: the file is damaged or the crypter key is wrong",
        );
      }
    }
    out.push(...fromBinary(StatsFileSchema, content).blocks);
  }
  return out;
}

/**
 * Reads a table's statistics from TiDB's status API. Returns undefined (after a warning, as BR
 * logs "dump table stats failed") when TiDB has none for it or cannot be reached.
 */
export async function dumpTableStats(
  statusAddress: string,
  db: string,
  table: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const url = `http://${statusAddress}/stats/dump/${encodeURIComponent(db)}/${
    encodeURIComponent(table)
  }`;
  try {
    const res = await fetch(url, signal ? { signal } : {});
    const body = await res.text();
    if (!res.ok) {
      log("backup").warn(
        "dump table stats failed: TiDB answered {status} for {url} ({body}); {db}.{table} is " +
          "backed up without statistics",
        { status: res.status, url, body: body.trim().slice(0, 200), db, table },
      );
      return undefined;
    }
    parseJson(body);
    return body;
  } catch (err) {
    signal?.throwIfAborted();
    log("backup").warn(
      "dump table stats failed: {url}: {error}; {db}.{table} is backed up without statistics",
      { url, error: (err as Error).message, db, table },
    );
    return undefined;
  }
}

/** The text of a block's JSONTable. */
export function blockText(b: StatsBlock): string {
  return DEC.decode(b.jsonTable);
}
