// An independent gRPC peer for the wire-compatibility smoke test: @grpc/grpc-js on Node, with
// messages encoded by protobufjs from tibr's proto/ files (nothing of tibr's code is used).
// Serves pdpb.PD (GetMembers unary, Tso bidi, GetRegion with error statuses and a slow path)
// and backup.Backup/backup (server streaming, an error mid-stream, a stream the client aborts).
// Prints "listening PORT" once ready, and "cancelled backup" when a client aborts a stream.
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

const protoDir = fileURLToPath(new URL("../../proto/", import.meta.url));
const def = protoLoader.loadSync(["pdpb.proto", "brpb.proto"], {
  includeDirs: [protoDir],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const pkg = grpc.loadPackageDefinition(def);
const CLUSTER_ID = "7203812345678901234";
let physical = Date.now();
let logical = 0;

const pd = {
  GetMembers(_call, cb) {
    const leader = { name: "pd-1", member_id: "11", client_urls: ["http://127.0.0.1:2379"] };
    cb(null, { header: { cluster_id: CLUSTER_ID }, members: [leader], leader });
  },
  Tso(call) {
    call.on("data", (req) => {
      if (req.header?.cluster_id !== CLUSTER_ID) {
        call.emit("error", {
          code: grpc.status.FAILED_PRECONDITION,
          details: `mismatch cluster id, need ${CLUSTER_ID} but got ${req.header?.cluster_id}`,
        });
        return;
      }
      const now = Date.now();
      if (now > physical) {
        physical = now;
        logical = 0;
      }
      logical += req.count;
      call.write({
        header: { cluster_id: CLUSTER_ID },
        count: req.count,
        timestamp: { physical: String(physical), logical: String(logical) },
      });
    });
    call.on("end", () => call.end());
  },
  GetRegion(call, cb) {
    const key = Buffer.from(call.request.region_key).toString();
    if (key === "missing") {
      cb({ code: grpc.status.NOT_FOUND, details: "region not found for key missing" });
    } else if (key === "unavailable") {
      cb({ code: grpc.status.UNAVAILABLE, details: "not leader" });
    } else if (key === "slow") {
      setTimeout(() => cb(null, { header: { cluster_id: CLUSTER_ID } }), 5000);
    } else {
      cb(null, {
        header: { cluster_id: CLUSTER_ID },
        region: {
          id: "2",
          start_key: Buffer.from("a"),
          end_key: Buffer.from("z"),
          region_epoch: { conf_ver: "1", version: "5" },
          peers: [{ id: "3", store_id: "1" }],
        },
        leader: { id: "3", store_id: "1" },
      });
    }
  },
};

const backup = {
  backup(call) {
    const req = call.request;
    const end = Buffer.from(req.end_key).toString();
    if (end === "abort") {
      let i = 0;
      const timer = setInterval(() => {
        call.write({ start_key: Buffer.from(`k${i}`), end_key: Buffer.from(`k${i + 1}`) });
        i++;
      }, 20);
      call.on("cancelled", () => {
        clearInterval(timer);
        console.log("cancelled backup");
      });
      return;
    }
    const n = Number(req.concurrency) || 3;
    for (let i = 0; i < n; i++) {
      call.write({
        start_key: Buffer.from(`r${i}`),
        end_key: Buffer.from(`r${i + 1}`),
        files: [{
          name: `1_${i}_5_abc_default.sst`,
          sha256: Buffer.alloc(32, i),
          crc64xor: "18446744073709551615",
          total_kvs: String(100 + i),
          total_bytes: "4096",
          cf: "default",
          size: "2048",
        }],
      });
    }
    if (end === "fail") {
      call.emit("error", { code: grpc.status.INTERNAL, details: "disk full while writing sst" });
      return;
    }
    call.end();
  },
};

const server = new grpc.Server();
server.addService(pkg.pdpb.PD.service, pd);
server.addService(pkg.backup.Backup.service, backup);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(err.message);
    process.exit(1);
  }
  console.log(`listening ${port}`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
