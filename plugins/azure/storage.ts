/**
 * ExternalStorage on Azure Blob Storage through `@azure/storage-blob`.
 *
 * Versions are ETags; `ifNoneMatch: "*"` and `ifMatch` become `If-None-Match: *` and
 * `If-Match`, checked atomically by the service. `create()` stages blocks (`partSize` each,
 * `concurrency` at a time) and commits the block list; an object smaller than one block is a
 * single Put Blob.
 *
 * Retries: the SDK's are off (`maxTries: 1`); tibr's retry layer retries mapped temporary
 * errors, and the block writer resends a failed block itself.
 * @module
 */
import { randomBytes } from "node:crypto";
import { Buffer } from "node:buffer";
import type { Readable } from "node:stream";
import {
  AnonymousCredential,
  BlobServiceClient,
  type BlobServiceClient as BlobServiceClientType,
  type BlockBlobClient,
  type ContainerClient,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AzureBlobStorageSchema } from "../../src/gen/brpb_pb.ts";
import { existsByStat, StorageError } from "../../src/storage/errors.ts";
import { log } from "../../src/log.ts";
import { checkName, compareNames, joinKey, walkPrefix } from "../../src/storage/names.ts";
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
import { PartWriter } from "../_cloud/_part_writer.ts";
import { emptyReader, forEachLimit, readerOfBody } from "../_cloud/_streams.ts";
import type { AzureConfig } from "./_config.ts";
import { type AzureErrorContext, azureStatus, mapAzureError } from "./_errors.ts";

/** Names per `deleteFiles` round: the Blob Batch limit. */
const DELETE_BATCH = 256;
const DELETE_PARALLEL = 16;
/** Azure's most blocks per blob. */
const MAX_BLOCKS = 50_000;
const DEFAULT_PART = 5 * 1024 * 1024;
/** A UTF-16 surrogate: the name has a character above U+FFFF. */
const ASTRAL = /[\uD800-\uDFFF]/;

/** Builds the service client; the SAS, if any, rides in its URL. */
function makeServiceClient(cfg: AzureConfig): BlobServiceClientType {
  const options = { retryOptions: { maxTries: 1 } };
  const c = cfg.credentials;
  if (c.kind === "sas") {
    return new BlobServiceClient(`${cfg.endpoint}?${c.token}`, new AnonymousCredential(), options);
  }
  return new BlobServiceClient(
    cfg.endpoint,
    new StorageSharedKeyCredential(c.accountName, c.accountKey),
    options,
  );
}

async function collect(body: NodeJS.ReadableStream | undefined): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    parts.push(chunk);
    n += chunk.length;
  }
  const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** An Azure container prefix as ExternalStorage. */
export class AzureStorage implements ExternalStorage {
  readonly #cfg: AzureConfig;
  readonly #container: ContainerClient;
  /** The shared-key credential (for batch deletes); undefined with a SAS. */
  readonly #sharedKey: StorageSharedKeyCredential | undefined;
  readonly #ctx: AzureErrorContext;
  readonly #scheme: string;
  #closed = false;

