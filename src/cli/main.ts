/**
 * The `tibr` command line: global flags as in BR, then subcommands. Subcommand code is
 * imported lazily so `tibr --version` and `tibr --help` start fast.
 * @module
 */
import { Command, CommanderError, Option } from "commander";
import process from "node:process";
import { keepHeapTight } from "../heap.ts";
import { LOG_LEVELS } from "../log.ts";
import { VERSION, versionText } from "../version.ts";
import { COMMANDS } from "./commands/mod.ts";
import type { GlobalOptions } from "./logging.ts";
import { EXIT_FAILURE, EXIT_USAGE, oneLine, UsageError } from "./errors.ts";

/** Builds the command tree. Exported for tests. */
export function buildProgram(): Command {
  const program = new Command("tibr")
    .description("Backup and restore for TiKV/TiDB clusters (a TypeScript BR)")
    .version(versionText(), "-V, --version", "print version information and exit")
    .addOption(
      new Option("-L, --log-level <level>", "log level").choices(LOG_LEVELS).default("info"),
    )
    .option("--log-file <path>", "log file path; '-' logs to stderr (default: a file in /tmp)")
    .addOption(
      new Option("--log-format <format>", "log format").choices(["text", "json"]).default("text"),
    )
    .showSuggestionAfterError(true)
    .exitOverride();
  for (const register of COMMANDS) register(program);
  return program;
}

/** Runs the CLI with `argv` (without the runtime and script) and returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.configureOutput({
    writeErr: (s) => process.stderr.write(s),
    writeOut: (s) => process.stdout.write(s),
  });
  // Runs that last (backup, restore, the playground) keep their heap near its live size.
  const stopKeeper = keepHeapTight();
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === "commander.helpDisplayed" || err.code === "commander.version" ||
        err.code === "commander.help"
      ) return 0;
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    const debug = program.opts<GlobalOptions>().logLevel === "debug";
    await _logFinalError(err, debug);
    process.stderr.write(`Error: ${oneLine(err)}\n`);
    return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  } finally {
    const keeper = stopKeeper();
    if (keeper && keeper.collections > 0) {
      const { log } = await import("../log.ts");
      log("tibr").info("heap keeper: {n} full collections, {ms} ms", {
        n: keeper.collections,
        ms: Math.round(keeper.ms),
      });
    }
  }
}

/**
 * The log ends with the error that ended the run, as BR's does; at `-L debug` with its stack
 * (source locations come from the source map the binary carries). Stderr keeps one line.
 */
async function _logFinalError(err: unknown, debug: boolean): Promise<void> {
  const { logFinalError } = await import("../log.ts");
  const stack = debug && err instanceof Error ? err.stack : undefined;
  await logFinalError(oneLine(err), stack);
}

// No top-level await: the binary is compiled to bytecode (`bun build --bytecode`), which needs
// modules that finish evaluating synchronously.
if (import.meta.main) {
  run(process.argv.slice(2)).then(async (code) => {
    const { flushLogs } = await import("../log.ts");
    await flushLogs();
    process.exit(code);
  });
}

export { VERSION };
