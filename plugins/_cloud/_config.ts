/**
 * Option helpers the cloud plugins share: ConfigInvalid errors, BR-style booleans, endpoint
 * URLs.
 * @module
 */
import { StorageError } from "../../src/storage/errors.ts";
import { parseBool as parseGoBool } from "../../src/util/bool.ts";

/** A ConfigInvalid error raised while opening a storage. */
export function invalid(message: string): StorageError {
  return new StorageError(message, { code: "ConfigInvalid", operation: "open" });
}

/** `undefined` for a missing or empty option (BR treats `?region=` as unset). */
export function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

/**
 * Reads a boolean option with the one parser (Go's `strconv.ParseBool`, `src/util/bool.ts`);
 * `fallback` when absent, ConfigInvalid for anything else.
 */
export function parseBool(
  plugin: string,
  name: string,
  raw: string | undefined,
  fallback: boolean,
): boolean {
  if (raw === undefined) return fallback;
  const b = parseGoBool(raw);
  if (b === undefined) {
    throw invalid(`${plugin} option '${name}' must be true or false, not ${JSON.stringify(raw)}`);
  }
  return b;
}

/**
 * Validates an `endpoint` option: an http(s) URL with a host and no credentials or query; a
 * trailing `/` is dropped unless `keepSlash`. Like BR, an endpoint without a scheme is rejected rather than
 * guessed.
 */
export function parseEndpoint(raw: string, plugin: string, keepSlash = false): string {
  const what = `${plugin} option 'endpoint'`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`${what} ${JSON.stringify(raw)} is not a URL; write it as http(s)://host:port`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalid(`${what} ${JSON.stringify(raw)} needs an http:// or https:// scheme`);
  }
  if (url.username !== "" || url.password !== "" || url.search !== "") {
    throw invalid(`${what} must not carry credentials or a query; pass them as options`);
  }
  // URL normalises `http://h` to `http://h/`: keep the text as given, minus a trailing `/`
  // unless asked (BR keeps it for GCS).
  return keepSlash ? raw : raw.replace(/\/+$/, "");
}
