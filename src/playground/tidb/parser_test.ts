import assert from "node:assert/strict";
import { test } from "node:test";
import { restoreExpr } from "./ast.ts";
import type { SqlError } from "./errors.ts";
import { tokenize } from "./lexer.ts";
import { parse } from "./parser.ts";

const texts = (sql: string) => tokenize(sql).filter((t) => t.kind !== "eof").map((t) => t.text);

// Cases from pingcap/tidb pkg/parser/lexer/lexer_test.go (TestSpecialComment,
// TestFeatureIDsComment, TestIdentifier): positions are offsets into the text.
test("MySQL's /*!NNNNN ... */ comments are code, at the offsets TiDB's lexer reports", () => {
  const toks = tokenize("/*!40101 select\n5*/");
  assert.deepEqual(toks.map((t) => [t.kind, t.text, t.pos]), [
    ["ident", "select", 9],
    ["number", "5", 16],
    ["eof", "", 19],
  ]);
});

test("/*T![feature] ... */ is code for a feature TiDB knows and a comment otherwise", () => {
  const toks = tokenize("/*T![auto_rand] auto_random(5) */");
  assert.deepEqual(toks.map((t) => [t.text, t.pos]).slice(0, 4), [
    ["auto_random", 16],
    ["(", 27],
    ["5", 28],
    [")", 29],
  ]);
  assert.deepEqual(texts("/*T![unsupported_feature] unsupported(123) */"), []);
  assert.deepEqual(texts("a /*T! b */ c /* d */ e -- f\n# g\nh"), ["a", "b", "c", "e", "h"]);
});

test("words that start with digits are identifiers, as in TiDB's lexer", () => {
  for (const w of ["1_x", "0_x", "9e", "0b123", "0b1ab", "0x7fz3", "023a4", "9eTSs"]) {
    const toks = tokenize(w);
    assert.equal(toks[0]!.kind, "ident", w);
    assert.equal(toks[0]!.text, w);
  }
  assert.deepEqual(tokenize("0x1F b'101' X'0a' 1.5e3 .5").map((t) => t.kind), [
    "hex",
    "bit",
    "hex",
    "number",
    "number",
    "eof",
  ]);
  assert.deepEqual(texts("'it''s' \"a\\nb\" `we``ird`"), ["it's", "a\nb", "we`ird"]);
});

test("SHOW CREATE TABLE's dialect parses with every executable comment and clause", () => {
  const [s] = parse(
    "CREATE TABLE `t` (\n" +
      "  `id` bigint(20) NOT NULL /*T![auto_rand] AUTO_RANDOM(5, 54) */,\n" +
      "  `name` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci DEFAULT 'a''b' COMMENT 'c',\n" +
      "  `g` int(11) GENERATED ALWAYS AS (`id` + 1) VIRTUAL,\n" +
      "  `u` datetime(3) DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),\n" +
      "  PRIMARY KEY (`id`) /*T![clustered_index] CLUSTERED */,\n" +
      "  UNIQUE KEY `uk` (`name`(10)) /*!80000 INVISIBLE */ COMMENT 'x'\n" +
      ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin " +
      "/*T![auto_id_cache] AUTO_ID_CACHE=1 */ /*T![auto_rand_base] AUTO_RANDOM_BASE=100 */ " +
      "/*T! SHARD_ROW_ID_BITS=4 PRE_SPLIT_REGIONS=2 */ COMMENT='t'\n" +
      "PARTITION BY RANGE COLUMNS(`id`)\n(PARTITION `p0` VALUES LESS THAN (10) COMMENT 'first',\n" +
      " PARTITION `p1` VALUES LESS THAN (MAXVALUE))",
  );
  if (s?.k !== "createTable") throw new Error("not a CREATE TABLE");
  assert.deepEqual(s.columns[0]!.autoRandom, { shardBits: 5, rangeBits: 54 });
  assert.equal(s.columns[1]!.type.charset, "utf8mb4");
  assert.equal(s.columns[1]!.type.collate, "utf8mb4_general_ci");
  assert.deepEqual(s.columns[1]!.defaultValue, { k: "str", value: "a'b" });
  assert.equal(restoreExpr(s.columns[2]!.generated!.expr, false), "`id` + 1");
  assert.ok(s.columns[3]!.onUpdate);
  assert.equal(s.indexes[0]!.clustered, true);
  assert.deepEqual(s.indexes[1]!.parts, [{ name: "name", length: 10 }]);
  assert.equal(s.indexes[1]!.invisible, true);
  assert.equal(s.options.autoIdCache, 1n);
  assert.equal(s.options.autoRandomBase, 100n);
  assert.equal(s.options.shardRowIdBits, 4);
  assert.equal(s.options.preSplitRegions, 2);
  assert.deepEqual(s.partition?.columns, ["id"]);
  assert.equal(s.partition!.defs[0]!.comment, "first");
  assert.deepEqual(s.partition!.defs[1]!.lessThan, [{ k: "maxvalue" }]);
});

