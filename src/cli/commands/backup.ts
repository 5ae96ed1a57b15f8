/**
 * `tibr backup full|db|table|raw|txn`: BR's backup command and flags.
 * @module
 */
import { Command, Option } from "commander";
import process from "node:process";
import type { BackupConfig, BackupMode, RawOptions } from "../../backup/task.ts";
import { CRYPTER_METHODS } from "../../crypto/flags.ts";
import { UsageError } from "../errors.ts";
import {
  MAX_TIMER_MS,
  numberFlag,
  parseBool,
  parsePdEndpoints,
  parseUint64,
  secondsFlag,
} from "../flags.ts";
import { orderHelp } from "../help.ts";
import { startLogging } from "../logging.ts";
import { serveStatus } from "../status.ts";
import { addStorageFlags, storageFlags } from "../storage_flags.ts";

/** The longest `--gcttl`: its safe point is refreshed every TTL/3 on a timer (2^31-1 ms at most). */
export const MAX_GC_TTL_SECONDS = Math.floor((MAX_TIMER_MS * 3) / 1000);

/** The largest `--ratelimit` (MiB/s) whose bytes per second still fit TiKV's uint64. */
export const MAX_RATE_LIMIT_MIB = 2 ** 44 - 1;

/**
 * Compression levels per algorithm (0 = the codec's default): zstd 1-22 as libzstd, lz4 1-12
 * (LZ4HC), snappy has none.
 */
export const COMPRESSION_LEVELS: Record<BackupConfig["compression"], [number, number]> = {
  zstd: [0, 22],
  lz4: [0, 12],
  snappy: [0, 0],
};

/** Every backup subcommand's flags, as commander parses them (argParsers give the types). */
export interface BackupFlags {
  storage: string;
  pd: string;
  ca?: string;
  cert?: string;
  key?: string;
  sendCredentialsToTikv: string | boolean;
  backupts?: string;
  timeago?: string;
  gcttl: number;
  concurrency: number;
  ratelimit: number;
  checksum: string | boolean;
  compression: BackupConfig["compression"];
  compressionLevel: number;
  "crypter.method": string;
  "crypter.key"?: string;
  "crypter.keyFile"?: string;
  output: "table" | "json";
  progress: NonNullable<BackupConfig["progress"]>;
  redactInfoLog: string | boolean;
  useCheckpoint: string | boolean;
  backoffBudget: number;
  checkpointFlushInterval: number;
  verifyFiles: string | boolean;
  // full, db, table
  lastbackupts?: string;
  filter?: string[];
  caseSensitive?: string | boolean;
  ignoreStats?: string | boolean;
  db?: string;
  table?: string;
  // raw
  start?: string;
  end?: string;
  format?: RawOptions["format"];
  cf?: string;
}

