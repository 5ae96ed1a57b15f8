/**
 * Records kvproto's (and tipb's) names, numbers and types for every type and rpc tibr's
 * `proto/` subset declares, into `proto/kvproto-facts.json`. The proto facts test compares the
 * generated code against that file, so CI proves wire compatibility without network access.
 *
 * Run it when moving to a newer kvproto (needs Debian's protobuf-compiler for `protoc`):
 *   deno run -A scripts/proto-facts.ts KVPROTO_DIR KVPROTO_COMMIT TIPB_DIR TIPB_COMMIT
 * where each DIR is a checkout of pingcap/kvproto or pingcap/tipb (with `proto/` and `include/`).
 * @module
 */
import { fromBinary } from "@bufbuild/protobuf";
import { createFileRegistry, type DescFile } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { describeFiles, type ProtoFacts } from "./_proto_descriptors.ts";

const root = new URL("..", import.meta.url).pathname;

function descriptorSet(includes: string[], files: string[]): DescFile[] {
  const dir = mkdtempSync(join(tmpdir(), "tibr-facts-"));
  try {
    const out = join(dir, "set.binpb");
    execFileSync("protoc", [
      ...includes.map((i) => `-I${i}`),
      "--include_imports",
      `--descriptor_set_out=${out}`,
      ...files,
    ]);
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(out)));
    const wanted = new Set(files);
    return [...registry.files].filter((f) => wanted.has(f.name + ".proto"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [kvDir, kvCommit, tipbDir, tipbCommit] = process.argv.slice(2);
if (!kvDir || !kvCommit || !tipbDir || !tipbCommit) {
  console.error("usage: proto-facts.ts KVPROTO_DIR KVPROTO_COMMIT TIPB_DIR TIPB_COMMIT");
  process.exit(2);
}

const ourFiles = readdirSync(join(root, "proto")).filter((f) => f.endsWith(".proto")).sort();
const ours = describeFiles(descriptorSet([join(root, "proto")], ourFiles));
const theirs = describeFiles([
  ...descriptorSet(
    [join(kvDir, "proto"), join(kvDir, "include")],
    ourFiles.filter((f) => f !== "checksum.proto"),
  ),
  ...descriptorSet([join(tipbDir, "proto"), join(tipbDir, "include")], ["checksum.proto"]),
]);

// Keep only what tibr declares: the upstream facts of those types and rpcs, complete (every
// upstream field of a declared message is listed, so the test can tell omitted from renumbered).
const facts: ProtoFacts = { messages: {}, enums: {}, services: {} };
for (const name of Object.keys(ours.messages)) {
  const m = theirs.messages[name];
  if (!m) throw new Error(`${name} is not in kvproto/tipb`);
  facts.messages[name] = m;
}
for (const name of Object.keys(ours.enums)) {
  const e = theirs.enums[name];
  if (!e) throw new Error(`enum ${name} is not in kvproto/tipb`);
  facts.enums[name] = e;
}
for (const [name, methods] of Object.entries(ours.services)) {
  const s = theirs.services[name];
  if (!s) throw new Error(`service ${name} is not in kvproto/tipb`);
  facts.services[name] = Object.fromEntries(
    Object.keys(methods).map((m) => {
      const fact = s[m];
      if (!fact) throw new Error(`rpc ${name}.${m} is not in kvproto`);
      return [m, fact];
    }),
  );
}
const doc = {
  source: {
    kvproto: { repository: "pingcap/kvproto", commit: kvCommit },
    tipb: { repository: "pingcap/tipb", commit: tipbCommit },
  },
  ...facts,
};
writeFileSync(join(root, "proto", "kvproto-facts.json"), JSON.stringify(doc, null, 2) + "\n");
console.log(
  `wrote proto/kvproto-facts.json: ${Object.keys(facts.messages).length} messages, ` +
    `${Object.keys(facts.enums).length} enums, ${Object.keys(facts.services).length} services`,
);
