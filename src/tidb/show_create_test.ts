// Expected texts are TiDB's own test results (facts): each case names its upstream source in
// pingcap/tidb. The TableInfo fixtures hold what TiDB stores for the CREATE TABLE of that case.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ciStr,
  type ColumnInfo,
  type IndexInfo,
  newColumn,
  newDatabase,
  newIndex,
  newTable,
  type PartitionDefinition,
  type PartitionInfo,
  type TableInfo,
} from "./model.ts";
import { ColumnFlag as F, MysqlType as T, PartitionType, SchemaState } from "./types.ts";
import {
  columnTypeDesc,
  outputFormat,
  showCreateDatabase,
  showCreateTable,
} from "./show_create.ts";

const SHOW_RESULT = "tests/integrationtest/r/executor/show.result";
const SHOW_TEST = "pkg/executor/test/showtest/show_test.go";

interface ColOpts {
  flen?: number;
  decimal?: number;
  flag?: number;
  charset?: string;
  collate?: string;
  default?: unknown;
  defaultBit?: string;
  defaultIsExpr?: boolean;
  generated?: string;
  stored?: boolean;
  comment?: string;
  elems?: string[];
  hidden?: boolean;
  state?: number;
  id?: number;
}

/** Builds the columns of a table in order (ids and offsets 1..n / 0..n-1 unless given). */
function cols(...specs: [string, number, ColOpts?][]): ColumnInfo[] {
  return specs.map(([name, tp, o = {}], i) => {
    const c = newColumn({
      id: o.id ?? i + 1,
      name,
      offset: i,
      tp,
      flag: o.flag,
      flen: o.flen,
      decimal: o.decimal,
      charset: o.charset,
      collate: o.collate,
      state: o.state,
    });
    c.default = o.default ?? null;
    c.default_bit = o.defaultBit ?? null;
    c.default_is_expr = o.defaultIsExpr ?? false;
    c.generated_expr_string = o.generated ?? "";
    c.generated_stored = o.stored ?? false;
    c.comment = o.comment ?? "";
    c.hidden = o.hidden ?? false;
    if (o.elems) c.type.Elems = o.elems;
    return c;
  });
}

// What TiDB stores for the plain types of CREATE TABLE.
const INT: ColOpts = { flen: 11 };
const BIN = { charset: "binary", collate: "binary" };

function idx(
  id: number,
  name: string,
  columns: ColumnInfo[],
  cs: { name: string; length?: number }[],
  o: Partial<IndexInfo> = {},
): IndexInfo {
  const i = newIndex({
    id,
    name,
    table: "t",
    columns: cs.map((c) => ({
      name: c.name,
      offset: columns.findIndex((x) => x.name.O === c.name),
      length: c.length,
    })),
    unique: o.is_unique,
    primary: o.is_primary,
    state: o.state,
  });
  i.is_invisible = o.is_invisible ?? false;
  i.comment = o.comment ?? "";
  i.is_global = o.is_global ?? false;
  return i;
}

function table(
  name: string,
  columns: ColumnInfo[],
  o: Partial<TableInfo> & { indexes?: IndexInfo[] } = {},
): TableInfo {
  const { indexes, ...rest } = o;
  const t = newTable({ id: 100, name, columns, indexes: indexes ?? [] });
  Object.assign(t, rest);
  for (const i of t.index_info ?? []) i.tbl_name = ciStr(name);
  return t;
}

function partition(
  type: number,
  defs: (Partial<Omit<PartitionDefinition, "name">> & { name: string })[],
  o: Partial<PartitionInfo> = {},
): PartitionInfo {
  return {
    type,
    expr: "",
    columns: null,
    enable: true,
    is_empty_columns: false,
    definitions: defs.map((d, i) => ({
      id: 200 + i,
      name: ciStr(d.name),
      less_than: d.less_than ?? null,
      in_values: d.in_values ?? null,
      policy_ref_info: d.policy_ref_info ?? null,
      comment: d.comment,
    })),
    adding_definitions: null,
    dropping_definitions: null,
    NewPartitionIDs: null,
    states: null,
    num: defs.length,
    ddl_state: 0,
    new_table_id: 0,
    ddl_type: 0,
    ddl_expr: "",
    ddl_columns: null,
    ddl_update_indexes: null,
    ...o,
  };
}

const TAIL = ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
const X_POLICY = { id: 1, name: ciStr("x") };