/** What a backup command runs with: the task's config and the CLI's own choices. */
export interface ParsedBackup {
  config: Omit<BackupConfig, "signal">;
  output: "table" | "json";
  redactInfoLog: boolean;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Turns a subcommand's parsed flags into the backup's typed config: every check that needs
 * more than one flag (compression level per algorithm, the crypter flags) is here, in one place.
 */
export async function parseBackupFlags(mode: BackupMode, o: BackupFlags): Promise<ParsedBackup> {
  const { cipherFromFlags, CrypterFlagError } = await import("../../crypto/flags.ts");
  const [lo, hi] = COMPRESSION_LEVELS[o.compression];
  if (o.compressionLevel < lo || o.compressionLevel > hi) {
    throw new UsageError(
      hi === 0
        ? `--compression-level ${o.compressionLevel}: ${o.compression} has no levels; leave it 0`
        : `--compression-level ${o.compressionLevel} is out of range for ${o.compression}: ` +
          `give ${lo} (the default) to ${hi}`,
    );
  }
  let cipher;
  try {
    cipher = cipherFromFlags({
      method: o["crypter.method"],
      ...(o["crypter.key"] === undefined ? {} : { key: o["crypter.key"] }),
      ...(o["crypter.keyFile"] === undefined ? {} : { keyFile: o["crypter.keyFile"] }),
    });
  } catch (err) {
    if (err instanceof CrypterFlagError) throw new UsageError(err.message);
    throw err;
  }
  const sf = storageFlags(o as unknown as Record<string, unknown>);
  const raw: RawOptions | undefined = mode === "raw"
    ? { start: o.start ?? "", end: o.end ?? "", format: o.format ?? "hex", cf: o.cf ?? "default" }
    : undefined;
  const config: Omit<BackupConfig, "signal"> = {
    mode,
    pd: parsePdEndpoints(o.pd),
    tls: {
      ...(o.ca === undefined ? {} : { ca: o.ca }),
      ...(o.cert === undefined ? {} : { cert: o.cert }),
      ...(o.key === undefined ? {} : { key: o.key }),
    },
    storage: sf.location,
    storageFlags: sf.flags,
    storagePlugins: sf.plugins,
    storageTimeoutMs: sf.timeoutMs,
    sendCredentials: parseBool("send-credentials-to-tikv", o.sendCredentialsToTikv),
    ...(o.db === undefined ? {} : { db: o.db }),
    ...(o.table === undefined ? {} : { table: o.table }),
    ...(o.filter ? { filter: o.filter } : {}),
    caseSensitive: parseBool("case-sensitive", o.caseSensitive ?? false),
    ...(o.backupts === undefined ? {} : { backupTs: o.backupts }),
    ...(o.timeago === undefined ? {} : { timeAgo: o.timeago }),
    lastBackupTs: parseUint64("lastbackupts", o.lastbackupts ?? "0"),
    gcTtlSeconds: o.gcttl,
    concurrency: o.concurrency,
    rateLimitMiB: o.ratelimit,
    checksum: parseBool("checksum", o.checksum),
    compression: o.compression,
    compressionLevel: o.compressionLevel,
    ...(cipher ? { cipher } : {}),
    ...(raw ? { raw } : {}),
    progress: o.progress,
    useCheckpoint: parseBool("use-checkpoint", o.useCheckpoint),
    checkpointFlushIntervalMs: o.checkpointFlushInterval,
    maxBackoffMs: o.backoffBudget,
    verifyFiles: parseBool("verify-files", o.verifyFiles),
    ...(o.ignoreStats === undefined
      ? {}
      : { ignoreStats: parseBool("ignore-stats", o.ignoreStats) }),
  };
  return {
    config,
    output: o.output,
    redactInfoLog: parseBool("redact-info-log", o.redactInfoLog),
  };
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
    .option(
      "--gcttl <seconds>",
      "TTL of the GC service safe point",
      numberFlag("gcttl", { min: 1, max: MAX_GC_TTL_SECONDS, integer: true, unit: "seconds" }),
      300,
    )
    .option(
      "--concurrency <n>",
      "ranges backed up at a time",
      // BR: uint32, and 0 is refused.
      numberFlag("concurrency", { min: 1, max: 2 ** 32 - 1, integer: true }),
      4,
    )
    .option(
      "--ratelimit <MiB/s>",
      "write limit per store in MiB/s (0 = none)",
      // BR: uint64 MiB/s, sent to TiKV as bytes/s in a uint64.
      numberFlag("ratelimit", { min: 0, max: MAX_RATE_LIMIT_MIB, integer: true, unit: "MiB/s" }),
      0,
    )
    .option("--checksum [bool]", "compare each table's checksum with the cluster's", true)
    .addOption(
      new Option("--compression <type>", "SST compression").choices(["lz4", "snappy", "zstd"])
        .default("zstd"),
    )
    .option(
      "--compression-level <n>",
      "compression level (0 = the codec's default; zstd 1-22, lz4 1-12, snappy none)",
      numberFlag("compression-level", { min: 0, max: 22, integer: true }),
      0,
    )
    .addOption(
      new Option("--crypter.method <method>", "encrypt the backup").choices(CRYPTER_METHODS)
        .default("plaintext"),
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
    .option(
      "--verify-files [bool]",
      "before writing backupmeta, read every data file back and compare its sha256 (presence " +
        "and size are always checked)",
      false,
    )
    .addOption(
      new Option(
        "--backoff-budget <seconds>",
        "give up on a range after this much retrying in the fine-grained phase (BR: 80)",
      ).argParser(secondsFlag("backoff-budget")).default(80_000).hideHelp(),
    )
    .addOption(
      new Option(
        "--checkpoint-flush-interval <seconds>",
        "how often finished ranges are written to the checkpoint",
      ).argParser(secondsFlag("checkpoint-flush-interval")).default(30_000, "30"),
    )
    .option(
      "--status-addr <host:port>",
      "serve Prometheus metrics at /metrics and progress at /status (see docs/METRICS.md)",
    );
}

/** The long names of the flags every backup subcommand has (listed after its own in help). */
const SHARED_FLAGS: ReadonlySet<string> = new Set(
  addCommon(new Command("x")).options.map((o) => o.long ?? "").filter((l) =>
    l !== "--pd" && l !== "--storage"
  ),
);

function addFilterFlags(cmd: Command): Command {
  return cmd
    .option("--lastbackupts <ts>", "incremental: back up changes after this ts", "0")
    .option("-f, --filter <rule>", "table filter rule (repeatable; @file reads rules)", collect)
    .option("--case-sensitive [bool]", "match filter names case-sensitively", false)
    .option(
      "--ignore-stats [bool]",
      "leave table statistics out (BR's default); false backs them up from TiDB",
      true,
    );
}

async function action(mode: BackupMode, cmd: Command): Promise<void> {
  await startLogging(cmd);
  const parsed = await parseBackupFlags(mode, cmd.opts<BackupFlags>());
  const { runBackup, BackupConfigError } = await import("../../backup/task.ts");
  const { TimestampError } = await import("../../backup/timestamps.ts");
  const { FilterError } = await import("../../filter/mod.ts");
  const { isStorageError } = await import("../../storage/errors.ts");
  const { summaryText } = await import("../../backup/summary.ts");
  const { isCheckpointError } = await import("../../checkpoint/errors.ts");
  const { setRedactInfoLog } = await import("../../log.ts");
  setRedactInfoLog(parsed.redactInfoLog);

  const status = await serveStatus(cmd.opts<{ statusAddr?: string }>().statusAddr);
  const { stopProgressDisplays } = await import("../../backup/progress.ts");
  const ac = new AbortController();
  const onSignal = (sig: string) => {
    if (ac.signal.aborted) return;
    // The bar goes first, so its next redraw cannot overwrite the message.
    stopProgressDisplays();
    process.stderr.write(`\nReceived ${sig}: stopping and saving the checkpoint\n`);
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  // Kept until the process exits: a second signal while the checkpoint is saved is ignored
  // (the save has its own deadline).
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  try {
    const summary = await runBackup({ ...parsed.config, signal: ac.signal });
    process.stdout.write(
      parsed.output === "json" ? JSON.stringify(summary) + "\n" : summaryText(summary),
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
  } finally {
    await status?.close();
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
    .addOption(
      new Option("--cf <cf>", "column family").choices(["default", "write", "lock"]).default(
        "default",
      ),
    )
    .action((_o, cmd: Command) => action("raw", cmd));
  addCommon(backup.command("txn").description("back up all transactional KV data (TxnKV)"))
    .action((_o, cmd: Command) => action("txn", cmd));
  for (const sub of backup.commands) orderHelp(sub, SHARED_FLAGS);
}
