/**
 * TiDB's data model as it lies in TiKV: table and index keys (`tablecodec`), datums and their
 * memcomparable key encoding, row format v2, the schema JSON models, and the meta layout with a
 * schema reader that lists databases and tables at a snapshot ts over any KV reader.
 *
 * @example
 * ```ts
 * import { SchemaReader, recordRange } from "./mod.ts";
 *
 * const schema = new SchemaReader(kvReader, backupTs); // kvReader: KvGet/KvScan at a ts
 * for (const db of await schema.listDatabases()) {
 *   for (const t of await schema.listTables(db.info.id)) {
 *     const { start, end } = recordRange(BigInt(t.info.id));
 *   }
 * }
 * ```
 * @module
 */
export * from "./datum.ts";
export * from "./meta.ts";
export * from "./model.ts";
export * from "./json_binary.ts";
export * from "./row_decode.ts";
export * from "./rowcodec.ts";
export * from "./show_create.ts";
export * from "./table.ts";
export * from "./tablecodec.ts";
export * from "./types.ts";
