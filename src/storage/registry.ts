/**
 * Finds the plugin for a storage location and opens it with the layers.
 *
 * Built-in plugins are listed with literal `import()` calls, so `bun build --compile` bundles
 * them while an SDK is loaded only when its scheme is used. Custom plugins come from files
 * named by `--storage-plugin` (repeatable) or `TIBR_STORAGE_PLUGINS` (a `:`-separated list),
 * loaded by dynamic import at run time, which works from the compiled binary too. A custom
 * plugin that serves a built-in scheme replaces the built-in one.
 * @module
 */
import { delimiter, resolve } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { isStorageError, StorageError } from "./errors.ts";
import { withGuard } from "./guard.ts";
import { composeLayers, type LayerOptions } from "./layers.ts";
import { checkName } from "./names.ts";
import type { StoragePlugin, StorageTarget } from "./plugin.ts";
import type { ExternalStorage } from "./types.ts";
import { parseLocation, type ParseOptions, redactUri, s3ForcePathStyle } from "./url.ts";
import { log } from "../log.ts";

function _warn(message: string): void {
  log("storage").warn(message);
}

/** A module that provides a plugin as its default export or as `plugin`. */
export interface PluginModule {
  /** The plugin, as the default export. */
  default?: unknown;
  /** The plugin, as a named export (used when there is no default). */
  plugin?: unknown;
}

/** The built-in plugins by scheme; each entry loads its module only when called. */
export const BUILTIN_PLUGINS: Readonly<Record<string, () => Promise<PluginModule>>> = {
  local: () => import("../../plugins/local/mod.ts"),
  file: () => import("../../plugins/local/mod.ts"),
  noop: () => import("../../plugins/noop/mod.ts"),
  memory: () => import("../../plugins/memory/mod.ts"),
  s3: () => import("../../plugins/s3/mod.ts"),
  gs: () => import("../../plugins/gcs/mod.ts"),
  gcs: () => import("../../plugins/gcs/mod.ts"),
  azure: () => import("../../plugins/azure/mod.ts"),
  azblob: () => import("../../plugins/azure/mod.ts"),
};

/** The environment variable listing custom plugin files. */
export const PLUGINS_ENV = "TIBR_STORAGE_PLUGINS";

function configError(operation: string, message: string, cause?: unknown): StorageError {
  return new StorageError(message, { code: "ConfigInvalid", operation, cause });
}

/** Checks that `value` is a StoragePlugin; `from` names where it came from for the error. */
export function asPlugin(value: unknown, from: string): StoragePlugin {
  const p = value as Partial<StoragePlugin> | undefined;
  const ok = typeof p === "object" && p !== null && typeof p.name === "string" &&
    Array.isArray(p.schemes) && p.schemes.length > 0 &&
    p.schemes.every((s) => typeof s === "string" && /^[a-z][a-z0-9+.-]*$/.test(s)) &&
    typeof p.open === "function" &&
    (p.options === undefined ||
      (Array.isArray(p.options) && p.options.every((o) => typeof o === "string")));
  if (!ok) {
    throw configError(
      "loadPlugin",
      `${from} does not export a storage plugin; export default definePlugin({ name, ` +
        "schemes: ['lowercase-scheme'], open }) (see docs/PLUGINS.md)",
    );
  }
  return p as StoragePlugin;
}

/** Loads a custom plugin file (`.ts` or `.js`) by dynamic import. */
export async function loadPluginFile(
  file: string,
  cwd: string = process.cwd(),
): Promise<StoragePlugin> {
  const path = resolve(cwd, file);
  let mod: PluginModule;
  try {
    mod = await import(pathToFileURL(path).href);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
    throw configError(
      "loadPlugin",
      `cannot load storage plugin ${path}: ${why}; check the path and that it is a .ts or .js ` +
        "module",
      cause,
    );
  }
  return asPlugin(mod.default ?? mod.plugin, `storage plugin ${path}`);
}

/** Custom plugin files named by `TIBR_STORAGE_PLUGINS` in `env`. */
export function pluginFilesFromEnv(env: Record<string, string | undefined>): string[] {
  return (env[PLUGINS_ENV] ?? "").split(delimiter).map((s) => s.trim()).filter((s) => s !== "");
}

/** Where plugins come from when resolving a scheme. */
export interface ResolveOptions {
  /** Custom plugin files (from `--storage-plugin`). */
  plugins?: readonly string[];
  /** Already loaded custom plugins (embedding, tests). */
  pluginObjects?: readonly StoragePlugin[];
  /** Environment for `TIBR_STORAGE_PLUGINS` (default: the process's). */
  env?: Record<string, string | undefined>;
  /** Base directory of relative plugin paths. */
  cwd?: string;
}

/** Every scheme a built-in plugin serves, sorted. */
export function builtinSchemes(): string[] {
  return Object.keys(BUILTIN_PLUGINS).sort();
}

/**
 * The plugin serving `scheme`: custom plugins first (files, then objects), then built-ins.
 * Unknown scheme: ConfigInvalid listing the known schemes and how to load a plugin.
 */
