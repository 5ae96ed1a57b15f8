/**
 * `tibr verify` and `tibr debug decode|encode|checksum|sst`: check and inspect a backup from its
 * storage alone (no cluster).
 * @module
 */
import { type Command, Option } from "commander";
import process from "node:process";
import { UsageError } from "../errors.ts";
import { startLogging } from "../logging.ts";
import { addCrypterFlags, crypterFromFlags } from "../crypter_flags.ts";
import { addStorageFlags, openStorageFromFlags, storageFlags } from "../storage_flags.ts";
import { orderHelp } from "../help.ts";
import { parseBool } from "../flags.ts";

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      throw new UsageError(`--${name} must be a positive integer`);
    }
    return n;
  };
}

/** A verify run that found problems: the report is printed; this is the one error line. */
class VerifyFailed extends Error {
  override name = "VerifyFailed";
}

async function verifyAction(cmd: Command): Promise<void> {
  await startLogging(cmd);
  const o = cmd.opts<Record<string, unknown>>();
  const cipher = crypterFromFlags(o);
  const { verifyBackup } = await import("../../verify/verify.ts");
  const { formatVerifyReport } = await import("../../verify/report.ts");
  const { createProgress } = await import("../../backup/progress.ts");
  const storage = await openStorageFromFlags(storageFlags(o));
  const ac = new AbortController();
  const onSignal = (sig: string) => ac.abort(new Error(`interrupted by ${sig}`));
  process.once("SIGINT", () => onSignal("SIGINT"));
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  const progress = createProgress(
    "Verify",
    o.output === "json" && o.progress === "auto" ? "quiet" : o.progress as "auto",
  );
  try {
    const level = o.level as "meta" | "files" | "data" | "semantic";
    const report = await verifyBackup(storage, {
      level,
      ...(cipher ? { cipher } : {}),
      concurrency: Number(o.concurrency),
      signal: ac.signal,
      progress: { ...progress, stop: () => {} },
    });
    progress.stop();
    process.stdout.write(
      o.output === "json" ? `${JSON.stringify(report, null, 2)}\n` : formatVerifyReport(report),
    );
    if (!report.ok) {
      const first = report.problems[0]!;
      throw new VerifyFailed(
        `verify found ${report.problems.length} problem(s) in ${report.storage}; first: ` +
          `[${first.level}] ${first.code}: ${first.message}`,
      );
    }
  } finally {
    await storage.close();
  }
}

/** Registers `tibr verify`. */
export function registerVerify(program: Command): void {
  const cmd = program
    .command("verify")
    .description(
      "check a backup offline from its storage: meta (metadata, files exist, ranges), files " +
        "(sha256), data (SSTs decode, checksums), semantic (rows and indexes agree)",
    )
    .addOption(
      new Option("--level <level>", "how deep to check").choices([
        "meta",
        "files",
        "data",
        "semantic",
      ]).default("data"),
    )
    .option("--concurrency <n>", "data files in flight", positiveInt("concurrency"), 4)
    .addOption(
      new Option("--output <format>", "report format").choices(["table", "json"]).default("table"),
    )
    .addOption(
      new Option("--progress <mode>", "progress display").choices(["auto", "bar", "lines", "quiet"])
        .default("auto"),
    );
  addStorageFlags(cmd);
  addCrypterFlags(cmd);
  orderHelp(cmd);
  cmd.action((_o, c: Command) => verifyAction(c));
}

