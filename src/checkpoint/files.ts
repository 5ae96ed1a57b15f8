/**
 * The checkpoint files under `checkpoints/backup/` in the backup storage, as BR's checkpoint
 * package lays them out (field names and JSON tags as BR's), and their encoders and decoders:
 *
 * - `data/<base64url(sha256(groupKey ".." firstStartKey))>_<random>.cpt`: a `CheckpointData`
 *   `{"dure-time", "range-group-metas": [{"RangeGroupsEncriptedData", "Checksum", "CipherIv",
 *   "Size"}]}`; each entry holds one `RangeGroups` JSON `{"group-key", "groups": [{"StartKey",
 *   "EndKey", "Files"}]}` encrypted with the backup's cipher (AES-CTR, its own IV) and the
 *   sha256 of the plaintext.
 * - `checksum/t<tableId>_<random>.cpt`: `{"content", "checksum"}`, content being
 *   `{"checksum-items": [{"table-id", "crc64-xor", "total-kvs", "total-bytes"}]}` and checksum
 *   its sha256.
 * - `checkpoint.meta` (see `meta.ts`) and `checkpoint.lock` (see `lock.ts`).
 *
 * Deliberate differences from BR, all of them extra fields or value spellings Go ignores or
 * accepts: `Files` entries follow the proto3 JSON mapping with kvproto's field names, so 64-bit
 * integers are decimal strings (JavaScript numbers lose precision above 2^53, and every TSO and
 * most crc64 values are above it); data files carry `"flush-time"` (ms since epoch, local clock)
 * and each group `"RangeCount"`/`"FileCount"`, so `tibr checkpoint status` can report progress
 * without the crypter key.
 * @module
 */
import type { KvChecksum } from "../codec/crc64.ts";
import { createHash, randomBytes } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { File, FileSchema, TableMeta } from "../gen/brpb_pb.ts";
import type { LockProcess } from "./_process.ts";
import {
  Base64Arena,
  fromBase64,
  int64Field,
  numberField,
  objectField,
  parseJsonBig,
  strictBase64,
  stringField,
  stringifyBig,
  toBase64,
} from "./_json.ts";
import { scanDataFile } from "./_scan.ts";

/** The directory of a backup's checkpoint, relative to the backup storage root. */
export const CHECKPOINT_DIR = "checkpoints/backup";
/** Range checkpoint files (`*.cpt`). */
export const DATA_DIR = `${CHECKPOINT_DIR}/data`;
/** Table checksum checkpoint files. */
export const CHECKSUM_DIR = `${CHECKPOINT_DIR}/checksum`;
/** The checkpoint's metadata: backup ts, GC service id, options. */
export const META_PATH = `${CHECKPOINT_DIR}/checkpoint.meta`;
/** The lock a running backup holds. */
export const LOCK_PATH = `${CHECKPOINT_DIR}/checkpoint.lock`;

/** A data file as the backup loop has it: a `File` message or its init shape. */
export type FileInput = File | MessageInitShape<typeof FileSchema>;

/** One backed-up sub-range and the files TiKV wrote for it. */
export interface CheckpointRange<F = File> {
  startKey: Uint8Array;
  endKey: Uint8Array;
  files: F[];
}

/** The ranges of one group (BR's `RangeGroups`): the group key is the original range's. */
export interface RangeGroups<F = File> {
  groupKey: string;
  groups: CheckpointRange<F>[];
}

/** One encrypted group in a data file (BR's `RangeGroupData`). */
export interface RangeGroupData {
  /** The group JSON, encrypted. */
  encrypted: Uint8Array;
  /** sha256 of the plaintext group JSON. */
  checksum: Uint8Array;
  /** The AES-CTR IV; empty when the group is not encrypted. */
  cipherIv: Uint8Array;
  /** Plaintext size in bytes. */
  size: number;
  /** Ranges in the group (absent in files written by BR). */
  rangeCount?: number;
  /** Data files in the group (absent in files written by BR). */
  fileCount?: number;
}

/** A data file (BR's `CheckpointData`). */
export interface CheckpointData {
  /** Backup time so far, over every run, in nanoseconds (Go's `time.Duration`). */
  dureTimeNs: number;
  /** When the file was written, ms since epoch by the writer's clock (absent from BR). */
  flushTimeMs?: number;
  groups: RangeGroupData[];
}

/** A data file's header with the encrypted groups left undecoded (for `status`). */
export interface CheckpointDataSummary {
  dureTimeNs: number;
  flushTimeMs?: number;
  groups: GroupSummary[];
}

