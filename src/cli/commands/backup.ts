/**
 * `tibr backup full|db|table|raw|txn`: BR's backup command and flags.
 * @module
 */
import { type Command, Option } from "commander";
import { readFileSync } from "node:fs";
import process from "node:process";
import { UsageError } from "../errors.ts";
import { startLogging } from "../logging.ts";
import { addStorageFlags, storageFlags } from "../storage_flags.ts";

function parseBool(v: string | boolean | undefined): boolean {
  if (v === undefined || v === true) return true;
  if (v === false) return false;
  const s = String(v).toLowerCase();
  if (["true", "1", "yes", "on"].includes(s)) return true;
  if (["false", "0", "no", "off"].includes(s)) return false;
  throw new UsageError(`'${v}' is not a boolean: use true or false`);
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      throw new UsageError(`--${name} must be a positive integer`);
    }
    return n;
  };
}

function nonNegative(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be 0 or more`);
    return n;
  };
}

function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be above 0`);
    return n;
  };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Options of every backup subcommand. */
function addCommon(cmd: Command): Command {
  addStorageFlags(cmd);
  return cmd
    .option("-u, --pd <endpoints>", "PD endpoints, comma-separated", "127.0.0.1:2379")
    .option("--ca <path>", "CA certificate for TLS to PD and TiKV (PEM)")
    .option("--cert <path>", "client certificate for TLS (PEM)")
    .option("--key <path>", "client private key for TLS (PEM)")
    .option("--send-credentials-to-tikv [bool]", "send storage credentials to the stores", true)
    .option("--backupts <ts>", "backup at this TSO or datetime ('2026-11-21 12:00:00 +08:00')")
    .option("--timeago <duration>", "backup the data as it was this long ago (e.g. 10m, 1h)")
    .option("--gcttl <seconds>", "TTL of the GC service safe point", positiveInt("gcttl"), 300)
    .option("--concurrency <n>", "ranges backed up at a time", positiveInt("concurrency"), 4)
    .option(
      "--ratelimit <MiB/s>",
      "write limit per store in MiB/s (0 = none)",
      nonNegative("ratelimit"),
      0,
    )
    .option("--checksum [bool]", "compare each table's checksum with the cluster's", true)
    .addOption(
      new Option("--compression <type>", "SST compression").choices(["lz4", "snappy", "zstd"])
        .default("zstd"),
    )
    .option("--compression-level <n>", "compression level (0 = the codec's default)", Number, 0)
    .addOption(
      new Option("--crypter.method <method>", "encrypt the backup").choices([
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
    .option("--redact-info-log [bool]", "hide keys and values in logs", false)
    .option(
      "--use-checkpoint [bool]",
      "record progress in the storage and resume an interrupted backup (off for noop:// and " +
        "incremental backups)",
      true,
    )
    .addOption(
      new Option(
        "--backoff-budget <seconds>",
        "give up on a range after this much retrying in the fine-grained phase (BR: 80)",
      ).argParser(positiveNumber("backoff-budget")).default(80).hideHelp(),
    )
    .option(
      "--checkpoint-flush-interval <seconds>",
      "how often finished ranges are written to the checkpoint",
      positiveNumber("checkpoint-flush-interval"),
      30,
    );
}

function addFilterFlags(cmd: Command): Command {
  return cmd
    .option("--lastbackupts <ts>", "incremental: back up changes after this ts", "0")
    .option("-f, --filter <rule>", "table filter rule (repeatable; @file reads rules)", collect)
    .option("--case-sensitive [bool]", "match filter names case-sensitively", false);
}

async function action(mode: "full" | "db" | "table" | "raw" | "txn", cmd: Command): Promise<void> {
  await startLogging(cmd);
  const o = cmd.opts<Record<string, unknown>>();
  const { runBackup, BackupConfigError } = await import("../../backup/task.ts");
  const { TimestampError } = await import("../../backup/timestamps.ts");
  const { FilterError } = await import("../../filter/mod.ts");
  const { EncryptionMethod } = await import("../../crypto/cipher.ts");
  const { fromHex } = await import("../../codec/bytes.ts");
  const { isStorageError } = await import("../../storage/errors.ts");
  const { summaryText } = await import("../../backup/summary.ts");
  const { isCheckpointError } = await import("../../checkpoint/errors.ts");

  let cipher;
  const method = String(o["crypter.method"] ?? "plaintext");
  if (method !== "plaintext") {
    let keyHex = typeof o["crypter.key"] === "string" ? o["crypter.key"] : undefined;
    const keyFile = o["crypter.keyFile"] ?? o["crypter.key-file"];
    if (typeof keyFile === "string") {
      try {
        keyHex = readFileSync(keyFile, "utf8").trim();
      } catch (err) {
        throw new UsageError(
          `cannot read --crypter.key-file ${keyFile}: ${(err as Error).message}`,
        );
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
    const m = {
      "aes128-ctr": EncryptionMethod.AES128_CTR,
      "aes192-ctr": EncryptionMethod.AES192_CTR,
      "aes256-ctr": EncryptionMethod.AES256_CTR,
    }[method]!;
    const want = { "aes128-ctr": 16, "aes192-ctr": 24, "aes256-ctr": 32 }[method]!;
    if (key.length !== want) {
      throw new UsageError(
        `--crypter.method ${method} needs a ${want}-byte key (${
          want * 2
        } hex digits), got ${key.length} bytes`,
      );
    }
    cipher = { method: m, key };
  }
  const { setRedactInfoLog } = await import("../../log.ts");
  setRedactInfoLog(parseBool(o.redactInfoLog as string | boolean));
  const sf = storageFlags(o);
  const lastStr = String(o.lastbackupts ?? "0");
  if (!/^\d+$/.test(lastStr)) throw new UsageError("--lastbackupts must be a TSO (a number)");
  const ac = new AbortController();
  const onSignal = (sig: string) => {
    process.stderr.write(`\nReceived ${sig}: stopping; the storage stays resumable\n`);
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  process.once("SIGINT", () => onSignal("SIGINT"));
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  try {
    const summary = await runBackup({
      mode,
      pd: String(o.pd).split(",").map((s) => s.trim()).filter(Boolean),
      tls: {
        ...(typeof o.ca === "string" ? { ca: o.ca } : {}),
        ...(typeof o.cert === "string" ? { cert: o.cert } : {}),
        ...(typeof o.key === "string" ? { key: o.key } : {}),
      },
      storage: sf.location,
      storageFlags: sf.flags,
      storagePlugins: sf.plugins,
      sendCredentials: parseBool(o.sendCredentialsToTikv as string | boolean),
      ...(typeof o.db === "string" ? { db: o.db } : {}),
      ...(typeof o.table === "string" ? { table: o.table } : {}),
      ...(Array.isArray(o.filter) ? { filter: o.filter.map(String) } : {}),
      caseSensitive: parseBool(o.caseSensitive as string | boolean),
      ...(typeof o.backupts === "string" ? { backupTs: o.backupts } : {}),
      ...(typeof o.timeago === "string" ? { timeAgo: o.timeago } : {}),
      lastBackupTs: BigInt(lastStr),
      gcTtlSeconds: Number(o.gcttl),
      concurrency: Number(o.concurrency),
      rateLimitMiB: Number(o.ratelimit),
      checksum: parseBool(o.checksum as string | boolean),
      compression: o.compression as "lz4" | "snappy" | "zstd",
      compressionLevel: Number(o.compressionLevel ?? 0),
      ...(cipher ? { cipher } : {}),
      ...(mode === "raw"
        ? {
          raw: {
            start: String(o.start ?? ""),
            end: String(o.end ?? ""),
            format: o.format as "hex" | "raw" | "escaped",
            cf: String(o.cf),
          },
        }
        : {}),
      progress: o.progress as "auto" | "bar" | "lines" | "quiet",
      useCheckpoint: parseBool(o.useCheckpoint as string | boolean),
      checkpointFlushIntervalMs: Number(o.checkpointFlushInterval) * 1000,
      maxBackoffMs: Number(o.backoffBudget) * 1000,
      signal: ac.signal,
    });
    process.stdout.write(
      o.output === "json" ? JSON.stringify(summary) + "\n" : summaryText(summary),
    );
  } catch (err) {
    if (
      err instanceof BackupConfigError || err instanceof TimestampError ||
      err instanceof FilterError || isStorageError(err, "ConfigInvalid") ||
      isCheckpointError(err, "ConfigMismatch") || isCheckpointError(err, "WrongKey")
    ) {
      throw new UsageError((err as Error).message);
    }
    throw err;
  }
}

/** Registers `tibr backup` and its subcommands. */
export function registerBackup(program: Command): void {
  const backup = program.command("backup").description("back up a TiKV/TiDB cluster to storage");
  addFilterFlags(
    addCommon(
      backup.command("full").description("back up the whole cluster (all tables, or -f filtered)"),
    ),
  )
    .action((_o, cmd: Command) => action("full", cmd));
  addFilterFlags(addCommon(backup.command("db").description("back up one database")))
    .requiredOption("--db <name>", "database to back up")
    .action((_o, cmd: Command) => action("db", cmd));
  addFilterFlags(addCommon(backup.command("table").description("back up one table")))
    .requiredOption("--db <name>", "database of the table")
    .requiredOption("--table <name>", "table to back up")
    .action((_o, cmd: Command) => action("table", cmd));
  addCommon(backup.command("raw").description("back up a raw-KV key range"))
    .option("--start <key>", "first key (inclusive)", "")
    .option("--end <key>", "end key (exclusive; empty = to the end)", "")
    .addOption(
      new Option("--format <format>", "key format").choices(["hex", "raw", "escaped"]).default(
        "hex",
      ),
    )
    .option("--cf <cf>", "column family", "default")
    .action((_o, cmd: Command) => action("raw", cmd));
  addCommon(backup.command("txn").description("back up all transactional KV data (TxnKV)"))
    .action((_o, cmd: Command) => action("txn", cmd));
}
