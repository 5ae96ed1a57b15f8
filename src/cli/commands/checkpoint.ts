/**
 * `tibr checkpoint status` and `tibr checkpoint clean`: inspect and remove the checkpoint a
 * backup keeps under `checkpoints/backup/` in its storage.
 * @module
 */
import { type Command, Option } from "commander";
import process from "node:process";
import { startLogging } from "../logging.ts";
import { orderHelp } from "../help.ts";
import { addStorageFlags, openStorageFromFlags, storageFlags } from "../storage_flags.ts";

/** `tibr checkpoint status` flags (besides the storage flags, see storage_flags.ts). */
interface StatusFlags {
  output: "table" | "json";
}

/** `tibr checkpoint clean` flags (besides the storage flags). */
interface CleanFlags {
  force: boolean;
  lockOnly: boolean;
}

function open(cmd: Command) {
  return openStorageFromFlags(storageFlags(cmd.opts()));
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
  orderHelp(addStorageFlags(status));
  status.action(async (_o: unknown, cmd: Command) => {
    const opts = cmd.opts<StatusFlags>();
    await startLogging(cmd);
    const { checkpointStatus, formatStatus } = await import("../../checkpoint/status.ts");
    const storage = await open(cmd);
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
      "remove an unfinished backup's checkpoint, backup.lock and data files so the same backup " +
        "starts afresh (a finished backup is kept); refuses while a live lock says a backup is " +
        "running",
    )
    .option("--force", "remove even though the lock is live (its run must be gone)", false)
    .option("--lock-only", "remove only checkpoint.lock, keeping the checkpoint to resume", false);
  orderHelp(addStorageFlags(clean));
  clean.action(async (_o: unknown, cmd: Command) => {
    const opts = cmd.opts<CleanFlags>();
    await startLogging(cmd);
    const { cleanStorage } = await import("../../backup/clean.ts");
    const storage = await open(cmd);
    try {
      const r = await cleanStorage(storage, {
        force: opts.force,
        lockOnly: opts.lockOnly,
      });
      const uri = storage.uri();
      let text: string;
      if (opts.lockOnly) {
        text = r.checkpointFiles === 0
          ? `No lock file to remove at ${uri}\n`
          : `Removed 1 lock file from ${uri}\n`;
      } else if (r.checkpointFiles === 0 && r.backupFiles === 0) {
        text = `No checkpoint files to remove at ${uri}\n`;
      } else {
        text = `Removed ${r.checkpointFiles} checkpoint files` +
          (r.backupFiles > 0
            ? ` and ${r.backupFiles} files of the unfinished backup (backup.lock, data files)`
            : "") +
          ` from ${uri}` +
          (r.finished
            ? "; the finished backup there is kept"
            : "; the same backup command now starts afresh") +
          "\n";
      }
      process.stdout.write(text);
    } finally {
      await storage.close();
    }
  });
}
