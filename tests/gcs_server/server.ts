/**
 * A small in-memory server for the parts of the GCS JSON API that `@google-cloud/storage`
 * uses: bucket get/create/delete; object metadata, media download with `Range`, delete,
 * listing (prefix, delimiter, startOffset/endOffset, maxResults, pageToken), rewrite/copy;
 * uploads of every kind (media, multipart/related, resumable in one or many chunks, session
 * status queries and cancellation).
 *
 * No offline GCS emulator honours generation preconditions, so this one does, atomically:
 * `ifGenerationMatch` (0 = only if absent), `ifGenerationNotMatch`, `ifMetagenerationMatch`,
 * `ifSourceGenerationMatch` are checked and the object replaced in one synchronous step after
 * the whole body has arrived, so of racing conditional writers exactly one wins. Uploaded
 * `md5Hash`/`crc32c` (in metadata or `x-goog-hash`) are verified as GCS does.
 *
 * Authentication is optional: given service accounts (email → public key PEM), every request
 * must carry a self-signed RS256 JWT from one of them (what google-auth-library sends for a
 * service-account key outside the default universe), else 401. As in GCS, requests to a
 * resumable session URI need none: the session id is the credential.
 * @module
 */
import { createHash, randomUUID, verify as verifySignature } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Buffer } from "node:buffer";
import { crc32cBase64 } from "./_crc32c.ts";

/** How to start the fake server. */
export interface FakeGcsOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default: a free one). */
  port?: number;
  /** When set, requests must carry a JWT signed by one of these (email → SPKI/PKCS1 PEM). */
  serviceAccounts?: Record<string, string>;
  /** Buckets that exist from the start. */
  buckets?: string[];
  /**
   * Called for every request before it is served; return an HTTP status (429, 503, ...) to
   * answer that instead, for fault tests.
   */
  fault?: (req: { method: string; path: string }) => number | undefined;
}

/** A running fake GCS server. */
export interface FakeGcs {
  /** `http://127.0.0.1:PORT`, the `apiEndpoint` for the SDK. */
  readonly endpoint: string;
  readonly port: number;
  /** Requests served so far, by `METHOD kind` (`PUT upload`, `GET media`, ...). */
  readonly requests: Map<string, number>;
  /** Creates a bucket if missing. */
  createBucket(name: string): void;
  /** Open resumable sessions (for tests that check aborted uploads are dropped). */
  openSessions(): number;
  /** Stops listening and drops all state. */
  close(): Promise<void>;
}

interface StoredObject {
  name: string;
  bucket: string;
  data: Buffer;
  generation: number;
  metageneration: number;
  contentType: string;
  storageClass: string;
  md5: string;
  crc32c: string;
  created: string;
  updated: string;
  metadata?: Record<string, string>;
}

interface Bucket {
  name: string;
  created: string;
  objects: Map<string, StoredObject>;
}

interface Session {
  id: string;
  bucket: string;
  name: string;
  meta: Record<string, unknown>;
  query: URLSearchParams;
  chunks: Buffer[];
  received: number;
  done?: StoredObject;
}

/** An error answered as GCS's JSON error body. */
class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly reason: string) {
    super(message);
  }
}

const notFound = (what: string) => new HttpError(404, `No such object: ${what}`, "notFound");
const preconditionFailed = () =>
  new HttpError(
    412,
    "At least one of the pre-conditions you specified did not hold.",
    "conditionNotMet",
  );

/** Byte (UTF-8) order, which is how GCS lists names. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts)));
    req.on("error", reject);
  });
}

/** Splits a multipart/related body into its parts (headers are dropped; order is kept). */
function parseMultipart(body: Buffer, contentType: string): Buffer[] {
  const m = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!m) throw new HttpError(400, "multipart upload without a boundary", "invalid");
  const delim = Buffer.from(`--${m[1]}`);
  const parts: Buffer[] = [];
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    let start = pos + delim.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing "--"
    if (body[start] === 0x0d && body[start + 1] === 0x0a) start += 2;
    const next = body.indexOf(delim, start);
    if (next < 0) break;
    const part = body.subarray(start, next);
    const headerEnd = part.indexOf("\r\n\r\n");
    let content = headerEnd < 0 ? part : part.subarray(headerEnd + 4);
    if (content.length >= 2 && content[content.length - 2] === 0x0d) {
      content = content.subarray(0, content.length - 2);
    }
    parts.push(content);
    pos = next;
  }
  if (parts.length < 2) throw new HttpError(400, "multipart upload needs 2 parts", "invalid");
  return parts;
}

