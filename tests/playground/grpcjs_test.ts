// The playground against an independent gRPC stack: @grpc/grpc-js on Node with protobufjs
// (tests/playground/grpcjs_client.mjs) calls PD (members, TSO stream, a wrong cluster id,
// regions, stores), a store's KvGet (value and a stale-epoch region error) and every store's
// backup stream; the answers are compared with the cluster's own state and ground truth.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { hex } from "../../src/codec/bytes.ts";
import { encodeRegionKey } from "../../src/playground/regions.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { recordRange } from "../../src/tidb/tablecodec.ts";
import { startSmall, tempDir } from "./_helpers.ts";

const root = new URL("../..", import.meta.url).pathname;

describe("playground with an independent @grpc/grpc-js client", () => {
  let pg: Playground;
  const tmp = tempDir("grpcjs");
  before(async () => {
    pg = await startSmall();
  });
  after(async () => {
    await pg.stop();
    tmp.cleanup();
  });

  test("PD, a store and the backup stream answer a grpc-js client as the cluster's state says", async () => {
    const t = pg.catalog!.table("shop", "users")!;
    const kv = pg.catalog!.rowKvsOf(t, 7n)[0]!;
    const range = recordRange(BigInt(t.info.id));
    const { stdout } = await promisify(execFile)("node", [
      join(root, "tests/playground/grpcjs_client.mjs"),
      pg.pdAddress,
      hex(kv.key),
      hex(encodeRegionKey(kv.key)),
      hex(range.start),
      hex(range.end),
      tmp.path,
    ], { env: process.env, timeout: 60_000 });
    const out = JSON.parse(stdout);
    assert.equal(out.clusterId, String(pg.cluster.clusterId));
    assert.deepEqual(out.leaderUrls, [`http://${pg.pdAddress}`]);
    assert.equal(out.tso.length, 2);
    assert.equal(out.tso[0].count, 3);
    const ts = (x: { physical: string; logical: string }) =>
      (BigInt(x.physical) << 18n) | BigInt(x.logical);
    assert.ok(ts(out.tso[1]) > ts(out.tso[0]));
    assert.equal(out.wrongCluster.code, 9, "FAILED_PRECONDITION");
    // Connect percent-encodes ',' in grpc-message and grpc-js decodes it with decodeURI, which
    // leaves %2C; grpc-go (BR) decodes it fully.
    assert.match(
      decodeURIComponent(out.wrongCluster.details),
      /^mismatch cluster id, need \d+ but got 1$/,
    );
    const region = pg.cluster.regions.getRegionByRawKey(kv.key)!;
    assert.equal(out.regionId, String(region.id));
    assert.equal(out.leaderStore, String(region.leader.storeId));
    assert.equal(out.stores.length, 3);
    assert.ok(out.stores.every((s: { state: string }) => s.state === "Up"));
    assert.equal(out.value, hex(kv.value));
    assert.equal(out.notFound, false);
    assert.deepEqual(out.staleEpochError, ["message", "epoch_not_match"]);
    const truth = pg.cluster.checksum(range.start, range.end, BigInt(out.version));
    assert.equal(out.backup.totalKvs, String(truth.totalKvs));
    assert.equal(out.backup.responses, pg.admin.regions(range.start, range.end).length);
    assert.ok(
      out.backup.files.every((f: string) =>
        /^\d+\/\d+_\d+_\d+_[0-9a-f]{64}_\d+_write\.sst$/.test(f)
      ),
    );
  });
});
