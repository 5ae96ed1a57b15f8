import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { encodeBytes, hex } from "../codec/bytes.ts";
import { newColumn, newIndex, newPartitionInfo, newTable, type TableInfo } from "../tidb/model.ts";
import { encodeRecordKey, indexPrefix, recordPrefix, recordRange } from "../tidb/tablecodec.ts";
import { ColumnFlag, MysqlType, PartitionType } from "../tidb/types.ts";
import {
  columnIdChanges,
  encodeKeyPrefix,
  IdMap,
  matchRule,
  predictedColumnIdChanges,
  prefixEnd,
  RewriteError,
  rewriteKey,
  rewriteRules,
  RuleIndex,
  tableRewrite,
} from "./rewrite.ts";

function table(
  id: number,
  o: { colIds?: number[]; idx?: [number, string][]; parts?: [number, string][] } = {},
): TableInfo {
  const colIds = o.colIds ?? [1, 2];
  const t = newTable({
    id,
    name: "t",
    pkIsHandle: true,
    columns: [
      newColumn({
        id: colIds[0]!,
        name: "id",
        offset: 0,
        tp: MysqlType.Longlong,
        flag: ColumnFlag.PriKey | ColumnFlag.NotNull,
      }),
      newColumn({ id: colIds[1]!, name: "v", offset: 1, tp: MysqlType.Long }),
    ],
    indexes: (o.idx ?? [[1, "PRIMARY"], [2, "k_v"]]).map(([iid, name]) =>
      newIndex({
        id: iid,
        name,
        table: "t",
        columns: [{ name: name === "PRIMARY" ? "id" : "v", offset: name === "PRIMARY" ? 0 : 1 }],
        primary: name === "PRIMARY",
        unique: name === "PRIMARY",
      })
    ),
  });
  if (o.parts) {
    t.partition = newPartitionInfo(
      PartitionType.Hash,
      "`id`",
      o.parts.map(([pid, name]) => ({ id: pid, name })),
    );
  }
  return t;
}

