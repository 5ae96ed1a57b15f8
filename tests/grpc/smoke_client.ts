// The client half of the gRPC wire-compatibility smoke test: tibr's Connect transport and
// generated clients against an independent @grpc/grpc-js server (grpcjs_server.mjs). Run from
// Deno and, compiled with `bun build --compile`, as a single binary. Prints one JSON line with
// each check's outcome and exits non-zero if any failed.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import process from "node:process";
import { Backup } from "../../src/gen/brpb_pb.ts";
import { PD, type TsoRequest } from "../../src/gen/pdpb_pb.ts";
import { createConnection } from "../../src/rpc/transport.ts";
import { create } from "@bufbuild/protobuf";
import { TsoRequestSchema } from "../../src/gen/pdpb_pb.ts";

const address = process.argv[2];
if (!address) {
  console.error("usage: smoke_client HOST:PORT");
  process.exit(2);
}
const conn = createConnection(address);
const pd = createClient(PD, conn.transport);
const backup = createClient(Backup, conn.transport);
const enc = new TextEncoder();
const results: Record<string, string> = {};

async function check(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
    results[name] = "ok";
  } catch (err) {
    results[name] = `FAILED: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function expect(cond: boolean, what: string): void {
  if (!cond) throw new Error(what);
}

async function expectCode(p: Promise<unknown>, code: Code): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    const ce = ConnectError.from(err);
    expect(ce.code === code, `want ${Code[code]}, got ${Code[ce.code]}: ${ce.rawMessage}`);
    return ce;
  }
  throw new Error(`want ${Code[code]}, got success`);
}

const CLUSTER = 7203812345678901234n;

await check("unary", async () => {
  const res = await pd.getMembers({}, { timeoutMs: 5000 });
  expect(res.header?.clusterId === CLUSTER, `cluster id ${res.header?.clusterId}`);
  expect(res.leader?.clientUrls[0] === "http://127.0.0.1:2379", "leader url");
  expect(res.members.length === 1, "members");
});

await check("bidi", async () => {
  const counts = [1, 5, 10];
  async function* requests(): AsyncIterable<TsoRequest> {
    for (const count of counts) {
      yield create(TsoRequestSchema, { header: { clusterId: CLUSTER }, count });
    }
  }
  let last = -1n;
  let n = 0;
  for await (const res of pd.tso(requests(), { timeoutMs: 5000 })) {
    const ts = (res.timestamp!.physical << 18n) | res.timestamp!.logical;
    expect(ts > last, "TSO must increase");
    expect(res.count === counts[n], `count ${res.count}`);
    last = ts;
    n++;
  }
  expect(n === counts.length, `got ${n} TSO responses`);
});

await check("bidi error status", async () => {
  async function* wrong(): AsyncIterable<TsoRequest> {
    yield create(TsoRequestSchema, { header: { clusterId: 1n }, count: 1 });
  }
  const err = await expectCode(
    (async () => {
      for await (const _ of pd.tso(wrong(), { timeoutMs: 5000 })) { /* drain */ }
    })(),
    Code.FailedPrecondition,
  );
  expect(err.rawMessage.includes("mismatch cluster id"), err.rawMessage);
});

await check("server streaming", async () => {
  const got = [];
  for await (
    const res of backup.backup({ endKey: enc.encode("end"), concurrency: 4, endVersion: 1n })
  ) got.push(res);
  expect(got.length === 4, `got ${got.length} responses`);
  const file = got[3]!.files[0]!;
  expect(file.crc64xor === 0xffffffffffffffffn, `crc64xor ${file.crc64xor}`);
  expect(file.totalKvs === 103n, `total_kvs ${file.totalKvs}`);
  expect(file.sha256.length === 32 && file.sha256[0] === 3, "sha256");
  expect(new TextDecoder().decode(got[2]!.startKey) === "r2", "start key");
});

await check("error mid-stream", async () => {
  let n = 0;
  const err = await expectCode(
    (async () => {
      for await (const _ of backup.backup({ endKey: enc.encode("fail"), concurrency: 3 })) n++;
    })(),
    Code.Internal,
  );
  expect(n === 3, `responses before the error: ${n}`);
  expect(err.rawMessage === "disk full while writing sst", err.rawMessage);
});

await check("status codes", async () => {
  await expectCode(pd.getRegion({ regionKey: enc.encode("missing") }), Code.NotFound);
  await expectCode(pd.getRegion({ regionKey: enc.encode("unavailable") }), Code.Unavailable);
  const ok = await pd.getRegion({ regionKey: enc.encode("k") }, { timeoutMs: 5000 });
  expect(ok.region?.regionEpoch?.version === 5n && ok.leader?.storeId === 1n, "region");
});

await check("deadline", async () => {
  const started = Date.now();
  await expectCode(
    pd.getRegion({ regionKey: enc.encode("slow") }, { timeoutMs: 300 }),
    Code.DeadlineExceeded,
  );
  const took = Date.now() - started;
  expect(took < 3000, `deadline took ${took} ms`);
});

await check("abort", async () => {
  const ac = new AbortController();
  let n = 0;
  await expectCode(
    (async () => {
      for await (const _ of backup.backup({ endKey: enc.encode("abort") }, { signal: ac.signal })) {
        if (++n === 3) ac.abort();
      }
    })(),
    Code.Canceled,
  );
  expect(n === 3, `messages before abort: ${n}`);
  // Give the server a moment to observe the RST_STREAM before the process ends.
  await new Promise((r) => setTimeout(r, 200));
});

conn.close();
console.log(JSON.stringify(results));
process.exit(Object.values(results).every((v) => v === "ok") ? 0 : 1);
