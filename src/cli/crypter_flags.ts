/**
 * The `--crypter.method`, `--crypter.key` and `--crypter.key-file` flags of every command that
 * writes or reads an encrypted backup, on top of the one parser and its checks in
 * `src/crypto/flags.ts`. A bad flag is a `UsageError` (exit 2).
 * @module
 */
import { type Command, Option } from "commander";
import type { CipherInfo } from "../crypto/cipher.ts";
import { cipherFromFlags, CRYPTER_METHODS, CrypterFlagError } from "../crypto/flags.ts";
import { UsageError } from "./errors.ts";

/** Adds the crypter flags to `cmd`, described for a command that reads a backup. */
export function addCrypterFlags(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--crypter.method <method>", "the backup's encryption").choices(CRYPTER_METHODS)
        .default("plaintext"),
    )
    .option("--crypter.key <hex>", "encryption key in hex (prefer --crypter.key-file)")
    .option("--crypter.key-file <path>", "file holding the encryption key in hex");
}

/** The cipher commander's parsed crypter flags name; undefined for plaintext. */
export function crypterFromFlags(o: Record<string, unknown>): CipherInfo | undefined {
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const key = str(o["crypter.key"]);
  const keyFile = str(o["crypter.keyFile"] ?? o["crypter.key-file"]);
  try {
    return cipherFromFlags({
      method: str(o["crypter.method"]) ?? "plaintext",
      ...(key === undefined ? {} : { key }),
      ...(keyFile === undefined ? {} : { keyFile }),
    });
  } catch (err) {
    if (err instanceof CrypterFlagError) throw new UsageError(err.message);
    throw err;
  }
}
