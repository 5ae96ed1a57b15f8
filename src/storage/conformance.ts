/**
 * The storage conformance suite: one set of `node:test` cases every plugin runs, built-in or
 * custom. Call `runStorageConformance` from a `*_test.ts` file.
 *
 * Each case opens a fresh storage with `create`, runs, then calls `cleanup`. Cases that depend
 * on a capability check what the storage declares: a declared guarantee is tested for real
 * (8 racing creators, a reader during replacements), an undeclared one must be refused with
 * `Unsupported` where the contract says so. Skips name the case by its stable title, must
 * give a reason, and are printed.
 *
 * @example A plugin's conformance run
 * ```ts
 * import { runStorageConformance } from "../../mod.ts";
 * runStorageConformance({
 *   name: "my-plugin",
 *   create: () => myPlugin.open(target, ctx),
 *   skip: [{ reason: "the server has no multipart upload", tests: [CASES.streamedWrite] }],
 * });
 * ```
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import process from "node:process";
import { describe, test } from "node:test";
import { isStorageError } from "./errors.ts";
import type { ExternalStorage, ObjectStat } from "./types.ts";
import {
  assertBytes,
  byteSorted,
  compareBytes,
  drain,
  fillPattern,
  hashStream,
  MiB,
  parallel,
  pattern,
  rejectsAborted,
  rejectsWith,
  utf8,
} from "./_conformance_util.ts";

/** The stable titles of the cases, for `skip` lists. */
export const CASES = {
  emptyRoundTrip: "round trip: empty object",
  oneByteRoundTrip: "round trip: 1 byte",
  tenMiBRoundTrip: "round trip: 10 MiB",
  overwrite: "writeFile replaces an existing object",
  readInto: "readFile into a caller's buffer returns exactly the object's bytes",
  missing: "missing object: readFile, stat, open fail with NotFound; fileExists is false",
  stat: "stat reports size and a version that changes on every write",
  streamedWrite: "create streams a large multipart write with bounded memory",
  writerAbort: "create: abort and errors leave no object",
  rangedRead: "open reads byte ranges and clamps them to the size",
  walkMany: "walkDir lists more than 1000 keys exactly once in byte order",
  walkFilter: "walkDir filters by subDir and objPrefix",
  walkStartAfter: "walkDir resumes after startAfter",
  specialNames: "unicode and special-character names round-trip and list",
  badNames: "names with '..', absolute or empty names are rejected",
  deleteMissing: "deleting a missing object succeeds",
  deleteMany: "deleteFiles removes 2500 objects",
  rename: "rename moves an object and replaces the target",
  createRace: "create-if-absent raced by 8 writers has exactly one winner",
  compareAndSwap: "compare-and-swap replaces only the expected version",
  atomicReplace: "a reader never sees a partial writeFile",
  abort: "an aborted signal cancels calls, readers and writers",
  describe: "capabilities, uri and storageBackend are well-formed",
} as const;

/** The title of one conformance case. */
export type ConformanceCase = (typeof CASES)[keyof typeof CASES];

/** How a plugin runs the suite. */
export interface ConformanceOptions {
  /** Shown in the suite title (`storage conformance: <name>`). */
  name: string;
  /** Opens a fresh, empty storage for one case (for example a new temp dir or prefix). */
  create: () => Promise<ExternalStorage>;
  /** Removes what a case left (the storage is closed afterwards by the suite). */
  cleanup?: (storage: ExternalStorage) => Promise<void>;
  /** Cases not to run, each group with the reason, printed when the suite is registered. */
  skip?: { reason: string; tests: string[] }[];
  /**
   * `full` (default): a 200 MiB streamed write and 50 creation races. `quick`: 128 MiB and 10
   * races, for slow servers.
   */
  scale?: "full" | "quick";
}

interface Ctx {
  s: ExternalStorage;
  scale: "full" | "quick";
  note: (msg: string) => void;
}

type CaseFn = (ctx: Ctx) => Promise<void>;

