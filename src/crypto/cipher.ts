/**
 * AES-CTR encryption as TiKV and BR apply it to backup files: the whole content encrypted with
 * AES-128/192/256 in counter mode, the 16-byte IV being the initial 128-bit big-endian counter.
 * Backed by `node:crypto`, which Deno and Bun both provide.
 * @module
 */
import { createCipheriv, randomBytes } from "node:crypto";

/** kvproto `encryptionpb.EncryptionMethod`. */
export const EncryptionMethod = {
  UNKNOWN: 0,
  PLAINTEXT: 1,
  AES128_CTR: 2,
  AES192_CTR: 3,
  AES256_CTR: 4,
} as const;

/** One of the `EncryptionMethod` numbers. */
export type EncryptionMethod = (typeof EncryptionMethod)[keyof typeof EncryptionMethod];

/** `backup.CipherInfo`: the method and its key. */
export interface CipherInfo {
  method: EncryptionMethod;
  key: Uint8Array;
}

/** Length of an AES-CTR IV (and of the counter block). */
export const IV_LENGTH = 16;

const KEY_LENGTH: Record<number, number> = {
  [EncryptionMethod.AES128_CTR]: 16,
  [EncryptionMethod.AES192_CTR]: 24,
  [EncryptionMethod.AES256_CTR]: 32,
};

const METHOD_NAME: Record<number, string> = {
  [EncryptionMethod.UNKNOWN]: "UNKNOWN",
  [EncryptionMethod.PLAINTEXT]: "PLAINTEXT",
  [EncryptionMethod.AES128_CTR]: "AES128_CTR",
  [EncryptionMethod.AES192_CTR]: "AES192_CTR",
  [EncryptionMethod.AES256_CTR]: "AES256_CTR",
};

/** The method's kvproto name (`AES256_CTR`), or `method <n>` for unknown numbers. */
export function methodName(method: number): string {
  return METHOD_NAME[method] ?? `method ${method}`;
}

/** Key length in bytes the method needs (0 for PLAINTEXT). Throws for unknown methods. */
export function keyLength(method: number): number {
  if (method === EncryptionMethod.PLAINTEXT) return 0;
  const n = KEY_LENGTH[method];
  if (n === undefined) {
    throw new Error(
      `unsupported encryption method ${methodName(method)}; use PLAINTEXT, AES128_CTR, ` +
        `AES192_CTR or AES256_CTR`,
    );
  }
  return n;
}

/**
 * Checks the method is known and the key has its length. The message never contains the key.
 */
export function validateCipher(info: CipherInfo): void {
  const want = keyLength(info.method);
  if (info.method !== EncryptionMethod.PLAINTEXT && info.key.length !== want) {
    throw new Error(
      `the ${methodName(info.method)} key is ${info.key.length} bytes but must be ${want} ` +
        `(${want * 2} hex digits); check the crypter key`,
    );
  }
}

/** True when the method actually encrypts (not PLAINTEXT). */
export function isEncrypting(info: CipherInfo | undefined): boolean {
  return info !== undefined && info.method !== EncryptionMethod.PLAINTEXT;
}

/** A fresh random 16-byte IV. */
export function randomIv(): Uint8Array {
  return new Uint8Array(randomBytes(IV_LENGTH));
}

/** The counter block `blocks` 16-byte blocks after `iv` (128-bit big-endian addition). */
export function counterAt(iv: Uint8Array, blocks: number): Uint8Array {
  if (iv.length !== IV_LENGTH) throw new Error(`IV is ${iv.length} bytes, expected ${IV_LENGTH}`);
  const out = Uint8Array.from(iv);
  let carry = blocks;
  for (let i = IV_LENGTH - 1; i >= 0 && carry > 0; i--) {
    const sum = out[i]! + (carry % 256);
    out[i] = sum & 0xff;
    carry = Math.floor(carry / 256) + (sum >> 8);
  }
  return out;
}

/**
 * A streaming AES-CTR transform starting `offset` bytes into the keystream, so a byte range of
 * an encrypted file can be decrypted on its own. Encryption and decryption are the same
 * operation. PLAINTEXT passes bytes through.
 */
export class CtrStream {
  readonly #cipher: ReturnType<typeof createCipheriv> | undefined;

  constructor(info: CipherInfo, iv: Uint8Array, offset = 0) {
    validateCipher(info);
    if (info.method === EncryptionMethod.PLAINTEXT) return;
    if (iv.length !== IV_LENGTH) {
      throw new Error(`the cipher IV is ${iv.length} bytes, expected ${IV_LENGTH}`);
    }
    const bits = KEY_LENGTH[info.method]! * 8;
    this.#cipher = createCipheriv(
      `aes-${bits}-ctr`,
      info.key,
      counterAt(iv, Math.floor(offset / 16)),
    );
    const skip = offset % 16;
    if (skip) this.#cipher.update(new Uint8Array(skip));
  }

  /** Transforms the next bytes of the stream (same length out). */
  update(chunk: Uint8Array): Uint8Array {
    if (!this.#cipher) return chunk;
    const out = this.#cipher.update(chunk);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
}

/** Encrypts `data` whole with AES-CTR (PLAINTEXT returns it unchanged). */
export function encrypt(info: CipherInfo, iv: Uint8Array, data: Uint8Array): Uint8Array {
  return new CtrStream(info, iv).update(data);
}

/** Decrypts `data` whole; the same operation as `encrypt` in counter mode. */
export function decrypt(info: CipherInfo, iv: Uint8Array, data: Uint8Array): Uint8Array {
  return new CtrStream(info, iv).update(data);
}

/** Parses a hex key as BR's `--crypter.key` takes it; the message never echoes the key. */
export function parseHexKey(hexKey: string): Uint8Array {
  if (hexKey.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hexKey)) {
    throw new Error(
      `the crypter key must be hex digits (32, 48 or 64 of them); got ${hexKey.length} characters`,
    );
  }
  const out = new Uint8Array(hexKey.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hexKey.slice(2 * i, 2 * i + 2), 16);
  return out;
}
