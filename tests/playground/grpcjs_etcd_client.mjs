// An independent etcd v3 client of the playground's PD: @grpc/grpc-js on Node with protobufjs
// decoding tibr's proto/etcd files (nothing of tibr's code is used). Given PD's address and a
// key prefix, it calls etcdserverpb.KV/Range over [prefix, prefix+1) as TiUP and BR's tools do
// to find TiDB servers, and prints the keys and values it got as one JSON object.
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

const [pdAddr, prefix] = process.argv.slice(2);
const protoDir = fileURLToPath(new URL("../../proto/", import.meta.url));
const def = protoLoader.loadSync(["etcd/rpc.proto"], {
  includeDirs: [protoDir],
  keepCase: true,
  longs: String,
  defaults: true,
});
const pkg = grpc.loadPackageDefinition(def);
const kv = new pkg.etcdserverpb.KV(pdAddr, grpc.credentials.createInsecure());
const key = Buffer.from(prefix);
const end = Buffer.from(key);
end[end.length - 1]++;
const res = await new Promise((resolve, reject) =>
  kv.Range(
    { key, range_end: end },
    { deadline: Date.now() + 10_000 },
    (err, r) => (err ? reject(err) : resolve(r)),
  )
);
process.stdout.write(JSON.stringify({
  clusterId: res.header.cluster_id,
  count: res.count,
  kvs: res.kvs.map((x) => ({ key: x.key.toString(), value: x.value.toString(), lease: x.lease })),
}));
kv.close();
