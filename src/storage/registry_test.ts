import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { MemoryStorage } from "../../plugins/memory/mod.ts";
import { toStorageBackend } from "./backend.ts";
import { isStorageError } from "./errors.ts";
import { builtinSchemes, openStorage, PLUGINS_ENV, resolvePlugin } from "./registry.ts";

const dir = mkdtempSync(join(tmpdir(), "tibr-registry-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// A plugin file with no imports at all, as a user would drop next to the binary.
const pluginFile = join(dir, "echo.js");
writeFileSync(
  pluginFile,
  `export default {
  name: "echo",
  schemes: ["echo"],
  options: ["level"],
  async open(target, ctx) {
    const { StorageError, checkName } = ctx;
    return {
      target,
      writeFile: async (name) => { checkName(name, "writeFile"); throw new StorageError("read-only echo", { code: "PermissionDenied", operation: "writeFile", path: name }); },
      capabilities: () => ({ conditionalCreate: false, compareAndSwap: false, atomicReplace: true, strongConsistency: true, rangeRead: true, maxDeleteBatch: 1 }),
      uri: () => "echo://" + target.bucket,
      storageBackend: () => ({ backend: { case: undefined } }),
      close: async () => {},
    };
  },
};
`,
);

// A plugin with its own copy of errors.ts: its StorageError class is not the host's.
copyFileSync(new URL("./errors.ts", import.meta.url), join(dir, "errors.ts"));
const ownErrors = join(dir, "own.ts");
writeFileSync(
  ownErrors,
  `import { StorageError } from "./errors.ts";
export const plugin = {
  name: "own",
  schemes: ["own", "s3"],
  open() {
    throw new StorageError("bucket is gone", { code: "NotFound", operation: "open" });
  },
};
`,
);
writeFileSync(join(dir, "notaplugin.js"), "export const x = 1;\n");

function storageError(code: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(isStorageError(err), `not a StorageError: ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  };
}

describe("registry", () => {
  test("an unknown scheme lists the known ones and how to load a plugin", async () => {
    await assert.rejects(
      openStorage("ftp://host/x", { env: {} }),
      storageError(
        "ConfigInvalid",
        /unknown storage scheme 'ftp'; known schemes: azblob, azure, file, gcs, gs, local, memory, noop, s3; .*--storage-plugin FILE or TIBR_STORAGE_PLUGINS/,
      ),
    );
    assert.deepEqual(builtinSchemes(), [
      "azblob",
      "azure",
      "file",
      "gcs",
      "gs",
      "local",
      "memory",
      "noop",
      "s3",
    ]);
  });

  test("a custom plugin file loads from --storage-plugin and from the environment", async () => {
    for (
      const opts of [{ plugins: [pluginFile], env: {} }, {
        env: { [PLUGINS_ENV]: `${ownErrors}:${pluginFile}` },
      }]
    ) {
      const s = await openStorage("echo://bucket/p?level=3", opts);
      assert.equal(s.uri(), "echo://bucket");
      await assert.rejects(
        s.writeFile("a", new Uint8Array(1)),
        storageError("PermissionDenied", /read-only/),
      );
      await assert.rejects(
        s.writeFile("../a", new Uint8Array(1)),
        storageError("ConfigInvalid", /'\.\.'/),
      );
      await assert.rejects(
        Promise.resolve().then(() => toStorageBackend(s, true)),
        storageError("Unsupported", /TiKV stores cannot write to echo:\/\/bucket/),
      );
    }
  });

  test("options outside a plugin's list are warned about and dropped, as BR ignores them", async () => {
    const warned: string[] = [];
    const warn = (m: string) => warned.push(m);
    const echo = await openStorage("echo://b/p?levl=3", { plugins: [pluginFile], env: {}, warn });
    await echo.close();
    const local = await openStorage(`local://${dir}/x?foo=1`, { env: {}, warn });
    await local.close();
    assert.equal(warned.length, 2, warned.join("\n"));
    assert.match(
      warned[0]!,
      /ignoring unknown option 'levl' for echo storage .*valid options: level/,
    );
    assert.match(warned[1]!, /ignoring unknown option 'foo'.*local takes no options/);
  });

  test("errors thrown by a plugin's own copy of StorageError are recognised", async () => {
    await assert.rejects(
      openStorage("s3://b/p", { plugins: [ownErrors], env: {} }),
      storageError("NotFound", /bucket is gone/),
    );
    assert.equal((await resolvePlugin("s3", { plugins: [ownErrors], env: {} })).name, "own");
  });

  test("bad plugin files fail with one line", async () => {
    await assert.rejects(
      resolvePlugin("x", { plugins: [join(dir, "missing.ts")], env: {} }),
      storageError("ConfigInvalid", /cannot load storage plugin .*missing\.ts: .*check the path/),
    );
    await assert.rejects(
      resolvePlugin("x", { plugins: [join(dir, "notaplugin.js")], env: {} }),
      storageError(
        "ConfigInvalid",
        /does not export a storage plugin; export default definePlugin/,
      ),
    );
  });

  test("storageBackend of built-ins: local path, noop, memory refused", async () => {
    const local = await openStorage(join(dir, "bk"), { env: {} });
    const b = toStorageBackend(local, true);
    assert.equal(b.backend.case, "local");
    assert.equal(b.backend.case === "local" && b.backend.value.path, join(dir, "bk"));
    assert.equal(local.uri(), `local://${join(dir, "bk")}`);
    assert.equal(
      toStorageBackend(await openStorage("noop://", { env: {} }), false).backend.case,
      "noop",
    );
    assert.throws(
      () => toStorageBackend(new MemoryStorage("m", ""), true),
      storageError("Unsupported", /TiKV stores cannot write to memory:\/\/m/),
    );
  });
});
