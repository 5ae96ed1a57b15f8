/**
 * Private: a worker thread that runs `decodePair` for `verify --level data` (see
 * `_decode_pool.ts`), so decoding uses more than one core. Messages in: `{ id, write, default?,
 * start, end, cipher? }` with transferred file bytes; out: `{ ready }` once, then `{ id, result }`
 * or `{ id, error }` per request.
 * @module
 */
import { parentPort } from "node:worker_threads";
import { SstError } from "../sst/errors.ts";
import { decodePair } from "./_decode.ts";
import type { DecodeResponse, PostedRequest } from "./_decode_pool.ts";

const port = parentPort;
if (port) {
  port.on("message", async (m: PostedRequest) => {
    let out: DecodeResponse;
    try {
      const write = { name: m.write.name, iv: m.write.iv, bytes: new Uint8Array(m.write.buf) };
      const dflt = m.default
        ? { name: m.default.name, iv: m.default.iv, bytes: new Uint8Array(m.default.buf) }
        : undefined;
      const result = await decodePair(write, dflt, m, m.cipher);
      out = { id: m.id, result };
    } catch (err) {
      out = {
        id: m.id,
        error: {
          sst: err instanceof SstError,
          code: err instanceof SstError ? err.code : "Unexpected",
          file: err instanceof SstError ? err.file : undefined,
          message: (err as Error).message,
        },
      };
    }
    port.postMessage(out);
  });
  port.postMessage({ ready: true });
}
