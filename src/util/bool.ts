/**
 * The one boolean parser: Go's `strconv.ParseBool`, which BR reads every boolean with (pflag's
 * flags and the storage URL's query options alike; golang/go src/strconv/atob.go). Command-line
 * flags, storage URLs and storage plugins all parse booleans here, so a spelling one accepts is
 * accepted by all.
 * @module
 */

/** Spellings Go's `strconv.ParseBool` reads as true (case matters: `tRUE` is not one). */
export const TRUE_SPELLINGS: readonly string[] = ["1", "t", "T", "TRUE", "true", "True"];
/** Spellings Go's `strconv.ParseBool` reads as false. */
export const FALSE_SPELLINGS: readonly string[] = ["0", "f", "F", "FALSE", "false", "False"];

const _TRUE = new Set(TRUE_SPELLINGS);
const _FALSE = new Set(FALSE_SPELLINGS);

/** Go's `strconv.ParseBool`: the boolean `raw` spells, or undefined for anything else. */
export function parseBool(raw: string): boolean | undefined {
  if (_TRUE.has(raw)) return true;
  if (_FALSE.has(raw)) return false;
  return undefined;
}
