/**
 * `tibr debug`: BR's debug tools over a backup's storage. `decodeMetaFile` turns `backupmeta` or
 * a child metafile into JSON (decrypted with the backup's key) and `encodeMetaFile` turns that
 * JSON back into the same bytes; `describeSst` lists the keys of one data file decoded (table,
 * handle or index values, timestamps).
 * @module
 */
import { fromBinary, fromJson, type JsonValue, toBinary, toJson } from "@bufbuild/protobuf";
import { BACKUP_META_FILE } from "../backup/metawriter.ts";
import { fromHex, hex } from "../codec/bytes.ts";
import { decodeWriteValue, parseDataKey } from "../codec/tikv.ts";
import { type CipherInfo, decrypt, isEncrypting, IV_LENGTH } from "../crypto/cipher.ts";
import {
  type BackupMeta,
  BackupMetaSchema,
  type MetaFile,
  MetaFileSchema,
} from "../gen/brpb_pb.ts";
import { readBackupMeta } from "../backup/metareader.ts";
import type { SstReader } from "../sst/reader.ts";
import type { ExternalStorage } from "../storage/types.ts";
import { datumText, decodeKeyDatum } from "../tidb/datum.ts";
import { decodeInt } from "../codec/bytes.ts";

/** The JSON form of one metadata file, as `debug decode` prints it and `debug encode` reads it. */
export interface DecodedMetaFile {
  /** The file's name in the storage. */
  file: string;
  /** `BackupMeta` for the root file, `MetaFile` for child metafiles. */
  type: "BackupMeta" | "MetaFile";
  /** The AES-CTR IV the file was encrypted with (hex), when the backup is encrypted. */
  cipherIv?: string;
  /** The message in protobuf's JSON mapping. */
  message: JsonValue;
}

function findIv(meta: BackupMeta, name: string): Uint8Array | undefined {
  const indexes = [meta.fileIndex, meta.schemaIndex, meta.ddlIndexes, meta.rawRangeIndex];
  for (const idx of indexes) {
    for (const f of idx?.metaFiles ?? []) if (f.name === name) return f.cipherIv;
  }
  return undefined;
}

/** Reads and decodes `name` (default `backupmeta`) into its JSON form. */
export async function decodeMetaFile(
  storage: ExternalStorage,
  name: string = BACKUP_META_FILE,
  cipher?: CipherInfo,
): Promise<DecodedMetaFile> {
  const root = await readBackupMeta(storage, cipher ? { cipher } : {});
  if (name === BACKUP_META_FILE) {
    const out: DecodedMetaFile = {
      file: name,
      type: "BackupMeta",
      message: toJson(BackupMetaSchema, root),
    };
    if (isEncrypting(cipher)) {
      const bytes = await storage.readFile(name);
      out.cipherIv = hex(bytes.subarray(0, IV_LENGTH));
    }
    return out;
  }
  const iv = findIv(root, name);
  if (iv === undefined) {
    throw new Error(
      `${name} is not a metafile backupmeta references; list the storage for backupmeta.* names`,
    );
  }
  const data = await storage.readFile(name);
  const plain = isEncrypting(cipher) && iv.length > 0 ? decrypt(cipher!, iv, data) : data;
  const msg: MetaFile = fromBinary(MetaFileSchema, plain);
  return {
    file: name,
    type: "MetaFile",
    ...(iv.length > 0 ? { cipherIv: hex(iv) } : {}),
    message: toJson(MetaFileSchema, msg),
  };
}

/**
 * The bytes of a decoded metadata file: the message re-encoded, encrypted again with its IV
 * when the backup is encrypted (`backupmeta` then starts with the IV).
 */
export function encodeMetaFile(d: DecodedMetaFile, cipher?: CipherInfo): Uint8Array {
  const plain = d.type === "BackupMeta"
    ? toBinary(BackupMetaSchema, fromJson(BackupMetaSchema, d.message))
    : toBinary(MetaFileSchema, fromJson(MetaFileSchema, d.message));
  if (!d.cipherIv) return plain;
  if (!isEncrypting(cipher)) {
    throw new Error(`${d.file} was encrypted: give the backup's crypter key to encode it`);
  }
  const iv = fromHex(d.cipherIv);
  const body = decrypt(cipher!, iv, plain); // CTR: encrypting is decrypting.
  if (d.type === "MetaFile") return body;
  const out = new Uint8Array(iv.length + body.length);
  out.set(iv);
  out.set(body, iv.length);
  return out;
}

/** A TiDB/TiKV raw key in words: `t45_r12`, `t45_i2(7, "ann") handle 12`, or hex. */
export function describeKey(raw: Uint8Array): string {
  if (raw.length >= 11 && raw[0] === 0x74 && raw[9] === 0x5f) {
    const table = decodeInt(raw, 1);
    if (raw[10] === 0x72) {
      if (raw.length === 19) return `t${table}_r${decodeInt(raw, 11)}`;
      return `t${table}_r(${datums(raw, 11)})`;
    }
    if (raw[10] === 0x69 && raw.length >= 19) {
      return `t${table}_i${decodeInt(raw, 11)}(${datums(raw, 19)})`;
    }
  }
  if (raw[0] === 0x6d) return `meta ${JSON.stringify(new TextDecoder().decode(raw))}`;
  return hex(raw);
}

function datums(buf: Uint8Array, at: number): string {
  const parts: string[] = [];
  let pos = at;
  try {
    while (pos < buf.length) {
      const { datum, next } = decodeKeyDatum(buf, pos);
      parts.push(
        datum.kind === "bytes" || datum.kind === "string"
          ? JSON.stringify(datumText(datum))
          : datumText(datum),
      );
      pos = next;
    }
  } catch {
    parts.push(`0x${hex(buf.subarray(pos))}`);
  }
  return parts.join(", ");
}

/** One entry of a data file, decoded for people. */
export interface SstLine {
  key: string;
  /** The raw key, hex. */
  rawKey: string;
  ts?: string;
  /** Write-CF entries: the record's type, start ts and inline value length. */
  write?: { type: string; startTs: string; shortValue?: number };
  valueBytes: number;
}

/** Every entry of `reader` decoded, key order; stops after `limit` entries. */
export async function* describeSst(reader: SstReader, limit = Infinity): AsyncGenerator<SstLine> {
  let n = 0;
  for await (const e of reader.entries()) {
    if (n++ >= limit) return;
    let raw = e.key;
    let ts: bigint | undefined;
    try {
      ({ raw, ts } = parseDataKey(e.key));
    } catch {
      // Not a TiKV data key (raw KV without ts, or a foreign file): shown as is.
    }
    const line: SstLine = {
      key: describeKey(raw),
      rawKey: hex(raw),
      valueBytes: e.value.length,
    };
    if (ts !== undefined) line.ts = String(ts);
    if (ts !== undefined && e.value.length > 0) {
      try {
        const w = decodeWriteValue(e.value);
        line.write = {
          type: w.type,
          startTs: String(w.startTs),
          ...(w.shortValue ? { shortValue: w.shortValue.length } : {}),
        };
      } catch {
        // A default-CF value: only its length is shown.
      }
    }
    yield line;
  }
}
