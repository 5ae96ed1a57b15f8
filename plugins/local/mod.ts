/**
 * The local plugin: `local:///abs/path`, `file:///abs/path` or a bare path. TiKV stores are sent
 * `StorageBackend.local{path}` and write into the same path on their own disks, so for a real
 * cluster the path must be a shared mount (as with BR).
 * @module
 */
import { access, constants, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { definePlugin, type StoragePlugin } from "../../src/storage/plugin.ts";
import { StorageError } from "../../src/storage/errors.ts";
import { errno } from "./_fs.ts";
import { LocalStorage } from "./storage.ts";

export { LocalStorage, type LocalStorageOptions, STAGING_DIR } from "./storage.ts";

/** The local plugin. */
export const plugin: StoragePlugin = definePlugin({
  name: "local",
  schemes: ["local", "file"],
  options: [],
  async open(target) {
    const root = target.prefix;
    try {
      await _checkRoot(root);
    } catch (err) {
      const code = errno(err);
      const [kind, fix] = code === "EACCES" || code === "EPERM" || code === "EROFS"
        ? [
          "PermissionDenied",
          "permission denied; make it writable by this user or choose another path",
        ] as const
        : code === "ENOTDIR" || code === "EEXIST"
        ? [
          "ConfigInvalid",
          "a file is in the way (the path or one of its parents is not a directory); choose a directory path",
        ] as const
        : ["Unexpected", `${code ?? String(err)}; check the path`] as const;
      throw new StorageError(`cannot use ${root} as backup storage: ${fix}`, {
        code: kind,
        operation: "open",
        cause: err,
      });
    }
    const storage = new LocalStorage(root);
    await storage.sweepStaging();
    return storage;
  },
});

/**
 * Checks, without creating anything, that `root` is a directory or can be made one: the first
 * write creates it, so a read-only command on a missing path leaves no directory behind.
 */
async function _checkRoot(root: string): Promise<void> {
  const notDir = () => Object.assign(new Error(), { code: "ENOTDIR" });
  let dir = root;
  for (;;) {
    let st;
    try {
      st = await stat(dir);
    } catch (err) {
      if (errno(err) !== "ENOENT" || dirname(dir) === dir) throw err;
      dir = dirname(dir);
      continue;
    }
    if (!st.isDirectory()) throw notDir();
    // An existing root is enough (reading needs no write access); a missing one must be
    // creatable under its nearest existing parent.
    if (dir !== root) await access(dir, constants.W_OK | constants.X_OK);
    return;
  }
}

export default plugin;
