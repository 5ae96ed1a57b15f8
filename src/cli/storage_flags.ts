/**
 * The storage flags every command that opens storage shares: `-s/--storage`, repeatable
 * `--storage-plugin`, and BR's `--s3.*`, `--gcs.*`, `--azblob.*` options (same names as the URL
 * query options; as in BR, an option in the URL wins over its flag).
 * @module
 */
import { type Command, Option } from "commander";
import type { OpenStorageOptions } from "../storage/registry.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { UsageError } from "./errors.ts";
import { STORAGE_HELP_GROUP } from "./help.ts";
import { parseBool, secondsFlag } from "./flags.ts";
import { BOOLEAN_OPTIONS, BUILTIN_OPTION_SPECS, SECRET_OPTIONS } from "../storage/url.ts";

/** What the storage flags parse to, ready for `openStorage`. */
export interface StorageFlags {
  /** The `-s/--storage` location (path or URL). */
  location: string;
  /** `--<group>.<option>` values keyed `s3.endpoint`, ... (only those given). */
  flags: Record<string, string>;
  /** `--storage-plugin` files, in order. */
  plugins: string[];
  /** `--storage-timeout`, ms: deadline of loading the plugin and of its `open()`. */
  timeoutMs: number;
}

const GROUPS: Array<[string, readonly string[], string]> = BUILTIN_OPTION_SPECS.map((s) => [
  s.group,
  s.options,
  s.title,
]);

/** Flag attribute name (as commander stores it) -> `group.option`. */
const ATTRIBUTES = new Map<string, string>();
/** `group.option` of the boolean options. */
const BOOLEAN_KEYS = new Set<string>();

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Adds the storage flags to `cmd`. `-s/--storage` is mandatory unless `optionalStorage`.
 * Secret options are accepted as flags for BR compatibility; the help suggests the environment.
 */
export function addStorageFlags(cmd: Command, optionalStorage = false): Command {
  const storage = new Option(
    "-s, --storage <url>",
    "backup storage: a path, local:///abs/path, s3://bucket/prefix, gcs://..., azure://..., noop://",
  );
  if (optionalStorage) cmd.addOption(storage);
  else cmd.addOption(storage.makeOptionMandatory());
  cmd.addOption(
    new Option(
      "--storage-plugin <file>",
      "load a storage plugin module (.ts or .js); repeatable; also TIBR_STORAGE_PLUGINS",
    ).argParser(collect).helpGroup(STORAGE_HELP_GROUP),
  );
  cmd.addOption(
    new Option(
      "--storage-timeout <seconds>",
      "give up when loading the storage plugin or opening the storage takes longer",
    ).argParser(secondsFlag("storage-timeout")).default(60_000, "60").helpGroup(
      STORAGE_HELP_GROUP,
    ),
  );
  for (const [group, options, label] of GROUPS) {
    for (const name of options) {
      const flag = BOOLEAN_OPTIONS.has(name)
        ? `--${group}.${name} [bool]`
        : `--${group}.${name} <value>`;
      const secret = SECRET_OPTIONS.has(name) ? " (a secret: prefer the environment)" : "";
      const opt = new Option(flag, `${label} ${name.replaceAll("-", " ")}${secret}`)
        .helpGroup(STORAGE_HELP_GROUP);
      ATTRIBUTES.set(opt.attributeName(), `${group}.${name}`);
      if (BOOLEAN_OPTIONS.has(name)) BOOLEAN_KEYS.add(`${group}.${name}`);
      cmd.addOption(opt);
    }
  }
  return cmd;
}

/** Reads the storage flags back from a command's parsed options. */
export function storageFlags(opts: Record<string, unknown>): StorageFlags {
  const flags: Record<string, string> = {};
  for (const [attr, key] of ATTRIBUTES) {
    const v = opts[attr];
    if (v === undefined) continue;
    // Booleans through the one parser (BR's spellings), so a bad one is a usage error here.
    flags[key] = BOOLEAN_KEYS.has(key) ? String(parseBool(key, v as string | boolean)) : String(v);
  }
  return {
    location: typeof opts.storage === "string" ? opts.storage : "",
    flags,
    plugins: Array.isArray(opts.storagePlugin) ? opts.storagePlugin.map(String) : [],
    timeoutMs: typeof opts.storageTimeout === "number" ? opts.storageTimeout : 60_000,
  };
}

/**
 * Opens the storage the flags name (registry and plugins load lazily, here). A bad location,
 * option or plugin file becomes a UsageError (exit 2); other failures pass through (exit 1).
 */
export async function openStorageFromFlags(
  f: StorageFlags,
  extra: Omit<OpenStorageOptions, "flags" | "plugins"> = {},
): Promise<ExternalStorage> {
  const { openStorage } = await import("../storage/registry.ts");
  const { isStorageError } = await import("../storage/errors.ts");
  try {
    return await openStorage(f.location, {
      timeoutMs: f.timeoutMs,
      ...extra,
      flags: f.flags,
      plugins: f.plugins,
    });
  } catch (err) {
    if (isStorageError(err, "ConfigInvalid")) throw new UsageError(err.message, { cause: err });
    throw err;
  }
}