describe(`SHOW CREATE TABLE as TiDB prints it (${SHOW_RESULT})`, () => {
  test("AUTO_RANDOM columns carry the executable comment, with the range when not 64", () => {
    const c = cols(
      ["a", T.Longlong, { flen: 20, flag: F.NotNull | F.PriKey | F.NoDefaultValue }],
      ["b", T.Varchar, { flen: 255 }],
    );
    const t = table("auto_random_tbl1", c, { pk_is_handle: true, auto_random_bits: 3 });
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `auto_random_tbl1` (\n" +
        "  `a` bigint(20) NOT NULL /*T![auto_rand] AUTO_RANDOM(3) */,\n" +
        "  `b` varchar(255) DEFAULT NULL,\n" +
        "  PRIMARY KEY (`a`) /*T![clustered_index] CLUSTERED */\n" +
        TAIL,
    );
    // auto_random_base = 100: the allocator's next value
    const t4 = table("auto_random_tbl4", c, { pk_is_handle: true, auto_random_bits: 5 });
    assert.equal(
      showCreateTable(t4, { autoRandomBase: 100 }),
      "CREATE TABLE `auto_random_tbl4` (\n" +
        "  `a` bigint(20) NOT NULL /*T![auto_rand] AUTO_RANDOM(5) */,\n" +
        "  `b` varchar(255) DEFAULT NULL,\n" +
        "  PRIMARY KEY (`a`) /*T![clustered_index] CLUSTERED */\n" +
        TAIL + " /*T![auto_rand_base] AUTO_RANDOM_BASE=100 */",
    );
    const t7 = table("auto_random_tbl7", c, {
      pk_is_handle: true,
      auto_random_bits: 4,
      auto_random_range_bits: 32,
    });
    assert.match(
      showCreateTable(t7),
      /`a` bigint\(20\) NOT NULL \/\*T!\[auto_rand\] AUTO_RANDOM\(4, 32\) \*\//,
    );
    // PRE_SPLIT_REGIONS of an AUTO_RANDOM table gets its own comment (TiDB caps it at the bits).
    const c2 = cols(
      ["a", T.Longlong, { flen: 20, flag: F.NotNull | F.PriKey | F.NoDefaultValue }],
      ["b", T.Long, INT],
    );
    const tp = table("t", c2, { pk_is_handle: true, auto_random_bits: 2, pre_split_regions: 2 });
    assert.equal(
      showCreateTable(tp),
      "CREATE TABLE `t` (\n" +
        "  `a` bigint(20) NOT NULL /*T![auto_rand] AUTO_RANDOM(2) */,\n" +
        "  `b` int(11) DEFAULT NULL,\n" +
        "  PRIMARY KEY (`a`) /*T![clustered_index] CLUSTERED */\n" +
        TAIL + " /*T! PRE_SPLIT_REGIONS=2 */",
    );
  });

  test("AUTO_ID_CACHE, AUTO_INCREMENT and a unique key on the auto-increment column", () => {
    const c = cols(
      ["a", T.Long, { flen: 11, flag: F.NotNull | F.AutoIncrement | F.UniqueKey }],
      ["b", T.Long, { flen: 11, flag: F.NotNull | F.PriKey | F.NoDefaultValue }],
    );
    const t = table("t", c, {
      pk_is_handle: true,
      auto_id_cache: 100,
      indexes: [idx(1, "a", c, [{ name: "a" }], { is_unique: true })],
    });
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n" +
        "  `a` int(11) NOT NULL AUTO_INCREMENT,\n" +
        "  `b` int(11) NOT NULL,\n" +
        "  PRIMARY KEY (`b`) /*T![clustered_index] CLUSTERED */,\n" +
        "  UNIQUE KEY `a` (`a`)\n" +
        TAIL + " /*T![auto_id_cache] AUTO_ID_CACHE=100 */",
    );
    // temporary table t7 after two inserts: the allocator's next id is 3
    const c7 = cols(
      ["i", T.Long, { flen: 11, flag: F.NotNull | F.PriKey | F.AutoIncrement }],
      ["j", T.Long, INT],
    );
    const t7 = table("t7", c7, { pk_is_handle: true, temp_table_type: 2 });
    assert.equal(
      showCreateTable(t7, { autoIncrement: 3 }),
      "CREATE TEMPORARY TABLE `t7` (\n" +
        "  `i` int(11) NOT NULL AUTO_INCREMENT,\n" +
        "  `j` int(11) DEFAULT NULL,\n" +
        "  PRIMARY KEY (`i`) /*T![clustered_index] CLUSTERED */\n" +
        TAIL + " AUTO_INCREMENT=3",
    );
    // 1 is MySQL's "nothing allocated yet": not printed
    assert.doesNotMatch(showCreateTable(t7, { autoIncrement: 1 }), /AUTO_INCREMENT=/);
  });

  test("generated columns, charsets that differ from the table's, binary strings", () => {
    const t = table(
      "t",
      cols(["c", T.Long, INT], ["b", T.Long, { flen: 11, generated: "`c` + 1" }]),
    );
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n" +
        "  `c` int(11) DEFAULT NULL,\n" +
        "  `b` int(11) GENERATED ALWAYS AS (`c` + 1) VIRTUAL\n" + TAIL,
    );
    const nn = table(
      "t",
      cols(["c", T.Long, INT], ["b", T.Long, { flen: 11, flag: F.NotNull, generated: "`c` + 1" }]),
    );
    assert.match(showCreateTable(nn), /GENERATED ALWAYS AS \(`c` \+ 1\) VIRTUAL NOT NULL\n/);
    const utf8 = table(
      "t",
      cols(
        ["a", T.String, { flen: 10, charset: "utf8", collate: "utf8_bin" }],
        ["b", T.String, { flen: 10, generated: "rtrim(`a`)" }],
      ),
    );
    assert.equal(
      showCreateTable(utf8),
      "CREATE TABLE `t` (\n" +
        "  `a` char(10) CHARACTER SET utf8 COLLATE utf8_bin DEFAULT NULL,\n" +
        "  `b` char(10) GENERATED ALWAYS AS (rtrim(`a`)) VIRTUAL\n" + TAIL,
    );
    const diff = table(
      "different_charset",
      cols(
        ["ch1", T.Varchar, { flen: 10, charset: "utf8", collate: "utf8_bin" }],
        ["ch2", T.Varchar, { flen: 10, flag: F.Binary, ...BIN }],
      ),
    );
    assert.equal(
      showCreateTable(diff),
      "CREATE TABLE `different_charset` (\n" +
        "  `ch1` varchar(10) CHARACTER SET utf8 COLLATE utf8_bin DEFAULT NULL,\n" +
        "  `ch2` varbinary(10) DEFAULT NULL\n" + TAIL,
    );
  });

  test("CURRENT_TIMESTAMP with fsp, ON UPDATE, CURRENT_DATE as an expression", () => {
    const t = table(
      "t",
      cols(
        ["a", T.Timestamp, { flen: 19, flag: F.NotNull, default: "CURRENT_TIMESTAMP" }],
        ["b", T.Timestamp, { flen: 23, decimal: 3, default: "CURRENT_TIMESTAMP" }],
        ["c", T.Datetime, { flen: 19, default: "CURRENT_TIMESTAMP" }],
        ["d", T.Datetime, { flen: 24, decimal: 4, default: "CURRENT_TIMESTAMP" }],
        ["e", T.Varchar, { flen: 20, default: "cUrrent_tImestamp" }],
        ["f", T.Datetime, {
          flen: 22,
          decimal: 2,
          flag: F.OnUpdateNow,
          default: "CURRENT_TIMESTAMP",
        }],
        ["g", T.Timestamp, {
          flen: 22,
          decimal: 2,
          flag: F.OnUpdateNow,
          default: "CURRENT_TIMESTAMP",
        }],
        ["h", T.Date, { flen: 10, default: "CURRENT_DATE", defaultIsExpr: true }],
      ),
    );
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n" +
        "  `a` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,\n" +
        "  `b` timestamp(3) DEFAULT CURRENT_TIMESTAMP(3),\n" +
        "  `c` datetime DEFAULT CURRENT_TIMESTAMP,\n" +
        "  `d` datetime(4) DEFAULT CURRENT_TIMESTAMP(4),\n" +
        "  `e` varchar(20) DEFAULT 'cUrrent_tImestamp',\n" +
        "  `f` datetime(2) DEFAULT CURRENT_TIMESTAMP(2) ON UPDATE CURRENT_TIMESTAMP(2),\n" +
        "  `g` timestamp(2) DEFAULT CURRENT_TIMESTAMP(2) ON UPDATE CURRENT_TIMESTAMP(2),\n" +
        "  `h` date DEFAULT (CURRENT_DATE)\n" + TAIL,
    );
  });

  test("SHARD_ROW_ID_BITS with PRE_SPLIT_REGIONS share one comment", () => {
    const t = table("t", cols(["a", T.Long, INT], ["b", T.Long, INT]), {
      ShardRowIDBits: 4,
      pre_split_regions: 3,
    });
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  `b` int(11) DEFAULT NULL\n" + TAIL +
        " /*T! SHARD_ROW_ID_BITS=4 PRE_SPLIT_REGIONS=3 */",
    );
  });

  test("defaults are quoted strings whatever the type; unsigned keeps its width", () => {
    const t1 = table("t1", cols(["c", T.Long, { flen: 10, flag: F.Unsigned, default: "0" }]));
    assert.equal(
      showCreateTable(t1),
      "CREATE TABLE `t1` (\n  `c` int(10) unsigned DEFAULT '0'\n" + TAIL,
    );
    const dn = table("default_num", cols(["a", T.Long, { flen: 11, default: "11" }]));
    assert.match(showCreateTable(dn), /`a` int\(11\) DEFAULT '11'\n/);
    const dv = table("default_varchar", cols(["a", T.Varchar, { flen: 10, default: "haha" }]));
    assert.match(showCreateTable(dv), /`a` varchar\(10\) DEFAULT 'haha'\n/);
    // default '\\' (one backslash) prints escaped
    const bs = table(
      "t",
      cols(["a", T.Long, { flen: 11, flag: F.NotNull | F.PriKey | F.NoDefaultValue }], [
        "b",
        T.Varchar,
        { flen: 20, default: "\\" },
      ]),
      { pk_is_handle: true },
    );
    assert.equal(
      showCreateTable(bs),
      "CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  `b` varchar(20) DEFAULT '\\\\',\n" +
        "  PRIMARY KEY (`a`) /*T![clustered_index] CLUSTERED */\n" + TAIL,
    );
    // expression defaults print in parentheses, as stored
    const seq = table(
      "default_sequence",
      cols(["a", T.Long, {
        flen: 11,
        default: "nextval(`executor__show`.`seq`)",
        defaultIsExpr: true,
      }]),
    );
    assert.match(
      showCreateTable(seq),
      /`a` int\(11\) DEFAULT \(nextval\(`executor__show`.`seq`\)\)\n/,
    );
    const bit = table(
      "t",
      cols(["a", T.Bit, { flen: 1, flag: F.Unsigned, default: "rand()", defaultIsExpr: true }]),
    );
    assert.equal(
      showCreateTable(bit),
      "CREATE TABLE `t` (\n  `a` bit(1) DEFAULT (rand())\n" + TAIL,
    );
  });

  test("the log table: unsigned bigints, NONCLUSTERED primary key, RANGE partitions", () => {
    const c = cols(
      ["LOG_ID", T.Longlong, {
        flen: 20,
        flag: F.NotNull | F.Unsigned | F.AutoIncrement | F.PriKey,
      }],
      ["ROUND_ID", T.Longlong, { flen: 20, flag: F.NotNull | F.Unsigned | F.NoDefaultValue }],
      ["USER_ID", T.Long, { flen: 10, flag: F.NotNull | F.Unsigned | F.NoDefaultValue }],
      ["USER_IP", T.Long, { flen: 10, flag: F.Unsigned }],
      ["END_TIME", T.Datetime, { flen: 19, flag: F.NotNull | F.PriKey | F.NoDefaultValue }],
      ["USER_TYPE", T.Long, INT],
      ["APP_ID", T.Long, INT],
    );
    const t = table("log", c, {
      charset: "utf8",
      collate: "utf8_bin",
      indexes: [
        idx(1, "PRIMARY", c, [{ name: "LOG_ID" }, { name: "END_TIME" }], {
          is_primary: true,
          is_unique: true,
        }),
        idx(2, "IDX_EndTime", c, [{ name: "END_TIME" }]),
        idx(3, "IDX_RoundId", c, [{ name: "ROUND_ID" }]),
        idx(4, "IDX_UserId_EndTime", c, [{ name: "USER_ID" }, { name: "END_TIME" }]),
      ],
      partition: partition(
        PartitionType.Range,
        [
          ...Array.from({ length: 11 }, (_, i) => ({
            name: `p${i + 1}`,
            less_than: [String(i + 2)],
          })),
          { name: "p12", less_than: ["MAXVALUE"] },
        ],
        { expr: "MONTH(`end_time`)" },
      ),
    });
    assert.equal(
      showCreateTable(t, { autoIncrement: 505488 }),
      "CREATE TABLE `log` (\n" +
        "  `LOG_ID` bigint(20) unsigned NOT NULL AUTO_INCREMENT,\n" +
        "  `ROUND_ID` bigint(20) unsigned NOT NULL,\n" +
        "  `USER_ID` int(10) unsigned NOT NULL,\n" +
        "  `USER_IP` int(10) unsigned DEFAULT NULL,\n" +
        "  `END_TIME` datetime NOT NULL,\n" +
        "  `USER_TYPE` int(11) DEFAULT NULL,\n" +
        "  `APP_ID` int(11) DEFAULT NULL,\n" +
        "  PRIMARY KEY (`LOG_ID`,`END_TIME`) /*T![clustered_index] NONCLUSTERED */,\n" +
        "  KEY `IDX_EndTime` (`END_TIME`),\n" +
        "  KEY `IDX_RoundId` (`ROUND_ID`),\n" +
        "  KEY `IDX_UserId_EndTime` (`USER_ID`,`END_TIME`)\n" +
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_bin AUTO_INCREMENT=505488\n" +
        "PARTITION BY RANGE (MONTH(`end_time`))\n" +
        "(PARTITION `p1` VALUES LESS THAN (2),\n" +
        " PARTITION `p2` VALUES LESS THAN (3),\n" +
        " PARTITION `p3` VALUES LESS THAN (4),\n" +
        " PARTITION `p4` VALUES LESS THAN (5),\n" +
        " PARTITION `p5` VALUES LESS THAN (6),\n" +
        " PARTITION `p6` VALUES LESS THAN (7),\n" +
        " PARTITION `p7` VALUES LESS THAN (8),\n" +
        " PARTITION `p8` VALUES LESS THAN (9),\n" +
        " PARTITION `p9` VALUES LESS THAN (10),\n" +
        " PARTITION `p10` VALUES LESS THAN (11),\n" +
        " PARTITION `p11` VALUES LESS THAN (12),\n" +
        " PARTITION `p12` VALUES LESS THAN (MAXVALUE))",
    );
  });

  test("a column collation that is not its charset's default is printed", () => {
    const ci = { charset: "utf8mb4", collate: "utf8mb4_unicode_ci" };
    const t4 = table("ttt4", cols(["a", T.Varchar, { flen: 123, ...ci }]), {
      collate: "utf8mb4_unicode_ci",
    });
    assert.equal(
      showCreateTable(t4),
      "CREATE TABLE `ttt4` (\n  `a` varchar(123) COLLATE utf8mb4_unicode_ci DEFAULT NULL\n" +
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    );
    const t5 = table("ttt5", cols(["a", T.Varchar, { flen: 123 }]));
    assert.equal(
      showCreateTable(t5),
      "CREATE TABLE `ttt5` (\n  `a` varchar(123) DEFAULT NULL\n" + TAIL,
    );
  });

  test("an expression index shows its hidden column's expression; double has no width", () => {
    const c = cols(
      ["a", T.Long, INT],
      ["b", T.Double, { flen: 22, decimal: -1 }],
      ["_V$_expr_idx_0", T.Longlong, { flen: 20, generated: "`a` * `b` + 1", hidden: true }],
    );
    const t = table("t", c, {
      indexes: [idx(1, "expr_idx", c, [{ name: "_V$_expr_idx_0" }])],
    });
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n" +
        "  `a` int(11) DEFAULT NULL,\n" +
        "  `b` double DEFAULT NULL,\n" +
        "  KEY `expr_idx` ((`a` * `b` + 1))\n" + TAIL,
    );
  });

  test("a binary table charset prints no COLLATE", () => {
    const t = table(
      "binary_collate",
      cols(["a", T.Varchar, { flen: 10, flag: F.Binary, ...BIN }]),
      {
        ...BIN,
      },
    );
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `binary_collate` (\n  `a` varbinary(10) DEFAULT NULL\n" +
        ") ENGINE=InnoDB DEFAULT CHARSET=binary",
    );
  });

  test("foreign keys, with the schema only when it is another database", () => {
    const c = cols(
      ["id", T.Long, { flen: 11, flag: F.NotNull | F.PriKey | F.AutoIncrement }],
      ["parent_id", T.Long, { flen: 11, flag: F.NotNull | F.MultipleKey | F.NoDefaultValue }],
    );
    const fk = {
      id: 1,
      fk_name: ciStr("child_ibfk_1"),
      ref_schema: ciStr("executor__show"),
      ref_table: ciStr("parent"),
      ref_cols: [ciStr("id")],
      cols: [ciStr("parent_id")],
      on_delete: 0,
      on_update: 0,
      state: SchemaState.Public,
      version: 1,
    };
    const t = table("child", c, {
      pk_is_handle: true,
      indexes: [idx(1, "par_ind", c, [{ name: "parent_id" }])],
      fk_info: [fk],
    });
    const head = "CREATE TABLE `child` (\n" +
      "  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
      "  `parent_id` int(11) NOT NULL,\n" +
      "  PRIMARY KEY (`id`) /*T![clustered_index] CLUSTERED */,\n" +
      "  KEY `par_ind` (`parent_id`),\n";
    assert.equal(
      showCreateTable(t, { dbName: "executor__show" }),
      head + "  CONSTRAINT `child_ibfk_1` FOREIGN KEY (`parent_id`) REFERENCES `parent` (`id`)\n" +
        TAIL,
    );
    t.fk_info = [{ ...fk, on_delete: 1, on_update: 2 }];
    assert.equal(
      showCreateTable(t, { dbName: "executor__show" }),
      head +
        "  CONSTRAINT `child_ibfk_1` FOREIGN KEY (`parent_id`) REFERENCES `parent` (`id`) ON DELETE RESTRICT ON UPDATE CASCADE\n" +
        TAIL,
    );
    t.fk_info = [{ ...fk, ref_schema: ciStr("test1"), ref_table: ciStr("t1") }];
    assert.match(
      showCreateTable(t, { dbName: "test2" }),
      /\n {2}CONSTRAINT `child_ibfk_1` FOREIGN KEY \(`parent_id`\) REFERENCES `test1`.`t1` \(`id`\)\n/,
    );
    assert.match(showCreateTable(t, { dbName: "test1" }), / REFERENCES `t1` \(`id`\)\n/);
  });

  test("LIST and LIST COLUMNS partitions, NULL and tuples", () => {
    const c = cols(["id", T.Long, { flen: 11, flag: F.UniqueKey }], ["name", T.Varchar, {
      flen: 10,
    }]);
    const base = { indexes: [idx(1, "idx", c, [{ name: "id" }], { is_unique: true })] };
    const lists = [["3", "5", "6", "9", "17"], ["1", "2", "10", "11", "19", "20"], [
      "4",
      "12",
      "13",
      "14",
      "18",
    ], ["7", "8", "15", "16", "NULL"]];
    const defs = lists.map((l, i) => ({ name: `p${i}`, in_values: l.map((v) => [v]) }));
    const body = "CREATE TABLE `t` (\n" +
      "  `id` int(11) DEFAULT NULL,\n" +
      "  `name` varchar(10) DEFAULT NULL,\n" +
      "  UNIQUE KEY `idx` (`id`)\n" + TAIL;
    const parts = "(PARTITION `p0` VALUES IN (3,5,6,9,17),\n" +
      " PARTITION `p1` VALUES IN (1,2,10,11,19,20),\n" +
      " PARTITION `p2` VALUES IN (4,12,13,14,18),\n" +
      " PARTITION `p3` VALUES IN (7,8,15,16,NULL))";
    const list = table("t", c, {
      ...base,
      partition: partition(PartitionType.List, defs, { expr: "`id`" }),
    });
    assert.equal(showCreateTable(list), body + "\nPARTITION BY LIST (`id`)\n" + parts);
    const listCols = table("t", c, {
      ...base,
      partition: partition(PartitionType.List, defs, { columns: [ciStr("id")] }),
    });
    assert.equal(showCreateTable(listCols), body + "\nPARTITION BY LIST COLUMNS(`id`)\n" + parts);
    const c2 = cols(["id", T.Long, { flen: 11, flag: F.MultipleKey }], ["name", T.Varchar, {
      flen: 10,
    }]);
    const tuples = table("t", c2, {
      indexes: [idx(1, "idx", c2, [{ name: "id" }, { name: "name" }], { is_unique: true })],
      partition: partition(PartitionType.List, [
        { name: "p0", in_values: [["3", "'1'"], ["5", "'5'"]] },
        { name: "p1", in_values: [["1", "'1'"]] },
      ], { columns: [ciStr("id"), ciStr("name")] }),
    });
    assert.equal(
      showCreateTable(tuples),
      "CREATE TABLE `t` (\n" +
        "  `id` int(11) DEFAULT NULL,\n" +
        "  `name` varchar(10) DEFAULT NULL,\n" +
        "  UNIQUE KEY `idx` (`id`,`name`)\n" + TAIL + "\n" +
        "PARTITION BY LIST COLUMNS(`id`,`name`)\n" +
        "(PARTITION `p0` VALUES IN ((3,'1'),(5,'5')),\n" +
        " PARTITION `p1` VALUES IN ((1,'1')))",
    );
  });

  test("index comments escape quotes", () => {
    const c = cols(
      ["id", T.Long, { flen: 11, flag: F.NotNull | F.PriKey | F.NoDefaultValue }],
      ["v", T.Varchar, { flen: 255, flag: F.NotNull | F.MultipleKey | F.NoDefaultValue }],
    );
    const t = table("t", c, {
      pk_is_handle: true,
      indexes: [idx(1, "idx_v", c, [{ name: "v" }], { comment: "foo'bar" })],
    });
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n" +
        "  `id` int(11) NOT NULL,\n" +
        "  `v` varchar(255) NOT NULL,\n" +
        "  PRIMARY KEY (`id`) /*T![clustered_index] CLUSTERED */,\n" +
        "  KEY `idx_v` (`v`) COMMENT 'foo''bar'\n" + TAIL,
    );
  });

  test("HASH partitions: PARTITIONS n when named p0.., the list otherwise", () => {
    const c = cols(
      ["id", T.Longlong, { flen: 20, flag: F.NotNull | F.Unsigned | F.PriKey | F.NoDefaultValue }],
      ["data", T.Varchar, { flen: 255 }],
    );
    const head = "CREATE TABLE `thash` (\n" +
      "  `id` bigint(20) unsigned NOT NULL,\n" +
      "  `data` varchar(255) DEFAULT NULL,\n" +
      "  PRIMARY KEY (`id`) /*T![clustered_index] CLUSTERED */\n" + TAIL;
    const named = table("thash", c, {
      pk_is_handle: true,
      partition: partition(PartitionType.Hash, [
        { name: "pEven", comment: "Even ids" },
        { name: "pOdd", comment: "Odd ids" },
      ], { expr: "`id`" }),
    });
    assert.equal(
      showCreateTable(named),
      head + "\nPARTITION BY HASH (`id`)\n(PARTITION `pEven` COMMENT 'Even ids',\n" +
        " PARTITION `pOdd` COMMENT 'Odd ids')",
    );
    const one = table("thash", c, {
      pk_is_handle: true,
      partition: partition(PartitionType.Hash, [{ name: "p0" }], { expr: "`id`" }),
    });
    assert.equal(showCreateTable(one), head + "\nPARTITION BY HASH (`id`) PARTITIONS 1");
  });

  test("ENUM and SET always print their charset; RANGE COLUMNS bounds", () => {
    const t = table(
      "t",
      cols(
        ["a", T.Set, { ...BIN, elems: ["a", "b"] }],
        ["b", T.Enum, { charset: "ascii", collate: "ascii_bin", elems: ["a", "b"] }],
      ),
    );
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n" +
        "  `a` set('a','b') CHARACTER SET binary COLLATE binary DEFAULT NULL,\n" +
        "  `b` enum('a','b') CHARACTER SET ascii COLLATE ascii_bin DEFAULT NULL\n" + TAIL,
    );
    const r = table(
      "t",
      cols(["a", T.Varchar, { flen: 255, charset: "ascii", collate: "ascii_bin" }]),
      {
        partition: partition(PartitionType.Range, [{ name: "p", less_than: ["0x7f"] }], {
          columns: [ciStr("a")],
        }),
      },
    );
    assert.equal(
      showCreateTable(r),
      "CREATE TABLE `t` (\n" +
        "  `a` varchar(255) CHARACTER SET ascii COLLATE ascii_bin DEFAULT NULL\n" + TAIL +
        "\nPARTITION BY RANGE COLUMNS(`a`)\n(PARTITION `p` VALUES LESS THAN (0x7f))",
    );
  });

  test("temporary tables, cached tables, TTL", () => {
    const c = cols(["i", T.Long, { flen: 11, flag: F.NotNull | F.PriKey | F.NoDefaultValue }], [
      "j",
      T.Long,
      INT,
    ]);
    assert.equal(
      showCreateTable(table("t3", c, { pk_is_handle: true, temp_table_type: 1 })),
      "CREATE GLOBAL TEMPORARY TABLE `t3` (\n" +
        "  `i` int(11) NOT NULL,\n" +
        "  `j` int(11) DEFAULT NULL,\n" +
        "  PRIMARY KEY (`i`) /*T![clustered_index] CLUSTERED */\n" + TAIL +
        " ON COMMIT DELETE ROWS",
    );
    assert.equal(
      showCreateTable(table("t1", cols(["id", T.Long, INT]), { cache_table_status: 1 })),
      "CREATE TABLE `t1` (\n  `id` int(11) DEFAULT NULL\n" + TAIL + " /* CACHED ON */",
    );
    const ttl = table("t", cols(["created_at", T.Datetime, { flen: 19 }]), {
      ttl_info: {
        column_name: ciStr("created_at"),
        interval_expr: "100",
        interval_time_unit: 9,
        enable: false,
        job_interval: "1h",
      },
    });
    assert.equal(
      showCreateTable(ttl),
      "CREATE TABLE `t` (\n  `created_at` datetime DEFAULT NULL\n" + TAIL +
        " /*T![ttl] TTL=`created_at` + INTERVAL 100 YEAR */ /*T![ttl] TTL_ENABLE='OFF' */" +
        " /*T![ttl] TTL_JOB_INTERVAL='1h' */",
    );
  });
});

