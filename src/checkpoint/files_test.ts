import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { equals } from "@bufbuild/protobuf";
import { FileSchema } from "../gen/brpb_pb.ts";
import { Base64Arena, int64Field, parseJsonBig } from "./_json.ts";
import { key, sampleFile } from "./_test_util.ts";
import {
  checksumFileName,
  dataFileName,
  decodeCheckpointData,
  decodeChecksumFile,
  decodeLock,
  decodeRangeGroups,
  encodeCheckpointData,
  encodeChecksumFile,
  encodeLock,
  encodeRangeGroups,
  summarizeCheckpointData,
} from "./files.ts";

describe("range group JSON", () => {
  test("round-trips every File field exactly, 64-bit values beyond 2^53 included", () => {
    const ranges = [0, 1, 2].map((n) => ({
      startKey: key(1, n),
      endKey: key(1, n + 1),
      files: [sampleFile(n), sampleFile(n, "default")],
    }));
    ranges.push({ startKey: new Uint8Array(0), endKey: new Uint8Array(0), files: [] });
    const text = encodeRangeGroups('grp\u00e9"key', ranges);
    const back = decodeRangeGroups(text);
    assert.equal(back.groupKey, 'grp\u00e9"key');
    assert.equal(back.groups.length, ranges.length);
    for (const [i, r] of ranges.entries()) {
      const got = back.groups[i]!;
      assert.deepEqual([...got.startKey], [...r.startKey]);
      assert.deepEqual([...got.endKey], [...r.endKey]);
      assert.equal(got.files.length, r.files.length);
      for (const [j, f] of r.files.entries()) {
        assert.ok(equals(FileSchema, got.files[j]!, f), `range ${i} file ${j} differs`);
      }
    }
  });

  test("uses BR's tags and kvproto's field names, 64-bit integers as decimal strings", () => {
    const f = sampleFile(3);
    const raw = JSON.parse(
      encodeRangeGroups("g", [{ startKey: key(1, 3), endKey: key(1, 4), files: [f] }]),
    );
    assert.deepEqual(Object.keys(raw), ["group-key", "groups"]);
    assert.deepEqual(Object.keys(raw.groups[0]), ["StartKey", "EndKey", "Files"]);
    const file = raw.groups[0].Files[0];
    assert.deepEqual(Object.keys(file), [
      "name",
      "sha256",
      "start_key",
      "end_key",
      "end_version",
      "crc64xor",
      "total_kvs",
      "total_bytes",
      "table_metas",
      "cf",
      "size",
    ], "defaults (start_version 0, empty cipher_iv) are left out");
    assert.equal(file.crc64xor, (0xfedc_ba98_7654_3210n ^ 3n).toString());
    assert.equal(file.sha256, Buffer.from(f.sha256).toString("base64"));
    assert.equal(raw.groups[0].StartKey, Buffer.from(key(1, 3)).toString("base64"));
  });

  test("rejects malformed groups instead of guessing", () => {
    const bad = [
      "{}",
      '{"group-key":"g","groups":{}}',
      '{"group-key":"g","groups":[{"StartKey":"%%%%","EndKey":"","Files":[]}]}',
      '{"group-key":"g","groups":[{"StartKey":"","EndKey":"","Files":[{"crc64xor":"x"}]}]}',
      '{"group-key":"g","groups":[{"StartKey":"","EndKey":"","Files":[{"size":1e300}]}]}',
      '{"group-key":"g","groups":[{"StartKey":"","EndKey":"","Files":[{"crc64xor":' +
      '"18446744073709551616"}]}]}',
    ];
    for (const text of bad) assert.throws(() => decodeRangeGroups(text), SyntaxError, text);
  });

  test("reads Go's plain-number spelling of small 64-bit values", () => {
    const g = decodeRangeGroups(
      '{"group-key":"g","groups":[{"StartKey":null,"EndKey":"","Files":[{"total_kvs":12}]}]}',
    );
    assert.equal(g.groups[0]!.files[0]!.totalKvs, 12n);
  });
});

describe("data files", () => {
  test("use BR's CheckpointData field names; CipherIv is null when not encrypted", () => {
    const text = encodeCheckpointData({
      dureTimeNs: 12_000_000_000,
      flushTimeMs: 1_767_000_000_000,
      groups: [
        {
          encrypted: new Uint8Array([1, 2, 3]),
          checksum: new Uint8Array(32).fill(9),
          cipherIv: new Uint8Array(16).fill(1),
          size: 3,
          rangeCount: 2,
          fileCount: 4,
        },
        {
          encrypted: new Uint8Array([4]),
          checksum: new Uint8Array(32),
          cipherIv: new Uint8Array(),
          size: 1,
        },
      ],
    });
    const raw = JSON.parse(text);
    assert.deepEqual(Object.keys(raw), ["dure-time", "flush-time", "range-group-metas"]);
    assert.equal(raw["dure-time"], 12_000_000_000);
    assert.deepEqual(Object.keys(raw["range-group-metas"][0]), [
      "RangeGroupsEncriptedData",
      "Checksum",
      "CipherIv",
      "Size",
      "RangeCount",
      "FileCount",
    ]);
    assert.equal(raw["range-group-metas"][0].RangeGroupsEncriptedData, "AQID");
    assert.equal(raw["range-group-metas"][1].CipherIv, null);
    const back = decodeCheckpointData(text);
    assert.equal(back.dureTimeNs, 12_000_000_000);
    assert.equal(back.flushTimeMs, 1_767_000_000_000);
    assert.deepEqual([...back.groups[0]!.encrypted], [1, 2, 3]);
    assert.equal(back.groups[1]!.cipherIv.length, 0);
    assert.equal(back.groups[1]!.rangeCount, undefined);
    const summary = summarizeCheckpointData(text);
    assert.deepEqual(summary.groups[0], { size: 3, rangeCount: 2, fileCount: 4 });
    assert.ok(summary.groups[1]!.plain, "the plaintext group is kept to be read");
  });

  test("are named base64url(sha256(groupKey '..' firstStartKey)) _ random .cpt", () => {
    const start = new Uint8Array([0x74, 0x80, 0xff, 0x00]);
    const want = createHash("sha256")
      .update(Buffer.concat([Buffer.from("grp", "utf8"), Buffer.from(".."), Buffer.from(start)]))
      .digest("base64url");
    const name = dataFileName("grp", start, "12345");
    // Go's URLEncoding pads; Node's base64url does not.
    assert.equal(name, `checkpoints/backup/data/${want}=_12345.cpt`);
    assert.match(
      dataFileName("grp", start),
      /^checkpoints\/backup\/data\/[-_A-Za-z0-9]{43}=_\d+\.cpt$/,
    );
    assert.notEqual(dataFileName("grp", start), dataFileName("grp", start), "random part");
  });
});

