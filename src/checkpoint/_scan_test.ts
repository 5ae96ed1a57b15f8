import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { type File, FileSchema } from "../gen/brpb_pb.ts";
import { Base64Arena } from "./_json.ts";
import { scanDataFile, scanRangeGroups } from "./_scan.ts";
import { memoryStorage } from "./_test_util.ts";
import {
  type CheckpointRange,
  DATA_DIR,
  decodeCheckpointData,
  decodeRangeGroups,
  encodeCheckpointData,
  encodeRangeGroups,
} from "./files.ts";
import { walkCheckpointData } from "./loader.ts";
import { mulberry32 } from "../random.ts";

const ENC = new TextEncoder();

// Values at the edges of each way the scanner builds an integer (double, split halves, cache).
const INTS = [
  1n,
  9n,
  10n,
  999_999_999_999_999n,
  1_000_000_000_000_000n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  0xffff_ffffn,
  0x1_0000_0000n,
  0xffff_ffff_0000_0000n,
  0x1_ffff_ffffn,
  10n ** 19n,
  2n ** 63n - 1n,
  2n ** 64n - 1n,
];
const NAMES = ["1/2_3_write.sst", 'quote"back\\slash', "caf\u00e9", "\u{1f600}", "ctl\u0001", ""];
const CFS = ["write", "default", "lock", "", "raft"];

function bytes(r: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

function u64(r: () => number): bigint {
  if (r() < 0.5) return INTS[Math.floor(r() * INTS.length)]!;
  return (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32));
}

function randomFile(r: () => number, start: Uint8Array, end: Uint8Array): File {
  const keyLen = () => [0, 1, 2, 3, 4, 5, 31, 32, 33, 3000][Math.floor(r() * 10)]!;
  return create(FileSchema, {
    name: NAMES[Math.floor(r() * NAMES.length)]!,
    sha256: bytes(r, 32),
    startKey: r() < 0.7 ? start : bytes(r, keyLen()),
    endKey: r() < 0.7 ? end : bytes(r, keyLen()),
    startVersion: r() < 0.8 ? 0n : u64(r),
    endVersion: r() < 0.5 ? 450_000_000_000_000_000n : u64(r),
    crc64xor: u64(r),
    totalKvs: u64(r),
    totalBytes: u64(r),
    tableMetas: Array.from({ length: Math.floor(r() * 3) }, () => ({
      physicalId: u64(r) & (2n ** 63n - 1n),
      crc64xor: u64(r),
      totalKvs: u64(r),
      totalBytes: u64(r),
    })),
    cf: CFS[Math.floor(r() * CFS.length)]!,
    size: u64(r),
    cipherIv: r() < 0.5 ? new Uint8Array(0) : bytes(r, 16),
  });
}

function randomRanges(seed: number, count: number): CheckpointRange[] {
  const r = mulberry32(seed);
  const ranges: CheckpointRange[] = [];
  let start = bytes(r, 20);
  for (let i = 0; i < count; i++) {
    // Mostly contiguous ranges, as a backup writes them; sometimes a gap or an empty key.
    const end = r() < 0.1 ? new Uint8Array(0) : bytes(r, Math.floor(r() * 40));
    const files = Array.from({ length: Math.floor(r() * 4) }, () => randomFile(r, start, end));
    ranges.push({ startKey: start, endKey: end, files });
    start = r() < 0.8 ? end : bytes(r, 7);
  }
  return ranges;
}

/** What the general decoder makes of `text`: its groups, or the error it throws. */
function general(text: string): unknown {
  try {
    return decodeRangeGroups(text);
  } catch (err) {
    return err;
  }
}