/** One group of a data file as `status` sees it without the key. */
export interface GroupSummary extends Omit<RangeGroupData, "encrypted" | "checksum" | "cipherIv"> {
  /** The group's JSON when it was written without encryption (its ranges can be read). */
  plain?: Uint8Array;
}

const ENCODER = new TextEncoder();
const EMPTY = new Uint8Array(0);

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** A random unsigned 64-bit decimal, as BR's `rand.Uint64()` in file names. */
export function randomU64(): string {
  return new DataView(randomBytes(8).buffer).getBigUint64(0).toString();
}

/**
 * The name of a data file: base64url (padded, as Go's `base64.URLEncoding`) of
 * sha256(groupKey ".." firstStartKey), `_`, a random number, `.cpt`.
 */
export function dataFileName(
  groupKey: string,
  firstStartKey: Uint8Array,
  random: string = randomU64(),
): string {
  const key = ENCODER.encode(groupKey);
  const buf = new Uint8Array(key.length + 2 + firstStartKey.length);
  buf.set(key);
  buf[key.length] = 0x2e;
  buf[key.length + 1] = 0x2e;
  buf.set(firstStartKey, key.length + 2);
  const b64 = toBase64(sha256(buf)).replaceAll("+", "-").replaceAll("/", "_");
  return `${DATA_DIR}/${b64}_${random}.cpt`;
}

function u64(v: bigint | number | undefined): string {
  return v === undefined ? "0" : BigInt(v).toString();
}

function bytes(v: Uint8Array | undefined): string {
  return v === undefined || v.length === 0 ? "" : toBase64(v);
}

/** One File as proto3 JSON with kvproto's field names, default values left out. */
function encodeFile(f: FileInput): string {
  let s = "{";
  let sep = "";
  const str = (k: string, v: string) => {
    if (v !== "") {
      s += `${sep}"${k}":${JSON.stringify(v)}`;
      sep = ",";
    }
  };
  const b64 = (k: string, v: Uint8Array | undefined) => {
    const t = bytes(v);
    if (t !== "") {
      s += `${sep}"${k}":"${t}"`;
      sep = ",";
    }
  };
  const int = (k: string, v: bigint | number | undefined) => {
    const t = u64(v);
    if (t !== "0") {
      s += `${sep}"${k}":"${t}"`;
      sep = ",";
    }
  };
  str("name", f.name ?? "");
  b64("sha256", f.sha256);
  b64("start_key", f.startKey);
  b64("end_key", f.endKey);
  int("start_version", f.startVersion);
  int("end_version", f.endVersion);
  int("crc64xor", f.crc64xor);
  int("total_kvs", f.totalKvs);
  int("total_bytes", f.totalBytes);
  if (f.tableMetas && f.tableMetas.length > 0) {
    s += `${sep}"table_metas":[`;
    f.tableMetas.forEach((m, i) => {
      const parts: string[] = [];
      if (m.physicalId !== undefined && BigInt(m.physicalId) !== 0n) {
        parts.push(`"physical_id":"${BigInt(m.physicalId)}"`);
      }
      for (
        const [k, v] of [
          ["crc64xor", m.crc64xor],
          ["total_kvs", m.totalKvs],
          ["total_bytes", m.totalBytes],
        ] as const
      ) {
        if (u64(v) !== "0") parts.push(`"${k}":"${u64(v)}"`);
      }
      s += `${i ? "," : ""}{${parts.join(",")}}`;
    });
    s += "]";
    sep = ",";
  }
  str("cf", f.cf ?? "");
  int("size", f.size);
  b64("cipher_iv", f.cipherIv);
  return s + "}";
}

/** Encodes a group as BR's `RangeGroups` JSON. */
export function encodeRangeGroups(
  groupKey: string,
  ranges: readonly CheckpointRange<FileInput>[],
): string {
  const parts = new Array<string>(ranges.length);
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    const files = new Array<string>(r.files.length);
    for (let j = 0; j < r.files.length; j++) files[j] = encodeFile(r.files[j]!);
    // Go writes nil slices as null; an empty key is `""` here, which Go reads back the same.
    parts[i] = `{"StartKey":"${toBase64(r.startKey)}","EndKey":"${toBase64(r.endKey)}",` +
      `"Files":[${files.join(",")}]}`;
  }
  return `{"group-key":${JSON.stringify(groupKey)},"groups":[${parts.join(",")}]}`;
}

