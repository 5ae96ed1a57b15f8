/**
 * `tibr export`: tables of a backup to SQL or CSV files in Dumpling's layout, with no cluster.
 * @module
 */
import { parseBool } from "../flags.ts";
import { addCrypterFlags, crypterFromFlags } from "../crypter_flags.ts";
import { Command, Option } from "commander";
import process from "node:process";
import { UsageError } from "../errors.ts";
import { startLogging } from "../logging.ts";
import { addStorageFlags, storageFlags } from "../storage_flags.ts";
import { orderHelp } from "../help.ts";

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

async function action(cmd: Command): Promise<void> {
  await startLogging(cmd);
  const o = cmd.opts<Record<string, unknown>>();
  const { runExport, exportSummaryText, ExportConfigError } = await import(
    "../../export/export.ts"
  );
  const { FilterError } = await import("../../filter/mod.ts");
  const { BackupMetaError } = await import("../../backup/metareader.ts");
  const { isStorageError } = await import("../../storage/errors.ts");
  const cipher = crypterFromFlags(o);
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
      caseSensitive: parseBool("case-sensitive", o.caseSensitive as string | boolean | undefined),
      fileSize,
      statementSize,
      csv: {
        separator: one("csv-separator", o.csvSeparator),
        delimiter: one("csv-delimiter", o.csvDelimiter),
        nullValue: String(o.csvNullValue),
        escapeBackslash: parseBool(
          "escape-backslash",
          o.escapeBackslash as string | boolean | undefined,
        ),
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
  addCrypterFlags(cmd);
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
      new Option("--output <format>", "summary format").choices(["table", "json"]).default("table"),
    )
    .addOption(
      new Option("--progress <mode>", "progress display").choices(["auto", "bar", "lines", "quiet"])
        .default("auto"),
    )
    .action((_o, c: Command) => action(c));
  // The crypter flags were added before the command's own: list them after.
  orderHelp(cmd, new Set(addCrypterFlags(new Command("x")).options.map((o) => o.long ?? "")));
}
