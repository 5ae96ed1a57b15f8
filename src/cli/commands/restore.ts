/**
 * `tibr restore full|db|table|raw|txn`: BR's restore command and flags, plus tibr's TiDB
 * flags (schemas are created through a TiDB server's SQL port) and `--dry-run`.
 * @module
 */
import { parseBool } from "../flags.ts";
import { addCrypterFlags, crypterFromFlags } from "../crypter_flags.ts";
import { Command, Option } from "commander";
import process from "node:process";
import { UsageError } from "../errors.ts";
import { orderHelp } from "../help.ts";
import { startLogging } from "../logging.ts";
import { serveStatus } from "../status.ts";
import { addStorageFlags, storageFlags } from "../storage_flags.ts";

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      throw new UsageError(`--${name} must be a positive integer`);
    }
    return n;
  };
}

function nonNegativeInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isInteger(n) || n < 0) {
      throw new UsageError(`--${name} must be a non-negative integer`);
    }
    return n;
  };
}

function port(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0 || n > 65535) {
      throw new UsageError(`--${name} must be a port number (1-65535)`);
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

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Options of every restore subcommand. */
function addCommon(cmd: Command): Command {
  addStorageFlags(cmd);
  addCrypterFlags(cmd);
  return cmd
    .option("-u, --pd <endpoints>", "PD endpoints of the target cluster", "127.0.0.1:2379")
    .option("--ca <path>", "CA certificate for TLS to PD and TiKV (PEM)")
    .option("--cert <path>", "client certificate for TLS (PEM)")
    .option("--key <path>", "client private key for TLS (PEM)")
    .option("--send-credentials-to-tikv [bool]", "send storage credentials to the stores", true)
    .option(
      "--concurrency <n>",
      "files downloaded and ingested at a time per store",
      positiveInt("concurrency"),
      16,
    )
    .option(
      "--ddl-batch-size <n>",
      "tables created per batch, batches on several TiDB sessions at once (0 or 1: one table " +
        "at a time)",
      nonNegativeInt("ddl-batch-size"),
      // BR's default; src/restore/schemas.ts is loaded only when a restore runs.
      128,
    )
    .option(
      "--ratelimit <MiB/s>",
      "download limit per store in MiB/s (0 = none)",
      nonNegative("ratelimit"),
      0,
    )
    .option("--checksum [bool]", "compare each restored table's checksum with the backup's", true)
    .option("--dry-run", "print the plan (tables, SQL, ranges, split keys) and write nothing")
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
      "record progress and resume an interrupted restore (BR >= 7.1)",
      true,
    )
    .option(
      "--checkpoint-storage <url>",
      "where the restore checkpoint lives (default: checkpoints/restore-<cluster id> in the " +
        "backup storage)",
    )
    .option(
      "--checkpoint-flush-interval <seconds>",
      "how often progress is written to the checkpoint",
      (v: string) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0) {
          throw new UsageError("--checkpoint-flush-interval must be above 0");
        }
        return n;
      },
      30,
    )
    .addOption(
      new Option(
        "--backoff-budget <seconds>",
        "give up on a range after this much retrying (a store down, busy, regions moving)",
      ).argParser(nonNegative("backoff-budget")).default(60).hideHelp(),
    )
    .option(
      "--status-addr <host:port>",
      "serve Prometheus metrics at /metrics and progress at /status (see docs/METRICS.md)",
    );
}

/** The long names of the flags every restore subcommand has (listed after its own in help). */
const SHARED_FLAGS: ReadonlySet<string> = new Set(
  addCommon(new Command("x")).options.map((o) => o.long ?? "").filter((l) =>
    l !== "--pd" && l !== "--storage"
  ),
);

function addTableFlags(cmd: Command): Command {
  return cmd
    .option("-f, --filter <rule>", "table filter rule (repeatable; @file reads rules)", collect)
    .option("--case-sensitive [bool]", "match filter names case-sensitively", false)
    .option("--no-schema", "restore data into tables that exist already; create nothing")
    .option("--load-stats [bool]", "load the backup's table statistics into TiDB", true)
    .option("--tidb-host <host>", "a TiDB server of the target cluster (default: found in PD)")
    .option("--tidb-port <port>", "its SQL port (default 4000)", port("tidb-port"))
    .option(
      "--tidb-status-port <port>",
      "its status port (default 10080)",
      port("tidb-status-port"),
    )
    .option("--tidb-user <user>", "SQL user", "root")
    .option(
      "--tidb-password <password>",
      "SQL password (prefer the TIBR_TIDB_PASSWORD environment variable)",
    );
}