/** Registers the conformance cases for one storage as a `describe` block. */
export function runStorageConformance(opts: ConformanceOptions): void {
  const scale = opts.scale ?? "full";
  const skipped = new Map<string, string>();
  const known = new Set<string>(Object.values(CASES));
  for (const group of opts.skip ?? []) {
    if (!group.reason || !group.reason.trim()) {
      throw new Error(
        `conformance ${opts.name}: a skip needs a reason (${group.tests.join(", ")})`,
      );
    }
    for (const t of group.tests) {
      if (!known.has(t)) {
        throw new Error(`conformance ${opts.name}: no case titled ${JSON.stringify(t)} to skip`);
      }
      skipped.set(t, group.reason);
    }
  }
  describe(`storage conformance: ${opts.name}`, () => {
    for (const [title, fn] of CASE_FNS) {
      const reason = skipped.get(title);
      if (reason !== undefined) {
        console.warn(`SKIP storage conformance: ${opts.name}: ${title}: ${reason}`);
        test(title, { skip: reason }, () => {});
        continue;
      }
      test(title, async () => {
        const s = await opts.create();
        const note = (msg: string) =>
          console.warn(`NOTE storage conformance: ${opts.name}: ${title}: ${msg}`);
        try {
          await fn({ s, scale, note });
        } finally {
          try {
            await opts.cleanup?.(s);
          } finally {
            await s.close();
          }
        }
      });
    }
  });
}

async function roundTrip(s: ExternalStorage, name: string, data: Uint8Array): Promise<void> {
  const st = await s.writeFile(name, data);
  assert.equal(st.size, data.length, "writeFile's stat size");
  assertBytes(await s.readFile(name), data, `readFile ${name}`);
  assert.equal(await s.fileExists(name), true, "fileExists after write");
  const st2 = await s.stat(name);
  assert.equal(st2.size, data.length, "stat size");
  const r = await s.open(name);
  assert.equal(r.size, data.length, "reader size");
  assertBytes(await drain(r.stream), data, `open ${name}`);
  await r.close();
}

async function listAll(
  s: ExternalStorage,
  opts: Parameters<ExternalStorage["walkDir"]>[0],
): Promise<Array<[string, number]>> {
  const out: Array<[string, number]> = [];
  await s.walkDir(opts, (name, size) => {
    out.push([name, size]);
  });
  return out;
}

function assertListing(got: Array<[string, number]>, expected: Map<string, number>, what: string) {
  const names = got.map(([n]) => n);
  assert.equal(new Set(names).size, names.length, `${what}: a name was listed twice`);
  assert.deepEqual(names, byteSorted(expected.keys()), `${what}: names or order`);
  for (const [n, size] of got) assert.equal(size, expected.get(n), `${what}: size of ${n}`);
}

const BAD_NAMES = ["../escape", "a/../../escape", "..", "/abs/name", "", "a//b", "a/./b", "dir/"];

const SPECIAL_NAMES = [
  "ünïcødé/файл.txt",
  "中文/数据.sst",
  "emoji-😀.bin",
  "space in name",
  "plus+sign",
  "percent%20encoded",
  "question?mark",
  "hash#tag",
  "amp&and=eq",
  "semi;colon,comma",
  "quote'single",
  "tilde~caret^",
  "brackets[x](y){z}",
  "colon:at@dollar$",
  "exclaim!star*",
  "order/\u{e000}private-use",
  "order/\u{1f600}astral",
  "order/\u007fdel",
];