describe(`SHOW CREATE TABLE with placement and partitions (${SHOW_TEST})`, () => {
  const c = cols(["a", T.Long, INT], ["b", T.Varchar, { flen: 255 }]);
  const head = "CREATE TABLE `t` (\n" +
    "  `a` int(11) DEFAULT NULL,\n" +
    "  `b` varchar(255) DEFAULT NULL\n" + TAIL;

  test("a table placement policy, then LIST partitions with comments and policies", () => {
    assert.equal(
      showCreateTable(table("t", cols(["a", T.Long, INT]), { policy_ref_info: X_POLICY })),
      "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL\n" + TAIL +
        " /*T![placement] PLACEMENT POLICY=`x` */",
    );
    const t = table("t", c, {
      policy_ref_info: X_POLICY,
      partition: partition(PartitionType.List, [
        {
          name: "pLow",
          in_values: [["1"], ["2"], ["3"], ["5"], ["8"]],
          comment: "a comment",
          policy_ref_info: X_POLICY,
        },
        { name: "pMid", in_values: [["9"]], comment: "another comment" },
        { name: "pMax", in_values: [["10"], ["11"], ["12"]] },
      ], { expr: "`a`" }),
    });
    assert.equal(
      showCreateTable(t),
      head + " /*T![placement] PLACEMENT POLICY=`x` */\n" +
        "PARTITION BY LIST (`a`)\n" +
        "(PARTITION `pLow` VALUES IN (1,2,3,5,8) COMMENT 'a comment' /*T![placement] PLACEMENT POLICY=`x` */,\n" +
        " PARTITION `pMid` VALUES IN (9) COMMENT 'another comment',\n" +
        " PARTITION `pMax` VALUES IN (10,11,12))",
    );
  });

  test("RANGE and RANGE COLUMNS with MAXVALUE", () => {
    const t = table("t", c, {
      policy_ref_info: X_POLICY,
      partition: partition(PartitionType.Range, [
        {
          name: "pLow",
          less_than: ["1000000", "'1000000'"],
          comment: "a comment",
          policy_ref_info: X_POLICY,
        },
        {
          name: "pMidLow",
          less_than: ["1000000", "MAXVALUE"],
          comment: "another comment",
          policy_ref_info: X_POLICY,
        },
        {
          name: "pMadMax",
          less_than: ["9000000", "'1000000'"],
          comment: "Not a comment",
          policy_ref_info: X_POLICY,
        },
        { name: "pMax", less_than: ["MAXVALUE", "'Does not matter...'"] },
      ], { columns: [ciStr("a"), ciStr("b")] }),
    });
    assert.equal(
      showCreateTable(t),
      head + " /*T![placement] PLACEMENT POLICY=`x` */\n" +
        "PARTITION BY RANGE COLUMNS(`a`,`b`)\n" +
        "(PARTITION `pLow` VALUES LESS THAN (1000000,'1000000') COMMENT 'a comment' /*T![placement] PLACEMENT POLICY=`x` */,\n" +
        " PARTITION `pMidLow` VALUES LESS THAN (1000000,MAXVALUE) COMMENT 'another comment' /*T![placement] PLACEMENT POLICY=`x` */,\n" +
        " PARTITION `pMadMax` VALUES LESS THAN (9000000,'1000000') COMMENT 'Not a comment' /*T![placement] PLACEMENT POLICY=`x` */,\n" +
        " PARTITION `pMax` VALUES LESS THAN (MAXVALUE,'Does not matter...'))",
    );
  });

  test("HASH with a policy and named partitions", () => {
    const t = table("t", c, {
      partition: partition(PartitionType.Hash, [
        { name: "pLow", comment: "a comment", policy_ref_info: X_POLICY },
        { name: "pMax" },
      ], { expr: "`a`" }),
    });
    assert.equal(
      showCreateTable(t),
      head + "\nPARTITION BY HASH (`a`)\n" +
        "(PARTITION `pLow` COMMENT 'a comment' /*T![placement] PLACEMENT POLICY=`x` */,\n" +
        " PARTITION `pMax`)",
    );
    const two = table("t", c, {
      policy_ref_info: X_POLICY,
      partition: partition(PartitionType.Hash, [{ name: "p0" }, { name: "p1" }], { expr: "`a`" }),
    });
    assert.equal(
      showCreateTable(two),
      head + " /*T![placement] PLACEMENT POLICY=`x` */\nPARTITION BY HASH (`a`) PARTITIONS 2",
    );
  });

  test("KEY partitions", () => {
    const t = table("t", c, {
      partition: partition(PartitionType.Key, [{ name: "p0" }, { name: "p1" }, { name: "p2" }], {
        columns: [ciStr("a")],
      }),
    });
    assert.equal(showCreateTable(t), head + "\nPARTITION BY KEY (`a`) PARTITIONS 3");
    const named = table("t", c, {
      partition: partition(PartitionType.Key, [{ name: "x" }, { name: "y" }], {
        columns: [ciStr("a"), ciStr("b")],
      }),
    });
    assert.equal(
      showCreateTable(named),
      head + "\nPARTITION BY KEY (`a`,`b`)\n(PARTITION `x`,\n PARTITION `y`)",
    );
  });
});