describe("checksum files", () => {
  const items = [
    { tableId: 7n, crc64xor: 0xffff_ffff_ffff_ffffn, totalKvs: 10n, totalBytes: 1000n },
    { tableId: 9n, crc64xor: 1n, totalKvs: 2n ** 60n, totalBytes: 0n },
  ];

  test("hold BR's ChecksumInfo with Go-style uint64 numbers and round-trip", () => {
    const text = encodeChecksumFile(items);
    const raw = JSON.parse(text);
    assert.deepEqual(Object.keys(raw), ["content", "checksum"]);
    const content = Buffer.from(raw.content, "base64");
    assert.equal(
      createHash("sha256").update(content).digest("base64"),
      raw.checksum,
      "checksum is the sha256 of content",
    );
    assert.match(content.toString(), /"crc64-xor":18446744073709551615/);
    assert.deepEqual(
      Object.keys((parseJsonBig(content.toString()) as never)["checksum-items"][0]),
      [
        "table-id",
        "crc64-xor",
        "total-kvs",
        "total-bytes",
      ],
    );
    assert.deepEqual(decodeChecksumFile(text), items);
    assert.match(checksumFileName(9n), /^checkpoints\/backup\/checksum\/t9_\d+\.cpt$/);
  });

  test("with tampered content fail their sha256", () => {
    const raw = JSON.parse(encodeChecksumFile(items));
    const content = Buffer.from(raw.content, "base64");
    content[content.length - 3] = content[content.length - 3]! ^ 1;
    raw.content = content.toString("base64");
    assert.throws(() => decodeChecksumFile(JSON.stringify(raw)), RangeError);
  });
});

describe("lock file", () => {
  test("is BR's {lock-id, expire-at} with bare integers, plus the owner", () => {
    const lockId = (1_767_000_000_000n << 18n) | 5n;
    const bytes = encodeLock({ lockId, expireAt: 1_767_000_300_000, owner: "h pid 1" });
    assert.equal(
      new TextDecoder().decode(bytes),
      `{"lock-id":${lockId},"expire-at":1767000300000,"owner":"h pid 1"}`,
    );
    assert.deepEqual(decodeLock(bytes), { lockId, expireAt: 1_767_000_300_000, owner: "h pid 1" });
  });

  test("written by BR (no owner) is read exactly", () => {
    const text = '{"lock-id":463180011776901121,"expire-at":1766900000000}';
    assert.deepEqual(decodeLock(new TextEncoder().encode(text)), {
      lockId: 463180011776901121n,
      expireAt: 1766900000000,
    });
    assert.throws(() => decodeLock(new TextEncoder().encode('{"lock-id":1}')), SyntaxError);
  });
});

describe("Base64Arena", () => {
  test("decodes like the runtime's decoder for every length, padded or not", () => {
    const arena = new Base64Arena();
    for (let n = 0; n < 70; n++) {
      const data = randomBytes(n);
      const text = data.toString("base64");
      assert.deepEqual(Buffer.from(arena.decode(text)), data, `length ${n}`);
      assert.deepEqual(Buffer.from(arena.decode(text.replace(/=+$/, ""))), data);
    }
  });

  test("rejects characters and lengths outside base64", () => {
    const arena = new Base64Arena();
    for (const bad of ["AB*D", "A", "ABCDE", "AB-_", "A===", "é"]) {
      assert.throws(() => arena.decode(bad), SyntaxError, bad);
    }
  });
});

describe("int64Field", () => {
  test("reads decimal strings, safe numbers and bigints exactly, and nothing else", () => {
    const ok: Array<[unknown, bigint, boolean?]> = [
      ["0", 0n],
      ["7", 7n],
      ["999999999999999", 999999999999999n],
      ["1000000000000000", 1000000000000000n],
      ["18446744073709551615", 18446744073709551615n],
      ["-9223372036854775808", -9223372036854775808n, true],
      ["-5", -5n, true],
      [12, 12n],
      [2n ** 63n, 2n ** 63n],
      [undefined, 0n],
    ];
    for (const [v, want, signed] of ok) assert.equal(int64Field(v, "f", signed), want, String(v));
    const bad: Array<[unknown, boolean?]> = [
      ["1e3"],
      ["1.0"],
      [" 1"],
      ["1 "],
      ["0x1f"],
      ["01"],
      [""],
      ["-1"],
      ["18446744073709551616"],
      ["9223372036854775808", true],
      [1.5],
      [2 ** 60],
      [-1n],
      [true],
    ];
    for (const [v, signed] of bad) {
      assert.throws(() => int64Field(v, "f", signed), SyntaxError, String(v));
    }
  });
});
