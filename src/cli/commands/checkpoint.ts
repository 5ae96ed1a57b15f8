/**
 * `tibr checkpoint status` and `tibr checkpoint clean`: inspect and remove the checkpoint a
 * backup keeps under `checkpoints/backup/` in its storage.
 * @module
 */
import { type Command, Option } from "commander";
import process from "node:process";
import { addStorageFlags, openStorageFromFlags, storageFlags } from "../storage_flags.ts";

function root(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

/**
 * Sets up logging from the global flags, as `startLogging` in `main.ts` does; that one cannot
 * be imported from an action (`main.ts` is still in its top-level await, so it would deadlock).
 */
async function startLogging(program: Command): Promise<void> {
  const { setupLogging } = await import("../../log.ts");
  const g = program.opts<
    {
      logLevel: "debug" | "info" | "warn" | "error" | "fatal";
      logFile?: string;
      logFormat: "text" | "json";
    }
  >();
  const target = await setupLogging({
    level: g.logLevel,
    ...(g.logFile === undefined ? {} : { file: g.logFile }),
    format: g.logFormat,
  });
  if (target !== "stderr") process.stderr.write(`Detail tibr log in ${target}\n`);
}

function open(opts: Record<string, unknown>) {
  return openStorageFromFlags(storageFlags(opts));
}

/** Registers `tibr checkpoint` with `status` and `clean`. */
export function registerCheckpoint(program: Command): void {
  const checkpoint = program
    .command("checkpoint")
    .description("inspect or remove the checkpoint of an interrupted backup");

  const status = checkpoint
    .command("status")
    .description(
      "show a checkpoint's progress (ranges done, files, backup ts, last flush) and its lock",
    )
    .addOption(
      new Option("--output <format>", "output format").choices(["table", "json"]).default("table"),
    );
  addStorageFlags(status);
  status.action(async (opts: Record<string, unknown>, cmd: Command) => {
    await startLogging(root(cmd));
    const { checkpointStatus, formatStatus } = await import("../../checkpoint/status.ts");
    const storage = await open(opts);
    try {
      const s = await checkpointStatus(storage);
      process.stdout.write(
        opts.output === "json" ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s),
      );
    } finally {
      await storage.close();
    }
  });

  const clean = checkpoint
    .command("clean")
    .description(
      "remove the checkpoint (not the backup); refuses while a live lock says a backup is running",
    )
    .option("--force", "remove even though the lock is live (its run must be gone)", false)
    .option("--lock-only", "remove only checkpoint.lock, keeping the checkpoint to resume", false);
  addStorageFlags(clean);
  clean.action(async (opts: Record<string, unknown>, cmd: Command) => {
    await startLogging(root(cmd));
    const { cleanCheckpoint } = await import("../../checkpoint/status.ts");
    const storage = await open(opts);
    try {
      const removed = await cleanCheckpoint(storage, {
        force: opts.force === true,
        lockOnly: opts.lockOnly === true,
      });
      const what = opts.lockOnly === true ? "lock file" : "checkpoint files";
      process.stdout.write(
        removed === 0
          ? `No ${what} to remove at ${storage.uri()}\n`
          : `Removed ${removed} ${what} from ${storage.uri()}\n`,
      );
    } finally {
      await storage.close();
    }
  });
}