describe(`SHOW CREATE TABLE allocator values, quoting, display widths (${SHOW_TEST})`, () => {
  // TestAutoRandomBase
  const c = cols(
    ["a", T.Longlong, { flen: 20, flag: F.NotNull | F.PriKey | F.NoDefaultValue }],
    ["b", T.Long, { flen: 11, flag: F.NotNull | F.UniqueKey | F.AutoIncrement }],
  );
  const t = table("t", c, {
    pk_is_handle: true,
    auto_random_bits: 5,
    indexes: [idx(1, "b", c, [{ name: "b" }], { is_unique: true })],
  });
  const body = "CREATE TABLE `t` (\n" +
    "  `a` bigint(20) NOT NULL /*T![auto_rand] AUTO_RANDOM(5) */,\n" +
    "  `b` int(11) NOT NULL AUTO_INCREMENT,\n" +
    "  PRIMARY KEY (`a`) /*T![clustered_index] CLUSTERED */,\n" +
    "  UNIQUE KEY `b` (`b`)\n" + TAIL;

  test("AUTO_INCREMENT and AUTO_RANDOM_BASE come from the allocators", () => {
    assert.equal(
      showCreateTable(t, { autoIncrement: 100, autoRandomBase: 100 }),
      body + " AUTO_INCREMENT=100 /*T![auto_rand_base] AUTO_RANDOM_BASE=100 */",
    );
    assert.equal(
      showCreateTable(t, { autoIncrement: 5100n, autoRandomBase: 6001n }),
      body + " AUTO_INCREMENT=5100 /*T![auto_rand_base] AUTO_RANDOM_BASE=6001 */",
    );
    assert.equal(showCreateTable(t), body);
  });

  test("names with quote characters, with backquotes and with ANSI_QUOTES (TestShowEscape)", () => {
    const e = table(
      't`abl"e',
      cols(['c`olum"n', T.Long, { flen: 11, flag: F.NotNull | F.PriKey | F.NoDefaultValue }]),
      { pk_is_handle: true },
    );
    assert.equal(
      showCreateTable(e),
      'CREATE TABLE `t``abl"e` (\n' +
        '  `c``olum"n` int(11) NOT NULL,\n' +
        '  PRIMARY KEY (`c``olum"n`) /*T![clustered_index] CLUSTERED */\n' + TAIL,
    );
    assert.equal(
      showCreateTable(e, { ansiQuotes: true }),
      'CREATE TABLE "t`abl""e" (\n' +
        '  "c`olum""n" int(11) NOT NULL,\n' +
        '  PRIMARY KEY ("c`olum""n") /*T![clustered_index] CLUSTERED */\n' + TAIL,
    );
  });

  test("strict integer display width drops widths but for zerofill and tinyint(1)", () => {
    const strict = { strictIntegerDisplayWidth: true };
    // create table t(a int1(1), b int2(2), c int3, d int4, e int8)
    const ints = table(
      "t",
      cols(
        ["a", T.Tiny, { flen: 1 }],
        ["b", T.Short, { flen: 2 }],
        ["c", T.Int24, { flen: 9 }],
        ["d", T.Long, INT],
        ["e", T.Longlong, { flen: 20 }],
      ),
    );
    assert.equal(
      showCreateTable(ints, strict),
      "CREATE TABLE `t` (\n" +
        "  `a` tinyint(1) DEFAULT NULL,\n" +
        "  `b` smallint DEFAULT NULL,\n" +
        "  `c` mediumint DEFAULT NULL,\n" +
        "  `d` int DEFAULT NULL,\n" +
        "  `e` bigint DEFAULT NULL\n" + TAIL,
    );
    // create table t(id int primary key, c1 bool, c2 int(10) zerofill)
    const zf = table(
      "t",
      cols(
        ["id", T.Long, { flen: 11, flag: F.NotNull | F.PriKey | F.NoDefaultValue }],
        ["c1", T.Tiny, { flen: 1 }],
        ["c2", T.Long, { flen: 10, flag: F.Unsigned | F.Zerofill }],
      ),
      { pk_is_handle: true },
    );
    assert.equal(
      showCreateTable(zf, strict),
      "CREATE TABLE `t` (\n" +
        "  `id` int NOT NULL,\n" +
        "  `c1` tinyint(1) DEFAULT NULL,\n" +
        "  `c2` int(10) unsigned zerofill DEFAULT NULL,\n" +
        "  PRIMARY KEY (`id`) /*T![clustered_index] CLUSTERED */\n" + TAIL,
    );
    const t5 = table("t", cols(["a", T.Tiny, { flen: 5 }], ["b", T.Varchar, { flen: 2 }]));
    assert.equal(
      showCreateTable(t5, strict),
      "CREATE TABLE `t` (\n  `a` tinyint DEFAULT NULL,\n  `b` varchar(2) DEFAULT NULL\n" + TAIL,
    );
  });

  test("every type of TestShow2's test_full_column prints its SHOW COLUMNS type", () => {
    const ascii = { charset: "ascii", collate: "ascii_bin" };
    const D = F.Binary;
    const full: [string, number, ColOpts, string][] = [
      ["c_int", T.Long, INT, "int(11)"],
      ["c_float", T.Float, { flen: 12, decimal: -1 }, "float"],
      ["c_bit", T.Bit, { flen: 1, flag: F.Unsigned }, "bit(1)"],
      ["c_bool", T.Tiny, { flen: 1 }, "tinyint(1)"],
      ["c_char", T.String, { flen: 1, ...ascii }, "char(1)"],
      ["c_binary", T.String, { flen: 1, flag: D, ...BIN }, "binary(1)"],
      ["c_varchar", T.Varchar, { flen: 1, ...ascii }, "varchar(1)"],
      ["c_varbinary", T.Varchar, { flen: 1, flag: D, ...BIN }, "varbinary(1)"],
      ["c_year", T.Year, { flen: 4, flag: F.Unsigned | F.Zerofill }, "year(4)"],
      ["c_date", T.Date, { flen: 10, flag: D }, "date"],
      ["c_time", T.Duration, { flen: 10, flag: D }, "time"],
      ["c_datetime", T.Datetime, { flen: 19, flag: D }, "datetime"],
      ["c_datetime_default_2", T.Datetime, { flen: 22, decimal: 2, flag: D }, "datetime(2)"],
      ["c_timestamp", T.Timestamp, { flen: 19, flag: D }, "timestamp"],
      ["c_timestamp_default_3", T.Timestamp, { flen: 23, decimal: 3, flag: D }, "timestamp(3)"],
      ["c_blob", T.Blob, { flen: 65535, flag: D, ...BIN }, "blob"],
      ["c_tinyblob", T.TinyBlob, { flen: 255, flag: D, ...BIN }, "tinyblob"],
      ["c_mediumblob", T.MediumBlob, { flen: 16777215, flag: D, ...BIN }, "mediumblob"],
      ["c_longblob", T.LongBlob, { flen: 4294967295, flag: D, ...BIN }, "longblob"],
      ["c_text", T.Blob, { flen: 65535, ...ascii }, "text"],
      ["c_tinytext", T.TinyBlob, { flen: 255, ...ascii }, "tinytext"],
      ["c_mediumtext", T.MediumBlob, { flen: 16777215, ...ascii }, "mediumtext"],
      ["c_longtext", T.LongBlob, { flen: 4294967295, ...ascii }, "longtext"],
      ["c_json", T.JSON, { flen: 4294967295, flag: D, ...BIN }, "json"],
      ["c_enum", T.Enum, { elems: ["1"], ...ascii }, "enum('1')"],
      ["c_set", T.Set, { elems: ["1"], ...ascii }, "set('1')"],
    ];
    for (const [name, tp, o, expected] of full) {
      const [c] = cols([name, tp, o]);
      assert.equal(columnTypeDesc(c!.type), expected, name);
    }
  });
});

