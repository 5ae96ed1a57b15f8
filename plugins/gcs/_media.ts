/**
 * Object downloads over `fetch`, bypassing the SDK's stream stack: one request per read (a
 * ranged GET answers size and generation in its headers), native cancellation, and web streams
 * end to end. The SDK still authenticates: its auth client signs each request's headers.
 * @module
 */
import { createHash } from "node:crypto";
import type { Storage } from "@google-cloud/storage";

/** What a media GET returned. */
export interface MediaResponse {
  /** Whole-object size. */
  size: number;
  /** The generation served. */
  generation: string;
  /** The bytes; null for an empty range. */
  body: ReadableStream<Uint8Array> | null;
  /** Base64 MD5 of the whole object when GCS reports it (absent for composite objects). */
  md5?: string;
}

/** A non-2xx answer, shaped like the SDK's ApiError so one mapper handles both. */
export class MediaError extends Error {
  override name = "MediaError";
  constructor(readonly code: number, message: string, readonly errors: { reason?: string }[]) {
    super(message);
  }
}

/** Downloads through the JSON API's `alt=media` with the SDK's endpoint and credentials. */
export class MediaClient {
  readonly #storage: Storage;
  readonly #bucket: string;
  readonly #auth: boolean;

  /**
   * `authenticate` mirrors the SDK: Google's endpoints always get credentials, a custom
   * endpoint only when a credentials file was given (emulators take none).
   */
  constructor(storage: Storage, bucket: string, authenticate: boolean) {
    this.#storage = storage;
    this.#bucket = bucket;
    this.#auth = authenticate;
  }

  /**
   * GETs `key` (bytes `[start, end)`, `end` exclusive and optional). Resolves once headers
   * arrive; a range that starts at or past the end resolves with a null body. Rejects with
   * `MediaError` for an HTTP error and with fetch's error for a network one.
   */
  async get(
    key: string,
    range: { start: number; end?: number },
    signal: AbortSignal | undefined,
  ): Promise<MediaResponse> {
    const url = `${this.#storage.apiEndpoint}/storage/v1/b/${encodeURIComponent(this.#bucket)}` +
      `/o/${encodeURIComponent(key)}?alt=media`;
    const headers = this.#auth
      ? new Headers(await this.#storage.authClient.getRequestHeaders(url))
      : new Headers();
    const ranged = range.start > 0 || range.end !== undefined;
    if (ranged) {
      headers.set("range", `bytes=${range.start}-${range.end === undefined ? "" : range.end - 1}`);
    }
    // GCS would otherwise gzip on the fly, and the range would count compressed bytes.
    headers.set("accept-encoding", "identity");
    const res = await fetch(url, { headers, ...(signal ? { signal } : {}) });
    if (res.status === 416) {
      await res.body?.cancel();
      const total = /\/(\d+)$/.exec(res.headers.get("content-range") ?? "")?.[1];
      if (total === undefined) throw new MediaError(416, "range not satisfiable", []);
      return { size: Number(total), generation: "", body: null };
    }
    if (!res.ok) throw await errorOf(res);
    const total = /\/(\d+)$/.exec(res.headers.get("content-range") ?? "")?.[1] ??
      res.headers.get("x-goog-stored-content-length") ?? res.headers.get("content-length") ?? "0";
    const out: MediaResponse = {
      size: Number(total),
      generation: res.headers.get("x-goog-generation") ?? "",
      body: res.body,
    };
    const md5 = /(?:^|,)\s*md5=([^,]+)/.exec(res.headers.get("x-goog-hash") ?? "")?.[1];
    const identity = (res.headers.get("x-goog-stored-content-encoding") ?? "identity") ===
      "identity";
    if (md5 !== undefined && identity) out.md5 = md5;
    return out;
  }
}

/** The MediaError for a non-2xx response, with GCS's message and reasons when it sent JSON. */
export async function errorOf(res: Response): Promise<MediaError> {
  let message = res.statusText;
  let errors: { reason?: string }[] = [];
  try {
    const j = await res.json() as { error?: { message?: string; errors?: typeof errors } };
    message = j.error?.message ?? message;
    errors = j.error?.errors ?? [];
  } catch {
    // Not JSON: the status says enough.
  }
  return new MediaError(res.status, message, errors);
}

/** Reads a whole body and checks it against GCS's MD5 when there is one. */
export async function readAllChecked(m: MediaResponse): Promise<Uint8Array> {
  if (!m.body) return new Uint8Array(0);
  const buf = new Uint8Array(await new Response(m.body).arrayBuffer());
  if (m.md5 !== undefined) {
    const got = createHash("md5").update(buf).digest("base64");
    if (got !== m.md5) {
      throw new MediaError(
        500,
        `downloaded bytes do not match the object's MD5 (${got} != ${m.md5})`,
        [{ reason: "checksumMismatch" }],
      );
    }
  }
  if (buf.length !== m.size) {
    throw new MediaError(
      500,
      `downloaded ${buf.length} bytes of ${m.size}`,
      [{ reason: "shortRead" }],
    );
  }
  return buf;
}

/** Wraps a body so its errors pass through `mapError` and cancelling releases the response. */
export function mappedBody(
  body: ReadableStream<Uint8Array>,
  mapError: (err: unknown) => unknown,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      try {
        const r = await reader.read();
        if (r.done) ctl.close();
        else ctl.enqueue(r.value);
      } catch (err) {
        ctl.error(mapError(err));
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
