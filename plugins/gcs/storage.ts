/**
 * ExternalStorage on Google Cloud Storage through `@google-cloud/storage`.
 *
 * Versions are object generations; `ifNoneMatch: "*"` is `ifGenerationMatch=0` and `ifMatch`
 * is `ifGenerationMatch=<generation>`, both checked atomically by GCS. Small writes are single
 * multipart uploads carrying their MD5, which GCS verifies; `create()` is a resumable upload in
 * chunks of `partSize` (rounded up to 256 KiB), one chunk in flight at a time, as the protocol
 * requires. Reads go over `fetch` (`_media.ts`), writes of chunks too (`_resumable.ts`); the SDK
 * does metadata, listing, small uploads, copies, deletes, and signs every request.
 *
 * Retries: the SDK's are off (tibr's retry layer retries mapped temporary errors); a chunk of a
 * resumable upload is resent by the part writer (3 attempts), resuming from the offset the
 * server reports.
 * @module
 */
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { type File, Storage, type StorageOptions } from "@google-cloud/storage";
import { JWT, UserRefreshClient } from "google-auth-library";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GCSSchema } from "../../src/gen/brpb_pb.ts";
import { existsByStat, StorageError } from "../../src/storage/errors.ts";
import { log } from "../../src/log.ts";
import { checkName, joinKey, walkPrefix } from "../../src/storage/names.ts";
import type {
  CallOptions,
  CreateOptions,
  ExternalStorage,
  ObjectStat,
  ReadFileOptions,
  ReadOptions,
  StorageBackendInit,
  StorageCapabilities,
  StorageReader,
  StorageWriter,
  WalkFn,
  WalkOptions,
  WriteOptions,
} from "../../src/storage/types.ts";
import { throwIfAborted } from "../_cloud/_errors.ts";
import { emptyReader, forEachLimit, raceSignal } from "../_cloud/_streams.ts";
import { type GcsConfig, gcsCredentials } from "./_config.ts";
import { type GcsErrorContext, gcsStatus, mapGcsError } from "./_errors.ts";
import { mappedBody, MediaClient, type MediaResponse, readAllChecked } from "./_media.ts";
import { ResumableSink } from "./_resumable.ts";
import { PartWriter } from "../_cloud/_part_writer.ts";

/** Names per `deleteFiles` round; GCS has no multi-object delete, so these run in parallel. */
const DELETE_BATCH = 100;
const DELETE_PARALLEL = 16;
/** Resumable chunks must be multiples of this. */
const CHUNK_QUANTUM = 256 * 1024;
const CONTENT_TYPE = "application/octet-stream";
const SCOPE = "https://www.googleapis.com/auth/devstorage.full_control";

/**
 * The auth client for a credentials file, built by key type as google-auth-library asks
 * (handing it raw JSON is deprecated); other types go through its generic loader.
 */
function authFor(
  json: Record<string, unknown>,
): Pick<StorageOptions, "authClient" | "credentials"> {
  const str = (k: string) => typeof json[k] === "string" ? json[k] as string : undefined;
  const universeDomain = str("universe_domain");
  if (json["type"] === "service_account") {
    return {
      authClient: new JWT({
        email: str("client_email"),
        key: str("private_key"),
        keyId: str("private_key_id"),
        scopes: [SCOPE],
        ...(universeDomain ? { universeDomain } : {}),
      }),
    };
  }
  if (json["type"] === "authorized_user") {
    return {
      authClient: new UserRefreshClient({
        clientId: str("client_id"),
        clientSecret: str("client_secret"),
        refreshToken: str("refresh_token"),
        ...(universeDomain ? { universeDomain } : {}),
      }),
    };
  }
  return { credentials: json };
}

/** Builds the SDK client, its own retries off. */
function makeClient(cfg: GcsConfig): Storage {
  const base: StorageOptions = {};
  if (cfg.endpoint !== undefined) base.apiEndpoint = cfg.endpoint.replace(/\/+$/, "");
  const credentials = gcsCredentials(cfg);
  if (credentials !== undefined) {
    Object.assign(base, authFor(credentials));
    // The SDK sends no credentials to a custom endpoint unless asked to.
    base.useAuthWithCustomEndpoint = true;
    const universe = credentials["universe_domain"];
    if (typeof universe === "string" && universe !== "") base.universeDomain = universe;
    const project = credentials["project_id"];
    if (typeof project === "string" && project !== "") base.projectId = project;
  }
  return new Storage({ ...base, retryOptions: { autoRetry: false, maxRetries: 0 } });
}