function parseJson(buf: Buffer): Record<string, unknown> {
  if (buf.length === 0) return {};
  try {
    const v = JSON.parse(buf.toString("utf8"));
    return v && typeof v === "object" ? v as Record<string, unknown> : {};
  } catch {
    throw new HttpError(400, "malformed JSON metadata", "parseError");
  }
}

function numParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new HttpError(400, `invalid ${name}`, "invalid");
  return n;
}

/** Checks GCS's generation preconditions against the current object (or its absence). */
function checkPreconditions(
  q: URLSearchParams,
  current: StoredObject | undefined,
  prefix = "if",
): void {
  const gm = numParam(q, `${prefix}GenerationMatch`);
  const gnm = numParam(q, `${prefix}GenerationNotMatch`);
  const mm = numParam(q, `${prefix}MetagenerationMatch`);
  const mnm = numParam(q, `${prefix}MetagenerationNotMatch`);
  const gen = current?.generation ?? 0;
  if (gm !== undefined && gm !== gen) throw preconditionFailed();
  if (gnm !== undefined && gnm === gen) throw preconditionFailed();
  if (mm !== undefined && (current === undefined || mm !== current.metageneration)) {
    throw preconditionFailed();
  }
  if (mnm !== undefined && current !== undefined && mnm === current.metageneration) {
    throw preconditionFailed();
  }
}

function hashesOf(data: Buffer): { md5: string; crc32c: string } {
  return { md5: createHash("md5").update(data).digest("base64"), crc32c: crc32cBase64(data) };
}

