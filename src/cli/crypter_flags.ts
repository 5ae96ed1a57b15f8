/**
 * The `--crypter.method`, `--crypter.key` and `--crypter.key-file` flags of the commands that
 * read an encrypted backup (`verify`, `debug`), parsed into a `CipherInfo`.
 * @module
 */
import { type Command, Option } from "commander";
import { readFileSync } from "node:fs";
import { fromHex } from "../codec/bytes.ts";
import { type CipherInfo, EncryptionMethod } from "../crypto/cipher.ts";
import { UsageError } from "./errors.ts";

const METHODS = {
  "aes128-ctr": { method: EncryptionMethod.AES128_CTR, bytes: 16 },
  "aes192-ctr": { method: EncryptionMethod.AES192_CTR, bytes: 24 },
  "aes256-ctr": { method: EncryptionMethod.AES256_CTR, bytes: 32 },
} as const;

/** Adds the crypter flags to `cmd`. */
export function addCrypterFlags(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--crypter.method <method>", "the backup's encryption").choices([
        "plaintext",
        ...Object.keys(METHODS),
      ]).default("plaintext"),
    )
    .option("--crypter.key <hex>", "encryption key in hex (prefer --crypter.key-file)")
    .option("--crypter.key-file <path>", "file holding the encryption key in hex");
}

/** The cipher the flags name; undefined for plaintext. Bad flags are a `UsageError`. */
export function crypterFromFlags(o: Record<string, unknown>): CipherInfo | undefined {
  const method = String(o["crypter.method"] ?? "plaintext");
  if (method === "plaintext") return undefined;
  const m = METHODS[method as keyof typeof METHODS];
  if (!m) throw new UsageError(`unknown --crypter.method ${method}`);
  let keyHex = typeof o["crypter.key"] === "string" ? o["crypter.key"] : undefined;
  const keyFile = o["crypter.keyFile"] ?? o["crypter.key-file"];
  if (typeof keyFile === "string") {
    try {
      keyHex = readFileSync(keyFile, "utf8").trim();
    } catch (err) {
      throw new UsageError(`cannot read --crypter.key-file ${keyFile}: ${(err as Error).message}`);
    }
  }
  if (!keyHex) {
    throw new UsageError(`--crypter.method ${method} needs --crypter.key or --crypter.key-file`);
  }
  let key: Uint8Array;
  try {
    key = fromHex(keyHex);
  } catch {
    throw new UsageError("the crypter key is not valid hex");
  }
  if (key.length !== m.bytes) {
    throw new UsageError(
      `--crypter.method ${method} needs a ${m.bytes}-byte key (${m.bytes * 2} hex digits), ` +
        `got ${key.length} bytes`,
    );
  }
  return { method: m.method, key };
}
