/**
 * The storage plugin API. A plugin turns a parsed storage location into an ExternalStorage.
 * Built-in plugins live in `plugins/<name>/mod.ts`; custom ones are loaded at run time
 * (`--storage-plugin FILE`) and use the same API, exported from `mod.ts`.
 * @module
 */
import type { StorageError } from "./errors.ts";
import type { ExternalStorage } from "./types.ts";

/** A storage location, parsed from a URL or bare path plus `--<prefix>.*` flags. */
export interface StorageTarget {
  /** The URL scheme without `:` (`s3`, `local`, ...); bare paths are `local`. */
  scheme: string;
  /** Bucket / container / account-level name (the URL host); empty for local paths. */
  bucket: string;
  /** Path inside the bucket (no leading or trailing `/`), or the local directory path. */
  prefix: string;
  /**
   * Options from the URL query and the matching flags, flags winning, with canonical
   * dash-separated names (`access-key`, `force-path-style`). May hold secrets: never log it.
   */
  options: Record<string, string>;
}

/** What the host gives a plugin when opening a storage. */
export interface PluginContext {
  /** Environment variables, for credential fallbacks (AWS_*, AZURE_STORAGE_*, ...). */
  env: Record<string, string | undefined>;
  /** Cancels opening (for example a slow credential lookup). */
  signal?: AbortSignal;
  /**
   * The host's StorageError class. A plugin file loaded at run time can throw these without
   * importing tibr; errors from its own copy of `errors.ts` are recognised too.
   */
  StorageError: typeof StorageError;
  /** Throws `ConfigInvalid` for a name that is empty, absolute or has `..` segments. */
  checkName(name: string, operation: string): void;
}

/**
 * What a plugin declares about its options, in an SDK-free module of its own
 * (`plugins/<name>/options.ts`): the URL parser reads it to merge `--<group>.*` flags, to tell
 * boolean flags apart and to mask secrets, without loading the plugin's SDK.
 */
export interface PluginOptionSpec {
  /** URL schemes the options apply to. */
  schemes: readonly string[];
  /** The flag group: `--<group>.<option>`. */
  group: string;
  /** Shown in the flags' help (`S3`, `Azure Blob`). */
  title: string;
  /** Every option the plugin accepts, canonical dash names. */
  options: readonly string[];
  /** Options read as booleans (Go's ParseBool spellings). */
  booleans: readonly string[];
  /** Options whose values are credentials: never printed, logged or put in `uri()`. */
  secrets: readonly string[];
}

/** A storage plugin. */
export interface StoragePlugin {
  /** Short name shown in errors and `tibr storage check`. */
  name: string;
  /** URL schemes this plugin serves, without `:`. */
  schemes: string[];
  /** Option names this plugin accepts; any other option is rejected with ConfigInvalid. */
  options?: string[];
  /** Opens the storage. Validates options and throws StorageError(ConfigInvalid) on bad input. */
  open(target: StorageTarget, ctx: PluginContext): Promise<ExternalStorage>;
}

/** Declares a plugin; the identity function that gives plugin modules their types. */
export function definePlugin(plugin: StoragePlugin): StoragePlugin {
  return plugin;
}
