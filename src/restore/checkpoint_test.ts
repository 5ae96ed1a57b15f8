import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { PdClient } from "../pd/client.ts";
import { openStorage } from "../storage/registry.ts";
import { RestoreCheckpoint, RestoreCheckpointError } from "./checkpoint.ts";

const dir = mkdtempSync(join(tmpdir(), "tibr-restore-cp-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// A storage plugin that reads nothing and refuses every write: `ro-open://` already when a
// location under `cp` is opened (as the local plugin does for a directory it cannot create),
// `ro-write://` at the first write (as S3 does for a read-only user).
const plugin = join(dir, "readonly.js");
writeFileSync(
  plugin,
  `export default {
  name: "readonly",
  schemes: ["ro-open", "ro-write"],
  async open(target, ctx) {
    const { StorageError } = ctx;
    const denied = (operation, path) =>
      new StorageError("access denied", { code: "PermissionDenied", operation, path });
    if (target.scheme === "ro-open" && target.prefix.includes("checkpoints")) {
      throw denied("open", target.prefix);
    }
    const missing = (operation, path) =>
      new StorageError("no such object", { code: "NotFound", operation, path });
    return {
      writeFile: async (name) => { throw denied("writeFile", name); },
      create: async (name) => { throw denied("create", name); },
      deleteFile: async (name) => { throw denied("deleteFile", name); },
      deleteFiles: async (names) => { throw denied("deleteFiles", names[0]); },
      rename: async (name) => { throw denied("rename", name); },
      readFile: async (name) => { throw missing("readFile", name); },
      open: async (name) => { throw missing("open", name); },
      stat: async (name) => { throw missing("stat", name); },
      fileExists: async () => false,
      walkDir: async () => {},
      capabilities: () => ({ conditionalCreate: true, compareAndSwap: true, atomicReplace: true, strongConsistency: true, rangeRead: true, maxDeleteBatch: 1 }),
      uri: () => target.scheme + "://" + target.bucket + "/" + target.prefix,
      storageBackend: () => ({ backend: { case: undefined } }),
      close: async () => {},
    };
  },
};
`,
);

const pd = { clusterId: 7n, getTS: () => Promise.resolve(1n << 18n) } as unknown as PdClient;

describe("RestoreCheckpoint.open on a storage that refuses writes", () => {
  for (const scheme of ["ro-open", "ro-write"]) {
    test(`a read-only backup storage is one line naming --checkpoint-storage (${scheme})`, async () => {
      const backup = await openStorage(`${scheme}://bkt/backup`, { plugins: [plugin] });
      try {
        await assert.rejects(
          RestoreCheckpoint.open({
            backupStorage: backup,
            storagePlugins: [plugin],
            pd,
            config: { mode: "full" } as never,
          }),
          (err: unknown) => {
            assert.ok(err instanceof RestoreCheckpointError, String(err));
            assert.match(
              err.message,
              /^the backup storage ro-(open|write):\/\/bkt\/backup is read-only, .*give a writable --checkpoint-storage URL, or --use-checkpoint=false$/,
            );
            return true;
          },
        );
      } finally {
        await backup.close();
      }
    });

    test(`a read-only --checkpoint-storage is one line naming it (${scheme})`, async () => {
      const backup = await openStorage(`ro-write://bkt/backup`, { plugins: [plugin] });
      try {
        await assert.rejects(
          RestoreCheckpoint.open({
            url: `${scheme}://bkt/checkpoints`,
            backupStorage: backup,
            storagePlugins: [plugin],
            pd,
            config: { mode: "full" } as never,
          }),
          /^RestoreCheckpointError: cannot write the restore checkpoint to ro-(open|write):\/\/bkt\/checkpoints \(permission denied\): give a writable --checkpoint-storage/,
        );
      } finally {
        await backup.close();
      }
    });
  }
});
