import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  allFilter,
  FilterError,
  parseFilter,
  schemasFilter,
  tablesFilter,
} from "./table_filter.ts";
import { goLower } from "./_parser.ts";

/** [schema, table, selected case-sensitively, selected ignoring case] */
type TableCase = [string, string, boolean, boolean];

const TABLE_CASES: { rules: string[]; cases: TableCase[] }[] = [
  { rules: [], cases: [["shop", "orders", false, false]] },
  { rules: ["*.*"], cases: [["shop", "orders", true, true]] },
  {
    rules: ["shop.*"],
    cases: [["shop", "a", true, true], ["shop2", "a", false, false], ["Shop", "a", false, true]],
  },
  {
    rules: ["*.*", "!tmp.*"],
    cases: [["shop", "a", true, true], ["tmp", "a", false, false], ["tmp1", "a", true, true]],
  },
  {
    // The documented example: everything but passwords, then one table taken back.
    rules: ["*.*", "!*.Password", "employees.Password"],
    cases: [
      ["hr", "Password", false, false],
      ["hr", "password", true, false],
      ["employees", "Password", true, true],
      ["hr", "salaries", true, true],
    ],
  },
  {
    rules: ["employees.*", "*.WorkOrder"],
    cases: [
      ["employees", "x", true, true],
      ["sales", "WorkOrder", true, true],
      ["sales", "workorder", false, true],
      ["sales", "x", false, false],
    ],
  },
  {
    rules: ["/^shop/.*", String.raw`!/^shop/./^log-\d/`],
    cases: [
      ["shop", "orders", true, true],
      ["shop_eu", "log-1", false, false],
      ["shop_eu", "log-x", true, true],
      ["myshop", "orders", false, false],
    ],
  },
  {
    rules: ["*.*", "!db[abc].*", "!x?y.*", String.raw`!back\\slash.*`],
    cases: [
      ["dbb", "t", false, false],
      ["dbd", "t", true, true],
      ["db[abc]", "t", true, true],
      ["xzy", "t", false, false],
      ["xy", "t", true, true],
      ["x?y", "t", false, false],
      [String.raw`back\slash`, "t", false, false],
      ["backslash", "t", true, true],
    ],
  },
  {
    // Regexes and wildcards both fold case when matching ignores it.
    rules: ["*.*", "!/^LOG/.*", "!*./Tmp$/"],
    cases: [
      ["LOG1", "a", false, false],
      ["log2", "a", true, false],
      ["app", "xTmp", false, false],
      ["app", "xtmp", true, false],
      ["app", "b", true, true],
    ],
  },
  {
    rules: ["*.*", "!a?c?./t[0-9]/"],
    cases: [["abcd", "t1", false, false], ["abcd", "tx", true, true], ["aaaa", "t2", true, true]],
  },
  {
    rules: ["*.*", "!a*.A*"],
    cases: [["aB", "Ab", false, false], ["AaB", "aab", true, false], ["acB", "Afb", false, false]],
  },
  {
    rules: ["# a comment", "x.y", " \t ", "  z.w  "],
    cases: [["x", "y", true, true], ["y", "y", false, false], ["z", "w", true, true]],
  },
  {
    rules: ["p_1$.45", "数据.表名"],
    cases: [
      ["p_1$", "45", true, true],
      ["p_1", "45", false, false],
      ["数据", "表名", true, true],
      ["数据", "表", false, false],
    ],
  },
  {
    rules: [String.raw`\\\..*`],
    cases: [[String.raw`\.`, "a", true, true], [String.raw`\\\.`, "a", false, false]],
  },
  {
    // `[!...]` negates; in `[^...]` the '^' is just a member, as in a glob.
    rules: ["[!a-z].[^a-z]"],
    cases: [
      ["!", "z", true, true],
      ["!", "^", true, true],
      ["!", "9", false, false],
      ["a", "z", false, false],
      ["1", "^", true, true],
      ["1", "9", false, false],
    ],
  },
  {
    rules: ['"odd ""name"""."has.dot?"', "`back``tick`.`*`"],
    cases: [
      ['odd "name"', "has.dot?", true, true],
      ['ODD "NAME"', "HAS.DOT?", false, true],
      ['odd "name"', "has_dot!", false, false],
      ["back`tick", "*", true, true],
      ["back`tick", "other", false, false],
    ],
  },
  {
    // The last matching rule wins, in both directions.
    rules: ["db*.*", "!*.cfg*", "*.cfgsample"],
    cases: [
      ["other", "t", false, false],
      ["db1", "t", true, true],
      ["db1", "cfg1", false, false],
      ["db1", "cfgsample", true, true],
      ["else", "cfgsample", true, true],
    ],
  },
  {
    rules: ["*.*", "!S.D[!a-d]", "!S.E[a-d]"],
    cases: [
      ["S", "D1", false, false],
      ["S", "Da", true, true],
      ["S", "Daa", true, true],
      ["S", "Eb", false, false],
      ["S", "E1", true, true],
    ],
  },
  {
    // '$' is an identifier character inside wildcards too, not a regex anchor.
    rules: ["a$*.*"],
    cases: [["a$b", "t", true, true], ["a$", "t", true, true], ["ab", "t", false, false]],
  },
  {
    // Names fold like Go's strings.ToLower, one code point each: İ → i.
    rules: ["İX.t"],
    cases: [["İX", "t", true, true], ["ix", "t", false, true], ["İx", "T", false, true]],
  },
];