/** Registers `tibr debug` and its subcommands. */
export function registerDebug(program: Command): void {
  const debug = program.command("debug").description("inspect a backup's metadata and data files");

  const decode = debug.command("decode").description(
    "print backupmeta or a metafile as JSON (BR's debug decode)",
  ).option("--file <name>", "the metadata file to decode", "backupmeta")
    .option("--out <path>", "write the JSON to this file instead of stdout");
  addStorageFlags(decode);
  addCrypterFlags(decode);
  decode.action(async (_o, c: Command) => {
    await startLogging(c);
    const o = c.opts<Record<string, unknown>>();
    const cipher = crypterFromFlags(o);
    const { decodeMetaFile } = await import("../../debug/debug.ts");
    const storage = await openStorageFromFlags(storageFlags(o));
    try {
      const d = await decodeMetaFile(storage, String(o.file), cipher);
      const text = `${JSON.stringify(d, null, 2)}\n`;
      if (typeof o.out === "string") {
        const { writeFileSync } = await import("node:fs");
        writeFileSync(o.out, text);
      } else process.stdout.write(text);
    } finally {
      await storage.close();
    }
  });

  const encode = debug.command("encode").description(
    "turn the JSON of `debug decode` back into the file's bytes (BR's debug encode)",
  ).requiredOption("--input <path>", "the JSON file `debug decode` wrote")
    .option("--out <path>", "write the bytes to this local file")
    .option("--write [bool]", "write the bytes back to the storage (-s) under the file's name");
  addStorageFlags(encode, true);
  addCrypterFlags(encode);
  encode.action(async (_o, c: Command) => {
    await startLogging(c);
    const o = c.opts<Record<string, unknown>>();
    const cipher = crypterFromFlags(o);
    const { encodeMetaFile } = await import("../../debug/debug.ts");
    const { readFileSync, writeFileSync } = await import("node:fs");
    let d;
    try {
      d = JSON.parse(readFileSync(String(o.input), "utf8"));
    } catch (err) {
      throw new UsageError(`cannot read --input ${o.input}: ${(err as Error).message}`);
    }
    const bytes = encodeMetaFile(d, cipher);
    if (typeof o.out === "string") writeFileSync(o.out, bytes);
    if (o.write !== undefined && parseBool("write", o.write as string | boolean)) {
      const sf = storageFlags(o);
      if (!sf.location) throw new UsageError("--write needs -s/--storage");
      const storage = await openStorageFromFlags(sf);
      try {
        await storage.writeFile(d.file, bytes);
      } finally {
        await storage.close();
      }
    }
    if (typeof o.out !== "string" && o.write === undefined) process.stdout.write(bytes);
  });

  const checksum = debug.command("checksum").description(
    "recompute each table's crc64xor / kvs / bytes from its data files (BR's debug checksum)",
  ).option("--concurrency <n>", "data files in flight", positiveInt("concurrency"), 4)
    .addOption(
      new Option("--output <format>", "output format").choices(["table", "json"]).default("table"),
    );
  addStorageFlags(checksum);
  addCrypterFlags(checksum);
  checksum.action(async (_o, c: Command) => {
    await startLogging(c);
    const o = c.opts<Record<string, unknown>>();
    const cipher = crypterFromFlags(o);
    const { verifyBackup } = await import("../../verify/verify.ts");
    const storage = await openStorageFromFlags(storageFlags(o));
    try {
      const r = await verifyBackup(storage, {
        level: "data",
        ...(cipher ? { cipher } : {}),
        concurrency: Number(o.concurrency),
      });
      if (o.output === "json") {
        process.stdout.write(`${JSON.stringify(r.tables, null, 2)}\n`);
      } else {
        for (const t of r.tables) {
          process.stdout.write(
            `${t.name}: crc64xor ${t.crc64xor}, total_kvs ${t.kvs}, total_bytes ${t.bytes} ` +
              `(schema entry: ${t.schema.crc64xor}, ${t.schema.totalKvs}, ${t.schema.totalBytes}) ` +
              `${t.result}\n`,
          );
        }
      }
      if (!r.ok) {
        throw new VerifyFailed(
          `checksum found ${r.problems.length} problem(s); first: ${r.problems[0]!.message}`,
        );
      }
    } finally {
      await storage.close();
    }
  });

  const sst = debug.command("sst").description(
    "list the keys of one data file decoded (table, handle or index values, timestamps)",
  ).argument("[path]", "a local SST file (or use -s and --file)")
    .option("--file <name>", "a data file in the storage (-s)")
    .option("--limit <n>", "stop after this many entries", positiveInt("limit"))
    .option(
      "--cipher-iv <hex>",
      "the file's IV, for an encrypted backup (default: from the metadata)",
    )
    .addOption(
      new Option("--output <format>", "output format").choices(["table", "json"]).default("table"),
    );
  addStorageFlags(sst, true);
  addCrypterFlags(sst);
  sst.action(async (path: string | undefined, _o, c: Command) => {
    await startLogging(c);
    const o = c.opts<Record<string, unknown>>();
    const cipher = crypterFromFlags(o);
    const { describeSst } = await import("../../debug/debug.ts");
    const { SstReader } = await import("../../sst/reader.ts");
    const { fileSource, decryptingSource, storageSource } = await import("../../sst/source.ts");
    const { fromHex } = await import("../../codec/bytes.ts");
    let reader;
    let close = async () => {};
    if (path !== undefined) {
      const src = await fileSource(path);
      const iv = typeof o.cipherIv === "string" ? fromHex(o.cipherIv) : new Uint8Array(0);
      if (cipher && iv.length === 0) throw new UsageError("an encrypted file needs --cipher-iv");
      reader = await SstReader.open(decryptingSource(src, cipher, iv));
    } else {
      const sf = storageFlags(o);
      if (!sf.location || typeof o.file !== "string") {
        throw new UsageError("give a local SST path, or -s URL and --file NAME");
      }
      const storage = await openStorageFromFlags(sf);
      close = () => storage.close();
      let iv = typeof o.cipherIv === "string" ? fromHex(o.cipherIv) : undefined;
      let size: number | undefined;
      if (iv === undefined) {
        const { MetaReader } = await import("../../backup/metareader.ts");
        const r = await MetaReader.open(storage, cipher ? { cipher } : {});
        for await (const f of r.dataFiles()) {
          if (f.name === o.file) {
            iv = f.cipherIv;
            size = Number(f.size);
            break;
          }
        }
        if (iv === undefined && cipher) {
          throw new UsageError(`${o.file} is not a data file of this backup; check --file`);
        }
      }
      const src = await storageSource(storage, o.file, size);
      reader = await SstReader.open(decryptingSource(src, cipher, iv ?? new Uint8Array(0)));
    }
    try {
      for await (const line of describeSst(reader, Number(o.limit ?? Infinity))) {
        if (o.output === "json") process.stdout.write(`${JSON.stringify(line)}\n`);
        else {
          const w = line.write
            ? ` ${line.write.type} start_ts=${line.write.startTs}` +
              (line.write.shortValue !== undefined ? ` short_value=${line.write.shortValue}B` : "")
            : ` value=${line.valueBytes}B`;
          process.stdout.write(`${line.key}${line.ts ? ` ts=${line.ts}` : ""}${w}\n`);
        }
      }
    } finally {
      await reader.close();
      await close();
    }
  });
}