// pingcap/tidb's executor test TestShow (the cases of tidb issues 3747, 4411, 4424, 4425,
// 4426 and 4740, range/hash partitions, COMPRESSION, YEAR, ZEROFILL).
describe("SHOW CREATE TABLE of TiDB's executor TestShow", () => {
  test("AUTO_INCREMENT=4 from the allocator after `auto_increment=4` (issue 3747)", () => {
    const t = table(
      "show_auto_increment",
      cols(["id", T.Long, { flen: 11, flag: F.NotNull | F.PriKey | F.AutoIncrement }]),
      { pk_is_handle: true },
    );
    const body = "CREATE TABLE `show_auto_increment` (\n" +
      "  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
      "  PRIMARY KEY (`id`) /*T![clustered_index] CLUSTERED */\n" + TAIL;
    assert.equal(showCreateTable(t, { autoIncrement: 4 }), body + " AUTO_INCREMENT=4");
    assert.equal(showCreateTable(t, { autoIncrement: 30021 }), body + " AUTO_INCREMENT=30021");
  });

  test("comments and defaults escape CR, LF and NUL but not TAB (issues 4411, 4424, 4425)", () => {
    const special = "a\nb\rc\td\0e";
    const esc = "a\\nb\\rc\td\\0e";
    assert.equal(
      showCreateTable(
        table("show_escape_character", cols(["id", T.Long, { ...INT, comment: "a\rb\nc\td\0ef" }])),
      ),
      "CREATE TABLE `show_escape_character` (\n" +
        "  `id` int(11) DEFAULT NULL COMMENT 'a\\rb\\nc\td\\0ef'\n" + TAIL,
    );
    assert.equal(
      showCreateTable(
        table("show_test", cols(["a", T.Varchar, { flen: 10, comment: special }]), {
          comment: special,
        }),
      ),
      `CREATE TABLE \`show_test\` (\n  \`a\` varchar(10) DEFAULT NULL COMMENT '${esc}'\n` + TAIL +
        ` COMMENT='${esc}'`,
    );
    assert.equal(
      showCreateTable(table("show_test", cols(["a", T.Varchar, { flen: 10, default: special }]))),
      `CREATE TABLE \`show_test\` (\n  \`a\` varchar(10) DEFAULT '${esc}'\n` + TAIL,
    );
  });

  test("BIT defaults print as b'...' without leading zeros (issue 4426)", () => {
    // b bit(32) DEFAULT 0b0, c bit(1) DEFAULT 0b1, d bit(10) DEFAULT 0b1010: the value's bytes.
    const bit = (name: string, flen: number, bytes?: number[]) =>
      [name, T.Bit, {
        flen,
        flag: F.Unsigned,
        default: bytes ? String.fromCharCode(...bytes) : undefined,
        defaultBit: bytes ? btoa(String.fromCharCode(...bytes)) : undefined,
      }] as [string, number, ColOpts];
    const t = table(
      "show_test",
      cols(bit("a", 1), bit("b", 32, [0]), bit("c", 1, [1]), bit("d", 10, [0x0a])),
    );
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `show_test` (\n  `a` bit(1) DEFAULT NULL,\n  `b` bit(32) DEFAULT b'0',\n" +
        "  `c` bit(1) DEFAULT b'1',\n  `d` bit(10) DEFAULT b'1010'\n" + TAIL,
    );
  });

  test("defaults as TiDB stores them (SHOW COLUMNS of the same test) print quoted", () => {
    // c1 int default b'010' is stored '2', c2 bigint default x'A7' '167', c4 varchar default
    // b'00110001' '1', c5 '\'C6\'', the SET default normalised to 'a,c', the ENUM's 2 to '3'.
    const t = table(
      "t",
      cols(
        ["c1", T.Long, { ...INT, default: "2" }],
        ["c2", T.Longlong, { flen: 20, default: "167" }],
        ["c4", T.Varchar, { flen: 6, default: "1" }],
        ["c5", T.Varchar, { flen: 6, default: "'C6'" }],
        ["c7", T.Set, { elems: ["a", "b", "c", "d"], default: "a,c" }],
        ["c8", T.Datetime, {
          flen: 19,
          flag: F.Binary | F.OnUpdateNow,
          default: "CURRENT_TIMESTAMP",
        }],
        ["c9", T.Year, { flen: 4, flag: F.Unsigned | F.Zerofill, default: "2014" }],
        ["c10", T.Enum, { elems: ["2", "3", "4"], default: "3" }],
      ),
    );
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n" +
        "  `c1` int(11) DEFAULT '2',\n" +
        "  `c2` bigint(20) DEFAULT '167',\n" +
        "  `c4` varchar(6) DEFAULT '1',\n" +
        "  `c5` varchar(6) DEFAULT '''C6''',\n" +
        "  `c7` set('a','b','c','d') DEFAULT 'a,c',\n" +
        "  `c8` datetime DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,\n" +
        "  `c9` year(4) DEFAULT '2014',\n" +
        "  `c10` enum('2','3','4') DEFAULT '3'\n" + TAIL,
    );
  });

  test("int1..int8 print their default display widths (issue 4740)", () => {
    const t = table(
      "t",
      cols(
        ["a", T.Tiny, { flen: 4 }],
        ["b", T.Short, { flen: 6 }],
        ["c", T.Int24, { flen: 9 }],
        ["d", T.Long, INT],
        ["e", T.Longlong, { flen: 20 }],
      ),
    );
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n" +
        "  `a` tinyint(4) DEFAULT NULL,\n" +
        "  `b` smallint(6) DEFAULT NULL,\n" +
        "  `c` mediumint(9) DEFAULT NULL,\n" +
        "  `d` int(11) DEFAULT NULL,\n" +
        "  `e` bigint(20) DEFAULT NULL\n" + TAIL,
    );
  });

  test("RANGE, RANGE COLUMNS over three columns, HASH PARTITIONS 4", () => {
    const a = table("t", cols(["a", T.Long, INT]), {
      partition: partition(PartitionType.Range, [
        { name: "p0", less_than: ["10"] },
        { name: "p1", less_than: ["20"] },
        { name: "p2", less_than: ["MAXVALUE"] },
      ], { expr: "`a`" }),
    });
    assert.equal(
      showCreateTable(a),
      "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL\n" + TAIL +
        "\nPARTITION BY RANGE (`a`)\n(PARTITION `p0` VALUES LESS THAN (10),\n" +
        " PARTITION `p1` VALUES LESS THAN (20),\n PARTITION `p2` VALUES LESS THAN (MAXVALUE))",
    );
    const rc = table(
      "t",
      cols(["a", T.Long, INT], ["b", T.Long, INT], ["c", T.Varchar, { flen: 25 }], [
        "d",
        T.Long,
        INT,
      ]),
      {
        partition: partition(PartitionType.Range, [
          { name: "p0", less_than: ["5", "10", "'ggg'"] },
          { name: "p1", less_than: ["10", "20", "'mmm'"] },
          { name: "p2", less_than: ["15", "30", "'sss'"] },
          { name: "p3", less_than: ["50", "MAXVALUE", "MAXVALUE"] },
        ], { columns: [ciStr("a"), ciStr("d"), ciStr("c")] }),
      },
    );
    assert.equal(
      showCreateTable(rc),
      "CREATE TABLE `t` (\n" +
        "  `a` int(11) DEFAULT NULL,\n" +
        "  `b` int(11) DEFAULT NULL,\n" +
        "  `c` varchar(25) DEFAULT NULL,\n" +
        "  `d` int(11) DEFAULT NULL\n" + TAIL + "\n" +
        "PARTITION BY RANGE COLUMNS(`a`,`d`,`c`)\n" +
        "(PARTITION `p0` VALUES LESS THAN (5,10,'ggg'),\n" +
        " PARTITION `p1` VALUES LESS THAN (10,20,'mmm'),\n" +
        " PARTITION `p2` VALUES LESS THAN (15,30,'sss'),\n" +
        " PARTITION `p3` VALUES LESS THAN (50,MAXVALUE,MAXVALUE))",
    );
    const h = table("t", cols(["a", T.Long, INT]), {
      partition: partition(
        PartitionType.Hash,
        [0, 1, 2, 3].map((i) => ({ name: `p${i}` })),
        { expr: "`a`" },
      ),
    });
    assert.equal(
      showCreateTable(h),
      "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL\n" + TAIL +
        "\nPARTITION BY HASH (`a`) PARTITIONS 4",
    );
  });

  test("COMPRESSION, YEAR with a NONCLUSTERED primary key, tinyint zerofill", () => {
    assert.equal(
      showCreateTable(table("t1", cols(["c1", T.Long, INT]), { compression: "zlib" })),
      "CREATE TABLE `t1` (\n  `c1` int(11) DEFAULT NULL\n" + TAIL + " COMPRESSION='zlib'",
    );
    const c = cols(
      ["y", T.Year, {
        flen: 4,
        flag: F.NotNull | F.PriKey | F.Unsigned | F.Zerofill | F.NoDefaultValue,
      }],
      ["x", T.Long, INT],
    );
    const y = table("t", c, {
      indexes: [idx(1, "PRIMARY", c, [{ name: "y" }], { is_primary: true, is_unique: true })],
    });
    assert.equal(
      showCreateTable(y),
      "CREATE TABLE `t` (\n  `y` year(4) NOT NULL,\n  `x` int(11) DEFAULT NULL,\n" +
        "  PRIMARY KEY (`y`) /*T![clustered_index] NONCLUSTERED */\n" + TAIL,
    );
    const z = table(
      "t",
      cols(["id", T.Long, { flen: 11, flag: F.NotNull | F.PriKey | F.NoDefaultValue }], [
        "val",
        T.Tiny,
        { flen: 10, flag: F.Unsigned | F.Zerofill },
      ]),
      { pk_is_handle: true },
    );
    assert.equal(
      showCreateTable(z),
      "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n" +
        "  `val` tinyint(10) unsigned zerofill DEFAULT NULL,\n" +
        "  PRIMARY KEY (`id`) /*T![clustered_index] CLUSTERED */\n" + TAIL,
    );
  });
});

