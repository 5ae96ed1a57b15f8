// An independent client of the playground: @grpc/grpc-js on Node with messages encoded by
// protobufjs from tibr's proto/ files (nothing of tibr's code is used). Given the PD address, a
// raw key (hex), its encoded form (hex), a backup range of raw keys and a backup directory, it
// talks to PD and the stores and prints one JSON object with what it saw.
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

const [pdAddr, keyHex, encodedHex, startHex, endHex, backupDir] = process.argv.slice(2);
const protoDir = fileURLToPath(new URL("../../proto/", import.meta.url));
const def = protoLoader.loadSync(["pdpb.proto", "tikvpb.proto", "brpb.proto"], {
  includeDirs: [protoDir],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const pkg = grpc.loadPackageDefinition(def);
const creds = grpc.credentials.createInsecure();
const pd = new pkg.pdpb.PD(pdAddr, creds);

const unary = (client, method, req) =>
  new Promise((resolve, reject) =>
    client[method](
      req,
      { deadline: Date.now() + 10_000 },
      (err, res) => (err ? reject(err) : resolve(res)),
    )
  );

const out = {};
const members = await unary(pd, "GetMembers", {});
const clusterId = members.header.cluster_id;
out.clusterId = clusterId;
out.leaderUrls = members.leader.client_urls;
const header = { cluster_id: clusterId };

out.tso = await new Promise((resolve, reject) => {
  const call = pd.Tso();
  const seen = [];
  call.on("data", (r) => {
    seen.push({ count: r.count, physical: r.timestamp.physical, logical: r.timestamp.logical });
    if (seen.length === 2) call.end();
  });
  call.on("error", reject);
  call.on("end", () => resolve(seen));
  call.write({ header, count: 3 });
  call.write({ header, count: 1 });
});

try {
  await unary(pd, "GetRegion", {
    header: { cluster_id: "1" },
    region_key: Buffer.from(encodedHex, "hex"),
  });
  out.wrongCluster = "accepted";
} catch (err) {
  out.wrongCluster = { code: err.code, details: err.details };
}

const region = await unary(pd, "GetRegion", { header, region_key: Buffer.from(encodedHex, "hex") });
out.regionId = region.region.id;
out.leaderStore = region.leader.store_id;
const stores = (await unary(pd, "GetAllStores", { header, exclude_tombstone_stores: true })).stores;
out.stores = stores.map((s) => ({ id: s.id, address: s.address, state: s.state }));
const leaderAddr = stores.find((s) => s.id === region.leader.store_id).address;

const tikv = new pkg.tikvpb.Tikv(leaderAddr, creds);
const ts = out.tso[1];
const version = ((BigInt(ts.physical) << 18n) | BigInt(ts.logical)).toString();
out.version = version;
const context = {
  region_id: region.region.id,
  region_epoch: region.region.region_epoch,
  peer: region.leader,
};
const got = await unary(tikv, "KvGet", { context, key: Buffer.from(keyHex, "hex"), version });
out.value = Buffer.from(got.value).toString("hex");
out.notFound = got.not_found;
const stale = await unary(tikv, "KvGet", {
  context: { ...context, region_epoch: { conf_ver: "0", version: "0" } },
  key: Buffer.from(keyHex, "hex"),
  version,
});
out.staleEpochError = stale.region_error
  ? Object.keys(stale.region_error).filter((k) => stale.region_error[k])
  : [];

let responses = 0;
let totalKvs = 0n;
const files = [];
for (const s of stores) {
  const backup = new pkg.backup.Backup(s.address, creds);
  await new Promise((resolve, reject) => {
    const call = backup.backup({
      cluster_id: clusterId,
      start_key: Buffer.from(startHex, "hex"),
      end_key: Buffer.from(endHex, "hex"),
      end_version: version,
      storage_backend: { local: { path: backupDir } },
      compression_type: "ZSTD",
    });
    call.on("data", (r) => {
      responses++;
      if (r.error) reject(new Error(`backup error: ${JSON.stringify(r.error)}`));
      for (const f of r.files) {
        totalKvs += BigInt(f.total_kvs);
        files.push(f.name);
      }
    });
    call.on("error", reject);
    call.on("end", resolve);
  });
  backup.close();
}
out.backup = { responses, totalKvs: String(totalKvs), files };
tikv.close();
pd.close();
process.stdout.write(JSON.stringify(out) + "\n");
