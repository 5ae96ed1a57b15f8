/**
 * Storage locations as BR writes them: a bare path, `local://`, `file://`, `noop://`,
 * `memory://`, `s3://bucket/prefix`, `gs://`/`gcs://`, `azure://`/`azblob://`, with BR's query
 * options merged with the `--s3.*`, `--gcs.*`, `--azblob.*` flags (flags win).
 *
 * Option names are canonical dash names (`secret-access-key`); like BR, a query key is matched
 * case-insensitively with `_` read as `-` (`secret_access_key`, `Access-Key`). Unlike Go's and
 * WHATWG's query parsers, `+` stays `+` (AWS secrets contain it; BR rewrites it to `%2B` for the
 * same reason).
 * @module
 */
import { resolve } from "node:path";
import process from "node:process";
import { StorageError } from "./errors.ts";
import type { PluginOptionSpec, StorageTarget } from "./plugin.ts";
import { AZURE_OPTION_SPEC } from "../../plugins/azure/options.ts";
import { GCS_OPTION_SPEC } from "../../plugins/gcs/options.ts";
import { S3_OPTION_SPEC } from "../../plugins/s3/options.ts";

/**
 * The built-in plugins' option specs. Each plugin owns its list in an SDK-free module; the
 * parser only reads them (importing the core still loads no SDK).
 */
export const BUILTIN_OPTION_SPECS: readonly PluginOptionSpec[] = [
  S3_OPTION_SPEC,
  GCS_OPTION_SPEC,
  AZURE_OPTION_SPEC,
];

/** S3 options (BR's `S3BackendOptions` JSON names). */
export const S3_OPTIONS: readonly string[] = S3_OPTION_SPEC.options;
/** GCS options (BR's `GCSBackendOptions`). */
export const GCS_OPTIONS: readonly string[] = GCS_OPTION_SPEC.options;
/** Azure Blob options (BR's `AzblobBackendOptions`). */
export const AZBLOB_OPTIONS: readonly string[] = AZURE_OPTION_SPEC.options;

/** Options that are booleans (`true`/`false`, `1`/`0`, as Go's ParseBool). */
export const BOOLEAN_OPTIONS: ReadonlySet<string> = new Set(
  BUILTIN_OPTION_SPECS.flatMap((s) => s.booleans),
);

/** Options whose values are credentials: never printed, logged, or put in `uri()`. */
export const SECRET_OPTIONS: ReadonlySet<string> = new Set(
  BUILTIN_OPTION_SPECS.flatMap((s) => s.secrets),
);

/** The flag group (`--<group>.<option>`) for each built-in URL scheme. */
export const FLAG_GROUPS: Readonly<Record<string, { group: string; options: readonly string[] }>> =
  Object.fromEntries(
    BUILTIN_OPTION_SPECS.flatMap((spec) =>
      spec.schemes.map((scheme) => [scheme, { group: spec.group, options: spec.options }])
    ),
  );

/** Schemes that name a bucket/container in the URL host, which is then required. */
const BUCKET_SCHEMES = new Set(["s3", "gs", "gcs", "azure", "azblob"]);
const LOCAL_SCHEMES = new Set(["local", "file"]);
/** Schemes recognised even when written without `//`, to report a malformed URL. */
const KNOWN_SCHEMES = new Set([...BUCKET_SCHEMES, ...LOCAL_SCHEMES, "noop", "memory", "hdfs"]);

/** How a location string is read. */
export interface ParseOptions {
  /**
   * Flag values keyed `<group>.<option>` (`s3.endpoint`, `azblob.account-key`); only the group
   * of the URL's scheme applies. Empty values count as unset.
   */
  flags?: Record<string, string | boolean | undefined>;
  /** Base for relative bare paths (default: the process's working directory). */
  cwd?: string;
}

/** BR's rule for query keys: case-insensitive, `_` read as `-`. */
export function normalizeOptionName(key: string): string {
  return key.toLowerCase().replaceAll("_", "-");
}

function invalid(message: string): StorageError {
  return new StorageError(message, { code: "ConfigInvalid", operation: "parse" });
}

function decode(text: string, what: string, shown: string): string {
  try {
    return decodeURIComponent(text);
  } catch (cause) {
    throw new StorageError(
      `malformed percent-encoding in ${what} of ${shown}; encode '%' as %25`,
      { code: "ConfigInvalid", operation: "parse", cause },
    );
  }
}

/** The flag group of a scheme: `s3`, `gcs`, `azblob`, or the scheme itself for others. */
export function flagGroupOf(scheme: string): string {
  return FLAG_GROUPS[scheme]?.group ?? scheme;
}

const URL_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?$/;

/**
 * Parses a storage location into a `StorageTarget`. Throws `StorageError(ConfigInvalid)` with
 * one line naming the problem and the fix for empty input, a malformed URL, a missing bucket,
 * credentials in the URL's user part, or a `..` in a bucket prefix. Unknown schemes parse (a
 * custom plugin may serve them); the registry reports them.
 */
