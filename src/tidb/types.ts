/**
 * MySQL column type codes and column flags as TiDB stores them in `FieldType` JSON (`Tp`, `Flag`)
 * and schema states, partition and index types as numbers in TableInfo JSON.
 * @module
 */

/** Column type codes (`mysql.TypeXxx`), the `Tp` field of a column's FieldType. */
export const MysqlType = {
  Decimal: 0,
  Tiny: 1,
  Short: 2,
  Long: 3,
  Float: 4,
  Double: 5,
  Null: 6,
  Timestamp: 7,
  Longlong: 8,
  Int24: 9,
  Date: 10,
  Duration: 11,
  Datetime: 12,
  Year: 13,
  NewDate: 14,
  Varchar: 15,
  Bit: 16,
  JSON: 0xf5,
  NewDecimal: 0xf6,
  Enum: 0xf7,
  Set: 0xf8,
  TinyBlob: 0xf9,
  MediumBlob: 0xfa,
  LongBlob: 0xfb,
  Blob: 0xfc,
  VarString: 0xfd,
  String: 0xfe,
  Geometry: 0xff,
} as const;

/** Column flag bits (`mysql.XxxFlag`), OR-ed into the `Flag` field of a FieldType. */
export const ColumnFlag = {
  NotNull: 1,
  PriKey: 2,
  UniqueKey: 4,
  MultipleKey: 8,
  Blob: 16,
  Unsigned: 32,
  Zerofill: 64,
  Binary: 128,
  Enum: 256,
  AutoIncrement: 512,
  Timestamp: 1024,
  Set: 2048,
  NoDefaultValue: 4096,
  OnUpdateNow: 8192,
  PartKey: 16384,
  Num: 32768,
} as const;

/** Schema element states (`model.SchemaState`); only `Public` elements are visible to reads. */
export const SchemaState = {
  None: 0,
  DeleteOnly: 1,
  WriteOnly: 2,
  WriteReorganization: 3,
  DeleteReorganization: 4,
  Public: 5,
  ReplicaOnly: 6,
  GlobalTxnOnly: 7,
} as const;

/** Partition types (`model.PartitionType`). */
export const PartitionType = { Range: 1, Hash: 2, List: 3, Key: 4 } as const;

/** Index types (`model.IndexType`). */
export const IndexType = { Invalid: 0, Btree: 1, Hash: 2, Rtree: 3 } as const;

/** The `length` of an index column that indexes the whole value (no prefix). */
export const UNSPECIFIED_LENGTH = -1;

/** Default charset and collation TiDB gives new databases, tables and string columns. */
export const DEFAULT_CHARSET = "utf8mb4";
/** Collation paired with `DEFAULT_CHARSET`: binary with padding, so keys need no restore data. */
export const DEFAULT_COLLATION = "utf8mb4_bin";
