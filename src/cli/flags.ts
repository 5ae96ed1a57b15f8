/**
 * Flag value parsers shared by every command: one boolean parser with BR's spellings, numbers
 * checked against their own range at parse time (so nothing out of range reaches a store, a
 * protobuf field or a timer), and PD endpoints. Each failure is a UsageError (exit 2) naming the
 * flag and the range.
 * @module
 */
import { parseBool as parseGoBool } from "../util/bool.ts";
import { UsageError } from "./errors.ts";

/** The longest delay a JavaScript timer takes (2^31-1 ms); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The longest timer-backed duration a flag may give, in whole seconds (2147483 s, ~24.8 days). */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/**
 * A boolean flag value as BR reads it (Go's `strconv.ParseBool` through pflag, the one parser in
 * `src/util/bool.ts`): 1, t, T, TRUE, true, True and 0, f, F, FALSE, false, False. A flag given
 * without a value is true.
 */
export function parseBool(name: string, v: string | boolean | undefined): boolean {
  if (v === undefined || v === true) return true;
  if (v === false) return false;
  const b = parseGoBool(v);
  if (b === undefined) throw new UsageError(`--${name} '${v}' is not a boolean: use true or false`);
  return b;
}

/** Range of a numeric flag. */
export interface NumberRange {
  min: number;
  max: number;
  /** Whole numbers only. */
  integer?: boolean;
  /** What the unit is, for the message (`seconds`, `MiB/s`). */
  unit?: string;
}

/** Parses a number within `range`; the error names the flag and the range. */
export function parseNumber(name: string, v: string, range: NumberRange): number {
  const text = v.trim();
  const n = text === "" ? NaN : Number(text);
  const unit = range.unit ? ` ${range.unit}` : "";
  const kind = range.integer ? "an integer" : "a number";
  if (
    !Number.isFinite(n) || (range.integer && !Number.isInteger(n)) || n < range.min || n > range.max
  ) {
    throw new UsageError(
      `--${name} '${v}' is out of range: give ${kind} from ${range.min} to ${range.max}${unit}`,
    );
  }
  return n;
}

/** A commander argument parser for `parseNumber`. */
export function numberFlag(name: string, range: NumberRange): (v: string) => number {
  return (v) => parseNumber(name, v, range);
}

/** A duration flag in seconds (above 0, at most MAX_TIMER_SECONDS), returned in ms. */
export function secondsFlag(name: string): (v: string) => number {
  return (v) => {
    const s = parseNumber(name, v, { min: 0.001, max: MAX_TIMER_SECONDS, unit: "seconds" });
    return Math.round(s * 1000);
  };
}

/** Parses an unsigned 64-bit integer (a TSO). */
export function parseUint64(name: string, v: string): bigint {
  const text = v.trim();
  if (!/^\d+$/.test(text) || BigInt(text) > 0xffffffffffffffffn) {
    throw new UsageError(`--${name} '${v}' is not a TSO: give an integer from 0 to 2^64-1`);
  }
  return BigInt(text);
}

/**
 * PD endpoints from `-u/--pd`: comma-separated `host:port` or `http(s)://host:port`, each with
 * a host and a port from 1 to 65535.
 */
export function parsePdEndpoints(v: string): string[] {
  const list = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const hint = "give host:port or http(s)://host:port, comma-separated";
  if (list.length === 0) throw new UsageError(`--pd is empty: ${hint}`);
  for (const ep of list) {
    const m = /^(?:(https?):\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})\/?$/.exec(ep);
    const port = m ? Number(m[3]) : 0;
    if (!m || port < 1 || port > 65535) {
      throw new UsageError(`--pd '${ep}' is not a PD address: ${hint}`);
    }
  }
  return list;
}
