/**
 * `checkpoints/backup/checkpoint.meta`: what a resumed backup must reuse (backup ts, GC service
 * id) and check (the options that decide what the backup contains, the cipher). BR's fields
 * `gc-service-id`, `config-hash` (sha256, base64) and `backup-ts`, with `ranges`, plus:
 *
 * - `config`: the option values behind the hash, so a mismatch names the options that differ;
 * - `cipher-method` and `cipher-check`: the crypter method and a key check value,
 *   HMAC-SHA256(key, "tibr checkpoint key check") cut to 16 bytes, so a resume with another key
 *   fails at once with a clear error instead of finding every group's sha256 wrong. The value
 *   reveals nothing usable about a random AES key.
 *
 * Also the checkpoint-wide storage operations: starting a fresh checkpoint and removing one.
 * @module
 */
import { concatBytes } from "../codec/bytes.ts";
import { controlLane } from "../storage/lane.ts";
import { createHash, createHmac } from "node:crypto";
import { isStorageError } from "../storage/errors.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { type CipherInfo, EncryptionMethod, isEncrypting, methodName } from "../crypto/cipher.ts";
import { log } from "../log.ts";
import { int64Field, objectField, parseJsonBig, strictBase64, toBase64 } from "./_json.ts";
import { CheckpointError } from "./errors.ts";
import { CHECKPOINT_DIR, equalBytes, LOCK_PATH, META_PATH } from "./files.ts";
import type { CheckpointLock } from "./lock.ts";
import { objectUri } from "../storage/url.ts";

/** A value of a backup option, as the backup command passes it for hashing. */
export type ConfigValue =
  | string
  | number
  | boolean
  | bigint
  | null
  | readonly ConfigValue[]
  | { readonly [key: string]: ConfigValue };

/**
 * The options that change what a backup contains (filter, backup ts, ranges, cipher method,
 * compression, ...), keyed by flag name. Never put secrets here: the values are stored in
 * `checkpoint.meta` in the clear (keys that look secret are stored only as a digest).
 */
export type BackupConfig = Readonly<Record<string, ConfigValue>>;

/** A top-level range of the backup. */
export interface MetaRange {
  startKey: Uint8Array;
  endKey: Uint8Array;
}

/** The content of `checkpoint.meta`. */
export interface CheckpointMeta {
  gcServiceId: string;
  /** sha256 of the canonical JSON of the config. */
  configHash: Uint8Array;
  backupTs: bigint;
  ranges: MetaRange[];
  /** The option values hashed (canonical JSON per option); absent in BR's files. */
  config?: Record<string, string>;
  /** `EncryptionMethod` of the run that wrote the checkpoint; absent in BR's files. */
  cipherMethod?: number;
  /** Key check value; absent without encryption and in BR's files. */
  cipherCheck?: Uint8Array;
  /**
   * PD physical time (ms) when the first run started; files the stores name with an earlier
   * time were not written by this backup. Absent in BR's files.
   */
  startMs?: number;
}

const SECRETISH = /(secret|password|passwd|token|credential|crypter\.key|key-file|sas|^key$)/i;

/** Canonical JSON: object keys sorted, no spaces, bigints as bare integers. */
export function canonicalJson(value: ConfigValue): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "bigint":
      return value.toString();
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`config value ${value} is not finite`);
      return Number.isInteger(value) ? BigInt(value).toString() : JSON.stringify(value);
    case "string":
    case "boolean":
      return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as { readonly [key: string]: ConfigValue };
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k]!)}`).join(",")}}`;
}

function storedValue(key: string, value: ConfigValue): string {
  const json = canonicalJson(value);
  if (!SECRETISH.test(key)) return json;
  return JSON.stringify(`sha256:${createHash("sha256").update(json).digest("hex").slice(0, 16)}`);
}

/** The stored form of each option: canonical JSON, secret-looking keys as a digest. */
export function configValues(config: BackupConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(config).sort()) {
    if (config[key] !== undefined) out[key] = storedValue(key, config[key]!);
  }
  return out;
}

/** sha256 over the canonical JSON of the stored option values: order of keys does not matter. */
export function configHash(config: BackupConfig): Uint8Array {
  const values = configValues(config);
  const text = `{${Object.keys(values).map((k) => `${JSON.stringify(k)}:${values[k]}`).join(",")}}`;
  return new Uint8Array(createHash("sha256").update(text).digest());
}