function decodeTableMeta(raw: unknown, arenaWhat: string): TableMeta {
  const m = objectField(raw, arenaWhat);
  return {
    $typeName: "backup.TableMeta",
    physicalId: int64Field(m.physical_id, "physical_id", true),
    crc64xor: int64Field(m.crc64xor, "crc64xor"),
    totalKvs: int64Field(m.total_kvs, "total_kvs"),
    totalBytes: int64Field(m.total_bytes, "total_bytes"),
  };
}

function b64Field(arena: Base64Arena, v: unknown, what: string): Uint8Array {
  if (v === undefined || v === null || v === "") return EMPTY;
  if (typeof v !== "string") throw new SyntaxError(`${what} is not base64 text`);
  return arena.decode(v);
}

/**
 * Decodes key text, reusing the bytes of the range's own keys: a range's files usually span
 * exactly the range, so most file keys are the same text as `StartKey`/`EndKey`.
 */
class KeyDecoder {
  #text: [string, string] = ["", ""];
  #bytes: [Uint8Array, Uint8Array] = [EMPTY, EMPTY];

  constructor(readonly arena: Base64Arena) {}

  /** Decodes the range's keys and remembers them. */
  range(start: unknown, end: unknown): [Uint8Array, Uint8Array] {
    this.#bytes = [b64Field(this.arena, start, "StartKey"), b64Field(this.arena, end, "EndKey")];
    this.#text = [typeof start === "string" ? start : "", typeof end === "string" ? end : ""];
    return this.#bytes;
  }

  key(v: unknown, what: string): Uint8Array {
    if (v === this.#text[0] && v !== "") return this.#bytes[0];
    if (v === this.#text[1] && v !== "") return this.#bytes[1];
    return b64Field(this.arena, v, what);
  }
}

function decodeFile(raw: unknown, keys: KeyDecoder): File {
  const arena = keys.arena;
  if (typeof raw !== "object" || raw === null) throw new SyntaxError("a file is not an object");
  const f = raw as Record<string, unknown>;
  const metas = f.table_metas;
  let tableMetas: TableMeta[] = [];
  if (metas !== undefined && metas !== null) {
    if (!Array.isArray(metas)) throw new SyntaxError("table_metas is not an array");
    tableMetas = metas.map((m) => decodeTableMeta(m, "a table meta"));
  }
  return {
    $typeName: "backup.File",
    name: stringField(f.name, "name"),
    sha256: b64Field(arena, f.sha256, "sha256"),
    startKey: keys.key(f.start_key, "start_key"),
    endKey: keys.key(f.end_key, "end_key"),
    startVersion: int64Field(f.start_version, "start_version"),
    endVersion: int64Field(f.end_version, "end_version"),
    crc64xor: int64Field(f.crc64xor, "crc64xor"),
    totalKvs: int64Field(f.total_kvs, "total_kvs"),
    totalBytes: int64Field(f.total_bytes, "total_bytes"),
    tableMetas,
    cf: stringField(f.cf, "cf"),
    size: int64Field(f.size, "size"),
    cipherIv: b64Field(arena, f.cipher_iv, "cipher_iv"),
  };
}

/**
 * Decodes `RangeGroups` JSON into `File` messages; throws SyntaxError on anything malformed.
 * Byte fields are views into `arena`'s shared chunks.
 */
export function decodeRangeGroups(
  text: string,
  arena: Base64Arena = new Base64Arena(),
): RangeGroups {
  const root = objectField(JSON.parse(text), "a range group");
  const groupKey = root["group-key"];
  if (typeof groupKey !== "string") throw new SyntaxError("group-key is not a string");
  const raw = root.groups;
  if (!Array.isArray(raw)) throw new SyntaxError("groups is not an array");
  const groups = new Array<CheckpointRange>(raw.length);
  const keys = new KeyDecoder(arena);
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i] as Record<string, unknown> | null;
    if (typeof r !== "object" || r === null) throw new SyntaxError("a range is not an object");
    const [startKey, endKey] = keys.range(r.StartKey, r.EndKey);
    const rawFiles = r.Files;
    let files: File[];
    if (rawFiles === null || rawFiles === undefined) files = [];
    else if (Array.isArray(rawFiles)) {
      files = new Array<File>(rawFiles.length);
      for (let j = 0; j < rawFiles.length; j++) files[j] = decodeFile(rawFiles[j], keys);
    } else throw new SyntaxError("Files is not an array");
    groups[i] = { startKey, endKey, files };
  }
  return { groupKey, groups };
}

