// Proves the generated protobuf code has kvproto's names and numbers: every message, field,
// enum value and rpc tibr declares must equal the facts recorded from pingcap/kvproto and
// pingcap/tipb at the commit named in proto/README.md (see scripts/proto-facts.ts).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { describeFiles, type ProtoFacts } from "../../scripts/_proto_descriptors.ts";
import { file_brpb } from "../../src/gen/brpb_pb.ts";
import { file_checksum } from "../../src/gen/checksum_pb.ts";
import { file_coprocessor } from "../../src/gen/coprocessor_pb.ts";
import { file_encryptionpb } from "../../src/gen/encryptionpb_pb.ts";
import { file_errorpb } from "../../src/gen/errorpb_pb.ts";
import { file_import_sstpb } from "../../src/gen/import_sstpb_pb.ts";
import { file_kvrpcpb } from "../../src/gen/kvrpcpb_pb.ts";
import { file_metapb } from "../../src/gen/metapb_pb.ts";
import { file_pdpb } from "../../src/gen/pdpb_pb.ts";
import { file_tikvpb } from "../../src/gen/tikvpb_pb.ts";

const files = [
  file_brpb,
  file_checksum,
  file_coprocessor,
  file_encryptionpb,
  file_errorpb,
  file_import_sstpb,
  file_kvrpcpb,
  file_metapb,
  file_pdpb,
  file_tikvpb,
];
const factsUrl = new URL("../../proto/kvproto-facts.json", import.meta.url);
const facts = JSON.parse(readFileSync(factsUrl, "utf8")) as ProtoFacts & {
  source: Record<string, { commit: string }>;
};
const ours = describeFiles(files);

test("every .proto under proto/ is covered by the facts check", () => {
  const onDisk = readdirSync(new URL("../../proto/", import.meta.url))
    .filter((f) => f.endsWith(".proto"))
    .sort();
  assert.deepEqual(files.map((f) => `${f.name}.proto`).sort(), onDisk);
});

test("every message field has kvproto's name, number, type and label", () => {
  const problems: string[] = [];
  for (const [msg, fields] of Object.entries(ours.messages)) {
    const upstream = facts.messages[msg];
    if (!upstream) {
      problems.push(`${msg}: not in kvproto/tipb`);
      continue;
    }
    for (const [name, f] of Object.entries(fields)) {
      const u = upstream[name];
      if (!u) problems.push(`${msg}.${name}: no such field upstream`);
      else if (JSON.stringify(u) !== JSON.stringify(f)) {
        problems.push(`${msg}.${name}: ours ${JSON.stringify(f)} upstream ${JSON.stringify(u)}`);
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(Object.keys(ours.messages).length > 100);
});

test("every enum value has kvproto's number", () => {
  const problems: string[] = [];
  for (const [e, values] of Object.entries(ours.enums)) {
    const upstream = facts.enums[e];
    if (!upstream) problems.push(`enum ${e}: not upstream`);
    else {
      for (const [name, n] of Object.entries(values)) {
        if (upstream[name] !== n) problems.push(`${e}.${name} = ${n}, upstream ${upstream[name]}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test("every rpc has kvproto's name, types and streaming kind", () => {
  for (const [svc, methods] of Object.entries(ours.services)) {
    for (const [name, m] of Object.entries(methods)) {
      assert.deepEqual(m, facts.services[svc]?.[name], `${svc}.${name}`);
    }
  }
  assert.deepEqual(Object.keys(ours.services).sort(), [
    "backup.Backup",
    "import_sstpb.ImportSST",
    "pdpb.PD",
    "tikvpb.Tikv",
  ]);
  assert.equal(ours.services["backup.Backup"]?.["backup"]?.kind, "server_streaming");
  assert.equal(ours.services["pdpb.PD"]?.["Tso"]?.kind, "bidi_streaming");
});

test("proto/README.md records the commits the facts were taken at", () => {
  const readme = readFileSync(new URL("../../proto/README.md", import.meta.url), "utf8");
  for (const [repo, { commit }] of Object.entries(facts.source)) {
    assert.match(commit, /^[0-9a-f]{40}$/);
    assert.ok(readme.includes(commit), `proto/README.md must name ${repo} commit ${commit}`);
  }
});

test("the facts check catches a renumbered field", () => {
  const field = ours.messages["backup.BackupRequest"]?.["end_version"];
  assert.ok(field);
  const upstream = facts.messages["backup.BackupRequest"]?.["end_version"];
  assert.deepEqual(field, upstream);
  assert.notDeepEqual({ ...field, number: field.number + 1 }, upstream);
});
