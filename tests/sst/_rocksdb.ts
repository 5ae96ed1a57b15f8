/**
 * Drives Debian's rocksdb-tools (`sst_dump`, `ldb`) for the SST interop and corruption tests,
 * installing the package when missing.
 * @module
 */
import { spawnSync } from "node:child_process";
import { ensureDebianPackages } from "../_support/debian.ts";
import { hex } from "../../src/codec/bytes.ts";

/** Installs rocksdb-tools if `sst_dump` or `ldb` is missing; throws with apt's reason. */
export function ensureRocksdbTools(): void {
  ensureDebianPackages(["sst_dump", "ldb"], ["rocksdb-tools"]);
}

/** Runs a tool, returning stdout+stderr; throws with its output when it exits non-zero. */
export function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: "utf8", maxBuffer: 256 << 20 });
  const out = (r.stdout ?? "") + (r.stderr ?? "");
  if (r.error || r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.error?.message ?? r.status}): ${out}`);
  }
  return out;
}

/** One internal entry as sst_dump prints it (hex upper-case). */
export interface DumpEntry {
  key: string;
  seq: number;
  type: number;
  value: string;
}

/** Every entry of the file per `sst_dump --command=scan --output_hex`. */
export function sstDumpScan(path: string): DumpEntry[] {
  const out = run("sst_dump", [`--file=${path}`, "--command=scan", "--output_hex"]);
  const entries: DumpEntry[] = [];
  for (const line of out.split("\n")) {
    const m = /^'([0-9A-F]*)' seq:(\d+), type:(\d+) => ([0-9A-F]*)$/.exec(line);
    if (m) entries.push({ key: m[1]!, seq: Number(m[2]), type: Number(m[3]), value: m[4]! });
  }
  return entries;
}

/** The "Table Properties" section of `sst_dump --show_properties`, by label. */
export function sstDumpProperties(path: string): Map<string, string> {
  const out = run("sst_dump", [`--file=${path}`, "--show_properties"]);
  const props = new Map<string, string>();
  for (const line of out.split("\n")) {
    const m = /^ {2}(#? ?[^:]+?): (.*)$/.exec(line);
    if (m) props.set(m[1]!.trim(), m[2]!.trim());
  }
  return props;
}

/** Upper-case hex as sst_dump prints it. */
export function upperHex(b: Uint8Array): string {
  return hex(b).toUpperCase();
}

/** `ldb`'s hex notation for keys and values. */
export function ldbHex(b: Uint8Array): string {
  return "0x" + upperHex(b);
}