/** [schema, selected case-sensitively, selected ignoring case] */
const SCHEMA_CASES: { rules: string[]; cases: [string, boolean, boolean][] }[] = [
  { rules: [], cases: [["shop", false, false]] },
  { rules: ["*.*"], cases: [["shop", true, true]] },
  { rules: ["shop.*"], cases: [["shop", true, true], ["shop1", false, false]] },
  { rules: ["*.*", "!tmp.*"], cases: [["shop", true, true], ["tmp", false, false]] },
  // A positive table rule makes its schema a candidate.
  { rules: ["shop.orders"], cases: [["shop", true, true], ["shop1", false, false]] },
  // Excluding one table does not exclude its schema.
  { rules: ["*.*", "!shop.orders"], cases: [["shop", true, true]] },
  { rules: ["/^shop/.*", String.raw`!/^shop/./^log-\d/`], cases: [["shop", true, true]] },
  {
    rules: ["*.*", "!FOO*.*", "!*.*FoO"],
    cases: [
      ["foo", true, false],
      ["FOO", false, false],
      ["FOOBAR", false, false],
      ["bar", true, true],
    ],
  },
  // `!db.*` then `db.t`: the schema is back in play for db.t.
  { rules: ["*.*", "!db.*", "db.t"], cases: [["db", true, true]] },
];

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tibr-filter-"));
  dirs.push(d);
  return d;
}

