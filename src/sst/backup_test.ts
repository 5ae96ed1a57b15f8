import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compareBytes, concatBytes } from "../codec/bytes.ts";
import { crc64 } from "../codec/crc64.ts";
import { dataKey, encodeWriteValue, SHORT_VALUE_MAX_LEN, type WriteType } from "../codec/tikv.ts";
import type { SstError } from "./errors.ts";
import { checksumBackupFiles, decodeBackupFile } from "./backup.ts";
import { SstReader } from "./reader.ts";
import { bytesSource } from "./source.ts";
import { SstWriter } from "./writer.ts";

interface Version {
  raw: Uint8Array;
  startTs: bigint;
  commitTs: bigint;
  type: WriteType;
  value: Uint8Array;
}

// A keyspace with several versions per key, short and long values, deletes and empty values.
function versions(): Version[] {
  const out: Version[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < 400; i++) {
    const raw = enc.encode(`t\x80\x00\x00\x00\x00\x00\x00\x2a_r${i}`);
    const n = 1 + (i % 3);
    for (let v = 0; v < n; v++) {
      const startTs = 1000n + BigInt(i * 10 + v * 3);
      const len = [0, 5, SHORT_VALUE_MAX_LEN, SHORT_VALUE_MAX_LEN + 1, 3000][(i + v) % 5]!;
      const type: WriteType = (i + v) % 11 === 0 ? "delete" : "put";
      out.push({
        raw,
        startTs,
        commitTs: startTs + 1n,
        type,
        value: type === "delete" ? new Uint8Array() : new Uint8Array(len).fill(i % 251),
      });
    }
  }
  return out;
}

async function sst(kvs: [Uint8Array, Uint8Array][], cf: string): Promise<SstReader | undefined> {
  if (kvs.length === 0) return undefined;
  kvs.sort((a, b) => compareBytes(a[0], b[0]));
  const w = SstWriter.toMemory({
    compression: "zstd",
    columnFamily: { name: cf, id: cf === "write" ? 2 : 0 },
  });
  for (const [k, v] of kvs) await w.add(k, v);
  return SstReader.open(bytesSource((await w.finish()).bytes, `1_2_3_x_${cf}.sst`));
}

// Writes the pair as TiKV's backup writer lays it out.
async function pair(vs: Version[], opts: { dropDefault?: number; extraDefault?: boolean } = {}) {
  const write: [Uint8Array, Uint8Array][] = [];
  const dflt: [Uint8Array, Uint8Array][] = [];
  let longs = 0;
  for (const v of vs) {
    const inline = v.type !== "put" || v.value.length <= SHORT_VALUE_MAX_LEN;
    write.push([
      dataKey(v.raw, v.commitTs),
      encodeWriteValue({
        type: v.type,
        startTs: v.startTs,
        ...(inline && v.type === "put" ? { shortValue: v.value } : {}),
      }),
    ]);
    if (!inline && longs++ !== opts.dropDefault) dflt.push([dataKey(v.raw, v.startTs), v.value]);
  }
  if (opts.extraDefault) dflt.push([dataKey(new Uint8Array([0x7e]), 5n), new Uint8Array(300)]);
  return { write: (await sst(write, "write"))!, default: await sst(dflt, "default") };
}

describe("TiKV backup files", () => {
  test("decode every version with its value, inline or from the default CF", async () => {
    const vs = versions();
    const got = [];
    for await (const kv of decodeBackupFile(await pair(vs))) got.push(kv);
    const want = [...vs].sort((a, b) =>
      compareBytes(dataKey(a.raw, a.commitTs), dataKey(b.raw, b.commitTs))
    );
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) {
      assert.deepEqual(got[i]!.rawKey, want[i]!.raw);
      assert.equal(got[i]!.commitTs, want[i]!.commitTs);
      assert.equal(got[i]!.startTs, want[i]!.startTs);
      assert.equal(got[i]!.type, want[i]!.type);
      assert.deepEqual(got[i]!.value, want[i]!.value);
      assert.equal(got[i]!.fromDefault, want[i]!.value.length > SHORT_VALUE_MAX_LEN);
    }
  });

  test("checksums equal an independent crc64xor over raw key ‖ value, split by CF like TiKV", async () => {
    const vs = versions();
    const sum = { d: [0n, 0n, 0n], w: [0n, 0n, 0n] };
    for (const v of vs) {
      const s = v.value.length > SHORT_VALUE_MAX_LEN ? sum.d : sum.w;
      s[0]! ^= crc64(concatBytes(v.raw, v.value));
      s[1]!++;
      s[2]! += BigInt(v.raw.length + v.value.length);
    }
    const got = await checksumBackupFiles(await pair(vs));
    assert.deepEqual(got.default, { crc64xor: sum.d[0], totalKvs: sum.d[1], totalBytes: sum.d[2] });
    assert.deepEqual(got.write, { crc64xor: sum.w[0], totalKvs: sum.w[1], totalBytes: sum.w[2] });
    assert.deepEqual(got.total, {
      crc64xor: sum.d[0]! ^ sum.w[0]!,
      totalKvs: sum.d[1]! + sum.w[1]!,
      totalBytes: sum.d[2]! + sum.w[2]!,
    });
  });

  test("a missing long value, a missing default file and stray default values are errors", async () => {
    const vs = versions();
    await assert.rejects(
      checksumBackupFiles(await pair(vs, { dropDefault: 7 })),
      (e: SstError) =>
        e.code === "Corruption" && /default\.sst.*no default-CF value for key/.test(e.message),
    );
    const { write } = await pair(vs);
    await assert.rejects(checksumBackupFiles({ write }), /no default-CF file was given/);
    await assert.rejects(
      checksumBackupFiles(await pair(vs, { extraDefault: true })),
      /1 default-CF values have no commit record/,
    );
    const bogus =
      (await sst([[new Uint8Array([0x7a, 1, 2]), new Uint8Array([0x50, 1])]], "write"))!;
    await assert.rejects(
      checksumBackupFiles({ write: bogus }),
      /write\.sst: bad write-CF entry 7a0102/,
    );
  });
});
