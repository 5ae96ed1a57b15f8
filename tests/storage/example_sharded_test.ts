/**
 * The example custom plugin, loaded from its file the way `--storage-plugin` does, against
 * the conformance suite.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runStorageConformance } from "../../src/storage/conformance.ts";
import { openStorage } from "../../src/storage/registry.ts";
import type { ExternalStorage } from "../../src/storage/types.ts";

const PLUGIN = fileURLToPath(new URL("../../plugins/example-sharded/mod.ts", import.meta.url));
const dirs = new Map<ExternalStorage, string>();

runStorageConformance({
  name: "example-sharded (custom plugin file)",
  async create() {
    const dir = await mkdtemp(join(tmpdir(), "tibr-sharded-"));
    const s = await openStorage(`sharded://${dir}?shards=8`, {
      plugins: [PLUGIN],
      env: {},
      layers: false,
    });
    dirs.set(s, dir);
    return s;
  },
  async cleanup(s) {
    await rm(dirs.get(s)!, { recursive: true, force: true });
  },
});