const CASE_FNS: Array<[ConformanceCase, CaseFn]> = [
  [CASES.emptyRoundTrip, ({ s }) => roundTrip(s, "rt/empty", new Uint8Array(0))],
  [CASES.oneByteRoundTrip, ({ s }) => roundTrip(s, "rt/one", Uint8Array.of(0xa5))],
  [CASES.tenMiBRoundTrip, ({ s }) => roundTrip(s, "rt/ten", pattern(10 * MiB, 10))],

  [CASES.overwrite, async ({ s }) => {
    await s.writeFile("ow/x", pattern(3000, 1));
    await s.writeFile("ow/x", pattern(17, 2));
    assertBytes(await s.readFile("ow/x"), pattern(17, 2), "after overwrite");
  }],

  [CASES.readInto, async ({ s }) => {
    // Whether or not the plugin uses the buffer, only the returned bytes count.
    const into = new Uint8Array(64 * 1024).fill(0xee);
    await s.writeFile("ri/a", pattern(40_000, 3));
    await s.writeFile("ri/b", pattern(1000, 4));
    await s.writeFile("ri/big", pattern(100_000, 5));
    await s.writeFile("ri/empty", new Uint8Array(0));
    assertBytes(await s.readFile("ri/a", { into }), pattern(40_000, 3), "into a larger buffer");
    assertBytes(await s.readFile("ri/b", { into }), pattern(1000, 4), "the same buffer reused");
    assertBytes(await s.readFile("ri/big", { into }), pattern(100_000, 5), "larger than it");
    assert.equal((await s.readFile("ri/empty", { into })).length, 0, "an empty object");
    await rejectsWith(s.readFile("ri/missing", { into }), "NotFound", "readFile into");
  }],

  [CASES.missing, async ({ s }) => {
    await rejectsWith(s.readFile("nope/missing"), "NotFound", "readFile");
    await rejectsWith(s.stat("nope/missing"), "NotFound", "stat");
    await rejectsWith(s.open("nope/missing"), "NotFound", "open");
    assert.equal(await s.fileExists("nope/missing"), false, "fileExists");
    // A "directory" that holds objects is not an object itself.
    await s.writeFile("nope/dir/child", utf8("x"));
    assert.equal(await s.fileExists("nope/dir"), false, "fileExists on a directory name");
    await rejectsWith(s.readFile("nope/dir"), "NotFound", "readFile on a directory name");
  }],

  [CASES.stat, async ({ s }) => {
    const a = await s.writeFile("st/x", pattern(1234, 1));
    const sa = await s.stat("st/x");
    assert.equal(sa.size, 1234);
    assert.equal(typeof sa.version, "string");
    assert.ok(sa.version.length > 0, "version is not empty");
    assert.equal(sa.version, a.version, "writeFile returns the version stat reports");
    const b = await s.writeFile("st/x", pattern(1234, 2));
    assert.notEqual(b.version, a.version, "the version changes when the content is rewritten");
    assert.equal((await s.stat("st/x")).version, b.version);
  }],

  [CASES.streamedWrite, async ({ s, scale }) => {
    const total = (scale === "full" ? 200 : 128) * MiB;
    const partSize = 5 * MiB;
    const concurrency = 4;
    const chunk = new Uint8Array(MiB);
    const hash = createHash("sha256");
    const rss = () => process.memoryUsage().rss;
    const base = rss();
    let peak = base;
    const sampler = setInterval(() => peak = Math.max(peak, rss()), 10);
    try {
      const w = await s.create("big/stream.bin", { partSize, concurrency });
      for (let off = 0; off < total; off += chunk.length) {
        // One reused buffer: the contract lets the caller reuse a chunk once write resolves.
        fillPattern(chunk, off, 200);
        hash.update(chunk);
        await w.write(chunk);
        peak = Math.max(peak, rss());
      }
      const st = await w.close();
      assert.equal(st.size, total, "writer stat size");
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - base;
    const bound = 2 * concurrency * partSize + 64 * MiB;
    assert.ok(
      growth < bound,
      `RSS grew by ${(growth / MiB).toFixed(0)} MiB writing ${total / MiB} MiB; ` +
        `bound ${(bound / MiB).toFixed(0)} MiB (2 x concurrency x partSize + 64 MiB)`,
    );
    const r = await s.open("big/stream.bin");
    assert.equal(r.size, total, "reader size");
    const got = await hashStream(r.stream);
    await r.close();
    assert.equal(got.size, total, "bytes read back");
    assert.equal(got.sha256, hash.digest("hex"), "content read back (sha256)");
  }],

  [CASES.writerAbort, async ({ s }) => {
    const w = await s.create("wa/aborted");
    await w.write(pattern(1000, 3));
    await w.abort(new Error("test abort"));
    await w.abort();
    assert.equal(await s.fileExists("wa/aborted"), false, "an aborted writer leaves no object");
    await assert.rejects(w.write(pattern(10, 3)), "write after abort fails");
    // An aborted replacement keeps the old object.
    await s.writeFile("wa/kept", utf8("old"));
    const w2 = await s.create("wa/kept");
    await w2.write(utf8("new content"));
    await w2.abort();
    assertBytes(await s.readFile("wa/kept"), utf8("old"), "old object survives an abort");
    const w3 = await s.create("wa/closed");
    await w3.write(utf8("abc"));
    assert.equal((await w3.close()).size, 3);
    await assert.rejects(w3.write(utf8("d")), "write after close fails");
  }],

  [CASES.rangedRead, async ({ s }) => {
    const size = MiB + 17;
    const data = pattern(size, 4);
    await s.writeFile("rr/obj", data);
    const ranges: Array<[number | undefined, number | undefined]> = [
      [0, 10],
      [100, 1000],
      [size - 5, size],
      [size - 5, size + 100],
      [size, size],
      [7, 7],
      [500_000, undefined],
      [undefined, 99],
      [0, undefined],
      [size + 10, size + 20],
    ];
    for (const [start, end] of ranges) {
      const r = await s.open("rr/obj", {
        ...(start === undefined ? {} : { start }),
        ...(end === undefined ? {} : { end }),
      });
      assert.equal(r.size, size, `reader size for [${start}, ${end})`);
      const lo = Math.min(start ?? 0, size);
      const hi = Math.max(lo, Math.min(end ?? size, size));
      assertBytes(await drain(r.stream), data.subarray(lo, hi), `range [${start}, ${end})`);
      await r.close();
    }
    // Closing before reading everything releases the reader.
    const early = await s.open("rr/obj");
    const reader = early.stream.getReader();
    await reader.read();
    reader.releaseLock();
    await early.close();
    await early.close();
  }],

  [CASES.walkMany, async ({ s }) => {
    const dirs = ["", "a/", "a/b/", "a-c/", "a.d/"];
    const expected = new Map<string, number>();
    const n = 1200;
    for (let i = 0; i < n; i++) {
      const name = `walk/${dirs[i % dirs.length]}k${String(i).padStart(5, "0")}`;
      expected.set(name, i % 7);
    }
    // Names that sort between a directory and its contents ('-' and '.' sort before '/').
    for (const extra of ["walk/a-", "walk/a.txt", "walk/a0", "walk/a-c.x"]) expected.set(extra, 3);
    await parallel(
      [...expected],
      32,
      ([name, size]) => s.writeFile(name, pattern(size, 5)).then(() => {}),
    );
    assertListing(await listAll(s, { subDir: "walk" }), expected, "walkDir");
    assertListing(await listAll(s, { subDir: "walk", listCount: 100 }), expected, "listCount 100");
    assertListing(await listAll(s, {}), expected, "walkDir from the root");
  }],

  [CASES.walkFilter, async ({ s }) => {
    const all = ["f/x/1", "f/x/2", "f/x/deep/3", "f/xy", "f/x-1", "f/y/1", "g/x/1", "fx"];
    await parallel(all, 8, (n) => s.writeFile(n, utf8(n)).then(() => {}));
    const sizes = (names: string[]) => new Map(names.map((n) => [n, utf8(n).length]));
    assertListing(
      await listAll(s, { subDir: "f/x" }),
      sizes(["f/x/1", "f/x/2", "f/x/deep/3"]),
      "subDir f/x",
    );
    assertListing(
      await listAll(s, { subDir: "f/x/" }),
      sizes(["f/x/1", "f/x/2", "f/x/deep/3"]),
      "subDir with a trailing slash",
    );
    assertListing(
      await listAll(s, { subDir: "f", objPrefix: "x" }),
      sizes(["f/x/1", "f/x/2", "f/x/deep/3", "f/xy", "f/x-1"]),
      "subDir f, objPrefix x",
    );
    assertListing(
      await listAll(s, { subDir: "f", objPrefix: "x/d" }),
      sizes(["f/x/deep/3"]),
      "objPrefix with a slash",
    );
    assertListing(
      await listAll(s, { objPrefix: "f" }),
      sizes(all.filter((n) => n[0] === "f")),
      "root objPrefix",
    );
    assertListing(await listAll(s, { subDir: "nothing/here" }), new Map(), "missing subDir");
  }],

  [CASES.walkStartAfter, async ({ s }) => {
    const names: string[] = [];
    for (let i = 0; i < 30; i++) {
      names.push(`sa/${i % 3 === 0 ? "d/" : ""}k${String(i).padStart(2, "0")}`);
    }
    await parallel(names, 8, (n) => s.writeFile(n, utf8("v")).then(() => {}));
    const sorted = byteSorted(names);
    for (
      const after of [sorted[0]!, sorted[14]!, "sa/d", "sa/d/k99", "sa/k155", sorted[29]!, "sa/"]
    ) {
      const want = new Map(sorted.filter((n) => compareBytes(n, after) > 0).map((n) => [n, 1]));
      assertListing(
        await listAll(s, { subDir: "sa", startAfter: after }),
        want,
        `startAfter ${after}`,
      );
    }
  }],

  [CASES.specialNames, async ({ s }) => {
    for (const name of SPECIAL_NAMES) {
      const full = `sp/${name}`;
      const st = await s.writeFile(full, utf8(full));
      assert.equal(st.size, utf8(full).length);
      assertBytes(await s.readFile(full), utf8(full), `readFile ${full}`);
      assert.equal((await s.stat(full)).size, utf8(full).length, `stat ${full}`);
    }
    assertListing(
      await listAll(s, { subDir: "sp" }),
      new Map(SPECIAL_NAMES.map((n) => [`sp/${n}`, utf8(`sp/${n}`).length])),
      "listing of special names",
    );
    await s.deleteFile(`sp/${SPECIAL_NAMES[0]}`);
    assert.equal(await s.fileExists(`sp/${SPECIAL_NAMES[0]}`), false);
  }],

  [CASES.badNames, async ({ s }) => {
    await s.writeFile("ok/file", utf8("x"));
    for (const bad of BAD_NAMES) {
      const what = (op: string) => `${op}(${JSON.stringify(bad)})`;
      await rejectsWith(s.writeFile(bad, utf8("x")), "ConfigInvalid", what("writeFile"));
      await rejectsWith(s.readFile(bad), "ConfigInvalid", what("readFile"));
      await rejectsWith(s.stat(bad), "ConfigInvalid", what("stat"));
      await rejectsWith(s.fileExists(bad), "ConfigInvalid", what("fileExists"));
      await rejectsWith(s.deleteFile(bad), "ConfigInvalid", what("deleteFile"));
      await rejectsWith(s.deleteFiles(["ok/file", bad]), "ConfigInvalid", what("deleteFiles"));
      await rejectsWith(s.open(bad), "ConfigInvalid", what("open"));
      await rejectsWith(s.create(bad), "ConfigInvalid", what("create"));
      await rejectsWith(s.rename("ok/file", bad), "ConfigInvalid", what("rename to"));
      await rejectsWith(s.rename(bad, "ok/other"), "ConfigInvalid", what("rename from"));
    }
    await rejectsWith(s.walkDir({ subDir: "../up" }, () => {}), "ConfigInvalid", "walkDir ../up");
    assert.equal(await s.fileExists("ok/file"), true, "a rejected batch deletes nothing");
  }],

  [CASES.deleteMissing, async ({ s }) => {
    await s.deleteFile("dm/never-existed");
    await s.deleteFiles(["dm/a", "dm/b/c"]);
    await s.deleteFiles([]);
    await s.writeFile("dm/x", utf8("x"));
    await s.deleteFile("dm/x");
    await s.deleteFile("dm/x");
    assert.equal(await s.fileExists("dm/x"), false);
  }],

  [CASES.deleteMany, async ({ s }) => {
    const names = Array.from({ length: 2500 }, (_, i) => `del/${i % 10}/n${i}`);
    await parallel(names, 32, (n) => s.writeFile(n, utf8("d")).then(() => {}));
    await s.writeFile("del-keep", utf8("k"));
    assert.equal((await listAll(s, { subDir: "del" })).length, 2500, "written before delete");
    await s.deleteFiles([...names, "del/missing"]);
    assert.deepEqual(await listAll(s, { subDir: "del" }), [], "nothing left after deleteFiles");
    assert.equal(await s.fileExists("del-keep"), true, "other objects are kept");
    assert.ok(s.capabilities().maxDeleteBatch >= 1);
  }],

  [CASES.rename, async ({ s }) => {
    await s.writeFile("rn/a", utf8("content a"));
    await s.writeFile("rn/b", utf8("content b"));
    await s.rename("rn/a", "rn/b");
    assertBytes(await s.readFile("rn/b"), utf8("content a"), "target after rename");
    assert.equal(await s.fileExists("rn/a"), false, "source is gone");
    await s.rename("rn/b", "rn/sub/dir/c");
    assertBytes(await s.readFile("rn/sub/dir/c"), utf8("content a"), "into a new directory");
    await rejectsWith(s.rename("rn/missing", "rn/d"), "NotFound", "rename of a missing object");
    assert.equal(await s.fileExists("rn/d"), false);
  }],

  [CASES.createRace, async ({ s, scale, note }) => {
    if (!s.capabilities().conditionalCreate) {
      note("conditionalCreate is not declared: checking that ifNoneMatch is refused");
      await rejectsWith(
        s.writeFile("race/x", utf8("x"), { ifNoneMatch: "*" }),
        "Unsupported",
        "ifNoneMatch without conditionalCreate",
      );
      return;
    }
    const rounds = scale === "full" ? 50 : 10;
    for (let round = 0; round < rounds; round++) {
      const name = `race/r${round}`;
      const bodies = Array.from({ length: 8 }, (_, i) => utf8(`writer ${i} of round ${round}`));
      const results = await Promise.allSettled(
        bodies.map((b) => s.writeFile(name, b, { ifNoneMatch: "*" })),
      );
      const winners = results.flatMap((r, i) => r.status === "fulfilled" ? [i] : []);
      for (const r of results) {
        if (r.status === "rejected" && !isStorageError(r.reason, "ConditionNotMatch")) {
          assert.fail(
            `round ${round}: a loser failed with ${String(r.reason)}, not ConditionNotMatch`,
          );
        }
      }
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} winners`);
      assertBytes(await s.readFile(name), bodies[winners[0]!]!, `round ${round}: winner's bytes`);
    }
    await rejectsWith(
      s.writeFile("race/r0", utf8("late"), { ifNoneMatch: "*" }),
      "ConditionNotMatch",
      "create-if-absent on an existing object",
    );
  }],

  [CASES.compareAndSwap, async ({ s, note }) => {
    if (!s.capabilities().compareAndSwap) {
      note("compareAndSwap is not declared: checking that ifMatch is refused");
      await s.writeFile("cas/x", utf8("v1"));
      const v = (await s.stat("cas/x").catch(() => ({ version: "v" }))).version;
      await rejectsWith(
        s.writeFile("cas/x", utf8("v2"), { ifMatch: v }),
        "Unsupported",
        "ifMatch without compareAndSwap",
      );
      return;
    }
    const v1 = await s.writeFile("cas/x", utf8("v1"));
    const v2 = await s.writeFile("cas/x", utf8("v2"), { ifMatch: v1.version });
    assert.notEqual(v2.version, v1.version);
    assertBytes(await s.readFile("cas/x"), utf8("v2"), "after a matching swap");
    await rejectsWith(
      s.writeFile("cas/x", utf8("v3"), { ifMatch: v1.version }),
      "ConditionNotMatch",
      "swap with a stale version",
    );
    assertBytes(await s.readFile("cas/x"), utf8("v2"), "a failed swap changes nothing");
    await rejectsWith(
      s.writeFile("cas/missing", utf8("x"), { ifMatch: v1.version }),
      "ConditionNotMatch",
      "swap of a missing object",
    );
    assert.equal(await s.fileExists("cas/missing"), false);
    // Racing swappers from the same version: exactly one wins.
    const base = await s.stat("cas/x");
    const results = await Promise.allSettled(
      Array.from(
        { length: 8 },
        (_, i) => s.writeFile("cas/x", utf8(`swap ${i}`), { ifMatch: base.version }),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled") as PromiseFulfilledResult<
      ObjectStat
    >[];
    assert.equal(won.length, 1, `${won.length} racing swaps won`);
    for (const r of results) {
      if (r.status === "rejected") {
        assert.ok(isStorageError(r.reason, "ConditionNotMatch"), String(r.reason));
      }
    }
    assert.equal((await s.stat("cas/x")).version, won[0]!.value.version);
  }],

  [CASES.atomicReplace, async ({ s, scale, note }) => {
    if (!s.capabilities().atomicReplace) {
      note("atomicReplace is not declared: partial reads are not checked");
      return;
    }
    const a = new Uint8Array(2 * MiB).fill(0xaa);
    const b = new Uint8Array(3 * MiB).fill(0xbb);
    await s.writeFile("atomic/x", a);
    let writing = true;
    let reads = 0;
    const writer = (async () => {
      try {
        for (let i = 0; i < (scale === "full" ? 40 : 15); i++) {
          await s.writeFile("atomic/x", i % 2 ? a : b);
        }
      } finally {
        writing = false;
      }
    })();
    const reader = (async () => {
      while (writing) {
        const got = await s.readFile("atomic/x");
        reads++;
        const fill = got.length === a.length ? 0xaa : got.length === b.length ? 0xbb : -1;
        assert.notEqual(fill, -1, `a read returned ${got.length} bytes, neither version`);
        for (let i = 0; i < got.length; i += 4096) {
          if (got[i] !== fill) assert.fail(`a read of ${got.length} bytes mixes versions at ${i}`);
        }
        if (got[got.length - 1] !== fill) assert.fail("a read mixes versions at its end");
      }
    })();
    await Promise.all([writer, reader]);
    assert.ok(reads > 0, "the reader ran");
  }],

  [CASES.abort, async ({ s }) => {
    const ctl = new AbortController();
    ctl.abort();
    const signal = ctl.signal;
    const r = signal.reason;
    await rejectsAborted(s.writeFile("ab/x", utf8("x"), { signal }), r, "writeFile");
    assert.equal(await s.fileExists("ab/x"), false, "an aborted writeFile writes nothing");
    await s.writeFile("ab/y", pattern(8 * MiB, 6));
    await rejectsAborted(s.readFile("ab/y", { signal }), r, "readFile");
    await rejectsAborted(s.stat("ab/y", { signal }), r, "stat");
    await rejectsAborted(s.fileExists("ab/y", { signal }), r, "fileExists");
    await rejectsAborted(s.walkDir({ signal }, () => {}), r, "walkDir");
    await rejectsAborted(s.open("ab/y", { signal }), r, "open");
    await rejectsAborted(s.create("ab/z", { signal }), r, "create");
    await rejectsAborted(s.deleteFile("ab/y", { signal }), r, "deleteFile");
    await rejectsAborted(s.rename("ab/y", "ab/w", { signal }), r, "rename");
    assert.equal(await s.fileExists("ab/y"), true, "aborted delete and rename changed nothing");

    // Abort while streaming a read: the stream fails instead of delivering the rest.
    const rc = new AbortController();
    const reader = await s.open("ab/y", { signal: rc.signal });
    const it = reader.stream.getReader();
    const first = await it.read();
    assert.equal(first.done, false);
    rc.abort();
    let failed = false;
    try {
      for (;;) {
        const next = await it.read();
        if (next.done) break;
      }
    } catch {
      failed = true;
    }
    assert.ok(failed, "a reader keeps streaming after its signal aborted");
    await reader.close();

    // Abort a streaming write: no object appears.
    const wc = new AbortController();
    const w = await s.create("ab/stream", { signal: wc.signal });
    await w.write(pattern(MiB, 7));
    wc.abort();
    await rejectsAborted(
      (async () => {
        await w.write(pattern(MiB, 8));
        await w.close();
      })(),
      wc.signal.reason,
      "writer after abort",
    );
    await w.abort().catch(() => {});
    assert.equal(await s.fileExists("ab/stream"), false, "an aborted writer leaves no object");
  }],

  [CASES.describe, ({ s }) => {
    const caps = s.capabilities();
    for (
      const k of [
        "conditionalCreate",
        "compareAndSwap",
        "atomicReplace",
        "strongConsistency",
        "rangeRead",
      ] as const
    ) {
      assert.equal(typeof caps[k], "boolean", `capability ${k}`);
    }
    assert.ok(Number.isInteger(caps.maxDeleteBatch) && caps.maxDeleteBatch > 0, "maxDeleteBatch");
    assert.ok(
      caps.discardsWrites === undefined || typeof caps.discardsWrites === "boolean",
      "discardsWrites",
    );
    const uri = s.uri();
    assert.match(uri, /^[a-z][a-z0-9+.-]*:\/\//, "uri() is a URL");
    assert.doesNotMatch(
      uri,
      /@|secret|account-key|sas-token|session-token|access-key/i,
      "uri() hides credentials",
    );
    for (const send of [true, false]) {
      try {
        const b = s.storageBackend(send);
        assert.equal(typeof b, "object");
      } catch (err) {
        assert.ok(
          isStorageError(err, "Unsupported"),
          `storageBackend throws only Unsupported: ${String(err)}`,
        );
      }
    }
    return Promise.resolve();
  }],
];
