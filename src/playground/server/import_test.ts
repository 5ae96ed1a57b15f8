// TiKV's own Download cases, ported: tikv/tikv components/sst_importer/src/sst_importer.rs
// (test_download_sst_no_key_rewrite, _with_key_rewrite, _with_key_rewrite_ts_write,
// _partial_range, _partial_range_with_key_rewrite, _invalid, _empty, _wrong_key_prefix,
// test_download_rawkv_sst, _partial, _partial_exclusive_end_key), with their sample files and
// expected ranges and contents, run against the playground's ImportState.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { concatBytes, encodeBytes, encodeUintDesc } from "../../codec/bytes.ts";
import { decodeWriteValue, encodeWriteValue, type WriteRecord } from "../../codec/tikv.ts";
import { encodeVarU64 } from "../../codec/varint.ts";
import {
  DownloadRequestSchema,
  DownloadResponseSchema,
  type RewriteRuleSchema,
} from "../../gen/import_sstpb_pb.ts";
import { MemorySstWriter } from "../../sst/writer.ts";
import { Cluster } from "../cluster.ts";
import { ImportState, withStartTs } from "./import.ts";

const b = (s: string) => new TextEncoder().encode(s);
const dir = mkdtempSync(join(tmpdir(), "tibr-import-unit-"));
let n = 0;

/** Writes an SST of `kvs` (full data keys) into the test directory; returns its name and size. */
async function sst(kvs: [Uint8Array, Uint8Array][]): Promise<{ name: string; length: bigint }> {
  const w = new MemorySstWriter();
  for (const [k, v] of kvs) await w.add(k, v);
  const { bytes } = await w.finish();
  const name = `sample${++n}.sst`;
  writeFileSync(join(dir, name), bytes);
  return { name, length: BigInt(bytes.length) };
}

/** TiKV's create_sample_external_sst_file. */
const SAMPLE: [string, string][] = [
  ["zt123_r01", "abc"],
  ["zt123_r04", "xyz"],
  ["zt123_r07", "pqrst"],
  ["zt123_r13", "www"],
];

/** TiKV's create_sample_external_rawkv_sst_file. */
const RAW_SAMPLE: [Uint8Array, string][] = [
  [b("za"), "v1"],
  [b("zb"), "v2"],
  [b("zb\x00"), "v3"],
  [b("zc"), "v4"],
  [b("zc\x00"), "v5"],
  [b("zc\x00\x00"), "v6"],
  [b("zd"), "v7"],
];

const state = new ImportState(new Cluster({ stores: 1 }));

async function download(
  file: { name: string; length: bigint },
  opts: {
    range?: { start: Uint8Array; end: Uint8Array };
    endKeyExclusive?: boolean;
    rule?: MessageInitShape<typeof RewriteRuleSchema>;
    cf?: string;
    raw?: boolean;
  } = {},
) {
  const uuid = new Uint8Array(16);
  uuid[0] = n;
  uuid[1] = Math.floor(Math.random() * 256);
  const meta = {
    uuid,
    cfName: opts.cf ?? "default",
    length: file.length,
    regionId: 4n,
    regionEpoch: { confVer: 5n, version: 6n },
    ...(opts.range ? { range: opts.range } : {}),
    ...(opts.endKeyExclusive ? { endKeyExclusive: true } : {}),
  };
  const resp = create(
    DownloadResponseSchema,
    await state.download(
      1n,
      create(DownloadRequestSchema, {
        sst: meta,
        name: file.name,
        storageBackend: { backend: { case: "local", value: { path: dir } } },
        ...(opts.rule ? { rewriteRule: opts.rule } : {}),
        isRawKv: opts.raw ?? false,
      }),
    ),
  );
  const staged = [...state.store(1n).staged.values()].at(-1);
  return { resp, entries: [...staged?.entries ?? []].map((e) => [e.key, e.value]) };
}

const rangeOf = (r: { range?: { start: Uint8Array; end: Uint8Array } }) =>
  r.range ? { start: r.range.start, end: r.range.end } : undefined;

const kv = (pairs: [string | Uint8Array, string | Uint8Array][]) =>
  pairs.map(([k, v]) => [typeof k === "string" ? b(k) : k, typeof v === "string" ? b(v) : v]);

