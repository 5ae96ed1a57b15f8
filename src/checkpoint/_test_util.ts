/**
 * Test helpers for the checkpoint package: a fake PD clock, storage wrappers that drop
 * capabilities or fail writes, and sample data files. Used by the unit tests beside this file
 * and by `tests/checkpoint/`.
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { type File, FileSchema } from "../gen/brpb_pb.ts";
import { MemoryStorage } from "../../plugins/memory/mod.ts";
import { StorageError } from "../storage/errors.ts";
import { composeTs } from "../codec/tso.ts";
import type { ExternalStorage, ObjectStat, WriteOptions } from "../storage/types.ts";

/** A fake PD: physical ms moved by hand, a logical counter so every TSO is unique. */
export class FakePd {
  ms: number;
  #logical = 0n;

  constructor(ms = Date.UTC(2026, 0, 2, 3, 4, 5)) {
    this.ms = ms;
  }

  /** The next TSO. */
  now = (): Promise<bigint> => {
    this.#logical = (this.#logical + 1n) & 0x3ffffn;
    return Promise.resolve(composeTs(this.ms, this.#logical));
  };

  advance(ms: number): void {
    this.ms += ms;
  }
}

let buckets = 0;

/** A fresh in-process storage. */
export function memoryStorage(): MemoryStorage {
  return new MemoryStorage(`checkpoint-test-${Date.now()}-${buckets++}`, "backup");
}

/**
 * A view of `inner` whose methods can be replaced: `override(storage, { writeFile: ... })`.
 * Replacements get the inner storage's method as their last argument.
 */
export function override(
  inner: ExternalStorage,
  methods: Partial<Record<keyof ExternalStorage, (...args: never[]) => unknown>>,
): ExternalStorage {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const replacement = (methods as Record<string | symbol, unknown>)[prop];
      if (typeof replacement === "function") return replacement;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** `inner` without conditional writes (as some custom plugins). */
export function withoutConditionalWrites(inner: ExternalStorage): ExternalStorage {
  return override(inner, {
    capabilities: () => ({
      ...inner.capabilities(),
      conditionalCreate: false,
      compareAndSwap: false,
    }),
  });
}

/** `inner` whose writes of names matching `re` fail with an Unexpected StorageError. */
export function failingWrites(inner: ExternalStorage, re: RegExp): ExternalStorage {
  return override(inner, {
    writeFile: ((name: string, data: Uint8Array, opts?: WriteOptions): Promise<ObjectStat> => {
      if (re.test(name)) {
        return Promise.reject(
          new StorageError(`injected failure writing ${name}`, {
            code: "Unexpected",
            operation: "writeFile",
            path: name,
          }),
        );
      }
      return inner.writeFile(name, data, opts);
    }) as (...args: never[]) => unknown,
  });
}

/** Every name under `dir` in `storage`. */
export async function list(storage: ExternalStorage, dir: string): Promise<string[]> {
  const out: string[] = [];
  await storage.walkDir({ subDir: dir }, (n) => {
    out.push(n);
  });
  return out;
}

const ENCODER = new TextEncoder();

/** A key `t<table>_r<n>` padded like a TiKV key. */
export function key(table: number, n: number): Uint8Array {
  return ENCODER.encode(`t${String(table).padStart(4, "0")}_r${String(n).padStart(10, "0")}`);
}

/** A write-CF data file for range `n` with 64-bit values beyond 2^53 and a table meta. */
export function sampleFile(n: number, cf = "write"): File {
  return create(FileSchema, {
    name: `5/${n}_${1000 + n}_${n.toString(16).padStart(16, "0")}_${cf}.sst`,
    sha256: new Uint8Array(32).map((_, i) => (i * 7 + n) & 255),
    startKey: key(1, n),
    endKey: key(1, n + 1),
    startVersion: 0n,
    endVersion: 463_000_000_000_000_000n + BigInt(n),
    crc64xor: 0xfedc_ba98_7654_3210n ^ BigInt(n),
    totalKvs: BigInt(n * 3 + 1),
    totalBytes: BigInt(n * 300 + 7),
    tableMetas: [{
      physicalId: 1n,
      crc64xor: 0xffff_ffff_ffff_ffffn - BigInt(n),
      totalKvs: BigInt(n * 3 + 1),
      totalBytes: BigInt(n * 300 + 7),
    }],
    cf,
    size: BigInt(4096 + n),
    cipherIv: n % 2 === 0 ? new Uint8Array(16).fill(n & 255) : new Uint8Array(0),
  });
}
