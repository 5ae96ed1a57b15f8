/**
 * `tibr export`: tables of a backup to SQL or CSV files in Dumpling's layout, with no cluster.
 * @module
 */
import { type Command, Option } from "commander";
import { readFileSync } from "node:fs";
import process from "node:process";
import { UsageError } from "../errors.ts";
import { startLogging } from "../logging.ts";
import { addStorageFlags, storageFlags } from "../storage_flags.ts";

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A byte size: a number with an optional k/M/G (KiB, MiB, GiB) unit, as Dumpling's `-F`. */
export function parseByteSize(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--${flag} must be a size such as 256MiB or 1000000, not '${text}'`);
  const exp = " kmgt".indexOf((m[2] ?? "").toLowerCase() || " ");
  const n = Math.floor(Number(m[1]) * 1024 ** exp);
  if (n <= 0) throw new UsageError(`--${flag} must be above 0`);
  return n;
}

function parseBool(v: unknown): boolean {
  if (v === undefined || v === true) return true;
  if (v === false) return false;
  const s = String(v).toLowerCase();
  if (["true", "1", "yes", "on"].includes(s)) return true;
  if (["false", "0", "no", "off"].includes(s)) return false;
  throw new UsageError(`'${v}' is not a boolean: use true or false`);
}

/** The crypter of `--crypter.*` flags, or undefined for plaintext. */
async function crypterFromFlags(o: Record<string, unknown>) {
  const method = String(o["crypter.method"] ?? "plaintext");
  if (method === "plaintext") return undefined;
  const { EncryptionMethod } = await import("../../crypto/cipher.ts");
  const { fromHex } = await import("../../codec/bytes.ts");
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
  const want = { "aes128-ctr": 16, "aes192-ctr": 24, "aes256-ctr": 32 }[method]!;
  if (key.length !== want) {
    throw new UsageError(
      `--crypter.method ${method} needs a ${want}-byte key (${want * 2} hex digits), got ` +
        `${key.length} bytes`,
    );
  }
  const m = {
    "aes128-ctr": EncryptionMethod.AES128_CTR,
    "aes192-ctr": EncryptionMethod.AES192_CTR,
    "aes256-ctr": EncryptionMethod.AES256_CTR,
  }[method]!;
  return { method: m, key };
}

async function action(cmd: Command): Promise<void> {
  await startLogging(cmd);
  const o = cmd.opts<Record<string, unknown>>();
  const { runExport, exportSummaryText, ExportConfigError } = await import(
    "../../export/export.ts"
  );
  const { FilterError } = await import("../../filter/mod.ts");
  const { BackupMetaError } = await import("../../backup/metareader.ts");
  const { isStorageError } = await import("../../storage/errors.ts");
  const cipher = await crypterFromFlags(o);
  const sf = storageFlags(o);
  const fileSize = parseByteSize("filesize", String(o.filesize));
  const statementSize = parseByteSize("statement-size", String(o.statementSize));
  const one = (flag: string, v: unknown) => {
    const s = String(v);
    if (s.length !== 1 && flag !== "csv-null-value" && flag !== "csv-delimiter") {
      throw new UsageError(`--${flag} must be one character, not '${s}'`);
    }
    return s.replace(/\\t/g, "\t");
  };
  const ac = new AbortController();
  const onSignal = (sig: string) => {
    process.stderr.write(`\nReceived ${sig}: stopping; files not finished are not written\n`);
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  process.once("SIGINT", () => onSignal("SIGINT"));
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  try {
    const summary = await runExport({
      storage: sf.location,
      storageFlags: sf.flags,
      storagePlugins: sf.plugins,
      ...(cipher ? { cipher } : {}),
      output: String(o.out),
      format: o.format as "sql" | "csv",
      ...(typeof o.db === "string" ? { db: o.db } : {}),
      ...(typeof o.table === "string" ? { table: o.table } : {}),
      ...(Array.isArray(o.filter) ? { filter: o.filter.map(String) } : {}),
      caseSensitive: parseBool(o.caseSensitive),
      fileSize,
      statementSize,
      csv: {
        separator: one("csv-separator", o.csvSeparator),
        delimiter: one("csv-delimiter", o.csvDelimiter),
        nullValue: String(o.csvNullValue),
        escapeBackslash: parseBool(o.escapeBackslash),
      },
      tz: String(o.tz),
      progress: o.progress as "auto" | "bar" | "lines" | "quiet",
      signal: ac.signal,
    });
    process.stdout.write(
      o.output === "json" ? JSON.stringify(summary) + "\n" : exportSummaryText(summary),
    );
  } catch (err) {
    if (
      err instanceof ExportConfigError || err instanceof FilterError ||
      isStorageError(err, "ConfigInvalid") ||
      (err instanceof BackupMetaError && err.code === "Undecodable")
    ) {
      throw new UsageError((err as Error).message);
    }
    throw err;
  }
}

/** Registers `tibr export`. */
export function registerExport(program: Command): void {
  const cmd = program.command("export").description(
    "write tables of a backup as SQL or CSV files (Dumpling's layout), without a cluster",
  );
  addStorageFlags(cmd);
  cmd
    .requiredOption("-o, --out <url>", "where to write: a path or storage URL")
    .addOption(
      new Option("--format <format>", "data file format").choices(["sql", "csv"]).default("sql"),
    )
    .option("--db <name>", "export this database (with --table: one table)")
    .option("--table <name>", "export this table of --db")
    .option("-f, --filter <rule>", "table filter rule (repeatable; @file reads rules)", collect)
    .option("--case-sensitive [bool]", "match filter names case-sensitively", false)
    .option("-F, --filesize <size>", "start a new data file past this size", "256MiB")
    .option("--statement-size <size>", "start a new INSERT past this size", "1000000")
    .option("--csv-separator <char>", "CSV field separator", ",")
    .option("--csv-delimiter <char>", "CSV string delimiter ('' for none)", '"')
    .option("--csv-null-value <text>", "CSV text for NULL", "\\N")
    .option(
      "--escape-backslash [bool]",
      "escape with backslashes as Dumpling (false: RFC 4180, delimiter doubled)",
      true,
    )
    .option("--tz <zone>", "time zone of TIMESTAMP values: UTC, +08:00 or an IANA name", "UTC")
    .addOption(
      new Option("--crypter.method <method>", "the backup's encryption").choices([
        "plaintext",
        "aes128-ctr",
        "aes192-ctr",
        "aes256-ctr",
      ]).default("plaintext"),
    )
    .option("--crypter.key <hex>", "encryption key in hex (prefer --crypter.key-file)")
    .option("--crypter.key-file <path>", "file holding the encryption key in hex")
    .addOption(
      new Option("--output <format>", "summary format").choices(["table", "json"]).default("table"),
    )
    .addOption(
      new Option("--progress <mode>", "progress display").choices(["auto", "bar", "lines", "quiet"])
        .default("auto"),
    )
    .action((_o, c: Command) => action(c));
}
