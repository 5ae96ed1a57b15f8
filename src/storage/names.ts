/**
 * Object-name rules shared by every plugin: which names are valid, how names join a prefix, how
 * a walk's `subDir`/`objPrefix` become one listing prefix, and the byte order listings use.
 * @module
 */
import { StorageError } from "./errors.ts";
import type { WalkOptions } from "./types.ts";

/**
 * Throws `ConfigInvalid` unless `name` is a relative `/`-separated object name: not empty, no
 * leading or trailing `/`, no empty, `.` or `..` segment, no NUL. Escaping the storage root
 * through `..` is what this guards against; the rest keeps names portable across backends.
 */
export function checkName(name: string, operation: string): void {
  let problem: string | undefined;
  if (typeof name !== "string" || name === "") problem = "the name is empty";
  else if (name.startsWith("/")) problem = "absolute names are not allowed";
  else if (name.includes("\0")) problem = "NUL bytes are not allowed";
  else if (name.endsWith("/")) problem = "a name cannot end with '/'";
  else {
    for (const seg of name.split("/")) {
      if (seg === "..") problem = "'..' segments are not allowed";
      else if (seg === ".") problem = "'.' segments are not allowed";
      else if (seg === "") problem = "empty segments ('//') are not allowed";
      if (problem) break;
    }
  }
  if (problem) {
    throw new StorageError(
      `invalid object name ${JSON.stringify(name)}: ${problem}; ` +
        "use a relative path like 'dir/file' inside the storage",
      { code: "ConfigInvalid", operation, path: String(name) },
    );
  }
}

/** `subDir` without surrounding slashes, checked like a name; `""` when unset. */
export function cleanSubDir(subDir: string | undefined, operation = "walkDir"): string {
  const dir = (subDir ?? "").replace(/^\/+|\/+$/g, "");
  if (dir !== "") checkName(dir, operation);
  return dir;
}

/** The prefix every listed name must start with: `subDir/` + `objPrefix`. */
export function walkPrefix(opts: Pick<WalkOptions, "subDir" | "objPrefix">): string {
  const dir = cleanSubDir(opts.subDir);
  return (dir === "" ? "" : `${dir}/`) + (opts.objPrefix ?? "");
}

/** Joins a storage prefix (bucket path) and an object name. */
export function joinKey(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}/${name}`;
}

/**
 * Compares names in UTF-8 byte order (what S3, GCS and Azure listings use), which is Unicode
 * code point order; plain `<` on JS strings compares UTF-16 units and disagrees for astral
 * characters against U+E000..U+FFFF.
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return unitKey(x) - unitKey(y);
  }
  return a.length - b.length;
}

// Surrogates (D800-DFFF) stand for code points above FFFF, so they must sort after E000-FFFF.
function unitKey(u: number): number {
  if (u < 0xd800) return u;
  return u <= 0xdfff ? u + 0x2000 : u - 0x800;
}