test("partition expressions restore as TiDB stores them", () => {
  const [s] = parse(
    "CREATE TABLE t (a date) PARTITION BY RANGE (year(a)) (PARTITION p VALUES LESS THAN (2020))",
  );
  if (s?.k !== "createTable") throw new Error("not a CREATE TABLE");
  assert.equal(restoreExpr(s.partition!.expr!, true), "YEAR(`a`)");
  const [l] = parse(
    "CREATE TABLE t (a int) PARTITION BY LIST (a) (PARTITION p VALUES IN (1, -2, 3))",
  );
  if (l?.k !== "createTable") throw new Error("not a CREATE TABLE");
  assert.deepEqual(l.partition!.defs[0]!.inValues!.map((v) => restoreExpr(v[0]!)), [
    "1",
    "-2",
    "3",
  ]);
});

test("statements and clauses the playground does not run are 1235 naming them; garbage is 1064", () => {
  const code = (sql: string) => {
    try {
      parse(sql);
    } catch (err) {
      return [(err as SqlError).code, (err as SqlError).message];
    }
    return [0, ""];
  };
  assert.deepEqual(code("GRANT ALL ON *.* TO root"), [
    1235,
    "This version of TiDB doesn't yet support 'GRANT'",
  ]);
  assert.deepEqual(code("SELECT * FROM t ORDER BY a")[0], 1235);
  assert.match(
    String(code("CREATE TABLE t (a int) PARTITION BY LINEAR HASH (a)")[1]),
    /LINEAR HASH/,
  );
  assert.match(
    String(code("ALTER TABLE t ADD PARTITION (PARTITION p2 VALUES LESS THAN (30))")[1]),
    /ADD PARTITION/,
  );
  assert.equal(code("FROBNICATE t")[0], 1064);
  assert.equal(code("SELECT (1")[0], 1064);
  assert.match(String(code("SELECT 'x")[1]), /line 1 column 7 near "'x"/);
  assert.equal(parse("SET NAMES utf8mb4; SET @@session.autocommit = 1, sql_mode = ''").length, 2);
});

test("ANALYZE TABLE and LOAD STATS parse; LOAD DATA and ANALYZE options answer 1235", () => {
  assert.deepEqual(parse("ANALYZE TABLE t, d.u"), [
    { k: "analyze", tables: [{ name: "t" }, { db: "d", name: "u" }] },
  ]);
  assert.deepEqual(parse("LOAD STATS '/tmp/stats.json'"), [
    { k: "loadStats", file: "/tmp/stats.json" },
  ]);
  for (const sql of ["LOAD DATA LOCAL INFILE 'x' INTO TABLE t", "ANALYZE TABLE t WITH 10 TOPN"]) {
    assert.throws(() => parse(sql), (e: SqlError) => e.code === 1235, sql);
  }
});