/** A GCS bucket prefix as ExternalStorage. Create it with `openGcsStorage`. */
export class GcsStorage implements ExternalStorage {
  readonly #cfg: GcsConfig;
  readonly #plain: Storage;
  readonly #media: MediaClient;
  readonly #ctx: GcsErrorContext;
  #closed = false;

  constructor(cfg: GcsConfig, scheme = "gcs") {
    this.#cfg = cfg;
    const plain = makeClient(cfg);
    this.#plain = plain;
    const google = cfg.endpoint === undefined ||
      /(^|\.)googleapis\.com$/.test(new URL(cfg.endpoint).hostname);
    this.#media = new MediaClient(plain, cfg.bucket, google || cfg.credentialsBlob !== undefined);
    const path = cfg.prefix === "" ? "" : `/${cfg.prefix}`;
    this.#ctx = {
      where: `${scheme}://${cfg.bucket}${path}`,
      bucket: cfg.bucket,
      endpointName: cfg.endpoint ?? "Google Cloud Storage",
    };
    if (cfg.credentialsSource !== undefined) this.#ctx.credentialsSource = cfg.credentialsSource;
  }

  /** Checks that the bucket exists and the credentials may list it, as BR does on open. */
  async connect(signal?: AbortSignal): Promise<void> {
    try {
      await raceSignal(
        this.#plain.bucket(this.#cfg.bucket).getFiles({
          prefix: this.#key(""),
          maxResults: 1,
          autoPaginate: false,
        }),
        signal,
      );
    } catch (err) {
      throwIfAborted(signal);
      if (gcsStatus(err) === 404) {
        throw mapGcsError(
          { code: 404, message: "The specified bucket does not exist." },
          this.#ctx,
          "open",
        );
      }
      throw mapGcsError(err, this.#ctx, "open");
    }
    log("storage", "gcs").debug("connected to bucket {bucket} at {endpoint} ({auth})", {
      bucket: this.#cfg.bucket,
      endpoint: this.#ctx.endpointName,
      auth: this.#cfg.credentialsSource ?? "application-default or no credentials",
    });
  }

  #key(name: string): string {
    return joinKey(this.#cfg.prefix, name);
  }

  #file(name: string): File {
    return this.#plain.bucket(this.#cfg.bucket).file(this.#key(name));
  }

  #live(op: string): void {
    if (this.#closed) {
      throw new StorageError(`${this.#ctx.where}: ${op} after close`, {
        code: "Unexpected",
        operation: op,
      });
    }
  }

  #fail(
    err: unknown,
    signal: AbortSignal | undefined,
    op: string,
    path?: string,
    precondition?: GcsErrorContext["precondition"],
  ): never {
    throwIfAborted(signal);
    if (err instanceof StorageError) throw err;
    const ctx = precondition ? { ...this.#ctx, precondition } : this.#ctx;
    throw mapGcsError(err, ctx, op, path);
  }

  async writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    checkName(name, "writeFile");
    this.#live("writeFile");
    throwIfAborted(opts?.signal);
    const file = this.#file(name);
    let precondition: GcsErrorContext["precondition"];
    let ifGenerationMatch: number | undefined;
    if (opts?.ifNoneMatch !== undefined) {
      ifGenerationMatch = 0;
      precondition = "ifNoneMatch";
    } else if (opts?.ifMatch !== undefined) {
      ifGenerationMatch = Number(opts.ifMatch);
      precondition = "ifMatch";
      if (!Number.isSafeInteger(ifGenerationMatch) || ifGenerationMatch <= 0) {
        // Not a generation this storage handed out, so it cannot match.
        throw mapGcsError({ code: 412 }, { ...this.#ctx, precondition }, "writeFile", name);
      }
    }
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    try {
      await raceSignal(
        file.save(buf, {
          resumable: false,
          // The SDK's own check deletes the object on a mismatch, racing other writers; the
          // MD5 sent along makes GCS reject a corrupted upload instead.
          validation: false,
          metadata: this.#metadata({ md5Hash: createHash("md5").update(buf).digest("base64") }),
          ...(this.#cfg.predefinedAcl ? { predefinedAcl: this.#acl() } : {}),
          ...(ifGenerationMatch === undefined ? {} : { preconditionOpts: { ifGenerationMatch } }),
        }),
        opts?.signal,
      );
    } catch (err) {
      this.#fail(err, opts?.signal, "writeFile", name, precondition);
    }
    return { size: data.length, version: String(file.metadata.generation ?? "") };
  }

  #metadata(extra: Record<string, string> = {}): Record<string, string> {
    const m: Record<string, string> = { contentType: CONTENT_TYPE, ...extra };
    if (this.#cfg.storageClass) m["storageClass"] = this.#cfg.storageClass;
    return m;
  }

  #acl() {
    return this.#cfg.predefinedAcl as NonNullable<Parameters<File["save"]>[1]>["predefinedAcl"];
  }

  async readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    checkName(name, "readFile");
    this.#live("readFile");
    throwIfAborted(opts?.signal);
    try {
      const m = await this.#media.get(this.#key(name), { start: 0 }, opts?.signal);
      return await readAllChecked(m);
    } catch (err) {
      this.#fail(err, opts?.signal, "readFile", name);
    }
  }

  fileExists(name: string, opts?: CallOptions): Promise<boolean> {
    return existsByStat(() => this.stat(name, opts));
  }

  async stat(name: string, opts?: CallOptions): Promise<ObjectStat> {
    checkName(name, "stat");
    this.#live("stat");
    throwIfAborted(opts?.signal);
    try {
      const [meta] = await raceSignal(this.#file(name).getMetadata(), opts?.signal);
      return { size: Number(meta.size ?? 0), version: String(meta.generation ?? "") };
    } catch (err) {
      this.#fail(err, opts?.signal, "stat", name);
    }
  }

  async deleteFile(name: string, opts?: CallOptions): Promise<void> {
    checkName(name, "deleteFile");
    this.#live("deleteFile");
    throwIfAborted(opts?.signal);
    try {
      await raceSignal(this.#file(name).delete({ ignoreNotFound: true }), opts?.signal);
    } catch (err) {
      this.#fail(err, opts?.signal, "deleteFile", name);
    }
  }

  async deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    for (const n of names) checkName(n, "deleteFiles");
    this.#live("deleteFiles");
    throwIfAborted(opts?.signal);
    for (let i = 0; i < names.length; i += DELETE_BATCH) {
      throwIfAborted(opts?.signal);
      await forEachLimit(
        names.slice(i, i + DELETE_BATCH),
        DELETE_PARALLEL,
        (n) => this.deleteFile(n, opts),
      );
    }
  }

  async open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    checkName(name, "open");
    this.#live("open");
    throwIfAborted(opts?.signal);
    const start = opts?.start ?? 0;
    if (start < 0 || (opts?.end !== undefined && opts.end < 0)) {
      throw new StorageError(`${this.#ctx.where}: open ${JSON.stringify(name)}: negative range`, {
        code: "ConfigInvalid",
        operation: "open",
        path: name,
      });
    }
    const end = opts?.end;
    if (end !== undefined && end <= start) {
      const { size } = await this.stat(name, opts);
      return emptyReader(size);
    }
    let m: MediaResponse;
    try {
      // One GET: its headers give the size, and its body is one generation throughout.
      m = await this.#media.get(
        this.#key(name),
        end === undefined ? { start } : { start, end },
        opts?.signal,
      );
    } catch (err) {
      this.#fail(err, opts?.signal, "open", name);
    }
    if (!m.body) return emptyReader(m.size);
    const stream = mappedBody(m.body, (err) => {
      if (opts?.signal?.aborted) return opts.signal.reason;
      return err instanceof StorageError ? err : mapGcsError(err, this.#ctx, "open", name);
    });
    let closed = false;
    return {
      size: m.size,
      stream,
      close: async () => {
        if (closed) return;
        closed = true;
        if (!stream.locked) await stream.cancel().catch(() => {});
      },
    };
  }

  async walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
    this.#live("walkDir");
    throwIfAborted(opts.signal);
    const rootLen = this.#cfg.prefix === "" ? 0 : this.#cfg.prefix.length + 1;
    const prefix = this.#key(walkPrefix(opts));
    const after = opts.startAfter === undefined ? undefined : this.#key(opts.startAfter);
    const maxResults = Math.max(1, Math.min(opts.listCount ?? 1000, 1000));
    let pageToken: string | undefined;
    const bucket = this.#plain.bucket(this.#cfg.bucket);
    do {
      let items: { name?: string; size?: string | number }[];
      try {
        const [, next, resp] = await raceSignal(
          bucket.getFiles({
            prefix,
            maxResults,
            autoPaginate: false,
            // startOffset is inclusive; the one name equal to startAfter is skipped below.
            ...(after !== undefined && pageToken === undefined ? { startOffset: after } : {}),
            ...(pageToken === undefined ? {} : { pageToken }),
          }),
          opts.signal,
        );
        items = (resp as { items?: typeof items } | undefined)?.items ?? [];
        pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
      } catch (err) {
        this.#fail(err, opts.signal, "walkDir", opts.subDir);
      }
      for (const it of items) {
        if (it.name === undefined || it.name === after) continue;
        await fn(it.name.slice(rootLen), Number(it.size ?? 0));
      }
    } while (pageToken !== undefined && pageToken !== "");
  }

  uri(): string {
    const query = this.#cfg.endpoint === undefined ? "" : `?endpoint=${this.#cfg.endpoint}`;
    return `${this.#ctx.where}${query}`;
  }

  /**
   * A resumable upload in chunks of `partSize` rounded up to 256 KiB (default 8 MiB), one at a
   * time as the protocol requires (`concurrency` is ignored); memory stays near two chunks.
   */
  create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    checkName(name, "create");
    this.#live("create");
    throwIfAborted(opts?.signal);
    const partSize = Math.max(opts?.partSize ?? 8 * 1024 * 1024, CHUNK_QUANTUM);
    const chunk = Math.ceil(partSize / CHUNK_QUANTUM) * CHUNK_QUANTUM;
    const file = this.#file(name);
    const sink = new ResumableSink({
      partSize: chunk,
      openSession: async (signal) => {
        const [uri] = await raceSignal(
          file.createResumableUpload({
            metadata: this.#metadata(),
            ...(this.#cfg.predefinedAcl ? { predefinedAcl: this.#acl() } : {}),
          }),
          signal,
        );
        return uri;
      },
      putWhole: (data, signal) => this.writeFile(name, data, { signal }),
      mapError: (err, op) => {
        if (err instanceof StorageError) return err;
        return mapGcsError(err, this.#ctx, op, name);
      },
    });
    return Promise.resolve(
      new PartWriter(sink, {
        partSize: chunk,
        concurrency: 1,
        maxParts: Number.MAX_SAFE_INTEGER,
        partAttempts: 3,
        signal: opts?.signal,
        describe: `${this.#ctx.where}/${name}`,
        path: name,
      }),
    );
  }

  async rename(from: string, to: string, opts?: CallOptions): Promise<void> {
    checkName(from, "rename");
    checkName(to, "rename");
    this.#live("rename");
    throwIfAborted(opts?.signal);
    try {
      const copyOpts: Record<string, unknown> = {};
      if (this.#cfg.predefinedAcl) copyOpts["predefinedAcl"] = this.#cfg.predefinedAcl;
      if (this.#cfg.storageClass) copyOpts["storageClass"] = this.#cfg.storageClass;
      await raceSignal(this.#file(from).copy(this.#file(to), copyOpts), opts?.signal);
    } catch (err) {
      this.#fail(err, opts?.signal, "rename", from);
    }
    await this.deleteFile(from, opts);
  }

  capabilities(): StorageCapabilities {
    return {
      conditionalCreate: true,
      compareAndSwap: true,
      atomicReplace: true,
      strongConsistency: true,
      rangeRead: true,
      maxDeleteBatch: DELETE_BATCH,
    };
  }

  storageBackend(sendCredentials: boolean): StorageBackendInit {
    const c = this.#cfg;
    const value: MessageInitShape<typeof GCSSchema> = {
      endpoint: c.endpoint ?? "",
      bucket: c.bucket,
      prefix: c.prefix,
      storageClass: c.storageClass ?? "",
      predefinedAcl: c.predefinedAcl ?? "",
    };
    if (sendCredentials && c.credentialsBlob !== undefined) {
      value.credentialsBlob = c.credentialsBlob;
    }
    return { backend: { case: "gcs", value } };
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