export function parseLocation(location: string, opts: ParseOptions = {}): StorageTarget {
  // Quoted: the CLI's own masking of `key=value` text stops at a quote, not at ';'.
  const shown = `'${redactUri(location)}'`;
  if (location.trim() === "") {
    throw invalid("empty storage location; pass -s/--storage with a directory path or a URL");
  }
  const m = URL_RE.exec(location);
  if (!m) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(location)?.[1]?.toLowerCase();
    if (scheme !== undefined && (KNOWN_SCHEMES.has(scheme) || location.includes("://"))) {
      throw invalid(
        `malformed storage URL ${shown}; write it as ${scheme}://<bucket>/<prefix>` +
          (LOCAL_SCHEMES.has(scheme) ? ` (or ${scheme}:///absolute/path)` : ""),
      );
    }
    if (location.includes("?")) {
      throw invalid(
        `the storage path ${shown} has a '?': options need a URL such as s3://bucket/prefix?...`,
      );
    }
    const path = resolve(opts.cwd ?? process.cwd(), location);
    return { scheme: "local", bucket: "", prefix: trimLocal(path), options: {} };
  }
  const scheme = m[1]!.toLowerCase();
  const authority = m[2] ?? "";
  const rawPath = m[3] ?? "";
  const rawQuery = m[4];
  if (authority.includes("@")) {
    throw invalid(
      `credentials in the user part of ${shown} are not supported; pass them as query options ` +
        "(access-key=..., account-key=...), flags, or environment variables",
    );
  }
  const options = parseQuery(rawQuery, shown);
  applyFlags(options, scheme, opts.flags);
  const path = decode(rawPath, "the path", shown);

  if (LOCAL_SCHEMES.has(scheme)) {
    const host = decode(authority, "the host", shown);
    if (host !== "" && host !== "localhost") {
      throw invalid(
        `${shown} names host '${host}'; a local path needs three slashes: ${scheme}:///abs/path`,
      );
    }
    if (path === "" || path === "/") {
      throw invalid(`${shown} has no directory; write ${scheme}:///absolute/path/to/backup`);
    }
    return { scheme, bucket: "", prefix: trimLocal(resolve("/", path)), options };
  }

  const bucket = decode(authority, "the host", shown);
  if (BUCKET_SCHEMES.has(scheme) && bucket === "") {
    throw invalid(
      `missing bucket in ${shown}; write ${scheme}://<bucket>/<prefix>` +
        (scheme.startsWith("az") ? " (the bucket is the container name)" : ""),
    );
  }
  const prefix = path.replace(/^\/+|\/+$/g, "");
  if (prefix.split("/").some((seg) => seg === ".." || seg === ".")) {
    throw invalid(`the prefix of ${shown} has a '.' or '..' segment; use a plain path`);
  }
  return { scheme, bucket, prefix, options };
}

function trimLocal(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

function parseQuery(raw: string | undefined, shown: string): Record<string, string> {
  const options: Record<string, string> = {};
  if (raw === undefined || raw === "") return options;
  for (const part of raw.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = normalizeOptionName(decode(eq < 0 ? part : part.slice(0, eq), "an option", shown));
    const value = eq < 0 ? "" : decode(part.slice(eq + 1), `option '${key}'`, shown);
    // Like Go's Query().Get: the first occurrence wins.
    if (!(key in options)) options[key] = value;
  }
  return options;
}

function applyFlags(
  options: Record<string, string>,
  scheme: string,
  flags: ParseOptions["flags"],
): void {
  if (!flags) return;
  const group = flagGroupOf(scheme);
  for (const [rawKey, value] of Object.entries(flags)) {
    if (value === undefined || value === "") continue;
    const key = normalizeOptionName(rawKey);
    const dot = key.indexOf(".");
    if (dot < 0 || key.slice(0, dot) !== group) continue;
    options[key.slice(dot + 1)] = String(value);
  }
}

/**
 * Reads a boolean option as Go's `strconv.ParseBool` does (`1`, `t`, `true`, `0`, `f`,
 * `false`, any case); an empty value (`?force-path-style`) means true. Throws ConfigInvalid
 * for anything else, where BR would silently ignore it.
 */
export function boolOption(target: StorageTarget, name: string, fallback: boolean): boolean {
  const raw = target.options[name];
  if (raw === undefined) return fallback;
  const v = raw.toLowerCase();
  if (v === "" || v === "1" || v === "t" || v === "true") return true;
  if (v === "0" || v === "f" || v === "false") return false;
  throw invalid(`option '${name}' must be true or false, not ${JSON.stringify(raw)}`);
}

/**
 * The canonical URL of a target with no options, as BR's `FormatBackendURL`: what `uri()`
 * returns and what is safe to log.
 */
export function targetUri(target: StorageTarget): string {
  if (target.scheme === "local" || target.scheme === "file") return `local://${target.prefix}`;
  const path = target.prefix === "" ? "" : `/${target.prefix}`;
  return `${target.scheme}://${target.bucket}${path}`;
}

/**
 * A location string with credentials masked: the URL's user part is dropped and the values of
 * secret options (`secret-access-key`, `account-key`, `sas-token`, ...) become `redacted`.
 * Other text is returned unchanged, so it is safe to call on anything the user typed.
 */
export function redactUri(text: string): string {
  return text
    .replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#@]*@/, "$1")
    .replace(/([?&])([^=&#]*)=([^&#]*)/g, (all, sep: string, key: string) => {
      let name: string;
      try {
        name = normalizeOptionName(decodeURIComponent(key));
      } catch {
        name = normalizeOptionName(key);
      }
      return SECRET_OPTIONS.has(name) || /(^|-)(sig|signature|token|secret)$/.test(name)
        ? `${sep}${key}=redacted`
        : all;
    });
}