describe("partitioned tables (pkg/ddl/tests/partition/reorg_partition_test.go)", () => {
  // TestPartitionByExtensivePart / TestReorgPartExtensivePart: `(a varchar(255) collate
  // utf8mb4_unicode_ci, b varchar(255) collate utf8mb4_general_ci, c int, d datetime,
  // e timestamp, f double, g text, primary key (a), key (b), key (c,b), key (d,c), key(e))`
  const c = cols(
    ["a", T.Varchar, {
      flen: 255,
      collate: "utf8mb4_unicode_ci",
      flag: F.NotNull | F.PriKey | F.NoDefaultValue,
    }],
    ["b", T.Varchar, { flen: 255, collate: "utf8mb4_general_ci", flag: F.MultipleKey }],
    ["c", T.Long, { flen: 11, flag: F.MultipleKey }],
    ["d", T.Datetime, { flen: 19, flag: F.Binary | F.MultipleKey }],
    ["e", T.Timestamp, { flen: 19, flag: F.Binary | F.MultipleKey }],
    ["f", T.Double, { flen: 22, decimal: -1 }],
    ["g", T.Blob, { flen: 65535 }],
  );
  const pk = idx(1, "PRIMARY", c, [{ name: "a" }], { is_primary: true, is_unique: true });
  const keys = [
    idx(2, "b", c, [{ name: "b" }]),
    idx(3, "c", c, [{ name: "c" }, { name: "b" }]),
    idx(4, "d", c, [{ name: "d" }, { name: "c" }]),
    idx(5, "e", c, [{ name: "e" }]),
  ];
  const cs = "CREATE TABLE `t` (\n" +
    "  `a` varchar(255) COLLATE utf8mb4_unicode_ci NOT NULL,\n" +
    "  `b` varchar(255) COLLATE utf8mb4_general_ci DEFAULT NULL,\n" +
    "  `c` int(11) DEFAULT NULL,\n" +
    "  `d` datetime DEFAULT NULL,\n" +
    "  `e` timestamp NULL DEFAULT NULL,\n" +
    "  `f` double DEFAULT NULL,\n" +
    "  `g` text DEFAULT NULL,\n" +
    "  PRIMARY KEY (`a`) /*T![clustered_index] CLUSTERED */";
  const showCreateStr = cs + ",\n" +
    "  KEY `b` (`b`),\n" +
    "  KEY `c` (`c`,`b`),\n" +
    "  KEY `d` (`d`,`c`),\n" +
    "  KEY `e` (`e`)\n" + TAIL + "\n";
  const t = (partition: PartitionInfo | null, indexes = [pk, ...keys]) =>
    table("t", c, { is_common_handle: true, common_handle_version: 1, indexes, partition });

  test("RANGE COLUMNS over a string with an empty-string bound", () => {
    const range = (bounds: [string, string][]) =>
      partition(
        PartitionType.Range,
        bounds.map(([name, b]) => ({ name, less_than: [b] })),
        { columns: [ciStr("a")] },
      );
    assert.equal(
      showCreateTable(t(range([["pH", "'H'"], ["pLast", "MAXVALUE"]]))),
      showCreateStr + "PARTITION BY RANGE COLUMNS(`a`)\n" +
        "(PARTITION `pH` VALUES LESS THAN ('H'),\n" +
        " PARTITION `pLast` VALUES LESS THAN (MAXVALUE))",
    );
    assert.equal(
      showCreateTable(
        t(range([["pNull", "''"], ["pG", "'G'"], ["pR", "'R'"], ["pLast", "MAXVALUE"]])),
      ),
      showCreateStr + "PARTITION BY RANGE COLUMNS(`a`)\n" +
        "(PARTITION `pNull` VALUES LESS THAN (''),\n" +
        " PARTITION `pG` VALUES LESS THAN ('G'),\n" +
        " PARTITION `pR` VALUES LESS THAN ('R'),\n" +
        " PARTITION `pLast` VALUES LESS THAN (MAXVALUE))",
    );
    assert.equal(
      showCreateTable(t(range([["pNull", "''"], ["pM", "'M'"], ["pLast", "MAXVALUE"]]), [pk])),
      cs + "\n" + TAIL + "\nPARTITION BY RANGE COLUMNS(`a`)\n" +
        "(PARTITION `pNull` VALUES LESS THAN (''),\n" +
        " PARTITION `pM` VALUES LESS THAN ('M'),\n" +
        " PARTITION `pLast` VALUES LESS THAN (MAXVALUE))",
    );
  });

  test("KEY partitioning with default partition names", () => {
    for (const n of [7, 3]) {
      const p = partition(
        PartitionType.Key,
        Array.from({ length: n }, (_, i) => ({ name: `p${i}` })),
        { columns: [ciStr("a")] },
      );
      assert.equal(
        showCreateTable(t(p)),
        showCreateStr + `PARTITION BY KEY (\`a\`) PARTITIONS ${n}`,
      );
    }
  });
});

