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
import { log } from "../log.ts";
import { parseBool } from "../util/bool.ts";
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
   * of the URL's scheme applies. Empty values count as unset. As in BR (`ExtractQueryParameters`
   * writes the query over the flag values), an option in the URL wins over its flag.
   */
  flags?: Record<string, string | boolean | undefined>;
  /** Base for relative bare paths (default: the process's working directory). */
  cwd?: string;
  /**
   * Told about each query option BR would ignore (unknown to the scheme, or a boolean that is
   * not one); the option is dropped. Default: a warning in the log.
   */
  warn?: (message: string) => void;
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
const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):/;

function _defaultWarn(message: string): void {
  log("storage").warn(message);
}

/**
 * Parses a storage location into a `StorageTarget`, as BR's `ParseBackend` reads it. Throws
 * `StorageError(ConfigInvalid)` with one line naming the problem and the fix for empty input,
 * a malformed URL (Go's `url.Parse` refusals: `:`, `1invalid:`), a missing bucket, credentials
 * in the URL's user part, or a `..` in a bucket prefix. Unknown schemes parse (a custom plugin
 * may serve them); the registry reports them. For the built-in cloud schemes, a query option
 * BR does not know, or a boolean option that is not one, is reported to `opts.warn` and
 * dropped, as BR ignores it.
 */