async function action(mode: "full" | "db" | "table" | "raw" | "txn", cmd: Command): Promise<void> {
  await startLogging(cmd);
  const o = cmd.opts<Record<string, unknown>>();
  const { runRestore, RestoreConfigError, restoreSummaryText } = await import(
    "../../restore/task.ts"
  );
  const { dryRunText } = await import("../../restore/plan.ts");
  const { FilterError } = await import("../../filter/mod.ts");
  const { isStorageError } = await import("../../storage/errors.ts");
  const { BackupMetaError } = await import("../../backup/metareader.ts");
  const { setRedactInfoLog } = await import("../../log.ts");
  const { RestoreCheckpointError } = await import("../../restore/checkpoint.ts");
  const { isCheckpointError } = await import("../../checkpoint/errors.ts");
  setRedactInfoLog(parseBool("redact-info-log", o.redactInfoLog as string | boolean | undefined));
  const cipher = crypterFromFlags(o);
  const sf = storageFlags(o);
  const status = await serveStatus(o.statusAddr);
  const { stopProgressDisplays } = await import("../../backup/progress.ts");
  const ac = new AbortController();
  const onSignal = (sig: string) => {
    if (ac.signal.aborted) return;
    // The bars go first, so no redraw can overwrite the message.
    stopProgressDisplays();
    process.stderr.write(`\nReceived ${sig}: stopping and putting the cluster back\n`);
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  // Kept until the process exits: a second signal while the cluster is put back is ignored.
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  const password = typeof o.tidbPassword === "string"
    ? o.tidbPassword
    : process.env.TIBR_TIDB_PASSWORD ?? "";
  try {
    const result = await runRestore({
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
      sendCredentials: parseBool(
        "send-credentials-to-tikv",
        o.sendCredentialsToTikv as string | boolean | undefined,
      ),
      ...(typeof o.db === "string" ? { db: o.db } : {}),
      ...(typeof o.table === "string" ? { table: o.table } : {}),
      ...(Array.isArray(o.filter) ? { filter: o.filter.map(String) } : {}),
      caseSensitive: parseBool("case-sensitive", o.caseSensitive as string | boolean | undefined),
      ...(cipher ? { cipher } : {}),
      tidb: {
        ...(typeof o.tidbHost === "string" ? { host: o.tidbHost } : {}),
        ...(o.tidbPort !== undefined ? { port: Number(o.tidbPort) } : {}),
        ...(o.tidbStatusPort !== undefined ? { statusPort: Number(o.tidbStatusPort) } : {}),
        user: String(o.tidbUser ?? "root"),
        password,
      },
      concurrency: Number(o.concurrency),
      ddlBatchSize: Number(o.ddlBatchSize),
      rateLimitMiB: Number(o.ratelimit),
      checksum: parseBool("checksum", o.checksum as string | boolean | undefined),
      noSchema: o.schema === false,
      ...(o.loadStats !== undefined
        ? { loadStats: parseBool("load-stats", o.loadStats as string | boolean) }
        : {}),
      dryRun: o.dryRun === true,
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
      budgetMs: Number(o.backoffBudget) * 1000,
      useCheckpoint: parseBool("use-checkpoint", o.useCheckpoint as string | boolean | undefined),
      ...(typeof o.checkpointStorage === "string"
        ? { checkpointStorage: o.checkpointStorage }
        : {}),
      checkpointFlushIntervalMs: Number(o.checkpointFlushInterval) * 1000,
      signal: ac.signal,
    });
    if (o.output === "json") process.stdout.write(JSON.stringify(result) + "\n");
    else if ("kind" in result) process.stdout.write(restoreSummaryText(result));
    else process.stdout.write(dryRunText(result));
  } catch (err) {
    if (
      err instanceof RestoreConfigError || err instanceof FilterError ||
      err instanceof RestoreCheckpointError || isCheckpointError(err, "ConfigMismatch") ||
      isCheckpointError(err, "WrongKey") ||
      isStorageError(err, "ConfigInvalid") ||
      (err instanceof BackupMetaError && err.code === "Undecodable")
    ) {
      throw new UsageError((err as Error).message);
    }
    throw err;
  } finally {
    await status?.close();
  }
}

/** Registers `tibr restore` and its subcommands. */
export function registerRestore(program: Command): void {
  const restore = program.command("restore").description(
    "restore a backup into a cluster (schemas through a TiDB server, data through TiKV)",
  );
  addTableFlags(
    addCommon(restore.command("full").description("restore every table of the backup")),
  ).action((_o, cmd: Command) => action("full", cmd));
  addTableFlags(addCommon(restore.command("db").description("restore one database")))
    .requiredOption("--db <name>", "database to restore")
    .action((_o, cmd: Command) => action("db", cmd));
  addTableFlags(addCommon(restore.command("table").description("restore one table")))
    .requiredOption("--db <name>", "database of the table")
    .requiredOption("--table <name>", "table to restore")
    .action((_o, cmd: Command) => action("table", cmd));
  addCommon(restore.command("raw").description("restore a raw-KV backup"))
    .option("--start <key>", "first key (inclusive)", "")
    .option("--end <key>", "end key (exclusive; empty = to the end)", "")
    .addOption(
      new Option("--format <format>", "key format").choices(["hex", "raw", "escaped"]).default(
        "hex",
      ),
    )
    .option("--cf <cf>", "column family", "default")
    .action((_o, cmd: Command) => action("raw", cmd));
  addCommon(restore.command("txn").description("restore a transactional KV backup"))
    .action((_o, cmd: Command) => action("txn", cmd));
  for (const sub of restore.commands) orderHelp(sub, SHARED_FLAGS);
}
