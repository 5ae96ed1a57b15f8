/**
 * The subcommand table. Each entry registers one top-level command; its implementation is
 * imported only when that command runs, keeping `tibr --help` and `--version` fast.
 * @module
 */
import type { Command } from "commander";
import { registerBackup } from "./backup.ts";
import { registerCheckpoint } from "./checkpoint.ts";
import { registerExport } from "./export.ts";
import { registerPlayground } from "./playground.ts";
import { registerRestore } from "./restore.ts";
import { registerStorage } from "./storage.ts";

/** Registers a subcommand on the root program. */
export type RegisterCommand = (program: Command) => void;

/** Every top-level subcommand, in `--help` order. */
export const COMMANDS: RegisterCommand[] = [
  registerBackup,
  registerRestore,
  registerCheckpoint,
  registerExport,
  registerStorage,
  registerPlayground,
];
