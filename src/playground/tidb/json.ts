/**
 * The playground TiDB's JSON columns: TiDB's binary JSON, from the one codec in
 * `src/tidb/json_binary.ts` (the playground may import src/tidb, never the reverse).
 * @module
 */
import { encodeJsonText, jsonToText } from "../../tidb/json_binary.ts";

/** SQL text of a JSON value to TiDB's binary JSON; throws TiDB's "Invalid JSON text" error. */
export function encodeJson(text: string): Uint8Array {
  try {
    return encodeJsonText(text);
  } catch (err) {
    throw new Error(`Invalid JSON text: ${(err as Error).message}`);
  }
}

/** TiDB's binary JSON back to TiDB's text form. */
export const decodeJson: (bytes: Uint8Array) => string = jsonToText;
