// Architecture rules checked on the import graph (parsed from the sources, no runtime needed):
// the playground is a tool of its own that only the `tibr playground` command reaches, and the
// storage core loads no cloud SDK until a plugin is opened.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

interface Import {
  specifier: string;
  dynamic: boolean;
  typeOnly: boolean;
}

/** The imports of a TypeScript file: static, re-exports, side-effect and `import("...")`. */
function importsOf(file: string): Import[] {
  const src = readFileSync(file, "utf8")
    // Comments may quote imports (module docs show examples); they load nothing.
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const out: Import[] = [];
  const stat = /^\s*(import|export)\s+(type\s+)?(?:[^;'"]*?\sfrom\s+)?["']([^"']+)["']/gm;
  for (const m of src.matchAll(stat)) {
    out.push({ specifier: m[3]!, dynamic: false, typeOnly: m[2] !== undefined });
  }
  for (const m of src.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) {
    out.push({ specifier: m[1]!, dynamic: true, typeOnly: false });
  }
  return out;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" ? [] : tsFiles(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

const rel = (p: string) => relative(ROOT, p).replaceAll("\\", "/");

Deno.test("only the playground command imports src/playground/", () => {
  const playground = join(ROOT, "src", "playground");
  const offenders: string[] = [];
  for (const file of tsFiles(join(ROOT, "src"))) {
    if (file.startsWith(playground + "/")) continue;
    if (rel(file) === "src/cli/commands/playground.ts") continue;
    for (const imp of importsOf(file)) {
      if (!imp.specifier.startsWith(".")) continue;
      const target = resolve(dirname(file), imp.specifier);
      if (target === playground || target.startsWith(playground + "/")) {
        offenders.push(`${rel(file)} imports ${imp.specifier}`);
      }
    }
  }
  assert.deepEqual(offenders, [], "the playground must stay out of the product's code paths");
});

/** Packages whose loading costs seconds and megabytes: only their plugin may load them. */
const SDKS = /^(npm:)?(@aws-sdk\/|@azure\/|@google-cloud\/|google-auth-library)/;

Deno.test("importing the core (mod.ts) loads no cloud SDK", () => {
  const seen = new Set<string>();
  const loaded: string[] = [];
  const visit = (file: string, via: string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const imp of importsOf(file)) {
      // Dynamic imports load on demand (the registry opens a plugin when a URL needs it);
      // type-only imports are erased.
      if (imp.dynamic || imp.typeOnly) continue;
      if (SDKS.test(imp.specifier)) {
        loaded.push(`${[...via, rel(file)].join(" -> ")} -> ${imp.specifier}`);
      } else if (imp.specifier.startsWith(".")) {
        visit(resolve(dirname(file), imp.specifier), [...via, rel(file)]);
      }
    }
  };
  visit(join(ROOT, "mod.ts"), []);
  assert.ok(seen.has(join(ROOT, "src", "storage", "url.ts")), "the walk reaches the URL parser");
  assert.deepEqual(loaded, []);
});

Deno.test("the import parser sees what the rules rely on", () => {
  const dir = Deno.makeTempDirSync();
  const f = join(dir, "x.ts");
  Deno.writeTextFileSync(
    f,
    [
      'import { a } from "./a.ts";',
      'import type { B } from "./b.ts";',
      'export { c } from "./c.ts";',
      "import {",
      "  d,",
      '} from "@aws-sdk/client-s3";',
      'const e = await import("./e.ts");',
      '// import { f } from "./f.ts";',
    ].join("\n"),
  );
  assert.deepEqual(importsOf(f), [
    { specifier: "./a.ts", dynamic: false, typeOnly: false },
    { specifier: "./b.ts", dynamic: false, typeOnly: true },
    { specifier: "./c.ts", dynamic: false, typeOnly: false },
    { specifier: "@aws-sdk/client-s3", dynamic: false, typeOnly: false },
    { specifier: "./e.ts", dynamic: true, typeOnly: false },
  ]);
  Deno.removeSync(dir, { recursive: true });
});