/** Verifies client-supplied checksums (metadata fields or an `x-goog-hash` header). */
function verifyHashes(
  h: { md5: string; crc32c: string },
  meta: Record<string, unknown>,
  header: string | undefined,
): void {
  const given: Record<string, string> = {};
  if (typeof meta["md5Hash"] === "string") given["md5"] = meta["md5Hash"];
  if (typeof meta["crc32c"] === "string") given["crc32c"] = meta["crc32c"];
  for (const pair of (header ?? "").split(",")) {
    const eq = pair.indexOf("=");
    if (eq > 0) given[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  if (given["md5"] !== undefined && given["md5"] !== h.md5) {
    throw new HttpError(400, "Provided MD5 hash doesn't match calculated MD5 hash.", "invalid");
  }
  if (given["crc32c"] !== undefined && given["crc32c"] !== h.crc32c) {
    throw new HttpError(400, "Provided CRC32C doesn't match calculated CRC32C.", "invalid");
  }
}

/** Starts the fake GCS server on 127.0.0.1 (or `opts.host`) and a free port. */
export async function startFakeGcs(opts: FakeGcsOptions = {}): Promise<FakeGcs> {
  const buckets = new Map<string, Bucket>();
  const sessions = new Map<string, Session>();
  const requests = new Map<string, number>();
  // Generations only grow, across deletes too, as in GCS (microsecond timestamps there).
  let lastGeneration = Date.now() * 1000;
  const now = () => new Date().toISOString();
  const createBucket = (name: string) => {
    if (!buckets.has(name)) buckets.set(name, { name, created: now(), objects: new Map() });
  };
  for (const b of opts.buckets ?? []) createBucket(b);

  const bucketOf = (name: string): Bucket => {
    const b = buckets.get(name);
    if (!b) throw new HttpError(404, "The specified bucket does not exist.", "notFound");
    return b;
  };

  let base = "";
  const objectJson = (o: StoredObject) => {
    const enc = encodeURIComponent(o.name);
    const json: Record<string, unknown> = {
      kind: "storage#object",
      id: `${o.bucket}/${o.name}/${o.generation}`,
      selfLink: `${base}/storage/v1/b/${o.bucket}/o/${enc}`,
      mediaLink: `${base}/download/storage/v1/b/${o.bucket}/o/${enc}?generation=${o.generation}` +
        "&alt=media",
      name: o.name,
      bucket: o.bucket,
      generation: String(o.generation),
      metageneration: String(o.metageneration),
      contentType: o.contentType,
      storageClass: o.storageClass,
      size: String(o.data.length),
      md5Hash: o.md5,
      crc32c: o.crc32c,
      etag: btoa(String(o.generation)),
      timeCreated: o.created,
      updated: o.updated,
      timeStorageClassUpdated: o.created,
    };
    if (o.metadata) json["metadata"] = o.metadata;
    return json;
  };

  /** Replaces `name` with `data` if the preconditions hold: the one atomic step. */
  const commit = (
    bucket: Bucket,
    name: string,
    data: Buffer,
    meta: Record<string, unknown>,
    q: URLSearchParams,
    hashHeader?: string,
  ): StoredObject => {
    if (name === "") throw new HttpError(400, "Required parameter: name", "required");
    const h = hashesOf(data);
    verifyHashes(h, meta, hashHeader);
    checkPreconditions(q, bucket.objects.get(name));
    const t = now();
    const o: StoredObject = {
      name,
      bucket: bucket.name,
      data,
      generation: ++lastGeneration,
      metageneration: 1,
      contentType: typeof meta["contentType"] === "string"
        ? meta["contentType"]
        : "application/octet-stream",
      storageClass: typeof meta["storageClass"] === "string" ? meta["storageClass"] : "STANDARD",
      md5: h.md5,
      crc32c: h.crc32c,
      created: t,
      updated: t,
    };
    if (meta["metadata"] && typeof meta["metadata"] === "object") {
      o.metadata = meta["metadata"] as Record<string, string>;
    }
    bucket.objects.set(name, o);
    return o;
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json; charset=UTF-8",
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
  };

  const checkAuth = (req: IncomingMessage): void => {
    const accounts = opts.serviceAccounts;
    if (!accounts) return;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
    const fail = (why: string) => new HttpError(401, `Invalid Credentials: ${why}`, "authError");
    if (!m) throw fail("no bearer token");
    const [h, p, s] = m[1]!.split(".");
    if (h === undefined || p === undefined || s === undefined) throw fail("malformed token");
    let claims: { iss?: string; exp?: number };
    try {
      claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    } catch {
      throw fail("malformed token");
    }
    const key = claims.iss === undefined ? undefined : accounts[claims.iss];
    if (key === undefined) throw fail("unknown service account");
    const ok = verifySignature(
      "sha256",
      Buffer.from(`${h}.${p}`),
      key,
      Buffer.from(s, "base64url"),
    );
    if (!ok) throw fail("bad signature");
    if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) throw fail("expired");
  };

  const serveMedia = (req: IncomingMessage, res: ServerResponse, o: StoredObject) => {
    const size = o.data.length;
    const headers: Record<string, string | number> = {
      "content-type": o.contentType,
      "x-goog-generation": String(o.generation),
      "x-goog-metageneration": String(o.metageneration),
      "x-goog-hash": `crc32c=${o.crc32c},md5=${o.md5}`,
      "x-goog-stored-content-encoding": "identity",
      "x-goog-stored-content-length": String(size),
      "accept-ranges": "bytes",
      etag: `"${o.md5}"`,
    };
    const range = req.headers.range;
    const m = range === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (!m || (m[1] === "" && m[2] === "")) {
      res.writeHead(200, { ...headers, "content-length": size });
      res.end(o.data);
      return;
    }
    let start: number;
    let end: number; // inclusive
    if (m[1] === "") {
      const n = Number(m[2]);
      start = Math.max(0, size - n);
      end = size - 1;
    } else {
      start = Number(m[1]);
      end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    }
    if (start >= size || end < start) {
      res.writeHead(416, { "content-range": `bytes */${size}`, "content-length": 0 });
      res.end();
      return;
    }
    res.writeHead(206, {
      ...headers,
      "content-length": end - start + 1,
      "content-range": `bytes ${start}-${end}/${size}`,
    });
    res.end(o.data.subarray(start, end + 1));
  };

  const listObjects = (res: ServerResponse, b: Bucket, q: URLSearchParams) => {
    const prefix = q.get("prefix") ?? "";
    const delimiter = q.get("delimiter") ?? "";
    const startOffset = q.get("startOffset") ?? "";
    const endOffset = q.get("endOffset") ?? "";
    const max = Math.min(numParam(q, "maxResults") ?? 1000, 1000) || 1000;
    const token = q.get("pageToken");
    const after = token ? Buffer.from(token, "base64url").toString("utf8") : undefined;
    const names = [...b.objects.keys()].filter((n) =>
      n.startsWith(prefix) &&
      (startOffset === "" || byteOrder(n, startOffset) >= 0) &&
      (endOffset === "" || byteOrder(n, endOffset) < 0) &&
      (after === undefined || byteOrder(n, after) > 0)
    ).sort(byteOrder);
    const items: unknown[] = [];
    const prefixes = new Set<string>();
    let last: string | undefined;
    let truncated = false;
    for (const n of names) {
      if (items.length + prefixes.size >= max) {
        truncated = true;
        break;
      }
      last = n;
      if (delimiter !== "") {
        const i = n.indexOf(delimiter, prefix.length);
        if (i >= 0) {
          prefixes.add(n.slice(0, i + delimiter.length));
          continue;
        }
      }
      items.push(objectJson(b.objects.get(n)!));
    }
    const body: Record<string, unknown> = { kind: "storage#objects" };
    if (items.length > 0) body["items"] = items;
    if (prefixes.size > 0) body["prefixes"] = [...prefixes];
    if (truncated && last !== undefined) {
      body["nextPageToken"] = Buffer.from(last, "utf8").toString("base64url");
    }
    sendJson(res, 200, body);
  };

  const copy = async (
    req: IncomingMessage,
    res: ServerResponse,
    q: URLSearchParams,
    src: [string, string],
    dst: [string, string],
    rewrite: boolean,
  ) => {
    const meta = parseJson(await readBody(req));
    const sb = bucketOf(src[0]);
    const so = sb.objects.get(src[1]);
    if (!so) throw notFound(`${src[0]}/${src[1]}`);
    const sg = numParam(q, "sourceGeneration");
    if (sg !== undefined && sg !== so.generation) throw notFound(`${src[0]}/${src[1]}#${sg}`);
    checkPreconditions(q, so, "ifSource");
    const dm: Record<string, unknown> = {
      contentType: so.contentType,
      storageClass: so.storageClass,
      ...(so.metadata ? { metadata: so.metadata } : {}),
      ...meta,
    };
    delete dm["md5Hash"];
    delete dm["crc32c"];
    const o = commit(bucketOf(dst[0]), dst[1], so.data, dm, q);
    if (!rewrite) return sendJson(res, 200, objectJson(o));
    sendJson(res, 200, {
      kind: "storage#rewriteResponse",
      totalBytesRewritten: String(o.data.length),
      objectSize: String(o.data.length),
      done: true,
      resource: objectJson(o),
    });
  };

  const resumablePut = async (
    req: IncomingMessage,
    res: ServerResponse,
    s: Session,
  ) => {
    const body = await readBody(req);
    if (s.done) return sendJson(res, 200, objectJson(s.done));
    const cr = req.headers["content-range"];
    let total: number | undefined;
    if (cr === undefined) {
      // The whole object in one request.
      s.chunks = [body];
      s.received = body.length;
      total = body.length;
    } else {
      const m = /^bytes (\*|(\d+)-(\d+|\*))\/(\*|\d+)$/.exec(cr.trim());
      if (!m) throw new HttpError(400, `bad Content-Range ${cr}`, "invalid");
      total = m[4] === "*" ? undefined : Number(m[4]);
      if (m[1] !== "*") {
        const start = Number(m[2]);
        if (start > s.received) {
          // A gap: tell the client what we have, as GCS does, so it resends.
          res.writeHead(308, s.received > 0 ? { range: `bytes=0-${s.received - 1}` } : {});
          return res.end();
        }
        const skip = s.received - start;
        if (skip < body.length) {
          const fresh = body.subarray(skip);
          s.chunks.push(fresh);
          s.received += fresh.length;
        }
      }
    }
    if (total !== undefined && s.received > total) {
      throw new HttpError(400, "more bytes than the declared size", "invalid");
    }
    if (total === undefined || s.received < total) {
      res.writeHead(308, s.received > 0 ? { range: `bytes=0-${s.received - 1}` } : {});
      return res.end();
    }
    const data = s.chunks.length === 1 ? s.chunks[0]! : Buffer.concat(s.chunks);
    s.chunks = [];
    const hashHeader = req.headers["x-goog-hash"];
    try {
      s.done = commit(
        bucketOf(s.bucket),
        s.name,
        data,
        s.meta,
        s.query,
        typeof hashHeader === "string" ? hashHeader : undefined,
      );
    } finally {
      if (!s.done) sessions.delete(s.id);
    }
    sendJson(res, 200, objectJson(s.done));
  };

  const upload = async (
    req: IncomingMessage,
    res: ServerResponse,
    bucketName: string,
    q: URLSearchParams,
  ) => {
    const type = q.get("uploadType") ?? "media";
    const id = q.get("upload_id");
    if (id !== null) {
      const s = sessions.get(id);
      if (!s) throw new HttpError(404, "No such upload session", "notFound");
      if (req.method === "DELETE") {
        sessions.delete(id);
        res.writeHead(499);
        return res.end();
      }
      return await resumablePut(req, res, s);
    }
    const b = bucketOf(bucketName);
    const body = await readBody(req);
    if (type === "resumable") {
      const meta = parseJson(body);
      const name = q.get("name") ?? (typeof meta["name"] === "string" ? meta["name"] : "");
      if (name === "") throw new HttpError(400, "Required parameter: name", "required");
      // GCS checks preconditions again when the upload completes; failing early saves bytes.
      checkPreconditions(q, b.objects.get(name));
      const sid = randomUUID();
      sessions.set(sid, {
        id: sid,
        bucket: b.name,
        name,
        meta,
        query: q,
        chunks: [],
        received: 0,
      });
      const loc = `${base}/upload/storage/v1/b/${encodeURIComponent(b.name)}/o?` +
        `uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${sid}`;
      res.writeHead(200, { location: loc, "content-length": 0 });
      return res.end();
    }
    let meta: Record<string, unknown> = {};
    let data = body;
    if (type === "multipart") {
      const parts = parseMultipart(body, String(req.headers["content-type"] ?? ""));
      meta = parseJson(parts[0]!);
      data = Buffer.from(parts[1]!);
    } else if (type !== "media") {
      throw new HttpError(400, `unsupported uploadType ${type}`, "invalid");
    }
    const name = q.get("name") ?? (typeof meta["name"] === "string" ? meta["name"] : "");
    const hashHeader = req.headers["x-goog-hash"];
    const o = commit(
      b,
      name,
      data,
      meta,
      q,
      typeof hashHeader === "string" ? hashHeader : undefined,
    );
    sendJson(res, 200, objectJson(o));
  };

  const count = (key: string) => requests.set(key, (requests.get(key) ?? 0) + 1);

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const q = url.searchParams;
    const seg = url.pathname.split("/").slice(1).map((s) => decodeURIComponent(s));
    const method = req.method ?? "GET";
    const injected = opts.fault?.({ method, path: url.pathname });
    if (injected !== undefined) {
      await readBody(req);
      throw new HttpError(injected, `injected failure ${injected}`, "backendError");
    }
    // A resumable session URI is its own credential, as in GCS: only creating it needs auth.
    if (q.get("upload_id") === null) checkAuth(req);
    // /upload/storage/v1/b/B/o
    if (seg[0] === "upload" && seg[1] === "storage" && seg[3] === "b" && seg[5] === "o") {
      count(`${method} upload`);
      return await upload(req, res, seg[4] ?? "", q);
    }
    const api = seg[0] === "download" ? seg.slice(1) : seg;
    if (api[0] !== "storage" || api[1] !== "v1" || api[2] !== "b") {
      throw new HttpError(404, `unknown path ${url.pathname}`, "notFound");
    }
    const bucketName = api[3];
    if (bucketName === undefined) {
      count(`${method} buckets`);
      if (method === "POST") {
        const meta = parseJson(await readBody(req));
        const name = String(meta["name"] ?? "");
        if (buckets.has(name)) {
          throw new HttpError(
            409,
            "Your previous request to create the named bucket succeeded " +
              "and you already own it.",
            "conflict",
          );
        }
        createBucket(name);
        return sendJson(res, 200, { kind: "storage#bucket", name, id: name });
      }
      return sendJson(res, 200, {
        kind: "storage#buckets",
        items: [...buckets.keys()].map((name) => ({ kind: "storage#bucket", name, id: name })),
      });
    }
    if (api.length === 4) {
      count(`${method} bucket`);
      const b = bucketOf(bucketName);
      if (method === "DELETE") {
        if (b.objects.size > 0) throw new HttpError(409, "The bucket is not empty.", "conflict");
        buckets.delete(bucketName);
        res.writeHead(204);
        return res.end();
      }
      return sendJson(res, 200, {
        kind: "storage#bucket",
        id: b.name,
        name: b.name,
        timeCreated: b.created,
        updated: b.created,
        location: "US",
        storageClass: "STANDARD",
        metageneration: "1",
      });
    }
    if (api[4] !== "o") throw new HttpError(404, `unknown path ${url.pathname}`, "notFound");
    const b = bucketOf(bucketName);
    if (api.length === 5) {
      count(`${method} list`);
      await readBody(req);
      return listObjects(res, b, q);
    }
    const name = api[5]!;
    if (api.length === 11 && (api[6] === "rewriteTo" || api[6] === "copyTo") && api[7] === "b") {
      count(`${method} ${api[6]}`);
      return await copy(
        req,
        res,
        q,
        [bucketName, name],
        [api[8]!, api[10]!],
        api[6] === "rewriteTo",
      );
    }
    if (api.length !== 6) throw new HttpError(404, `unknown path ${url.pathname}`, "notFound");
    await readBody(req);
    const o = b.objects.get(name);
    if (method === "DELETE") {
      count("DELETE object");
      if (!o) throw notFound(`${bucketName}/${name}`);
      checkPreconditions(q, o);
      b.objects.delete(name);
      res.writeHead(204);
      return res.end();
    }
    if (method !== "GET") throw new HttpError(405, `${method} not supported here`, "invalid");
    if (!o) throw notFound(`${bucketName}/${name}`);
    const g = numParam(q, "generation");
    if (g !== undefined && g !== o.generation) throw notFound(`${bucketName}/${name}#${g}`);
    checkPreconditions(q, o);
    if (q.get("alt") === "media") {
      count("GET media");
      return serveMedia(req, res, o);
    }
    count("GET object");
    sendJson(res, 200, objectJson(o));
  };

  const server: Server = createServer((req, res) => {
    route(req, res).catch((err) => {
      const e = err instanceof HttpError
        ? err
        : new HttpError(500, err instanceof Error ? err.message : String(err), "backendError");
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Drain what the client is still sending so it sees the status, not a reset.
      req.resume();
      sendJson(res, e.status, {
        error: {
          code: e.status,
          message: e.message,
          errors: [{ message: e.message, reason: e.reason }],
        },
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  base = `http://${host}:${addr.port}`;
  return {
    endpoint: base,
    port: addr.port,
    requests,
    createBucket,
    openSessions: () => [...sessions.values()].filter((s) => !s.done).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
        buckets.clear();
        sessions.clear();
      }),
  };
}
