/**
 * BR's crypter flags (`--crypter.method`, `--crypter.key`, `--crypter.key-file`) turned into a
 * `CipherInfo`, with every check in one place: a known method, a key for an encrypting method
 * and none for plaintext, valid hex of the method's length. Messages never contain the key.
 * @module
 */
import { readFileSync } from "node:fs";
import { type CipherInfo, EncryptionMethod, keyLength, parseHexKey } from "./cipher.ts";

/** The crypter method names BR's `--crypter.method` takes. */
export const CRYPTER_METHODS = ["plaintext", "aes128-ctr", "aes192-ctr", "aes256-ctr"] as const;

/** One of `CRYPTER_METHODS`. */
export type CrypterMethod = (typeof CRYPTER_METHODS)[number];

const METHOD: Record<CrypterMethod, EncryptionMethod> = {
  plaintext: EncryptionMethod.PLAINTEXT,
  "aes128-ctr": EncryptionMethod.AES128_CTR,
  "aes192-ctr": EncryptionMethod.AES192_CTR,
  "aes256-ctr": EncryptionMethod.AES256_CTR,
};

/** The crypter flags as given. */
export interface CrypterFlags {
  method?: string;
  /** The key in hex. */
  key?: string;
  /** A file holding the key in hex. */
  keyFile?: string;
}

/** A crypter flag problem (the user's to fix). */
export class CrypterFlagError extends Error {
  override name = "CrypterFlagError";
}

/**
 * The cipher the flags ask for; undefined for plaintext. Refuses a key without an encrypting
 * method (it would silently write plaintext), a method without a key, both a key and a key
 * file, an unknown method, and a key that is not hex of the method's length.
 */
export function cipherFromFlags(
  flags: CrypterFlags,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): CipherInfo | undefined {
  const name = (flags.method ?? "plaintext").toLowerCase();
  if (!(name in METHOD)) {
    throw new CrypterFlagError(
      `--crypter.method '${flags.method}' is unknown: use ${CRYPTER_METHODS.join(", ")}`,
    );
  }
  const method = METHOD[name as CrypterMethod];
  const given = flags.key !== undefined || flags.keyFile !== undefined;
  if (method === EncryptionMethod.PLAINTEXT) {
    if (given) {
      throw new CrypterFlagError(
        "--crypter.key or --crypter.key-file is given without --crypter.method: the backup " +
          "would not be encrypted; add --crypter.method aes128-ctr, aes192-ctr or aes256-ctr",
      );
    }
    return undefined;
  }
  if (flags.key !== undefined && flags.keyFile !== undefined) {
    throw new CrypterFlagError("give --crypter.key or --crypter.key-file, not both");
  }
  let hexKey = flags.key;
  if (flags.keyFile !== undefined) {
    try {
      hexKey = readFile(flags.keyFile).trim();
    } catch (err) {
      throw new CrypterFlagError(
        `cannot read --crypter.key-file ${flags.keyFile}: ${(err as Error).message}`,
      );
    }
  }
  if (!hexKey) {
    throw new CrypterFlagError(
      `--crypter.method ${name} needs --crypter.key or --crypter.key-file`,
    );
  }
  let key: Uint8Array;
  try {
    key = parseHexKey(hexKey);
  } catch {
    throw new CrypterFlagError("the crypter key is not valid hex");
  }
  const want = keyLength(method);
  if (key.length !== want) {
    throw new CrypterFlagError(
      `--crypter.method ${name} needs a ${want}-byte key (${want * 2} hex digits), got ` +
        `${key.length} bytes`,
    );
  }
  return { method, key };
}