/** Encodes a data file. */
export function encodeCheckpointData(data: CheckpointData): string {
  const metas = data.groups.map((g) => {
    const iv = g.cipherIv.length === 0 ? "null" : `"${toBase64(g.cipherIv)}"`;
    const counts = (g.rangeCount === undefined ? "" : `,"RangeCount":${g.rangeCount}`) +
      (g.fileCount === undefined ? "" : `,"FileCount":${g.fileCount}`);
    return `{"RangeGroupsEncriptedData":"${toBase64(g.encrypted)}","Checksum":"${
      toBase64(g.checksum)
    }","CipherIv":${iv},"Size":${g.size}${counts}}`;
  });
  const flush = data.flushTimeMs === undefined ? "" : `,"flush-time":${data.flushTimeMs}`;
  return `{"dure-time":${Math.round(data.dureTimeNs)}${flush},"range-group-metas":[${
    metas.join(",")
  }]}`;
}

function optionalCount(v: unknown, what: string): number | undefined {
  return v === undefined || v === null ? undefined : numberField(v, what);
}

function dataHeader(text: string): { root: Record<string, unknown>; metas: unknown[] } {
  const root = scanDataFile(text) ?? objectField(JSON.parse(text), "a checkpoint data file");
  const metas = root["range-group-metas"] ?? [];
  if (!Array.isArray(metas)) throw new SyntaxError("range-group-metas is not an array");
  return { root, metas };
}

/** Decodes a data file; throws SyntaxError when malformed. */
export function decodeCheckpointData(text: string): CheckpointData {
  const { root, metas } = dataHeader(text);
  const groups = metas.map((raw): RangeGroupData => {
    const m = objectField(raw, "a range group meta");
    const enc = m.RangeGroupsEncriptedData;
    const sum = m.Checksum;
    const iv = m.CipherIv;
    if (typeof enc !== "string") throw new SyntaxError("RangeGroupsEncriptedData is missing");
    if (typeof sum !== "string") throw new SyntaxError("Checksum is missing");
    if (iv !== null && iv !== undefined && typeof iv !== "string") {
      throw new SyntaxError("CipherIv is not base64 text");
    }
    const rangeCount = optionalCount(m.RangeCount, "RangeCount");
    const fileCount = optionalCount(m.FileCount, "FileCount");
    const size = numberField(m.Size, "Size");
    // A truncated or mangled payload shows in its length (AES-CTR keeps the plaintext's);
    // anything subtler fails the sha256 check of the plaintext.
    const encrypted = fromBase64(enc);
    if (encrypted.length !== size) {
      throw new SyntaxError(
        `RangeGroupsEncriptedData holds ${encrypted.length} bytes, not ${size}`,
      );
    }
    return {
      encrypted,
      checksum: strictBase64(sum, "Checksum"),
      cipherIv: typeof iv === "string" ? strictBase64(iv, "CipherIv") : EMPTY,
      size,
      ...(rangeCount === undefined ? {} : { rangeCount }),
      ...(fileCount === undefined ? {} : { fileCount }),
    };
  });
  const flush = root["flush-time"];
  return {
    dureTimeNs: numberField(root["dure-time"], "dure-time"),
    ...(flush === undefined ? {} : { flushTimeMs: numberField(flush, "flush-time") }),
    groups,
  };
}

/**
 * Decodes a data file's header without decrypting: sizes and counts, plus the plaintext of
 * groups written without encryption (so their ranges can be read and counted).
 */
export function summarizeCheckpointData(text: string): CheckpointDataSummary {
  const { root, metas } = dataHeader(text);
  const groups = metas.map((raw): GroupSummary => {
    const m = objectField(raw, "a range group meta");
    const rangeCount = optionalCount(m.RangeCount, "RangeCount");
    const fileCount = optionalCount(m.FileCount, "FileCount");
    const plain = (m.CipherIv === null || m.CipherIv === undefined || m.CipherIv === "") &&
        typeof m.RangeGroupsEncriptedData === "string"
      ? strictBase64(m.RangeGroupsEncriptedData, "RangeGroupsEncriptedData")
      : undefined;
    return {
      size: numberField(m.Size, "Size"),
      ...(rangeCount === undefined ? {} : { rangeCount }),
      ...(fileCount === undefined ? {} : { fileCount }),
      ...(plain ? { plain } : {}),
    };
  });
  const flush = root["flush-time"];
  return {
    dureTimeNs: numberField(root["dure-time"], "dure-time"),
    ...(flush === undefined ? {} : { flushTimeMs: numberField(flush, "flush-time") }),
    groups,
  };
}