export async function resolvePlugin(
  scheme: string,
  opts: ResolveOptions = {},
): Promise<StoragePlugin> {
  const env = opts.env ?? process.env;
  const files = [...pluginFilesFromEnv(env), ...(opts.plugins ?? [])];
  const custom: StoragePlugin[] = [...(opts.pluginObjects ?? [])];
  for (const f of files) custom.push(await loadPluginFile(f, opts.cwd));
  // Later plugins win, so a flag overrides the environment.
  for (let i = custom.length - 1; i >= 0; i--) {
    if (custom[i]!.schemes.includes(scheme)) return custom[i]!;
  }
  const load = BUILTIN_PLUGINS[scheme];
  if (!load) {
    const known = [...new Set([...builtinSchemes(), ...custom.flatMap((p) => p.schemes)])].sort();
    throw configError(
      "open",
      `unknown storage scheme '${scheme}'; known schemes: ${known.join(", ")}; to use another, ` +
        `load a plugin with --storage-plugin FILE or ${PLUGINS_ENV}`,
    );
  }
  const mod = await load();
  return asPlugin(mod.default ?? mod.plugin, `the built-in ${scheme} plugin`);
}

/** Options of `openStorage`. */
export interface OpenStorageOptions extends ResolveOptions {
  /** Flag values keyed `<group>.<option>` (`s3.endpoint`); URL options win over them. */
  flags?: ParseOptions["flags"];
  /** Cancels opening. */
  signal?: AbortSignal;
  /** Told about options BR would ignore (they are dropped); default: a log warning. */
  warn?: (message: string) => void;
  /** Layer settings, or `false` for the plugin's storage with only the argument guard. */
  layers?: LayerOptions | false;
  /**
   * Deadline of loading the plugin's module and of its `open()`, ms (default
   * DEFAULT_STORAGE_TIMEOUT_MS): a plugin that never settles fails in one line naming it.
   */
  timeoutMs?: number;
}

/** Default of `--storage-timeout`: 60 s for loading a plugin and for its `open()`. */
export const DEFAULT_STORAGE_TIMEOUT_MS = 60_000;

/**
 * `work` under a deadline: rejects with ConfigInvalid naming `what` when it has not settled
 * within `ms`. `abort` is told, so the plugin can stop what it started.
 */
async function withDeadline<T>(
  what: string,
  ms: number,
  work: (signal: AbortSignal) => Promise<T>,
  parent?: AbortSignal,
): Promise<T> {
  const ctl = new AbortController();
  const onParent = () => ctl.abort(parent!.reason);
  parent?.addEventListener("abort", onParent, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new StorageError(
        `${what} did not finish within ${ms / 1000} s (--storage-timeout); check the plugin ` +
          "and that its service answers, or raise --storage-timeout",
        { code: "Unexpected", operation: "open" },
      );
      ctl.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([work(ctl.signal), timeout]);
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener("abort", onParent);
  }
}

/**
 * The target `openStorage` hands its plugin: `location` parsed with the flags (URL options win),
 * and S3's `force-path-style` settled as BR's command line settles it.
 */
export function resolveTarget(
  location: string,
  opts: Pick<OpenStorageOptions, "flags" | "warn" | "cwd"> = {},
): StorageTarget {
  const target = parseLocation(location, {
    ...(opts.flags ? { flags: opts.flags } : {}),
    ...(opts.warn ? { warn: opts.warn } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  if (target.scheme === "s3") {
    // As BR's command line: true unless given, then cleared where virtual-hosted style is due.
    target.options["force-path-style"] = String(s3ForcePathStyle(location, target.options));
  }
  return target;
}

/**
 * Opens the storage at `location` (a path or URL): parses it, finds the plugin, checks the
 * options against the plugin's list, opens it and wraps it in the layers (see `layers.ts`).
 */
export async function openStorage(
  location: string,
  opts: OpenStorageOptions = {},
): Promise<ExternalStorage> {
  const target = resolveTarget(location, opts);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_STORAGE_TIMEOUT_MS;
  const plugin = await withDeadline(
    `loading the storage plugin for '${target.scheme}'`,
    timeoutMs,
    () => resolvePlugin(target.scheme, opts),
    opts.signal,
  );
  if (plugin.options) {
    // BR ignores options its backend does not define; so does tibr, saying so.
    const allowed = new Set(plugin.options);
    for (const key of Object.keys(target.options)) {
      if (!allowed.has(key)) {
        delete target.options[key];
        (opts.warn ?? _warn)(
          `ignoring unknown option '${key}' for ${target.scheme} storage in ` +
            `'${redactUri(location)}'` +
            (plugin.options.length
              ? ` (valid options: ${[...plugin.options].sort().join(", ")})`
              : ` (${plugin.name} takes no options)`),
        );
      }
    }
  }
  const env = opts.env ?? process.env;
  let storage: ExternalStorage;
  try {
    storage = await withDeadline(
      `opening '${redactUri(location)}' with the ${plugin.name} plugin`,
      timeoutMs,
      (signal) => plugin.open(target, { env, signal, StorageError, checkName }),
      opts.signal,
    );
  } catch (err) {
    if (isStorageError(err)) throw err;
    const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new StorageError(
      `cannot open '${redactUri(location)}' with the ${plugin.name} plugin: ${why}`,
      {
        code: "Unexpected",
        operation: "open",
        cause: err,
      },
    );
  }
  log("storage").debug("opened {uri} with plugin {plugin}", {
    uri: storage.uri(),
    plugin: plugin.name,
  });
  return opts.layers === false ? withGuard(storage) : composeLayers(storage, opts.layers);
}