describe("Download, as TiKV's sst_importer tests expect it", () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("no key rewrite: the whole file, its first and last keys", async () => {
    const f = await sst(kv(SAMPLE) as [Uint8Array, Uint8Array][]);
    const { resp, entries } = await download(f);
    assert.deepEqual(rangeOf(resp), { start: b("t123_r01"), end: b("t123_r13") });
    assert.deepEqual(entries, kv(SAMPLE));
  });

  test("key rewrite t123 -> t567", async () => {
    const f = await sst(kv(SAMPLE) as [Uint8Array, Uint8Array][]);
    const { resp, entries } = await download(f, {
      rule: { oldKeyPrefix: b("t123"), newKeyPrefix: b("t567") },
    });
    assert.deepEqual(rangeOf(resp), { start: b("t567_r01"), end: b("t567_r13") });
    assert.deepEqual(
      entries,
      kv(SAMPLE.map(([k, v]) => [k.replace("t123", "t567"), v])),
    );
  });

  test("key rewrite with a new timestamp rewrites the key's ts and the write's start ts", async () => {
    const key = (k: string, ts: bigint) =>
      concatBytes(b("z"), encodeBytes(b(k)), encodeUintDesc(ts));
    const w = (type: WriteRecord["type"], startTs: bigint, short?: string) =>
      encodeWriteValue({ type, startTs, ...(short ? { shortValue: b(short) } : {}) });
    const f = await sst([
      [key("t123_r01", 1n), w("put", 1n)],
      [key("t123_r02", 5n), w("delete", 5n)],
      [key("t123_r04", 3n), w("put", 3n)],
      [key("t123_r07", 7n), w("put", 7n)],
      [key("t123_r13", 8n), w("put", 8n, "www")],
    ]);
    const { entries } = await download(f, { cf: "write", rule: { newTimestamp: 16n } });
    assert.deepEqual(entries, [
      [key("t123_r01", 16n), w("put", 16n)],
      [key("t123_r02", 16n), w("delete", 16n)],
      [key("t123_r04", 16n), w("put", 16n)],
      [key("t123_r07", 16n), w("put", 16n)],
      [key("t123_r13", 16n), w("put", 16n, "www")],
    ]);
  });

  test("a partial range keeps what lies in it (closed range)", async () => {
    const f = await sst(kv(SAMPLE) as [Uint8Array, Uint8Array][]);
    const { resp, entries } = await download(f, {
      range: { start: b("t123_r02"), end: b("t123_r12") },
    });
    assert.deepEqual(rangeOf(resp), { start: b("t123_r04"), end: b("t123_r07") });
    assert.deepEqual(entries, kv([["zt123_r04", "xyz"], ["zt123_r07", "pqrst"]]));
  });

  test("a partial range in the new key space with key rewrite t123 -> t5", async () => {
    const f = await sst(kv(SAMPLE) as [Uint8Array, Uint8Array][]);
    const { resp, entries } = await download(f, {
      range: { start: b("t5_r02"), end: b("t5_r12") },
      rule: { oldKeyPrefix: b("t123"), newKeyPrefix: b("t5") },
    });
    assert.deepEqual(rangeOf(resp), { start: b("t5_r04"), end: b("t5_r07") });
    assert.deepEqual(entries, kv([["zt5_r04", "xyz"], ["zt5_r07", "pqrst"]]));
  });

  test("a file that is not an SST is a Corruption", async () => {
    writeFileSync(join(dir, "junk.sst"), "not an SST file");
    const { resp } = await download({ name: "junk.sst", length: 0n });
    assert.match(resp.error?.message ?? "", /Corruption: /);
  });

  test("a range outside the file answers is_empty", async () => {
    const f = await sst(kv(SAMPLE) as [Uint8Array, Uint8Array][]);
    const { resp } = await download(f, { range: { start: b("x"), end: b("y") } });
    assert.equal(resp.isEmpty, true);
    assert.equal(resp.error, undefined);
  });

  test("a key without the old prefix is WrongKeyPrefix naming key and prefix", async () => {
    const f = await sst(kv(SAMPLE) as [Uint8Array, Uint8Array][]);
    const { resp } = await download(f, {
      rule: { oldKeyPrefix: b("xxx"), newKeyPrefix: b("yyy") },
    });
    const hexOf = (s: string) => Buffer.from(s).toString("hex").toUpperCase();
    assert.equal(
      resp.error?.message,
      `Key in SST has wrong prefix: key ${hexOf("t123_r01")} does not start with ${hexOf("xxx")}`,
    );
  });

  test("raw KV: whole, partial, and partial with an exclusive end", async () => {
    const f = await sst(kv(RAW_SAMPLE) as [Uint8Array, Uint8Array][]);
    const whole = await download(f, { raw: true, range: { start: b("0"), end: b("z") } });
    assert.deepEqual(rangeOf(whole.resp), { start: b("a"), end: b("d") });
    assert.deepEqual(whole.entries, kv(RAW_SAMPLE));
    const partial = await download(f, { raw: true, range: { start: b("b"), end: b("c\x00") } });
    assert.deepEqual(rangeOf(partial.resp), { start: b("b"), end: b("c\x00") });
    assert.deepEqual(partial.entries, kv(RAW_SAMPLE.slice(1, 5)));
    const exclusive = await download(f, {
      raw: true,
      range: { start: b("b"), end: b("c\x00") },
      endKeyExclusive: true,
    });
    assert.deepEqual(rangeOf(exclusive.resp), { start: b("b"), end: b("c") });
    assert.deepEqual(exclusive.entries, kv(RAW_SAMPLE.slice(1, 4)));
  });
});

describe("the write record's start ts, rewritten in place", () => {
  test("equals TiKV's parse, set start_ts, to_bytes for every field", () => {
    const ts = 450_000_000_000_000_001n;
    const records: WriteRecord[] = [
      { type: "put", startTs: 1n },
      { type: "put", startTs: 433_000_000_000_000_000n, shortValue: b("short value") },
      { type: "delete", startTs: 7n, hasOverlappedRollback: true },
      { type: "rollback", startTs: 9n, gcFence: 12345n },
      { type: "lock", startTs: 2n, lastChangeTs: 1n, versionsToLastChange: 300n, txnSource: 5n },
    ];
    for (const r of records) {
      const got = withStartTs(encodeWriteValue(r), encodeVarU64(ts), b("k"));
      assert.deepEqual(got, encodeWriteValue({ ...r, startTs: ts }));
      assert.equal(decodeWriteValue(got).startTs, ts);
    }
    // An unknown flag ends the parse: it and what follows are not written back.
    const future = concatBytes(encodeWriteValue(records[1]!), Uint8Array.of(0x7a, 1, 2));
    assert.deepEqual(
      withStartTs(future, encodeVarU64(ts), b("k")),
      encodeWriteValue({ ...records[1]!, startTs: ts }),
    );
    assert.throws(
      () => withStartTs(Uint8Array.of(0x50, 0x80), encodeVarU64(ts), b("k")),
      /truncated/,
    );
    assert.throws(() => withStartTs(Uint8Array.of(0x51, 1), encodeVarU64(ts), b("k")), /type byte/);
  });
});
