/**
 * ExternalStorage on Amazon S3 and S3-compatible servers (Ceph RGW, MinIO, ...), through
 * `@aws-sdk/client-s3`.
 *
 * Retries: the SDK's own retries are off (`maxAttempts: 1`). Whole calls are retried by tibr's
 * retry layer, which sees the mapped StorageError (`temporary` for 5xx, SlowDown, resets), so a
 * throttled request is not retried twice over. Parts of a `create()` upload are the exception:
 * the layer cannot replay a stream, so the writer resends a failed part itself (3 attempts).
 * @module
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ObjectCannedACL,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  type S3ClientConfig,
  type ServerSideEncryption,
  type StorageClass,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { fromIni, fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import type { Readable } from "node:stream";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { S3Schema } from "../../src/gen/brpb_pb.ts";
import { existsByStat, StorageError } from "../../src/storage/errors.ts";
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
import { log } from "../../src/log.ts";
import { throwIfAborted } from "../_cloud/_errors.ts";
import { PartWriter } from "../_cloud/_part_writer.ts";
import { emptyReader, raceSignal, readerOfBody } from "../_cloud/_streams.ts";
import type { S3Config } from "./_config.ts";
import { mapS3Error, type S3ErrorContext } from "./_errors.ts";

/** Resolved AWS keys, as forwarded to TiKV. */
interface AwsKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

const MiB = 1024 * 1024;
/** S3's smallest part (all but the last). */
const MIN_PART = 5 * MiB;
/** S3's most parts per upload. */
const MAX_PARTS = 10_000;
/** S3's most keys per DeleteObjects. */
const DELETE_BATCH = 1000;

