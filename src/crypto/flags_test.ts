import assert from "node:assert/strict";
import { test } from "node:test";
import { EncryptionMethod } from "./cipher.ts";
import { cipherFromFlags } from "./flags.ts";

const KEY = "ab".repeat(32);

test("a crypter key without an encrypting method is refused, never written as plaintext", () => {
  assert.throws(() => cipherFromFlags({ key: KEY }), /without --crypter\.method/);
  assert.throws(
    () => cipherFromFlags({ method: "plaintext", keyFile: "/k" }, () => KEY),
    /without --crypter\.method/,
  );
  assert.equal(cipherFromFlags({}), undefined);
});

test("an encrypting method takes one key of its length, from the flag or a file", () => {
  assert.deepEqual(cipherFromFlags({ method: "aes256-ctr", key: KEY }), {
    method: EncryptionMethod.AES256_CTR,
    key: new Uint8Array(32).fill(0xab),
  });
  const fromFile = cipherFromFlags({ method: "aes128-ctr", keyFile: "/k" }, () => "11".repeat(16));
  assert.equal(fromFile?.method, EncryptionMethod.AES128_CTR);
  assert.throws(() => cipherFromFlags({ method: "aes128-ctr" }), /needs --crypter\.key/);
  assert.throws(
    () => cipherFromFlags({ method: "aes128-ctr", key: KEY }),
    /needs a 16-byte key \(32 hex digits\), got 32 bytes/,
  );
  assert.throws(() => cipherFromFlags({ method: "aes256-ctr", key: "zz" }), /not valid hex/);
  assert.throws(
    () => cipherFromFlags({ method: "aes256-ctr", key: KEY, keyFile: "/k" }, () => KEY),
    /not both/,
  );
  assert.throws(() => cipherFromFlags({ method: "sm4-ctr", key: KEY }), /unknown/);
  for (const f of [() => cipherFromFlags({ method: "aes128-ctr", key: KEY })]) {
    assert.throws(f, (e: Error) => !e.message.includes(KEY));
  }
});