describe("column types as TiDB prints them (FieldType.CompactStr, ColumnInfo.GetTypeDesc)", () => {
  // [stored type, flen, decimal, flag, charset, expected]; flen/decimal as TiDB's DDL stores
  // them for the column definition in the comment.
  const cases: [number, number, number, number, string, string, string][] = [
    [T.Tiny, 4, 0, 0, "binary", "tinyint(4)", "tinyint"],
    [T.Tiny, 3, 0, F.Unsigned, "binary", "tinyint(3) unsigned", "tinyint unsigned"],
    [T.Tiny, 1, 0, 0, "binary", "tinyint(1)", "bool"],
    [T.Short, 6, 0, 0, "binary", "smallint(6)", "smallint"],
    [
      T.Short,
      5,
      0,
      F.Unsigned | F.Zerofill,
      "binary",
      "smallint(5) unsigned zerofill",
      "smallint zerofill",
    ],
    [T.Int24, 9, 0, 0, "binary", "mediumint(9)", "mediumint"],
    [T.Int24, 8, 0, F.Unsigned, "binary", "mediumint(8) unsigned", "mediumint unsigned"],
    [T.Long, 11, 0, 0, "binary", "int(11)", "int"],
    [T.Long, 10, 0, F.Unsigned, "binary", "int(10) unsigned", "int unsigned"],
    [
      T.Long,
      5,
      0,
      F.Unsigned | F.Zerofill,
      "binary",
      "int(5) unsigned zerofill",
      "int(5) zerofill",
    ],
    [T.Longlong, 20, 0, 0, "binary", "bigint(20)", "bigint"],
    [T.Longlong, 20, 0, F.Unsigned, "binary", "bigint(20) unsigned", "bigint unsigned"],
    [T.NewDecimal, 10, 0, 0, "binary", "decimal(10,0)", "decimal"],
    [T.NewDecimal, 12, 2, 0, "binary", "decimal(12,2)", "decimal(12,2)"],
    [
      T.NewDecimal,
      65,
      30,
      F.Unsigned,
      "binary",
      "decimal(65,30) unsigned",
      "decimal(65,30) unsigned",
    ],
    [T.Float, 12, -1, 0, "binary", "float", "float"],
    [T.Float, 7, 3, 0, "binary", "float(7,3)", "float(7,3)"],
    [T.Double, 22, -1, 0, "binary", "double", "double"],
    [T.Double, 10, 4, F.Unsigned, "binary", "double(10,4) unsigned", "double(10,4) unsigned"],
    [T.String, 1, 0, 0, "utf8mb4", "char(1)", "char"],
    [T.String, 10, 0, 0, "utf8mb4", "char(10)", "char(10)"],
    [T.Varchar, 255, 0, 0, "utf8mb4", "varchar(255)", "varchar(255)"],
    [T.String, 16, 0, F.Binary, "binary", "binary(16)", "binary(16)"],
    [T.Varchar, 64, 0, F.Binary, "binary", "varbinary(64)", "varbinary(64)"],
    [T.TinyBlob, 255, 0, 0, "utf8mb4", "tinytext", "tinytext"],
    [T.Blob, 65535, 0, 0, "utf8mb4", "text", "text"],
    [T.MediumBlob, 16777215, 0, 0, "utf8mb4", "mediumtext", "mediumtext"],
    [T.LongBlob, 4294967295, 0, 0, "utf8mb4", "longtext", "longtext"],
    [T.TinyBlob, 255, 0, F.Binary, "binary", "tinyblob", "tinyblob"],
    [T.Blob, 65535, 0, F.Binary, "binary", "blob", "blob"],
    [T.MediumBlob, 16777215, 0, F.Binary, "binary", "mediumblob", "mediumblob"],
    [T.LongBlob, 4294967295, 0, F.Binary, "binary", "longblob", "longblob"],
    [T.Bit, 1, 0, F.Unsigned, "binary", "bit(1)", "bit"],
    [T.Bit, 64, 0, F.Unsigned, "binary", "bit(64)", "bit(64)"],
    [T.JSON, 4294967295, 0, F.Binary, "binary", "json", "json"],
    [T.Date, 10, 0, F.Binary, "binary", "date", "date"],
    [T.Datetime, 19, 0, F.Binary, "binary", "datetime", "datetime"],
    [T.Datetime, 26, 6, F.Binary, "binary", "datetime(6)", "datetime(6)"],
    [T.Timestamp, 19, 0, F.Binary, "binary", "timestamp", "timestamp"],
    [T.Timestamp, 23, 3, F.Binary, "binary", "timestamp(3)", "timestamp(3)"],
    [T.Duration, 10, 0, F.Binary, "binary", "time", "time"],
    [T.Duration, 15, 5, F.Binary, "binary", "time(5)", "time(5)"],
    [T.Year, 4, 0, F.Unsigned | F.Zerofill, "binary", "year(4)", "year"],
  ];
  for (const [tp, flen, decimal, flag, charset, expected, sql] of cases) {
    test(`${sql} prints as ${expected}`, () => {
      const [c] = cols([
        "c",
        tp,
        {
          flen,
          decimal,
          flag,
          charset,
          collate: charset === "binary" ? "binary" : "utf8mb4_bin",
        },
      ]);
      assert.equal(columnTypeDesc(c!.type), expected);
    });
  }

  test("ENUM and SET elements keep backslashes and double quotes", () => {
    const [e] = cols(["e", T.Enum, { elems: ["a'b", "c\\d", "x"] }]);
    assert.equal(columnTypeDesc(e!.type), "enum('a''b','c\\d','x')");
  });
});