/** One option whose value differs. */
export interface ConfigDifference {
  option: string;
  /** Canonical JSON at checkpoint time; undefined when it was not set. */
  was?: string;
  /** Canonical JSON now; undefined when not set. */
  now?: string;
}

/** The options whose stored values differ from `config`'s. */
export function diffConfig(
  stored: Record<string, string>,
  config: BackupConfig,
): ConfigDifference[] {
  const current = configValues(config);
  const keys = [...new Set([...Object.keys(stored), ...Object.keys(current)])].sort();
  const out: ConfigDifference[] = [];
  for (const option of keys) {
    const was = stored[option];
    const now = current[option];
    if (was !== now) {
      out.push({
        option,
        ...(was === undefined ? {} : { was }),
        ...(now === undefined ? {} : { now }),
      });
    }
  }
  return out;
}

function short(json: string | undefined): string {
  if (json === undefined) return "unset";
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

function freshHint(storage: ExternalStorage): string {
  return `or start afresh with 'tibr checkpoint clean -s ${storage.uri()}' (or another storage ` +
    "path)";
}

/**
 * Throws `ConfigMismatch` unless `config` hashes to the checkpoint's config hash; the message
 * names each differing option with both values when the checkpoint recorded them.
 */
export function checkConfig(
  storage: ExternalStorage,
  meta: CheckpointMeta,
  config: BackupConfig,
): void {
  if (equalBytes(configHash(config), meta.configHash)) return;
  const diff = meta.config ? diffConfig(meta.config, config) : [];
  const what = diff.length > 0
    ? diff.map((d) => `${d.option} was ${short(d.was)}, now ${short(d.now)}`).join("; ")
    : "the checkpoint does not record which options differ";
  throw new CheckpointError(
    "ConfigMismatch",
    `the checkpoint at ${storage.uri()} was made by a backup with other options (${what}); ` +
      `rerun with the same options to resume, ${freshHint(storage)}`,
  );
}

const CHECK_LABEL = "tibr checkpoint key check";

/** The key check value of `cipher`; undefined without encryption. */
export function cipherCheckValue(cipher: CipherInfo | undefined): Uint8Array | undefined {
  if (!isEncrypting(cipher)) return undefined;
  const mac = createHmac("sha256", cipher!.key).update(`${CHECK_LABEL} ${cipher!.method}`);
  return new Uint8Array(mac.digest()).subarray(0, 16);
}

function methodOf(cipher: CipherInfo | undefined): number {
  return isEncrypting(cipher) ? cipher!.method : EncryptionMethod.PLAINTEXT;
}

/**
 * Throws `WrongKey` when `cipher` is not the one the checkpoint was written with (method or
 * key). Checkpoints without a key check (BR's) pass; the loader then catches a wrong key by
 * every group failing its sha256.
 */
export function checkCipher(
  storage: ExternalStorage,
  meta: CheckpointMeta,
  cipher: CipherInfo | undefined,
): void {
  if (meta.cipherMethod === undefined) return;
  const method = methodOf(cipher);
  if (meta.cipherMethod !== method) {
    throw new CheckpointError(
      "WrongKey",
      `the checkpoint at ${storage.uri()} was written with ${methodName(meta.cipherMethod)} ` +
        `encryption but this run uses ${methodName(method)}; pass the same --crypter.method ` +
        `and --crypter.key as the interrupted backup, ${freshHint(storage)}`,
    );
  }
  const check = cipherCheckValue(cipher);
  if (meta.cipherCheck && check && !equalBytes(meta.cipherCheck, check)) {
    throw new CheckpointError(
      "WrongKey",
      `the crypter key differs from the one the checkpoint at ${storage.uri()} was written ` +
        `with; pass the same --crypter.key as the interrupted backup, ${freshHint(storage)}`,
    );
  }
}

/** What `newCheckpointMeta` needs. */
export interface NewMetaInput {
  gcServiceId: string;
  backupTs: bigint;
  ranges?: readonly MetaRange[];
  config: BackupConfig;
  cipher?: CipherInfo;
  /** PD physical time of the first run's start, ms. */
  startMs?: number;
}

/** A meta for a fresh checkpoint: hashes the config and derives the key check. */
export function newCheckpointMeta(input: NewMetaInput): CheckpointMeta {
  const check = cipherCheckValue(input.cipher);
  return {
    gcServiceId: input.gcServiceId,
    configHash: configHash(input.config),
    backupTs: input.backupTs,
    ranges: [...(input.ranges ?? [])],
    config: configValues(input.config),
    cipherMethod: methodOf(input.cipher),
    ...(check ? { cipherCheck: check } : {}),
    ...(input.startMs === undefined ? {} : { startMs: input.startMs }),
  };
}

/** Encodes `checkpoint.meta` (`backup-ts` as a bare integer, as Go writes uint64). */
export function encodeMeta(meta: CheckpointMeta): Uint8Array {
  const enc = new TextEncoder();
  // The ranges (300k for 100k tables, ~90 bytes each) are encoded 4096 at a time into bytes:
  // one string a range joined at once held three copies of ~30 MB.
  const parts: Uint8Array[] = [];
  let s = `{"gc-service-id":${JSON.stringify(meta.gcServiceId)},` +
    `"config-hash":"${toBase64(meta.configHash)}","backup-ts":${meta.backupTs},` +
    `"ranges":[`;
  const ranges = meta.ranges;
  for (let i = 0; i < ranges.length; i += RANGES_PER_PART) {
    const end = Math.min(ranges.length, i + RANGES_PER_PART);
    for (let j = i; j < end; j++) {
      const r = ranges[j]!;
      s += `${j > 0 ? "," : ""}{"StartKey":"${toBase64(r.startKey)}","EndKey":"${
        toBase64(r.endKey)
      }","Files":null}`;
    }
    parts.push(enc.encode(s));
    s = "";
  }
  s += "]";
  if (meta.config) {
    const keys = Object.keys(meta.config).sort();
    s += `,"config":{${keys.map((k) => `${JSON.stringify(k)}:${meta.config![k]}`).join(",")}}`;
  }
  if (meta.cipherMethod !== undefined) s += `,"cipher-method":${meta.cipherMethod}`;
  if (meta.cipherCheck) s += `,"cipher-check":"${toBase64(meta.cipherCheck)}"`;
  if (meta.startMs !== undefined) s += `,"tibr-start-ms":${Math.trunc(meta.startMs)}`;
  parts.push(enc.encode(s + "}"));
  return parts.length === 1 ? parts[0]! : concatBytes(...parts);
}
const RANGES_PER_PART = 4096;

function b64(v: unknown, what: string): Uint8Array {
  if (v === null || v === undefined || v === "") return new Uint8Array(0);
  if (typeof v !== "string") throw new SyntaxError(`${what} is not base64 text`);
  return strictBase64(v, what);
}

/** Decodes `checkpoint.meta`; throws SyntaxError when malformed. */
export function decodeMeta(data: Uint8Array): CheckpointMeta {
  const text = new TextDecoder().decode(data);
  const root = objectField(parseJsonBig(text), "checkpoint.meta");
  const id = root["gc-service-id"];
  if (typeof id !== "string") throw new SyntaxError("gc-service-id is not a string");
  const rawRanges = root.ranges ?? [];
  if (!Array.isArray(rawRanges)) throw new SyntaxError("ranges is not an array");
  const meta: CheckpointMeta = {
    gcServiceId: id,
    configHash: b64(root["config-hash"], "config-hash"),
    backupTs: int64Field(root["backup-ts"], "backup-ts"),
    ranges: rawRanges.map((raw) => {
      const r = objectField(raw, "a range");
      return { startKey: b64(r.StartKey, "StartKey"), endKey: b64(r.EndKey, "EndKey") };
    }),
  };
  if (root.config !== undefined && root.config !== null) {
    // Back to the canonical text each value was written as.
    const config = objectField(root.config, "config");
    meta.config = {};
    for (const k of Object.keys(config)) meta.config[k] = canonicalJson(reviveBig(config[k]));
  }
  const method = root["cipher-method"];
  if (method !== undefined) {
    if (typeof method !== "number" || !Number.isInteger(method)) {
      throw new SyntaxError("cipher-method is not an integer");
    }
    meta.cipherMethod = method;
  }
  if (root["cipher-check"] !== undefined) {
    meta.cipherCheck = b64(root["cipher-check"], "cipher-check");
  }
  const start = root["tibr-start-ms"];
  if (start !== undefined) {
    if (typeof start !== "number" || !Number.isInteger(start)) {
      throw new SyntaxError("tibr-start-ms is not an integer");
    }
    meta.startMs = start;
  }
  return meta;
}

function reviveBig(v: unknown): ConfigValue {
  if (v === undefined) return null;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (Array.isArray(v)) return v.map(reviveBig);
  if (v !== null && typeof v === "object") {
    const out: Record<string, ConfigValue> = {};
    for (const [k, x] of Object.entries(v)) out[k] = reviveBig(x);
    return out;
  }
  return v as ConfigValue;
}

/** Reads `checkpoint.meta`; undefined when there is no checkpoint. Throws Corrupt if unreadable. */
export async function loadCheckpointMeta(
  storage: ExternalStorage,
  signal?: AbortSignal,
): Promise<CheckpointMeta | undefined> {
  storage = controlLane(storage);
  let data: Uint8Array;
  try {
    data = await storage.readFile(META_PATH, { signal });
  } catch (err) {
    if (isStorageError(err, "NotFound")) return undefined;
    throw err;
  }
  try {
    return decodeMeta(data);
  } catch (err) {
    throw new CheckpointError(
      "Corrupt",
      `${objectUri(storage.uri(), META_PATH)} is unreadable (${
        (err as Error).message
      }); start afresh ` +
        `with 'tibr checkpoint clean -s ${storage.uri()}'`,
      { cause: err },
    );
  }
}

/** Writes `checkpoint.meta`, after the lock's fencing check. */
export async function saveCheckpointMeta(
  storage: ExternalStorage,
  meta: CheckpointMeta,
  lock: CheckpointLock,
): Promise<void> {
  storage = controlLane(storage);
  await lock.assertHeld();
  await storage.writeFile(META_PATH, encodeMeta(meta));
}

/**
 * Starts a fresh checkpoint under the lock: removes what an earlier, abandoned checkpoint left
 * (data and checksum files that must not be mixed into this backup), then writes the meta.
 */
export async function startCheckpoint(
  storage: ExternalStorage,
  meta: CheckpointMeta,
  lock: CheckpointLock,
): Promise<void> {
  storage = controlLane(storage);
  await lock.assertHeld();
  const removed = await removeCheckpointData(storage, { keepLock: true });
  if (removed > 0) {
    log("checkpoint").info("removed {n} files of an earlier checkpoint at {uri}", {
      n: removed,
      uri: storage.uri(),
    });
  }
  await saveCheckpointMeta(storage, meta, lock);
}

/** Options of `removeCheckpointData`. */
export interface RemoveOptions {
  /** Leave `checkpoint.lock` (the caller holds it and releases it itself). */
  keepLock?: boolean;
  signal?: AbortSignal;
}

/**
 * Deletes every file under `checkpoints/backup/` (data, checksums, meta, and the lock unless
 * `keepLock`) with batched deletes; returns how many. The backup itself is not touched.
 */
export async function removeCheckpointData(
  storage: ExternalStorage,
  opts: RemoveOptions = {},
): Promise<number> {
  storage = controlLane(storage);
  const batch = Math.max(1, storage.capabilities().maxDeleteBatch) * 10;
  let names: string[] = [];
  let removed = 0;
  // The meta and then the lock go last: a checkpoint half removed by a crash still reads as
  // one (to clean again), and it stays locked until nothing else is left.
  const last: string[] = [];
  await storage.walkDir({ subDir: CHECKPOINT_DIR, signal: opts.signal }, async (name) => {
    if (name === LOCK_PATH) {
      if (!opts.keepLock) last[1] = name;
      return;
    }
    if (name === META_PATH) {
      last[0] = name;
      return;
    }
    names.push(name);
    if (names.length >= batch) {
      await storage.deleteFiles(names, { signal: opts.signal });
      removed += names.length;
      names = [];
    }
  });
  if (names.length > 0) await storage.deleteFiles(names, { signal: opts.signal });
  removed += names.length;
  for (const name of last) {
    if (name === undefined) continue;
    await storage.deleteFile(name, { signal: opts.signal });
    removed++;
  }
  return removed;
}
