/**
 * Logging for tibr, on LogTape. Like BR, logs go to a file by default (its path is printed at
 * start) and to the terminal only on request (`--log-file -`). Every record passes through
 * `redact`, so a secret that slips into a message or property is masked before any sink sees it.
 * @module
 */
import {
  configure,
  dispose,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogLevel,
  type LogRecord,
  reset,
  type Sink,
} from "@logtape/logtape";
import { getFileSink } from "@logtape/file";
import { appendFileSync, closeSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { join } from "node:path";

/** BR's level names, mapped onto LogTape's. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "fatal"] as const;
/** One of BR's log levels. */
export type TibrLogLevel = (typeof LOG_LEVELS)[number];

/** Options from the global flags `-L`, `--log-file`, `--log-format`. */
export interface LogOptions {
  level: TibrLogLevel;
  /** A file path, `-` for stderr, or undefined for the default file under the temp dir. */
  file?: string;
  format: "text" | "json";
}

const SECRET_KEY =
  /(secret|password|passwd|token|credential|account-key|accountkey|sas|signature|cipher-?key|crypter\.key|shared-?key|access[-_]?sig)/i;
const SECRET_QUERY =
  /([?&](?:secret[-_]access[-_]key|session[-_]token|account[-_]key|sas[-_]token|access[-_]key|credentials[-_]blob|sig|x-amz-security-token|x-amz-signature)=)[^&\s"';]*/gi;

/** Masks secrets in URLs and `key=value` text. Used by logs, errors and summaries alike. */
export function redactText(text: string): string {
  return text.replace(SECRET_QUERY, "$1******");
}

function redactValue(key: string, value: unknown, depth = 0): unknown {
  if (SECRET_KEY.test(key) && value !== undefined && value !== null && value !== "") {
    return "******";
  }
  if (typeof value === "string") return redactText(value);
  if (depth < 4 && value && typeof value === "object" && !Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactValue(k, v, depth + 1);
    return out;
  }
  return value;
}

function redactingSink(inner: Sink): Sink {
  const sink = (record: LogRecord) => {
    inner({
      ...record,
      message: record.message.map((part) =>
        typeof part === "string" ? redactText(part) : redactValue("", part)
      ),
      properties: redactValue("", record.properties) as Record<string, unknown>,
    });
  };
  // LogTape flushes a sink on dispose through these: without them the file sink's buffer (it
  // buffers lines of 200 bytes and more) would be lost at exit.
  const d = inner as Partial<Disposable & AsyncDisposable>;
  if (d[Symbol.dispose]) Object.assign(sink, { [Symbol.dispose]: () => d[Symbol.dispose]!() });
  if (d[Symbol.asyncDispose]) {
    Object.assign(sink, { [Symbol.asyncDispose]: () => d[Symbol.asyncDispose]!() });
  }
  return sink;
}

let redactKeys = false;

/**
 * BR's `--redact-info-log`: when on, user keys are shown as `?` in logs and error messages, so
 * neither leaks row data. Off by default, as in BR.
 */
export function setRedactInfoLog(on: boolean): void {
  redactKeys = on;
}

/** A key for logs and errors: upper-case hex, or `?` under `--redact-info-log`. */
export function logKey(key: Uint8Array): string {
  if (redactKeys) return "?";
  let out = "";
  for (const b of key) out += b.toString(16).padStart(2, "0");
  return out.toUpperCase();
}

/** The default log file, named like BR's `/tmp/br.log.<time>`. */
export function defaultLogFile(now = new Date()): string {
  const stamp = now.toISOString().replace(/[:]/g, "-").replace(/\..*/, "");
  return join(tmpdir(), `tibr.log.${stamp}`);
}

/** The log file cannot be written (a bad `--log-file`). */
export class LogFileError extends Error {
  override name = "LogFileError";
}

/**
 * Configures logging for this process and returns where logs go (`stderr` or a file path).
 * Safe to call more than once (tests); the previous configuration is replaced.
 */
export async function setupLogging(opts: LogOptions): Promise<string> {
  await reset();
  const formatter = opts.format === "json" ? getJsonLinesFormatter() : getTextFormatter();
  let sink: Sink;
  let target: string;
  if (opts.file === "-") {
    // Not the console sink: it writes info lines to stdout, which carries `--output json`.
    sink = (record: LogRecord) => {
      process.stderr.write(formatter(record));
    };
    target = "stderr";
  } else {
    target = opts.file ?? defaultLogFile();
    // The file sink opens lazily and would lose every line of an unwritable path in silence.
    try {
      closeSync(openSync(target, "a"));
    } catch (err) {
      throw new LogFileError(
        `cannot write the log file ${target}: ${(err as Error).message.split("\n")[0]}; ` +
          "choose a writable --log-file, or '-' for stderr",
      );
    }
    sink = getFileSink(target, { formatter, lazy: true });
  }
  const lowest: LogLevel = opts.level === "warn"
    ? "warning"
    : (opts.level === "fatal" ? "fatal" : opts.level);
  await configure({
    reset: true,
    sinks: { main: redactingSink(sink) },
    loggers: [
      { category: ["tibr"], sinks: ["main"], lowestLevel: lowest },
      { category: ["logtape", "meta"], sinks: ["main"], lowestLevel: "warning" },
    ],
  });
  currentTarget = target;
  currentFormat = opts.format;
  return target;
}

/** Writes out what the log sinks still buffer (before the process exits). */
export async function flushLogs(): Promise<void> {
  await dispose().catch(() => {});
}

let currentTarget: string | undefined;
let currentFormat: LogOptions["format"] = "text";

/**
 * Ends the log file with the error that ended the run (and its stack, when given): after the
 * sinks are flushed, appended directly, so it is the last line whatever the sinks buffered.
 * Nothing is written when logs go to stderr (the CLI prints the error there itself) or before
 * logging was set up.
 */
export async function logFinalError(message: string, stack?: string): Promise<void> {
  await flushLogs();
  if (currentTarget === undefined || currentTarget === "stderr") return;
  const at = new Date();
  const text = redactText(stack ? `${message}\n${stack}` : message);
  const line = currentFormat === "json"
    ? JSON.stringify({
      "@timestamp": at.toISOString(),
      level: "ERROR",
      logger: "tibr.cli",
      message: `run failed: ${text}`,
      properties: {},
    })
    : `${
      at.toISOString().replace("T", " ").replace("Z", " +00:00")
    } [ERR] tibr·cli: run failed: ${text}`;
  try {
    appendFileSync(currentTarget, `${line}\n`);
  } catch {
    // The error line on stderr is what must come out; the log is best effort here.
  }
}

/** A logger under the `tibr` category, e.g. `log("backup")`. */
export function log(...category: string[]): Logger {
  return getLogger(["tibr", ...category]);
}
