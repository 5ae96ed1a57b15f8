import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fromHex, hex } from "../codec/bytes.ts";
import {
  counterAt,
  CtrStream,
  decrypt,
  encrypt,
  EncryptionMethod,
  keyLength,
  parseHexKey,
  randomIv,
  validateCipher,
} from "./cipher.ts";

// NIST SP 800-38A, F.5.1 and F.5.5 (CTR-AES128 and CTR-AES256 encryption).
const IV = fromHex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
const PLAIN = fromHex(
  "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51" +
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
);

describe("AES-CTR", () => {
  test("matches the NIST SP 800-38A vectors for AES-128, AES-192 and AES-256", () => {
    const cases = [
      {
        method: EncryptionMethod.AES128_CTR,
        key: "2b7e151628aed2a6abf7158809cf4f3c",
        out: "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff" +
          "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
      },
      {
        method: EncryptionMethod.AES192_CTR,
        key: "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
        out: "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94" +
          "1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050",
      },
      {
        method: EncryptionMethod.AES256_CTR,
        key: "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
        out: "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5" +
          "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6",
      },
    ];
    for (const c of cases) {
      const info = { method: c.method, key: fromHex(c.key) };
      assert.equal(hex(encrypt(info, IV, PLAIN)), c.out);
      assert.deepEqual(decrypt(info, IV, fromHex(c.out)), PLAIN);
    }
  });

  test("a stream started at any offset equals the same bytes of the whole", () => {
    const info = { method: EncryptionMethod.AES256_CTR, key: new Uint8Array(32).fill(7) };
    const iv = randomIv();
    const data = new Uint8Array(1000).map((_, i) => i * 31);
    const whole = encrypt(info, iv, data);
    for (const [from, to] of [[0, 1], [5, 21], [16, 48], [17, 1000], [999, 1000]] as const) {
      assert.deepEqual(
        new CtrStream(info, iv, from).update(data.subarray(from, to)),
        whole.subarray(from, to),
      );
    }
    // Chunked updates continue the keystream.
    const s = new CtrStream(info, iv);
    const parts = [
      s.update(data.subarray(0, 3)),
      s.update(data.subarray(3, 700)),
      s.update(data.subarray(700)),
    ];
    assert.deepEqual(Uint8Array.from(parts.flatMap((p) => [...p])), whole);
  });

  test("the counter is a 128-bit big-endian number that carries and wraps", () => {
    assert.equal(
      hex(counterAt(fromHex("000000000000000000000000000000ff"), 1)),
      "00000000000000000000000000000100",
    );
    assert.equal(
      hex(counterAt(fromHex("ffffffffffffffffffffffffffffffff"), 2)),
      "00000000000000000000000000000001",
    );
    assert.equal(hex(counterAt(IV, 0x1_0000_0001)), "f0f1f2f3f4f5f6f7f8f9fafcfcfdff00");
    // OpenSSL agrees across the carry: block 1 of a stream from IV ..ff equals a stream from ..00+1.
    const info = { method: EncryptionMethod.AES128_CTR, key: new Uint8Array(16) };
    const iv = fromHex("00000000000000000000000000ffffff");
    const two = encrypt(info, iv, new Uint8Array(32));
    assert.deepEqual(encrypt(info, counterAt(iv, 1), new Uint8Array(16)), two.subarray(16));
  });

  test("PLAINTEXT passes bytes through and random IVs differ", () => {
    const data = Uint8Array.of(1, 2, 3);
    assert.deepEqual(
      encrypt({ method: EncryptionMethod.PLAINTEXT, key: new Uint8Array() }, randomIv(), data),
      data,
    );
    assert.notDeepEqual(randomIv(), randomIv());
    assert.equal(randomIv().length, 16);
  });

  test("keys of the wrong length and unknown methods are rejected without echoing the key", () => {
    assert.equal(keyLength(EncryptionMethod.AES192_CTR), 24);
    const secret = new Uint8Array(20).fill(0xab);
    assert.throws(
      () => validateCipher({ method: EncryptionMethod.AES256_CTR, key: secret }),
      (err: Error) =>
        /AES256_CTR key is 20 bytes but must be 32/.test(err.message) && !/abab/.test(err.message),
    );
    assert.throws(
      () => validateCipher({ method: EncryptionMethod.UNKNOWN, key: secret }),
      /unsupported encryption method UNKNOWN/,
    );
    assert.throws(
      () =>
        new CtrStream(
          { method: EncryptionMethod.AES128_CTR, key: new Uint8Array(16) },
          new Uint8Array(8),
        ),
      /IV is 8 bytes/,
    );
    assert.deepEqual(parseHexKey("0aFF"), Uint8Array.of(0x0a, 0xff));
    assert.throws(
      () => parseHexKey("xyz1"),
      (err: Error) => /hex digits/.test(err.message) && !/xyz1/.test(err.message),
    );
  });
});