describe("rewrite rules", () => {
  test("map the record prefix and each index by name with the new ts", () => {
    const old = table(70, { idx: [[1, "PRIMARY"], [5, "k_v"]] });
    const fresh = table(112, { idx: [[1, "PRIMARY"], [2, "k_v"]] });
    const rw = tableRewrite(old, fresh, 999n);
    assert.deepEqual([...rw.indexIds], [[1n, 1n], [5n, 2n]]);
    assert.deepEqual(
      rw.rules.map((r) => [hex(r.oldKeyPrefix), hex(r.newKeyPrefix), r.newTimestamp]),
      [
        [hex(recordPrefix(70n)), hex(recordPrefix(112n)), 999n],
        [hex(indexPrefix(70n, 1n)), hex(indexPrefix(112n, 1n)), 999n],
        [hex(indexPrefix(70n, 5n)), hex(indexPrefix(112n, 2n)), 999n],
      ],
    );
  });

  test("match partitions by name, not by position", () => {
    const old = table(70, { parts: [[71, "p0"], [72, "p1"]] });
    const fresh = table(200, { parts: [[202, "P1"], [201, "p0"]] });
    const rw = tableRewrite(old, fresh, 1n);
    assert.equal(rw.tableIds.get(71n), 201n);
    assert.equal(rw.tableIds.get(72n), 202n);
    // Rules for the partitions' data only: a partitioned table keeps no rows under its own id.
    const olds = new Set(rw.rules.map((r) => hex(r.oldKeyPrefix)));
    assert.ok(olds.has(hex(recordPrefix(71n))) && olds.has(hex(recordPrefix(72n))));
    assert.ok(!olds.has(hex(recordPrefix(70n))));
  });

  test("a partitioned table maps its partitions only, in the backup's order", () => {
    const old = table(70, { parts: [[73, "p2"], [71, "p0"], [72, "p1"]] });
    const fresh = table(200, { parts: [[201, "p0"], [202, "p1"], [203, "p2"]] });
    const rw = tableRewrite(old, fresh, 1n);
    assert.deepEqual([...rw.tableIds], [[73n, 203n], [71n, 201n], [72n, 202n]]);
    assert.deepEqual(rw.physical, [73n, 71n, 72n]);
    assert.equal(rw.tableIds.has(70n), false);
  });

  test("IdMap keeps insertion order and finds keys among few and many entries", () => {
    for (const n of [0, 1, 16, 17, 8192]) {
      // Keys out of order, some past 2^53, to exercise the sorted lookup.
      const entries = Array.from(
        { length: n },
        (_, i) => [BigInt((i * 7919) % 8209) + (i % 3 === 0 ? 1n << 60n : 0n), BigInt(i)] as const,
      );
      const m = new IdMap(entries);
      const ref = new Map(entries);
      assert.equal(m.size, ref.size);
      assert.deepEqual([...m], [...ref]);
      assert.deepEqual([...m.keys()], [...ref.keys()]);
      assert.deepEqual([...m.values()], [...ref.values()]);
      for (const [k, v] of entries) {
        assert.equal(m.get(k), v);
        assert.ok(m.has(k));
      }
      assert.equal(m.get(-1n), undefined);
      assert.equal(m.has(8209n), false);
      let seen = 0;
      m.forEach((v, k) => {
        assert.equal(ref.get(k), v);
        seen++;
      });
      assert.equal(seen, n);
    }
  });

  test("refuse a target missing a partition or an index", () => {
    assert.throws(
      () =>
        tableRewrite(
          table(1, { parts: [[2, "p0"], [3, "p9"]] }),
          table(5, { parts: [[6, "p0"]] }),
          1n,
        ),
      (e: unknown) => e instanceof RewriteError && /partition p9/.test((e as Error).message),
    );
    assert.throws(
      () => tableRewrite(table(1), table(5, { idx: [[1, "PRIMARY"]] }), 1n),
      /index k_v of table t/,
    );
  });

  test("find the rule of a file by its range and rewrite its keys", () => {
    const rw = tableRewrite(table(70), table(112), 1n);
    const r = recordRange(70n);
    const rule = matchRule(rw.rules, encodeRecordKey(70n, 5n), r.end)!;
    assert.equal(hex(rule.oldKeyPrefix), hex(recordPrefix(70n)));
    assert.equal(hex(rewriteKey(encodeRecordKey(70n, 5n), rule)), hex(encodeRecordKey(112n, 5n)));
    assert.equal(hex(rewriteKey(r.end, rule)), hex(recordRange(112n).end));
    // A range spanning two tables has no rule.
    assert.equal(
      matchRule(rw.rules, encodeRecordKey(70n, 5n), encodeRecordKey(71n, 1n)),
      undefined,
    );
  });

  test("an index finds a range's rule among its own table's rules, made once a table", () => {
    // 1000 tables, three ranges each (record, two indexes), in key order as files come.
    const rws = Array.from(
      { length: 1000 },
      (_, i) => tableRewrite(table(100 + i), table(9000 + i), 7n),
    );
    const made: bigint[] = [];
    const index = RuleIndex.of(rws, (rw) => {
      made.push(rw.physical[0]!);
      return rewriteRules(rw);
    });
    const all = rws.flatMap((rw) => rw.rules);
    for (const [i, rw] of rws.entries()) {
      const id = BigInt(100 + i);
      const ranges = [
        [encodeRecordKey(id, 1n), recordRange(id).end],
        [indexPrefix(id, 1n), prefixEnd(indexPrefix(id, 1n))],
        [indexPrefix(id, 2n), prefixEnd(indexPrefix(id, 2n))],
      ] as const;
      for (const [start, end] of ranges) {
        const got = index.match(start, end)!;
        // The same rule a search of every table's rules finds.
        const want = matchRule(all, start, end)!;
        assert.equal(hex(got.oldKeyPrefix), hex(want.oldKeyPrefix));
        assert.equal(hex(got.newKeyPrefix), hex(want.newKeyPrefix));
        assert.equal(got.newTimestamp, 7n);
      }
      assert.equal(rw.tableIds.get(id), BigInt(9000 + i));
    }
    // Each table's rules were made once, when its first range came.
    assert.equal(made.length, 1000);
    assert.equal(new Set(made).size, 1000);
    // Keys of tables it does not hold, and non-table keys, have no rule.
    assert.equal(index.match(encodeRecordKey(5n, 1n), recordRange(5n).end), undefined);
    assert.equal(index.match(Uint8Array.of(0x6d, 1), Uint8Array.of(0x6d, 2)), undefined);
    // A list of rules indexes the same way.
    const fromList = RuleIndex.ofRules(all);
    const r = fromList.match(indexPrefix(150n, 2n), prefixEnd(indexPrefix(150n, 2n)))!;
    assert.equal(hex(r.newKeyPrefix), hex(indexPrefix(9050n, 2n)));
  });

  test("a rewrite holds IDs; its rules are made from them", () => {
    const rw = tableRewrite(
      table(70, { parts: [[71, "p0"], [72, "p1"]] }),
      table(90, { parts: [[95, "p1"], [94, "p0"]] }),
      3n,
    );
    // The partitioned table's own id holds no data: only the partitions are physical.
    assert.deepEqual(rw.physical, [71n, 72n]);
    assert.deepEqual(
      rw.rules.map((r) => hex(r.newKeyPrefix)),
      [recordPrefix(94n), indexPrefix(94n, 1n), indexPrefix(94n, 2n), recordPrefix(95n)]
        .concat([indexPrefix(95n, 1n), indexPrefix(95n, 2n)]).map(hex),
    );
    // Made on each read (a fresh array), not held by the rewrite.
    assert.ok(!Object.hasOwn(rw, "rules"), "rules are made when read, not held");
    assert.notEqual(rw.rules, rw.rules);
  });

  test("encoded key prefixes are prefixes of every encoded key under them", () => {
    for (const prefix of [recordPrefix(70n), indexPrefix(70n, 3n), Uint8Array.of(0x74)]) {
      const key = new Uint8Array([...prefix, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const enc = encodeBytes(key);
      const p = encodeKeyPrefix(prefix);
      assert.equal(hex(enc.subarray(0, p.length)), hex(p));
    }
    // br/pkg/restore/utils: t{id}_r is 11 bytes: one 8-byte group, then 3 raw bytes.
    assert.equal(encodeKeyPrefix(recordPrefix(1n)).length, 9 + 3);
    assert.equal(hex(prefixEnd(Uint8Array.of(1, 0xff))), "02");
  });

  test("column IDs are compared by name", () => {
    assert.deepEqual(columnIdChanges(table(1), table(2)), []);
    assert.deepEqual(columnIdChanges(table(1, { colIds: [1, 4] }), table(2)), [
      { name: "v", oldId: 4, newId: 2 },
    ]);
  });

  test("a table created from SQL numbers its columns in statement order", () => {
    const t = table(1, { colIds: [3, 1] });
    assert.deepEqual(predictedColumnIdChanges(t), [
      { name: "id", oldId: 3, newId: 1 },
      { name: "v", oldId: 1, newId: 2 },
    ]);
    assert.deepEqual(predictedColumnIdChanges(table(1)), []);
  });
});
