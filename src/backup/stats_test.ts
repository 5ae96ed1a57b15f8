import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { StatsBlockSchema } from "../gen/brpb_pb.ts";
import { type CipherInfo, EncryptionMethod } from "../crypto/cipher.ts";
import { newTable, type TableInfo } from "../tidb/model.ts";
import { MapStorage } from "./_meta_test_util.ts";
import { blockText, readTableStats, statsBlocks, statsFileName, writeTableStats } from "./stats.ts";

const ENC = new TextEncoder();

// The JSON tables of BR's TestStatsWriter (pingcap/tidb br/pkg/metautil/statsfile_test.go).
function jsonColumn(magic: number) {
  return {
    histogram: {
      ndv: magic,
      buckets: [{
        count: magic,
        lower_bound: btoa(String(magic)),
        upper_bound: btoa(String(magic)),
        repeats: magic,
        ndv: 0,
      }],
    },
    cm_sketch: { rows: null, top_n: null, default_value: magic },
    fm_sketch: { mask: magic, hashset: null },
    stats_ver: magic,
    null_count: magic,
    tot_col_size: 0,
    last_update_version: 0,
    correlation: 0,
  };
}
const FAKE_TABLES: Record<number, object> = {
  1: {
    columns: { test: jsonColumn(1) },
    indices: { test: jsonColumn(2) },
    database_name: "test-schema",
    table_name: "test-table",
    ext_stats: [{ stats_name: "test", string_vals: "test", cols: [1, 2, 3] }],
    count: 1,
  },
  2: {
    columns: { test: jsonColumn(3) },
    indices: { test: jsonColumn(4) },
    database_name: "test-schema",
    table_name: "test-table-1",
    ext_stats: [{ stats_name: "test", string_vals: "test", cols: [3, 4, 5] }],
    count: 2,
  },
};
const CASES: { method: EncryptionMethod; right: string; wrong: string }[] = [
  { method: EncryptionMethod.PLAINTEXT, right: "", wrong: "" },
  { method: EncryptionMethod.AES128_CTR, right: "0123456789012345", wrong: "0123456789012346" },
  {
    method: EncryptionMethod.AES192_CTR,
    right: "012345678901234567890123",
    wrong: "012345678901234567890124",
  },
  {
    method: EncryptionMethod.AES256_CTR,
    right: "01234567890123456789012345678901",
    wrong: "01234567890123456789012345678902",
  },
];

const blocks = () =>
  [1, 2].map((id) =>
    create(StatsBlockSchema, {
      physicalId: BigInt(id),
      jsonTable: ENC.encode(JSON.stringify(FAKE_TABLES[id])),
    })
  );

describe("stats files (BR's StatsWriter)", () => {
  for (const c of CASES) {
    const name = Object.entries(EncryptionMethod).find(([, v]) => v === c.method)![0];
    test(`past the limits each block goes to its own file and reads back (${name})`, async () => {
      const storage = new MapStorage().storage;
      const cipher: CipherInfo = { method: c.method, key: ENC.encode(c.right) };
      const indexes = await writeTableStats(storage, cipher, blocks(), undefined, {
        maxJson: 1,
        inline: 1,
      });
      assert.deepEqual(indexes.map((i) => i.name), [statsFileName(1), statsFileName(2)]);
      assert.equal(statsFileName(1), "backupmeta.schema.stats.000000001");
      for (const i of indexes) {
        assert.equal(i.inlineData.length, 0);
        assert.equal(Number(i.sizeEnc), (await storage.readFile(i.name)).length);
        assert.equal(i.cipherIv.length, c.method === EncryptionMethod.PLAINTEXT ? 0 : 16);
      }
      const back = await readTableStats(storage, cipher, indexes);
      assert.deepEqual(
        back.map((b) => [Number(b.physicalId), JSON.parse(blockText(b))]),
        [[1, FAKE_TABLES[1]], [2, FAKE_TABLES[2]]],
      );
      if (c.method !== EncryptionMethod.PLAINTEXT) {
        const wrong: CipherInfo = { method: c.method, key: ENC.encode(c.wrong) };
        await assert.rejects(readTableStats(storage, wrong, indexes), /sha256/);
      }
    });
  }

  test("a small table's statistics go inline in the index, no file", async () => {
    const storage = new MapStorage().storage;
    const indexes = await writeTableStats(storage, undefined, blocks());
    assert.equal(indexes.length, 1);
    assert.equal(indexes[0]!.name, "");
    assert.ok(indexes[0]!.inlineData.length > 0);
    assert.equal((await readTableStats(storage, undefined, indexes)).length, 2);
  });

  test("a partitioned table's dump is cut into partitions and the global statistics", () => {
    const t: TableInfo = newTable({ id: 10, name: "t", columns: [] });
    t.partition = {
      type: 1,
      expr: "`a`",
      columns: [],
      enable: true,
      definitions: [
        { id: 11, name: { O: "p0", L: "p0" }, less_than: ["10"] },
        { id: 12, name: { O: "p1", L: "p1" }, less_than: ["MAXVALUE"] },
      ],
      num: 2,
    } as unknown as TableInfo["partition"];
    const dump = `{"database_name":"d","table_name":"t","partitions":{` +
      `"p0":{"count":3,"version":470959099542503426},"p1":{"count":4},` +
      `"global":{"count":7},"gone":{"count":1}}}`;
    const got = statsBlocks(t, dump).map((b) => [Number(b.physicalId), blockText(b)]);
    assert.deepEqual(got, [
      [11, `{"count":3,"version":470959099542503426}`],
      [12, `{"count":4}`],
      [10, `{"count":7}`],
    ]);
  });
});