export function parseLocation(location: string, opts: ParseOptions = {}): StorageTarget {
  // Quoted: the CLI's own masking of `key=value` text stops at a quote, not at ';'.
  const shown = `'${redactUri(location)}'`;
  if (location.trim() === "") {
    throw invalid("empty storage location; pass -s/--storage with a directory path or a URL");
  }
  const m = URL_RE.exec(location);
  if (!m) {
    const scheme = SCHEME_RE.exec(location)?.[1]?.toLowerCase();
    if (scheme !== undefined && (KNOWN_SCHEMES.has(scheme) || location.includes("://"))) {
      throw invalid(
        `malformed storage URL ${shown}; write it as ${scheme}://<bucket>/<prefix>` +
          (LOCAL_SCHEMES.has(scheme) ? ` (or ${scheme}:///absolute/path)` : ""),
      );
    }
    if (scheme !== undefined) {
      // Go's url.Parse reads `net:storage` as scheme `net`: BR then names the scheme as
      // unsupported, and so does the registry (unless a plugin serves it).
      const rest = location.slice(scheme.length + 1);
      return { scheme, bucket: "", prefix: decode(rest, "the path", shown), options: {} };
    }
    if (location.startsWith(":")) {
      throw invalid(`${shown} is missing a protocol scheme; write a path or a URL such as s3://`);
    }
    if (location.split("/", 1)[0]!.includes(":")) {
      throw invalid(
        `the first path segment of ${shown} cannot contain a colon (as in BR); ` +
          "write ./ before a relative path, or a URL such as s3://bucket/prefix",
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
  const options = _flagOptions(scheme, opts.flags);
  const query = parseQuery(rawQuery, shown);
  _checkKnown(scheme, query, opts.warn ?? _defaultWarn, shown);
  Object.assign(options, query);
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
    // As for buckets: a URL names its place plainly (the check is on the decoded path, so %2e%2e
    // is refused too).
    if (path.split("/").some((seg) => seg === ".." || seg === ".")) {
      throw invalid(`the path of ${shown} has a '.' or '..' segment; use a plain absolute path`);
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

/**
 * BR's `ExtractQueryParameters`: only the option names of the scheme's `*BackendOptions` are
 * read, and a boolean that `strconv.ParseBool` refuses leaves the field as it was. Both are
 * dropped here, with a warning rather than BR's silence.
 */
function _checkKnown(
  scheme: string,
  query: Record<string, string>,
  warn: (message: string) => void,
  shown: string,
): void {
  const known = FLAG_GROUPS[scheme]?.options;
  if (known === undefined) return;
  for (const [key, value] of Object.entries(query)) {
    if (!known.includes(key)) {
      delete query[key];
      warn(`ignoring unknown ${scheme} option '${key}' in ${shown}`);
    } else if (BOOLEAN_OPTIONS.has(key) && parseBool(value) === undefined) {
      delete query[key];
      warn(
        `ignoring ${scheme} option '${key}' in ${shown}: ${JSON.stringify(value)} is not a boolean`,
      );
    }
  }
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

function _flagOptions(
  scheme: string,
  flags: ParseOptions["flags"],
): Record<string, string> {
  const options: Record<string, string> = {};
  if (!flags) return options;
  const group = flagGroupOf(scheme);
  for (const [rawKey, value] of Object.entries(flags)) {
    if (value === undefined || value === "") continue;
    const key = normalizeOptionName(rawKey);
    const dot = key.indexOf(".");
    if (dot < 0 || key.slice(0, dot) !== group) continue;
    options[key.slice(dot + 1)] = String(value);
  }
  return options;
}

/**
 * Reads a boolean option as Go's `strconv.ParseBool` does (`src/util/bool.ts`).
 * `parseLocation` has already dropped values it refuses.
 */
export function boolOption(target: StorageTarget, name: string, fallback: boolean): boolean {
  const raw = target.options[name];
  return raw === undefined ? fallback : (parseBool(raw) ?? fallback);
}

/** Go's `url.URL.EscapedPath` rule: what a path segment keeps unescaped. */
const PATH_SAFE = /[A-Za-z0-9\-_.~$&+,/:;=@]/;

/** A path escaped as Go's `url.URL.String()` writes it (`some prefix` -> `some%20prefix`). */
export function escapePath(path: string): string {
  let out = "";
  for (const ch of path) {
    if (PATH_SAFE.test(ch)) out += ch;
    else {
      for (const b of new TextEncoder().encode(ch)) {
        out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
      }
    }
  }
  return out;
}

/**
 * The canonical URL of a target with no options, as BR's `FormatBackendURL`: what `uri()`
 * returns and what is safe to log. Like BR, `gs` is written `gcs`, `azblob` is written
 * `azure`, `noop` is `noop:///`, and the path is percent-encoded.
 */
export function targetUri(target: StorageTarget): string {
  if (target.scheme === "local" || target.scheme === "file") {
    return `local://${escapePath(target.prefix)}`;
  }
  if (target.scheme === "noop") return "noop:///";
  const scheme = target.scheme === "gs"
    ? "gcs"
    : target.scheme === "azblob"
    ? "azure"
    : target.scheme;
  // Go's URL.String puts a `/` between host and a path that lacks one.
  const slash = target.prefix === "" || target.prefix.startsWith("/") ? "" : "/";
  return `${scheme}://${target.bucket}${slash}${escapePath(target.prefix)}`;
}

/**
 * The location of object `name` under a storage's `uri()`, for messages: the object's path goes
 * before the URI's query (`s3://b/p/backupmeta?endpoint=...`, not `s3://b/p?endpoint=.../backupmeta`).
 */
export function objectUri(uri: string, name: string): string {
  const q = uri.indexOf("?");
  const base = (q < 0 ? uri : uri.slice(0, q)).replace(/\/+$/, "");
  return `${base}/${name}${q < 0 ? "" : uri.slice(q)}`;
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

/** Providers whose S3 service needs virtual-hosted style (BR, after rclone's notes). */
const VIRTUAL_HOSTED_PROVIDERS: ReadonlySet<string> = new Set(["alibaba", "netease", "tencent"]);

/**
 * `force-path-style` as BR's command line ends up with it (pingcap/tidb br/pkg/storage/s3.go:
 * `ParseFromFlags` starts from true, the URL's query or the flag may set it, then
 * `SetForcePathStyle` may only clear it). Virtual-hosted style is forced, whatever was given,
 * for the alibaba, netease and tencent providers and with an accelerate endpoint; for AWS
 * itself (provider `aws`, an `amazonaws.com` endpoint, a role to assume) it is chosen only when
 * the raw URL does not spell the option (`force-path-style` or `force_path_style`, as BR's
 * plain substring test), so a flag alone does not keep path style there.
 */
export function s3ForcePathStyle(
  rawUrl: string,
  options: Record<string, string | undefined>,
): boolean {
  const given = options["force-path-style"];
  const provider = options["provider"] ?? "";
  const accelerate = parseBool(options["use-accelerate-endpoint"] ?? "") ?? false;
  if (VIRTUAL_HOSTED_PROVIDERS.has(provider) || accelerate) return false;
  const named = rawUrl.includes("force-path-style") || rawUrl.includes("force_path_style");
  const aws = provider === "aws" || (options["endpoint"] ?? "").includes("amazonaws.com") ||
    (options["role-arn"] ?? "") !== "";
  if (aws && !named) return false;
  return given === undefined ? true : (parseBool(given) ?? true);
}