/** A table's fast checksum so far (BR's `ChecksumItem`). */
export interface ChecksumItem extends KvChecksum {
  tableId: bigint;
}

/** The name of a checksum file; `tableId` is the last table of the batch, as in BR. */
export function checksumFileName(tableId: bigint, random: string = randomU64()): string {
  return `${CHECKSUM_DIR}/t${tableId}_${random}.cpt`;
}

/** Encodes a checksum file: `{"content", "checksum"}` over the items' JSON. */
export function encodeChecksumFile(items: readonly ChecksumItem[]): string {
  const content = ENCODER.encode(stringifyBig({
    "checksum-items": items.map((c) => ({
      "table-id": c.tableId,
      "crc64-xor": c.crc64xor,
      "total-kvs": c.totalKvs,
      "total-bytes": c.totalBytes,
    })),
  }));
  return JSON.stringify({ content: toBase64(content), checksum: toBase64(sha256(content)) });
}

/**
 * Decodes a checksum file. Throws SyntaxError when malformed and RangeError when the content
 * does not match its sha256.
 */
export function decodeChecksumFile(text: string): ChecksumItem[] {
  const root = objectField(JSON.parse(text), "a checksum file");
  if (typeof root.content !== "string" || typeof root.checksum !== "string") {
    throw new SyntaxError("content or checksum is missing");
  }
  const content = strictBase64(root.content, "content");
  const want = strictBase64(root.checksum, "checksum");
  if (!equalBytes(sha256(content), want)) throw new RangeError("sha256 mismatch");
  const items = objectField(parseJsonBig(new TextDecoder().decode(content)), "checksum items");
  const list = items["checksum-items"] ?? [];
  if (!Array.isArray(list)) throw new SyntaxError("checksum-items is not an array");
  return list.map((raw) => {
    const c = objectField(raw, "a checksum item");
    return {
      tableId: int64Field(c["table-id"], "table-id", true),
      crc64xor: int64Field(c["crc64-xor"], "crc64-xor"),
      totalKvs: int64Field(c["total-kvs"], "total-kvs"),
      totalBytes: int64Field(c["total-bytes"], "total-bytes"),
    };
  });
}

/** Byte-wise equality. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The lock file's content (BR's `CheckpointLock`, plus who holds it). */
export interface LockInfo {
  /** The holder's lock id: a PD TSO taken when it acquired the lock. */
  lockId: bigint;
  /** Expiry in PD physical time, ms since epoch; 0 once released. */
  expireAt: number;
  /** `host pid N` of the holder (absent in locks written by BR). */
  owner?: string;
  /** The holder's process identity, to take over a lock of a dead local run (see _process.ts). */
  process?: LockProcess;
}

/** Encodes the lock file (`lock-id` and `expire-at` as Go writes them: bare integers). */
export function encodeLock(info: LockInfo): Uint8Array {
  return ENCODER.encode(stringifyBig({
    "lock-id": info.lockId,
    "expire-at": info.expireAt,
    ...(info.owner === undefined ? {} : { owner: info.owner }),
    ...(info.process === undefined ? {} : {
      process: { "host-id": info.process.hostId, pid: info.process.pid, start: info.process.start },
    }),
  }));
}

/** Decodes the lock file; throws SyntaxError when malformed. */
export function decodeLock(data: Uint8Array): LockInfo {
  const root = objectField(parseJsonBig(new TextDecoder().decode(data)), "the lock file");
  const expire = root["expire-at"];
  if (typeof expire !== "number" || !Number.isSafeInteger(expire)) {
    throw new SyntaxError("expire-at is not an integer");
  }
  const owner = root.owner;
  const proc = root.process as Record<string, unknown> | null | undefined;
  const holder = proc && typeof proc === "object" && typeof proc["host-id"] === "string" &&
      typeof proc.pid === "number" && typeof proc.start === "string"
    ? { hostId: proc["host-id"], pid: proc.pid, start: proc.start }
    : undefined;
  return {
    lockId: int64Field(root["lock-id"], "lock-id"),
    expireAt: expire,
    ...(typeof owner === "string" ? { owner } : {}),
    ...(holder ? { process: holder } : {}),
  };
}