describe("scanRangeGroups", () => {
  test("decodes canonical groups to exactly what the general decoder gives", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const text = encodeRangeGroups(`g\u00e9"${seed}`, randomRanges(seed, 60));
      const scanned = scanRangeGroups(ENC.encode(text), new Base64Arena());
      assert.ok(scanned, `seed ${seed}: the canonical form is taken`);
      assert.deepStrictEqual(scanned, decodeRangeGroups(text), `seed ${seed}`);
    }
  });

  test("reads Go's spellings: nulls and plain-number integers", () => {
    const text = '{"group-key":"g","groups":[{"StartKey":null,"EndKey":"AQ==","Files":[' +
      '{"name":null,"sha256":null,"start_key":"AQ==","end_key":null,"end_version":12,' +
      '"total_kvs":0,"table_metas":null,"cf":null,"cipher_iv":null},{}]},' +
      '{"StartKey":"AQ==","EndKey":"","Files":null},{}]}';
    const scanned = scanRangeGroups(ENC.encode(text), new Base64Arena());
    assert.ok(scanned);
    assert.deepStrictEqual(scanned, decodeRangeGroups(text));
    assert.equal(scanned.groups[0]!.files[0]!.endVersion, 12n);
  });

  test("gives up on anything else, leaving it to the general decoder", () => {
    const ok =
      '{"group-key":"g","groups":[{"StartKey":"AQ==","EndKey":"","Files":[{"size":"5"}]}]}';
    assert.ok(scanRangeGroups(ENC.encode(ok), new Base64Arena()));
    const variants = [
      ok.replace('"size"', ' "size"'), // whitespace
      ok.replace('"size"', '"extra":1,"size"'), // a field it does not know
      ok.replace('"AQ=="', '"AQ"'), // unpadded base64, which the general decoder takes
      ok.replace('"AQ=="', '"A\\u0051=="'), // an escape inside base64
      ok.replace('"5"', '"05"'),
      ok.replace('"5"', '"-5"'),
      ok.replace('"5"', "5.0"),
      ok.replace('"5"', "5e0"),
      ok.replace('"5"', "12345678901234567"), // a bare number past 2^53
      ok.replace('"5"', '"18446744073709551616"'), // 2^64
      ok.replace('"5"', '"123456789012345678901"'),
      ok.replace('"size":"5"', '"table_metas":[{"physical_id":"9223372036854775808"}]'),
      ok.replace('"group-key":"g"', '"group-key":null'),
      ok + " ",
      ok + "}",
      "\ufeff" + ok,
      ok.replace("[{", "[[").replace("}]}]}", "]]}]}"),
    ];
    for (const text of variants) {
      assert.equal(scanRangeGroups(ENC.encode(text), new Base64Arena()), undefined, text);
    }
  });

  test("never accepts what the general decoder rejects or reads differently (mutations)", () => {
    const base = encodeRangeGroups("grp", randomRanges(99, 3));
    const r = mulberry32(7);
    const alphabet = '0123456789"\\=AQzn{}[],: -.eE+/\u0001\u00e9';
    let taken = 0;
    for (let i = 0; i < 4000; i++) {
      let text = base;
      for (let k = 1 + Math.floor(r() * 2); k > 0; k--) {
        const at = Math.floor(r() * text.length);
        const c = alphabet[Math.floor(r() * alphabet.length)]!;
        const op = r();
        text = op < 0.4
          ? text.slice(0, at) + c + text.slice(at + 1)
          : op < 0.7
          ? text.slice(0, at) + c + text.slice(at)
          : text.slice(0, at) + text.slice(at + 1);
      }
      const scanned = scanRangeGroups(ENC.encode(text), new Base64Arena());
      if (scanned === undefined) continue;
      taken++;
      assert.deepStrictEqual(scanned, general(text), text);
    }
    assert.ok(taken > 100, `only ${taken} mutants were canonical: the test proves little`);
  });
});

describe("scanDataFile", () => {
  const r = mulberry32(3);
  const data = {
    dureTimeNs: 123_456_789_012,
    flushTimeMs: 1_767_000_000_000,
    groups: [0, 1, 2, 5, 30].map((n, i) => ({
      encrypted: bytes(r, n),
      checksum: bytes(r, 32),
      cipherIv: i % 2 ? new Uint8Array(0) : bytes(r, 16),
      size: n,
      ...(i === 3 ? {} : { rangeCount: i, fileCount: 2 * i }),
    })),
  };
  const text = encodeCheckpointData(data);

  test("reads a canonical data file as JSON.parse does", () => {
    assert.deepStrictEqual(scanDataFile(text), JSON.parse(text));
    assert.deepStrictEqual(decodeCheckpointData(text), data);
  });

  test("gives up on what it does not know", () => {
    for (
      const t of [
        ` ${text}`,
        text.replace('"Size"', '"Other":1,"Size"'),
        text.replace('"dure-time":123456789012', '"dure-time":1.5'),
        text.replace(/"Checksum":"([^"]*)"/, '"Checksum":"\\u0041$1"'),
      ]
    ) assert.equal(scanDataFile(t), undefined, t);
  });

  test("decodes mutated files exactly as the general parser would, or fails as it does", () => {
    const rr = mulberry32(11);
    const alphabet = '0123456789"\\=AQz{}[],: \u0001\u00e9n';
    let taken = 0;
    for (let i = 0; i < 3000; i++) {
      const at = Math.floor(rr() * text.length);
      const c = alphabet[Math.floor(rr() * alphabet.length)]!;
      const t = rr() < 0.6 ? text.slice(0, at) + c + text.slice(at + 1) : text.slice(0, at) + c +
        text.slice(at);
      if (scanDataFile(t) !== undefined) taken++;
      // A leading space keeps the meaning and sends the text to JSON.parse.
      const outcome = (s: string) => {
        try {
          return decodeCheckpointData(s);
        } catch (err) {
          return err instanceof SyntaxError ? "SyntaxError" : err;
        }
      };
      assert.deepStrictEqual(outcome(t), outcome(` ${t}`), t);
    }
    assert.ok(taken > 100, `only ${taken} mutants were canonical: the test proves little`);
  });
});

describe("walkCheckpointData with a non-canonical group", () => {
  test("loads it through the general decoder", async () => {
    const storage = memoryStorage();
    const ranges = randomRanges(5, 4);
    const canonical = encodeRangeGroups("g", ranges);
    // Go's encoder never indents, but another writer might; the meaning is the same.
    const spaced = JSON.stringify(JSON.parse(canonical), null, 1);
    const groups = [canonical, spaced].map((text) => {
      const plain = ENC.encode(text);
      return {
        encrypted: plain,
        checksum: new Uint8Array(createHash("sha256").update(plain).digest()),
        cipherIv: new Uint8Array(0),
        size: plain.length,
      };
    });
    await storage.writeFile(
      `${DATA_DIR}/a_1.cpt`,
      ENC.encode(encodeCheckpointData({ dureTimeNs: 1, groups })),
    );
    const seen: CheckpointRange[] = [];
    const result = await walkCheckpointData(storage, {}, (_g, r) => {
      seen.push(r);
    });
    assert.equal(result.skippedGroups, 0);
    assert.deepStrictEqual(seen, [...ranges, ...ranges]);
  });
});