/** S3 ETags are quoted; versions are kept bare so they compare and travel as plain strings. */
function bareEtag(etag: string | undefined): string {
  return (etag ?? "").replace(/^W\//, "").replace(/^"|"$/g, "");
}

/** `CopySource` is `bucket/key` with the key URL-encoded segment by segment. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/** Builds the SDK client for a config. Exported for the benchmark, which must use the same. */
export function makeS3Client(cfg: S3Config): S3Client {
  const conf: S3ClientConfig = {
    region: cfg.sdkRegion,
    forcePathStyle: cfg.forcePathStyle,
    useAccelerateEndpoint: cfg.useAccelerateEndpoint,
    maxAttempts: 1,
    // Checksums on every part cost CPU on large uploads and are not needed for integrity over
    // TLS; S3 still gets a checksum where an API demands one (DeleteObjects).
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
  };
  if (cfg.endpoint !== undefined) conf.endpoint = cfg.endpoint;
  const c = cfg.credentials;
  let base: S3ClientConfig["credentials"];
  if (c.kind === "static") {
    base = {
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      ...(c.sessionToken === undefined ? {} : { sessionToken: c.sessionToken }),
    };
  } else if (c.kind === "profile") {
    base = fromIni({
      profile: c.profile,
      ...(c.credentialsFile === undefined ? {} : { filepath: c.credentialsFile }),
      ...(c.configFile === undefined ? {} : { configFilepath: c.configFile }),
    });
  }
  if (cfg.roleArn !== undefined) {
    const params: { RoleArn: string; RoleSessionName: string; ExternalId?: string } = {
      RoleArn: cfg.roleArn,
      RoleSessionName: `tibr-${Date.now()}`,
    };
    if (cfg.externalId !== undefined) params.ExternalId = cfg.externalId;
    const opts: Parameters<typeof fromTemporaryCredentials>[0] = {
      params,
      // Like BR (one AWS session for both), STS is asked at the S3 endpoint when one is set:
      // S3-compatible servers with STS (Ceph RGW, MinIO) serve it there.
      clientConfig: {
        region: cfg.sdkRegion,
        ...(cfg.endpoint === undefined ? {} : { endpoint: cfg.endpoint }),
      },
    };
    if (base !== undefined) {
      opts.masterCredentials = base as NonNullable<typeof opts.masterCredentials>;
    }
    const assume = fromTemporaryCredentials(opts);
    const role = cfg.roleArn;
    conf.credentials = async (props) => {
      try {
        return await assume(props);
      } catch (err) {
        // Told apart from S3's own errors, so a refused AssumeRole is not "bucket not found".
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        throw Object.assign(new Error(`AssumeRole of ${role} failed`, { cause: err }), {
          name: "AssumeRoleFailed",
          stsCode: e.name,
          $metadata: { httpStatusCode: e.$metadata?.httpStatusCode },
        });
      }
    };
  } else if (base !== undefined) {
    conf.credentials = base;
  }
  return new S3Client(conf);
}

/** An S3 bucket prefix as ExternalStorage. Create it with `openS3Storage`. */
export class S3Storage implements ExternalStorage {
  readonly #cfg: S3Config;
  readonly #client: S3Client;
  readonly #ctx: S3ErrorContext;
  #credentials: AwsKeys | undefined;
  #closed = false;

  constructor(cfg: S3Config, client: S3Client) {
    this.#cfg = cfg;
    this.#client = client;
    this.#ctx = {
      where: `s3://${cfg.bucket}${cfg.prefix === "" ? "" : `/${cfg.prefix}`}`,
      bucket: cfg.bucket,
      endpointName: cfg.endpoint ?? "AWS S3",
    };
  }

  /**
   * Checks that the bucket exists and the credentials work (HeadBucket, as BR does), then keeps
   * the resolved credentials for `storageBackend`.
   */
  async connect(signal?: AbortSignal): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#cfg.bucket }), {
        abortSignal: signal,
      });
    } catch (err) {
      throwIfAborted(signal);
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata
        ?.httpStatusCode;
      // HeadBucket has no body, so a missing bucket is a bare 404.
      const name = (err as { name?: string }).name;
      if (status === 404 && (name === "NotFound" || name === "NoSuchBucket")) {
        throw mapS3Error({ name: "NoSuchBucket" }, this.#ctx, "open");
      }
      throw mapS3Error(err, this.#ctx, "open");
    }
    try {
      this.#credentials = await this.#client.config.credentials();
    } catch (err) {
      // Anonymous access worked; there is nothing to forward to TiKV then.
      log("storage", "s3").debug("no credentials to forward: {err}", { err: String(err) });
    }
    log("storage", "s3").debug(
      "connected to bucket {bucket} at {endpoint} ({style}, region {region}, credentials: {creds})",
      {
        bucket: this.#cfg.bucket,
        endpoint: this.#ctx.endpointName,
        style: this.#cfg.forcePathStyle ? "path-style" : "virtual-host",
        region: this.#cfg.region,
        creds: this.#cfg.roleArn ? `role ${this.#cfg.roleArn}` : this.#cfg.credentials.kind,
      },
    );
  }

  #key(name: string): string {
    return joinKey(this.#cfg.prefix, name);
  }

  #live(op: string): void {
    if (this.#closed) {
      throw new StorageError(`${this.#ctx.where}: ${op} after close`, {
        code: "Unexpected",
        operation: op,
      });
    }
  }

  #fail(err: unknown, op: string, path?: string, ctx?: Partial<S3ErrorContext>): never {
    if (err instanceof StorageError) throw err;
    throw mapS3Error(err, ctx ? { ...this.#ctx, ...ctx } : this.#ctx, op, path);
  }

  /** Storage class, encryption and ACL for every new object. */
  #objectParams(): Pick<
    PutObjectCommandInput,
    "StorageClass" | "ServerSideEncryption" | "SSEKMSKeyId" | "ACL"
  > {
    const p: Pick<
      PutObjectCommandInput,
      "StorageClass" | "ServerSideEncryption" | "SSEKMSKeyId" | "ACL"
    > = {};
    if (this.#cfg.storageClass) p.StorageClass = this.#cfg.storageClass as StorageClass;
    if (this.#cfg.sse) p.ServerSideEncryption = this.#cfg.sse as ServerSideEncryption;
    if (this.#cfg.sseKmsKeyId) p.SSEKMSKeyId = this.#cfg.sseKmsKeyId;
    if (this.#cfg.acl) p.ACL = this.#cfg.acl as ObjectCannedACL;
    return p;
  }

  async writeFile(name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> {
    checkName(name, "writeFile");
    this.#live("writeFile");
    throwIfAborted(opts?.signal);
    const input: PutObjectCommandInput = {
      Bucket: this.#cfg.bucket,
      Key: this.#key(name),
      Body: data,
      ContentLength: data.length,
      ...this.#objectParams(),
    };
    let precondition: S3ErrorContext["precondition"];
    if (opts?.ifNoneMatch !== undefined) {
      input.IfNoneMatch = "*";
      precondition = "ifNoneMatch";
    } else if (opts?.ifMatch !== undefined) {
      // Sent bare: AWS accepts bare and quoted tags, Ceph RGW only bare ones.
      input.IfMatch = bareEtag(opts.ifMatch);
      precondition = "ifMatch";
    }
    try {
      const out = await this.#client.send(new PutObjectCommand(input), {
        abortSignal: opts?.signal,
      });
      return { size: data.length, version: bareEtag(out.ETag) };
    } catch (err) {
      throwIfAborted(opts?.signal);
      this.#fail(err, "writeFile", name, precondition ? { precondition } : undefined);
    }
  }

  async readFile(name: string, opts?: ReadFileOptions): Promise<Uint8Array> {
    checkName(name, "readFile");
    this.#live("readFile");
    throwIfAborted(opts?.signal);
    try {
      const out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#cfg.bucket, Key: this.#key(name) }),
        { abortSignal: opts?.signal },
      );
      if (!out.Body) return new Uint8Array(0);
      return await out.Body.transformToByteArray();
    } catch (err) {
      throwIfAborted(opts?.signal);
      this.#fail(err, "readFile", name);
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
      const out = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#cfg.bucket, Key: this.#key(name) }),
        { abortSignal: opts?.signal },
      );
      return { size: out.ContentLength ?? 0, version: bareEtag(out.ETag) };
    } catch (err) {
      throwIfAborted(opts?.signal);
      this.#fail(err, "stat", name);
    }
  }

  async deleteFile(name: string, opts?: CallOptions): Promise<void> {
    checkName(name, "deleteFile");
    this.#live("deleteFile");
    throwIfAborted(opts?.signal);
    try {
      await this.#client.send(
        new DeleteObjectCommand({ Bucket: this.#cfg.bucket, Key: this.#key(name) }),
        { abortSignal: opts?.signal },
      );
    } catch (err) {
      throwIfAborted(opts?.signal);
      const mapped = mapS3Error(err, this.#ctx, "deleteFile", name);
      // Some S3-compatible servers answer 404 for a missing key; deleting is idempotent.
      if (mapped.code === "NotFound" && !mapped.message.includes("bucket")) return;
      throw mapped;
    }
  }

  async deleteFiles(names: readonly string[], opts?: CallOptions): Promise<void> {
    for (const n of names) checkName(n, "deleteFiles");
    this.#live("deleteFiles");
    throwIfAborted(opts?.signal);
    for (let i = 0; i < names.length; i += DELETE_BATCH) {
      const batch = names.slice(i, i + DELETE_BATCH);
      let errors;
      try {
        const out = await this.#client.send(
          new DeleteObjectsCommand({
            Bucket: this.#cfg.bucket,
            Delete: { Objects: batch.map((n) => ({ Key: this.#key(n) })), Quiet: true },
          }),
          { abortSignal: opts?.signal },
        );
        errors = (out.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
      } catch (err) {
        throwIfAborted(opts?.signal);
        this.#fail(err, "deleteFiles", batch[0]);
      }
      const first = errors[0];
      if (first) {
        const name = (first.Key ?? "").slice(
          this.#cfg.prefix === "" ? 0 : this.#cfg.prefix.length + 1,
        );
        const mapped = mapS3Error({ Code: first.Code }, this.#ctx, "deleteFiles", name);
        throw new StorageError(
          `${mapped.message} (${errors.length} of ${batch.length} keys in the batch failed)`,
          {
            code: mapped.code,
            operation: "deleteFiles",
            path: name,
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
    const range = start === 0 && end === undefined
      ? undefined
      : `bytes=${start}-${end === undefined ? "" : end - 1}`;
    let out: GetObjectCommandOutput;
    try {
      out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#cfg.bucket, Key: this.#key(name), Range: range }),
        { abortSignal: opts?.signal },
      );
    } catch (err) {
      throwIfAborted(opts?.signal);
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata
        ?.httpStatusCode;
      if (status === 416) {
        // The range starts at or past the end (or the object is empty): clamp to nothing.
        const { size } = await this.stat(name, opts);
        return emptyReader(size);
      }
      this.#fail(err, "open", name);
    }
    const total = /\/(\d+)$/.exec(out.ContentRange ?? "")?.[1];
    const size = total !== undefined ? Number(total) : (out.ContentLength ?? 0);
    const body = out.Body as unknown as Readable | undefined;
    if (!body) return emptyReader(size);
    return readerOfBody(
      body,
      size,
      opts?.signal,
      (err) => err instanceof StorageError ? err : mapS3Error(err, this.#ctx, "open", name),
    );
  }

  async walkDir(opts: WalkOptions, fn: WalkFn): Promise<void> {
    this.#live("walkDir");
    throwIfAborted(opts.signal);
    const rootLen = this.#cfg.prefix === "" ? 0 : this.#cfg.prefix.length + 1;
    const listPrefix = this.#key(walkPrefix(opts));
    const pageSize = Math.max(1, Math.min(opts.listCount ?? 1000, 1000));
    let token: string | undefined;
    let startAfter = opts.startAfter === undefined ? undefined : this.#key(opts.startAfter);
    do {
      let page;
      try {
        page = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#cfg.bucket,
            Prefix: listPrefix,
            MaxKeys: pageSize,
            ContinuationToken: token,
            StartAfter: token === undefined ? startAfter : undefined,
          }),
          { abortSignal: opts.signal },
        );
      } catch (err) {
        throwIfAborted(opts.signal);
        this.#fail(err, "walkDir", opts.subDir);
      }
      for (const obj of page.Contents ?? []) {
        if (obj.Key === undefined) continue;
        await fn(obj.Key.slice(rootLen), obj.Size ?? 0);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      startAfter = undefined;
      if (page.IsTruncated && token === undefined) {
        throw new StorageError(
          `${this.#ctx.where}: walkDir failed: the server truncated a listing without a ` +
            "continuation token; use an S3 server that supports ListObjectsV2",
          { code: "Unsupported", operation: "walkDir" },
        );
      }
    } while (token !== undefined);
  }

  uri(): string {
    const path = this.#cfg.prefix === "" ? "" : `/${this.#cfg.prefix}`;
    const query = this.#cfg.endpoint === undefined ? "" : `?endpoint=${this.#cfg.endpoint}`;
    return `s3://${this.#cfg.bucket}${path}${query}`;
  }

  create(name: string, opts?: CreateOptions): Promise<StorageWriter> {
    checkName(name, "create");
    this.#live("create");
    throwIfAborted(opts?.signal);
    const bucket = this.#cfg.bucket;
    const key = this.#key(name);
    const client = this.#client;
    const etags: string[] = [];
    let uploadId: Promise<string> | undefined;
    const fail = (err: unknown, op: string): never => this.#fail(err, op, name);
    // Started without the writer's signal: an upload the server created must be known, so
    // that aborting the writer can abort it, even if the abort came while it was being created.
    const startUpload = async (): Promise<string> => {
      try {
        const out = await client.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...this.#objectParams() }),
        );
        if (!out.UploadId) throw new Error("CreateMultipartUpload returned no UploadId");
        return out.UploadId;
      } catch (err) {
        return fail(err, "create");
      }
    };
    const partSize = Math.max(MIN_PART, opts?.partSize ?? MIN_PART);
    const writer = new PartWriter({
      uploadPart: async (index, data, signal) => {
        uploadId ??= startUpload();
        const id = await raceSignal(uploadId, signal);
        try {
          const out = await client.send(
            new UploadPartCommand({
              Bucket: bucket,
              Key: key,
              UploadId: id,
              PartNumber: index + 1,
              Body: data,
              ContentLength: data.length,
            }),
            { abortSignal: signal },
          );
          etags[index] = out.ETag ?? "";
        } catch (err) {
          throwIfAborted(signal);
          fail(err, "writer.write");
        }
      },
      complete: async (count, size, signal) => {
        const id = await uploadId!;
        try {
          const out = await client.send(
            new CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key: key,
              UploadId: id,
              MultipartUpload: {
                Parts: etags.slice(0, count).map((ETag, i) => ({ ETag, PartNumber: i + 1 })),
              },
            }),
            { abortSignal: signal },
          );
          // Some servers (Ceph RGW) leave the ETag out of the completion reply.
          if (out.ETag) return { size, version: bareEtag(out.ETag) };
        } catch (err) {
          throwIfAborted(signal);
          return fail(err, "writer.close");
        }
        return await this.stat(name, { signal });
      },
      putWhole: (data, signal) => this.writeFile(name, data, { signal }),
      abort: async () => {
        if (uploadId === undefined) return;
        try {
          const id = await uploadId;
          await client.send(
            new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }),
          );
        } catch (err) {
          // Left-over parts are reclaimed by the bucket's lifecycle rule, if any; nothing
          // visible remains either way.
          log("storage", "s3").warn("cannot abort multipart upload of {name}: {err}", {
            name,
            err: err instanceof Error ? err.message : String(err),
          });
        }
      },
    }, {
      partSize,
      concurrency: Math.max(1, opts?.concurrency ?? 4),
      maxParts: MAX_PARTS,
      partAttempts: 3,
      signal: opts?.signal,
      describe: `${this.#ctx.where}/${name}`,
      path: name,
    });
    return Promise.resolve(writer);
  }

  async rename(from: string, to: string, opts?: CallOptions): Promise<void> {
    checkName(from, "rename");
    checkName(to, "rename");
    this.#live("rename");
    throwIfAborted(opts?.signal);
    try {
      await this.#client.send(
        new CopyObjectCommand({
          Bucket: this.#cfg.bucket,
          Key: this.#key(to),
          CopySource: copySource(this.#cfg.bucket, this.#key(from)),
          ...this.#objectParams(),
        }),
        { abortSignal: opts?.signal },
      );
    } catch (err) {
      throwIfAborted(opts?.signal);
      this.#fail(err, "rename", from);
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
    const value: MessageInitShape<typeof S3Schema> = {
      endpoint: c.endpoint ?? "",
      region: c.region,
      bucket: c.bucket,
      prefix: c.prefix,
      storageClass: c.storageClass ?? "",
      sse: c.sse ?? "",
      acl: c.acl ?? "",
      forcePathStyle: c.forcePathStyle,
      sseKmsKeyId: c.sseKmsKeyId ?? "",
      roleArn: c.roleArn ?? "",
      externalId: c.externalId ?? "",
      objectLockEnabled: c.objectLockEnabled,
      provider: c.provider ?? "",
      profile: c.profile ?? "",
    };
    if (sendCredentials) {
      // Like BR: forward what this process resolved (options, env, profile or role), so
      // stores without their own credentials can write.
      const creds = this.#credentials ??
        (c.credentials.kind === "static"
          ? {
            accessKeyId: c.credentials.accessKeyId,
            secretAccessKey: c.credentials.secretAccessKey,
            sessionToken: c.credentials.sessionToken,
          }
          : undefined);
      if (creds) {
        value.accessKey = creds.accessKeyId;
        value.secretAccessKey = creds.secretAccessKey;
        value.sessionToken = creds.sessionToken ?? "";
      }
    }
    return { backend: { case: "s3", value } };
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#client.destroy();
    }
    return Promise.resolve();
  }
}