describe("defaults and comments tibr must escape like TiDB", () => {
  test("BIT defaults print as bit literals from default_bit", () => {
    // `b bit(8) default b'101'`: TiDB keeps the raw bytes base64 in default_bit.
    const t = table(
      "t",
      cols(["b", T.Bit, { flen: 8, flag: F.Unsigned, default: "\x05", defaultBit: "BQ==" }], [
        "z",
        T.Bit,
        { flen: 8, flag: F.Unsigned, default: "\0", defaultBit: "AA==" },
      ]),
    );
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n  `b` bit(8) DEFAULT b'101',\n  `z` bit(8) DEFAULT b'0'\n" + TAIL,
    );
  });

  test("binary defaults are NUL-padded and NULs print as \\0", () => {
    const t = table(
      "t",
      cols(["b", T.String, { flen: 3, flag: F.Binary, ...BIN, default: "a\0\0" }]),
    );
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n  `b` binary(3) DEFAULT 'a\\0\\0'\n" + TAIL,
    );
  });

  test("names with backquotes double them; comments escape newlines", () => {
    const t = table("we`ird", cols(["c`1", T.Long, { flen: 11, comment: "line1\nit's" }]), {
      comment: "tbl's\\",
    });
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `we``ird` (\n  `c``1` int(11) DEFAULT NULL COMMENT 'line1\\nit''s'\n" + TAIL +
        " COMMENT='tbl''s\\\\'",
    );
    assert.equal(outputFormat("a\rb\0"), "a\\rb\\0");
  });

  test("non-public columns and indexes are left out; invisible and prefix indexes are shown", () => {
    const c = cols(
      ["a", T.Varchar, { flen: 100 }],
      ["b", T.Long, { ...INT, state: SchemaState.WriteOnly }],
    );
    c[1]!.offset = 1;
    const t = table("t", c, {
      indexes: [
        idx(1, "ia", c, [{ name: "a", length: 10 }], { is_invisible: true, comment: "p" }),
        idx(2, "ib", c, [{ name: "b" }], { state: SchemaState.WriteReorganization }),
      ],
    });
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n  `a` varchar(100) DEFAULT NULL,\n" +
        "  KEY `ia` (`a`(10)) /*!80000 INVISIBLE */ COMMENT 'p'\n" + TAIL,
    );
  });

  test("a nullable TIMESTAMP without default prints NULL DEFAULT NULL; NOT NULL prints none", () => {
    const t = table(
      "t",
      cols(["a", T.Timestamp, { flen: 19 }], ["b", T.Long, {
        flen: 11,
        flag: F.NotNull | F.NoDefaultValue,
      }], ["c", T.Long, { flen: 11, flag: F.NotNull }]),
    );
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n  `a` timestamp NULL DEFAULT NULL,\n  `b` int(11) NOT NULL,\n" +
        "  `c` int(11) NOT NULL\n" + TAIL,
    );
  });

  test("a clustered composite primary key", () => {
    const c = cols(
      ["a", T.Long, { flen: 11, flag: F.NotNull | F.PriKey | F.NoDefaultValue }],
      ["b", T.Varchar, { flen: 32, flag: F.NotNull | F.PriKey | F.NoDefaultValue }],
    );
    const t = table("t", c, {
      is_common_handle: true,
      common_handle_version: 1,
      indexes: [idx(1, "PRIMARY", c, [{ name: "a" }, { name: "b" }], {
        is_primary: true,
        is_unique: true,
      })],
    });
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  `b` varchar(32) NOT NULL,\n" +
        "  PRIMARY KEY (`a`,`b`) /*T![clustered_index] CLUSTERED */\n" + TAIL,
    );
  });
});

describe("partition values and numeric defaults, as TiDB's code formats them", () => {
  test("bounds that are not printable become escapes or hex (ddl.hexIfNonPrint)", () => {
    const t = table("t", cols(["a", T.Varchar, { flen: 10, ...BIN, flag: F.Binary }]), {
      partition: partition(PartitionType.Range, [
        { name: "p0", less_than: ["'a\tb'"] },
        { name: "p1", less_than: ["'a\x01'"] },
        { name: "p2", less_than: ["'\u00e9t\u00e9'"] },
        { name: "p3", less_than: ["MAXVALUE"] },
      ], { columns: [ciStr("a")] }),
    });
    assert.match(
      showCreateTable(t),
      /\(PARTITION `p0` VALUES LESS THAN \('a\\tb'\),\n PARTITION `p1` VALUES LESS THAN \(0x6101\),\n PARTITION `p2` VALUES LESS THAN \('\u00e9t\u00e9'\),\n/,
    );
  });

  test("a LIST partition without values, or with the DEFAULT value, is the DEFAULT partition", () => {
    const t = table("t", cols(["a", T.Long, INT]), {
      partition: partition(PartitionType.List, [
        { name: "p0", in_values: [["1"], ["2"]] },
        { name: "pDef", in_values: [["DEFAULT"]] },
      ], { expr: "`a`" }),
    });
    assert.match(
      showCreateTable(t),
      /\nPARTITION BY LIST \(`a`\)\n\(PARTITION `p0` VALUES IN \(1,2\),\n PARTITION `pDef` DEFAULT\)$/,
    );
    t.partition!.definitions[1]!.in_values = null;
    assert.match(showCreateTable(t), / PARTITION `pDef` DEFAULT\)$/);
  });

  test("a number in the default prints as Go's %v does", () => {
    const t = table(
      "t",
      cols(
        ["a", T.Double, { flen: 22, decimal: -1, default: 1e6 }],
        ["b", T.Long, { ...INT, default: 123456 }],
        ["c", T.Double, { flen: 22, decimal: -1, default: 0.5 }],
        ["d", T.Double, { flen: 22, decimal: -1, default: 0.00001 }],
      ),
    );
    assert.equal(
      showCreateTable(t),
      "CREATE TABLE `t` (\n  `a` double DEFAULT '1e+06',\n  `b` int(11) DEFAULT '123456',\n" +
        "  `c` double DEFAULT '0.5',\n  `d` double DEFAULT '1e-05'\n" + TAIL,
    );
  });
});

describe(`views and sequences (${SHOW_RESULT})`, () => {
  test("a view prints CREATE ALGORITHM ... VIEW with the definer and its columns", () => {
    const v = table("v1", cols(["a", T.Long, INT], ["b", T.Long, INT]), {
      view: {
        view_algorithm: 0,
        view_definer: {
          Username: "root",
          Hostname: "127.0.0.1",
          CurrentUser: false,
          AuthUsername: "",
          AuthHostname: "",
        },
        view_security: 0,
        view_select:
          "SELECT `executor__show`.`t1`.`a` AS `a`,`executor__show`.`t1`.`b` AS `b` FROM `executor__show`.`t1`",
        view_checkoption: 1,
        view_cols: null,
      },
    });
    assert.equal(
      showCreateTable(v),
      "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`127.0.0.1` SQL SECURITY DEFINER VIEW `v1` (`a`, `b`) AS SELECT `executor__show`.`t1`.`a` AS `a`,`executor__show`.`t1`.`b` AS `b` FROM `executor__show`.`t1`",
    );
    const one = table("v1", cols(["1", T.Longlong, { flen: 1 }]), {
      view: {
        view_algorithm: 0,
        view_definer: {
          Username: "root",
          Hostname: "localhost",
          CurrentUser: true,
          AuthUsername: "root",
          AuthHostname: "%",
        },
        view_security: 0,
        view_select: "SELECT 1 AS `1`",
        view_checkoption: 1,
        view_cols: null,
      },
    });
    assert.equal(
      showCreateTable(one),
      "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW `v1` (`1`) AS SELECT 1 AS `1`",
    );
  });

  test("a sequence prints CREATE SEQUENCE with its bounds", () => {
    const seq = table("seq", [], {
      sequence: {
        sequence_start: 1,
        sequence_cache: true,
        sequence_cycle: false,
        sequence_min_value: 1,
        sequence_max_value: 9223372036854775806n,
        sequence_increment: 1,
        sequence_cache_value: 1000,
        sequence_comment: "",
      },
    });
    assert.equal(
      showCreateTable(seq),
      "CREATE SEQUENCE `seq` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by 1 cache 1000 nocycle ENGINE=InnoDB",
    );
  });
});

describe("SHOW CREATE DATABASE (ConstructResultOfShowCreateDatabase)", () => {
  test("charset always, collation only when not the charset's default", () => {
    const db = newDatabase(1, "shop");
    assert.equal(
      showCreateDatabase(db),
      "CREATE DATABASE `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 */",
    );
    db.collate = "utf8mb4_general_ci";
    assert.equal(
      showCreateDatabase(db, { ifNotExists: true }),
      "CREATE DATABASE IF NOT EXISTS `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci */",
    );
    db.charset = "";
    db.collate = "latin1_bin";
    assert.equal(
      showCreateDatabase(db),
      "CREATE DATABASE `shop` /*!40100 DEFAULT CHARACTER SET latin1 */",
    );
    db.collate = "";
    db.policy_ref_info = X_POLICY;
    assert.equal(
      showCreateDatabase(db),
      "CREATE DATABASE `shop` /*T![placement] PLACEMENT POLICY=`x` */",
    );
  });
});
