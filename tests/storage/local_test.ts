/**
 * The conformance suite against the local plugin, opened the way the CLI does (a bare path).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runStorageConformance } from "../../src/storage/conformance.ts";
import { plugin } from "../../plugins/local/mod.ts";
import { StorageError } from "../../src/storage/errors.ts";
import { checkName } from "../../src/storage/names.ts";
import type { ExternalStorage } from "../../src/storage/types.ts";

const dirs = new Map<ExternalStorage, string>();

runStorageConformance({
  name: "local",
  async create() {
    const dir = await mkdtemp(join(tmpdir(), "tibr-local-conf-"));
    const s = await plugin.open(
      { scheme: "local", bucket: "", prefix: dir, options: {} },
      { env: {}, StorageError, checkName },
    );
    dirs.set(s, dir);
    return s;
  },
  async cleanup(s) {
    const dir = dirs.get(s);
    if (dir) await rm(dir, { recursive: true, force: true });
    dirs.delete(s);
  },
});
