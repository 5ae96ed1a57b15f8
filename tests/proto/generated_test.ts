// The committed generated code must be exactly what `npm run gen` produces from proto/.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";

const root = new URL("../..", import.meta.url).pathname;

test("src/gen is up to date with proto/ (run `npm run gen` if this fails)", () => {
  const out = mkdtempSync(join(tmpdir(), "tibr-gen-"));
  try {
    execFileSync(join(root, "node_modules/.bin/buf"), ["generate", "-o", out], {
      cwd: root,
      stdio: "pipe",
      env: { ...process.env, PATH: `${join(root, "node_modules/.bin")}:${process.env.PATH}` },
    });
    // Recursive: the etcd subset is generated under src/gen/etcd/.
    const list = (dir: string) =>
      (readdirSync(dir, { recursive: true }) as string[])
        .filter((f) => f.endsWith(".ts"))
        .sort();
    const fresh = list(join(out, "src/gen"));
    const committed = list(join(root, "src/gen"));
    assert.deepEqual(committed, fresh, "the set of generated files differs");
    for (const f of fresh) {
      const a = readFileSync(join(out, "src/gen", f), "utf8");
      const b = readFileSync(join(root, "src/gen", f), "utf8");
      assert.ok(a === b, `src/gen/${f} is stale: run \`npm run gen\``);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