  constructor(cfg: AzureConfig, scheme = "azure") {
    this.#cfg = cfg;
    this.#scheme = scheme;
    this.#container = makeServiceClient(cfg).getContainerClient(cfg.bucket);
    const c = cfg.credentials;
    this.#sharedKey = c.kind === "sharedKey"
      ? new StorageSharedKeyCredential(c.accountName, c.accountKey)
      : undefined;
    this.#ctx = {
      where: `${scheme}://${cfg.bucket}${cfg.prefix === "" ? "" : `/${cfg.prefix}`}`,
      container: cfg.bucket,
      endpointName: cfg.endpoint,
      credentialFix: c.kind === "sas"
        ? "check the sas-token, its expiry and its permissions on the container"
        : c.fromEnv
        ? "check AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY"
        : "check account-name and account-key",
    };
  }

  /** Checks that the container exists and the credentials may list it. */
  async connect(signal?: AbortSignal): Promise<void> {
    try {
      const pages = this.#container.listBlobsFlat({ prefix: this.#key(""), abortSignal: signal })
        .byPage({ maxPageSize: 1 });
      await pages.next();
    } catch (err) {
      throwIfAborted(signal);
      if (azureStatus(err) === 404) {
        throw mapAzureError({ statusCode: 404, code: "ContainerNotFound" }, this.#ctx, "open");
      }
      throw mapAzureError(err, this.#ctx, "open");
    }
    log("storage", "azure").debug("connected to container {container} at {endpoint} ({auth})", {
      container: this.#cfg.bucket,
      endpoint: this.#cfg.endpoint,
      auth: this.#cfg.credentials.kind === "sas" ? "SAS token" : "shared key",
    });
  }

  #key(name: string): string {
    return joinKey(this.#cfg.prefix, name);
  }

  #blob(name: string): BlockBlobClient {
    return this.#container.getBlockBlobClient(this.#key(name));
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
    precondition?: AzureErrorContext["precondition"],
  ): never {
    throwIfAborted(signal);
    if (err instanceof StorageError) throw err;
    throw mapAzureError(err, precondition ? { ...this.#ctx, precondition } : this.#ctx, op, path);
  }

  /** Tier, encryption scope and customer key for every new blob. */
  #writeParams() {
    const p: {
      tier?: string;
      encryptionScope?: string;
      customerProvidedKey?: { encryptionKey: string; encryptionKeySha256: string };
    } = {};
    if (this.#cfg.accessTier) p.tier = this.#cfg.accessTier;
    if (this.#cfg.encryptionScope) p.encryptionScope = this.#cfg.encryptionScope;
    if (this.#cfg.customerKey) p.customerProvidedKey = this.#cfg.customerKey;
    return p;
  }

  /** The customer key, which reads of such blobs must present too. */
  #readParams() {
    return this.#cfg.customerKey ? { customerProvidedKey: this.#cfg.customerKey } : {};
  }

  async writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    checkName(name, "writeFile");
    this.#live("writeFile");
    throwIfAborted(opts?.signal);
    let precondition: AzureErrorContext["precondition"];
    const conditions: { ifNoneMatch?: string; ifMatch?: string } = {};
    if (opts?.ifNoneMatch !== undefined) {
      conditions.ifNoneMatch = "*";
      precondition = "ifNoneMatch";
    } else if (opts?.ifMatch !== undefined) {
      conditions.ifMatch = opts.ifMatch;
      precondition = "ifMatch";
    }
    try {
      const out = await this.#blob(name).upload(data, data.length, {
        conditions,
        abortSignal: opts?.signal,
        ...this.#writeParams(),
      });
      return { size: data.length, version: out.etag ?? "" };
    } catch (err) {
      this.#fail(err, opts?.signal, "writeFile", name, precondition);
    }
  }

  async readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    checkName(name, "readFile");
    this.#live("readFile");
    throwIfAborted(opts?.signal);
    try {
      const out = await this.#blob(name).download(0, undefined, {
        abortSignal: opts?.signal,
        ...this.#readParams(),
      });
      return await collect(out.readableStreamBody);
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
      const p = await this.#blob(name).getProperties({
        abortSignal: opts?.signal,
        ...this.#readParams(),
      });
      return { size: p.contentLength ?? 0, version: p.etag ?? "" };
    } catch (err) {
      this.#fail(err, opts?.signal, "stat", name);
    }
  }

  async deleteFile(name: string, opts?: CallOptions): Promise<void> {
    checkName(name, "deleteFile");
    this.#live("deleteFile");
    throwIfAborted(opts?.signal);
    try {
      await this.#blob(name).deleteIfExists({ abortSignal: opts?.signal });
    } catch (err) {
      this.#fail(err, opts?.signal, "deleteFile", name);
    }
  }

  /**
   * With a shared key, one Blob Batch request per 256 names; with a SAS (whose batch support
   * varies by service version), 16 single deletes at a time.
   */
  async deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    for (const n of names) checkName(n, "deleteFiles");
    this.#live("deleteFiles");
    throwIfAborted(opts?.signal);
    const cred = this.#sharedKey;
    for (let i = 0; i < names.length; i += DELETE_BATCH) {
      throwIfAborted(opts?.signal);
      const batch = names.slice(i, i + DELETE_BATCH);
      if (!cred) {
        await forEachLimit(batch, DELETE_PARALLEL, (n) => this.deleteFile(n, opts));
        continue;
      }
      let res;
      try {
        res = await this.#container.getBlobBatchClient().deleteBlobs(
          batch.map((n) => this.#blob(n).url),
          cred,
          { abortSignal: opts?.signal },
        );
      } catch (err) {
        this.#fail(err, opts?.signal, "deleteFiles", batch[0]);
      }
      const failed = res.subResponses.filter((r) => r.status >= 300 && r.status !== 404);
      const first = failed[0];
      if (first) {
        const path = batch[res.subResponses.indexOf(first)];
        const mapped = mapAzureError(
          { statusCode: first.status, code: first.errorCode },
          this.#ctx,
          "deleteFiles",
          path,
        );
        throw new StorageError(
          `${mapped.message} (${failed.length} of ${batch.length} names in the batch failed)`,
          {
            code: mapped.code,
            operation: "deleteFiles",
            ...(path === undefined ? {} : { path }),
            temporary: mapped.temporary,
            cause: mapped.cause,
          },
        );
      }
    }
  }

  async open(name: string, opts?: ReadOptions): Promise<StorageReader> {
    checkName(name, "open");
    this.#live("open");
    throwIfAborted(opts?.signal);
    const start = opts?.start ?? 0;
    const end = opts?.end;
    if (start < 0 || (end !== undefined && end < 0)) {
      throw new StorageError(`${this.#ctx.where}: open ${JSON.stringify(name)}: negative range`, {
        code: "ConfigInvalid",
        operation: "open",
        path: name,
      });
    }
    if (end !== undefined && end <= start) {
      const { size } = await this.stat(name, opts);
      return emptyReader(size);
    }
    let out;
    try {
      out = await this.#blob(name).download(
        start,
        end === undefined ? undefined : end - start,
        { abortSignal: opts?.signal, ...this.#readParams() },
      );
    } catch (err) {
      throwIfAborted(opts?.signal);
      if (azureStatus(err) === 416) {
        // The range starts at or past the end (or the blob is empty): clamp to nothing.
        const { size } = await this.stat(name, opts);
        return emptyReader(size);
      }
      this.#fail(err, opts?.signal, "open", name);
    }
    const total = /\/(\d+)$/.exec(out.contentRange ?? "")?.[1];
    const size = total !== undefined ? Number(total) : (out.contentLength ?? 0);
    const body = out.readableStreamBody as Readable | undefined;
    if (!body) return emptyReader(size);
    return readerOfBody(
      body,
      size,
      opts?.signal,
      (err) => err instanceof StorageError ? err : mapAzureError(err, this.#ctx, "open", name),
    );
  }

  /**
   * Lists in byte (UTF-8) order whatever order the service uses for names with characters
   * above U+FFFF: Azurite sorts by UTF-16 code units, which puts them before U+E000-U+FFFF.
   * Names without such characters compare the same either way and pass straight through;
   * names with them are held (sorted) until a larger plain name arrives, so memory grows only
   * with the number of such names still pending.
   */
  async walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
    this.#live("walkDir");
    throwIfAborted(opts.signal);
    const rootLen = this.#cfg.prefix === "" ? 0 : this.#cfg.prefix.length + 1;
    const prefix = this.#key(walkPrefix(opts));
    const after = opts.startAfter === undefined ? undefined : this.#key(opts.startAfter);
    const maxPageSize = Math.max(1, Math.min(opts.listCount ?? 1000, 5000));
    const pages = this.#container.listBlobsFlat({ prefix, abortSignal: opts.signal })
      .byPage({ maxPageSize });
    const held: [string, number][] = [];
    const flushBelow = async (limit: string | undefined) => {
      while (held.length > 0 && (limit === undefined || compareNames(held[0]![0], limit) < 0)) {
        const [n, size] = held.shift()!;
        await fn(n.slice(rootLen), size);
      }
    };
    for (;;) {
      let page;
      try {
        page = await pages.next();
      } catch (err) {
        this.#fail(err, opts.signal, "walkDir", opts.subDir);
      }
      if (page.done) break;
      for (const item of page.value.segment.blobItems) {
        // Filtered here: start-after is not on every API version.
        if (after !== undefined && compareNames(item.name, after) <= 0) continue;
        const size = item.properties.contentLength ?? 0;
        if (ASTRAL.test(item.name)) {
          let i = held.length;
          while (i > 0 && compareNames(held[i - 1]![0], item.name) > 0) i--;
          held.splice(i, 0, [item.name, size]);
          continue;
        }
        await flushBelow(item.name);
        await fn(item.name.slice(rootLen), size);
      }
    }
    await flushBelow(undefined);
  }

  uri(): string {
    const q = this.#cfg.endpointGiven
      ? `?endpoint=${this.#cfg.endpoint}`
      : `?account-name=${encodeURIComponent(this.#cfg.accountName)}`;
    return `${this.#ctx.where}${q}`;
  }

  create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    checkName(name, "create");
    this.#live("create");
    throwIfAborted(opts?.signal);
    const blob = this.#blob(name);
    // Block ids must have one length per blob; a random upload id keeps two writers of the
    // same name from committing each other's blocks.
    const upload = randomBytes(8).toString("hex");
    const blockId = (i: number) =>
      Buffer.from(`${upload}-${String(i).padStart(6, "0")}`).toString("base64");
    const fail = (err: unknown, signal: AbortSignal, op: string): never =>
      this.#fail(err, signal, op, name);
    return Promise.resolve(
      new PartWriter({
        uploadPart: async (index, data, signal) => {
          try {
            await blob.stageBlock(blockId(index), data, data.length, {
              abortSignal: signal,
              ...(this.#cfg.encryptionScope ? { encryptionScope: this.#cfg.encryptionScope } : {}),
              ...this.#readParams(),
            });
          } catch (err) {
            fail(err, signal, "writer.write");
          }
        },
        complete: async (count, size, signal) => {
          try {
            const ids = Array.from({ length: count }, (_, i) => blockId(i));
            const out = await blob.commitBlockList(ids, {
              abortSignal: signal,
              ...this.#writeParams(),
            });
            return { size, version: out.etag ?? "" };
          } catch (err) {
            return fail(err, signal, "writer.close");
          }
        },
        putWhole: (data, signal) => this.writeFile(name, data, { signal }),
        // Uncommitted blocks are never visible and Azure drops them after a week.
        abort: () => Promise.resolve(),
      }, {
        partSize: Math.max(1, opts?.partSize ?? DEFAULT_PART),
        concurrency: Math.max(1, opts?.concurrency ?? 4),
        maxParts: MAX_BLOCKS,
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
      const poller = await this.#blob(to).beginCopyFromURL(this.#blob(from).url, {
        abortSignal: opts?.signal,
        ...(this.#cfg.accessTier ? { tier: this.#cfg.accessTier } : {}),
      });
      const done = await poller.pollUntilDone();
      if (done.copyStatus !== undefined && done.copyStatus !== "success") {
        throw new StorageError(
          `${this.#ctx.where}: rename ${JSON.stringify(from)} failed: the copy ended ` +
            `${done.copyStatus}; retry the rename`,
          { code: "Unexpected", operation: "rename", path: from, temporary: true },
        );
      }
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
    const value: MessageInitShape<typeof AzureBlobStorageSchema> = {
      endpoint: c.endpointGiven ? c.endpoint : "",
      bucket: c.bucket,
      prefix: c.prefix,
      storageClass: c.accessTier ?? "",
      accountName: c.accountName,
      encryptionScope: c.encryptionScope ?? "",
    };
    if (sendCredentials) {
      if (c.credentials.kind === "sas") value.accessSig = c.credentials.token;
      else value.sharedKey = c.credentials.accountKey;
      if (c.customerKey) value.encryptionKey = { ...c.customerKey };
    }
    return { backend: { case: "azureBlobStorage", value } };
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  /** The URL scheme this storage was opened with. */
  get scheme(): string {
    return this.#scheme;
  }
}