describe("parseFilter", () => {
  for (const { rules, cases } of TABLE_CASES) {
    test(`table selection by ${JSON.stringify(rules)}`, () => {
      const cs = parseFilter(rules, { caseSensitive: true });
      const ci = parseFilter(rules);
      for (const [schema, table, wantCs, wantCi] of cases) {
        assert.equal(cs.matchTable(schema, table), wantCs, `case-sensitive ${schema}.${table}`);
        assert.equal(ci.matchTable(schema, table), wantCi, `case-insensitive ${schema}.${table}`);
      }
    });
  }

  for (const { rules, cases } of SCHEMA_CASES) {
    test(`schema selection by ${JSON.stringify(rules)}`, () => {
      const cs = parseFilter(rules, { caseSensitive: true });
      const ci = parseFilter(rules);
      for (const [schema, wantCs, wantCi] of cases) {
        assert.equal(cs.matchSchema(schema), wantCs, `case-sensitive ${schema}`);
        assert.equal(ci.matchSchema(schema), wantCi, `case-insensitive ${schema}`);
      }
    });
  }

  const BAD: [string, RegExp][] = [
    ["/^t[0-9]+((?!_copy).)*$/.*", /is not a valid RE2 regular expression .*\(\?!/],
    ["/^t(?=copy)/.*", /is not a valid RE2 regular expression/],
    ["a.b.c", /unexpected '\.c' after the table pattern/],
    ["a%b.c", /unexpected special character '%'/],
    [String.raw`a\tb.c`, /cannot escape a letter or digit \(\\t\)/],
    ["[].*", /character class/],
    ["[!].*", /is not a valid RE2 regular expression .*missing closing \]/],
    ["[.*", /character class/],
    [String.raw`[\d\D].*`, /character class/],
    ["[z-a].*", /is not a valid RE2 regular expression .*invalid character class range/],
    ["db", /needs a schema and a table pattern/],
    ["db.", /pattern is missing/],
    ["", /^$/], // blank: not an error (checked separately below)
    ["`db`*.*", /missing '\.' between the schema and table patterns/],
    ["/db.*", /regular expression\/ is not closed/],
    ["`db.*", /`quoted name` is not closed/],
    ['"db.*', /"quoted name" is not closed/],
    [String.raw`db\ `.trim(), /cannot end the rule/],
    ["db.tbl#not comment", /unexpected special character '#'/],
    ["!@file", /unexpected special character '@'/],
  ];
  test("malformed rules are refused with the rule and the problem in one line", () => {
    for (const [rule, want] of BAD) {
      if (rule === "") {
        assert.equal(parseFilter([rule]).matchTable("a", "b"), false);
        continue;
      }
      assert.throws(() => parseFilter(["*.*", rule]), (e: unknown) => {
        assert.ok(e instanceof FilterError, `${rule}: ${e}`);
        assert.equal(e.rule, rule);
        assert.ok(e.message.startsWith(`invalid table filter rule "${rule}": `), e.message);
        assert.match(e.message, want);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      }, rule);
    }
  });

  test("@file rules are read in place, comments and CRLF line ends ignored", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.txt"), "\n\t\tdb?.tbl?\r\n\t\tdb02.tbl02\n# a comment\n");
    writeFileSync(join(dir, "b.txt"), "db03.tbl03\n  !db4.tbl4  ");
    const f = parseFilter([`@${join(dir, "a.txt")}`, "@b.txt", "db04.tbl04"], { cwd: dir });
    for (
      const [s, t] of [["db1", "tbl1"], ["db02", "tbl02"], ["db03", "tbl03"], ["db04", "tbl04"]]
    ) {
      assert.equal(f.matchTable(s!, t!), true, `${s}.${t}`);
    }
    assert.equal(f.matchTable("db4", "tbl4"), false);
    assert.equal(f.matchTable("db01", "tbl01"), false);
    // Later command-line rules still override the file's.
    const g = parseFilter(["@b.txt", "*.*"], { cwd: dir });
    assert.equal(g.matchTable("db4", "tbl4"), true);
  });

  test("a rules file cannot import another, and a missing one is named", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "inner.txt"), "db1.tbl1");
    writeFileSync(join(dir, "outer.txt"), "# comment\n\n@inner.txt\n");
    assert.throws(
      () => parseFilter(["@outer.txt"], { cwd: dir }),
      (e: unknown) => {
        assert.ok(e instanceof FilterError);
        assert.deepEqual(e.source, { file: "outer.txt", line: 3 });
        assert.match(e.message, /rule "@inner\.txt" at outer\.txt:3: a rules file cannot import/);
        return true;
      },
    );
    writeFileSync(join(dir, "bad.txt"), "ok.ok\nbad%rule.x\n");
    assert.throws(
      () => parseFilter(["@bad.txt"], { cwd: dir }),
      /"bad%rule\.x" at bad\.txt:2: unexpected/,
    );
    assert.throws(
      () => parseFilter(["@nope.txt"], { cwd: dir }),
      /rule "@nope\.txt": cannot read the rules file .*nope\.txt \(ENOENT\)/,
    );
  });
});

describe("list filters and case folding", () => {
  test("allFilter selects everything", () => {
    assert.equal(allFilter().matchTable("a", "b"), true);
    assert.equal(allFilter().matchSchema("a"), true);
  });

  test("schemasFilter and tablesFilter match names, ignoring case by default", () => {
    const s = schemasFilter(["Shop"]);
    assert.deepEqual([s.matchSchema("shop"), s.matchTable("SHOP", "x"), s.matchSchema("x")], [
      true,
      true,
      false,
    ]);
    const cs = schemasFilter(["Shop"], { caseSensitive: true });
    assert.deepEqual([cs.matchSchema("shop"), cs.matchSchema("Shop")], [false, true]);
    const t = tablesFilter([{ schema: "Shop", table: "Orders" }, {
      schema: "shop",
      table: "items",
    }]);
    assert.equal(t.matchTable("shop", "orders"), true);
    assert.equal(t.matchTable("SHOP", "Items"), true);
    assert.equal(t.matchTable("shop", "other"), false);
    assert.equal(t.matchSchema("shop"), true);
    assert.equal(t.matchSchema("other"), false);
  });

  test("goLower maps one code point to one, like Go", () => {
    assert.equal(goLower("ABC_d$"), "abc_d$");
    assert.equal(goLower("İSTANBUL"), "istanbul");
    assert.equal(goLower("ΟΔΟΣ"), "οδοσ");
    assert.equal(goLower("表名Ä"), "表名ä");
  });
});
