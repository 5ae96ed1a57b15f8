/**
 * Encryption of backup files (AES-CTR, as TiKV and BR do it).
 *
 * ```ts
 * import { EncryptionMethod, encrypt, randomIv } from "./mod.ts";
 * const info = { method: EncryptionMethod.AES256_CTR, key: new Uint8Array(32) };
 * const iv = randomIv();
 * const sealed = encrypt(info, iv, new TextEncoder().encode("backupmeta"));
 * ```
 * @module
 */
export * from "./cipher.ts";
export * from "./flags.ts";
