/**
 * Logging set-up for command actions. Kept out of `main.ts` because an action cannot import
 * `main.ts`: that module is still in its top-level await while the action runs.
 * @module
 */
import type { Command } from "commander";
import process from "node:process";
import { LogFileError, type LogOptions, setupLogging } from "../log.ts";
import { UsageError } from "./errors.ts";

/** Global flags shared by every subcommand. */
export interface GlobalOptions {
  logLevel: LogOptions["level"];
  logFile?: string;
  logFormat: LogOptions["format"];
}

/** The root program of a (sub)command. */
export function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

/** Sets up logging from the global flags and says where the log goes, as BR does. */
export async function startLogging(cmd: Command): Promise<void> {
  const g = rootOf(cmd).opts<GlobalOptions>();
  let target: string;
  try {
    target = await setupLogging({
      level: g.logLevel,
      ...(g.logFile === undefined ? {} : { file: g.logFile }),
      format: g.logFormat,
    });
  } catch (err) {
    if (err instanceof LogFileError) throw new UsageError(err.message);
    throw err;
  }
  if (target !== "stderr") process.stderr.write(`Detail tibr log in ${target}\n`);
}
