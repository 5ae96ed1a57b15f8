import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createServer } from "node:http2";
import { create } from "@bufbuild/protobuf";
import { PD, GetMembersResponseSchema } from "/work/main/src/gen/pdpb_pb.ts";
import { PdClient } from "/work/main/src/pd/client.ts";

let port = 0;
function start(p: number) {
  const handler = connectNodeAdapter({ grpc: true, grpcWeb: false, connect: false, routes(router) {
    router.service(PD, {
      getMembers() {
        const m = { name: "pd", memberId: 1n, clientUrls: [`http://127.0.0.1:${port}`] };
        return create(GetMembersResponseSchema, { header: { clusterId: 42n }, members: [m], leader: m });
      },
      async *tso(reqs) {
        for await (const r of reqs) yield { header: { clusterId: 42n }, count: r.count, timestamp: { physical: BigInt(Date.now()), logical: 1n } };
      },
    });
  }});
  const server = createServer(handler);
  const sessions = new Set<any>();
  server.on("session", (s) => { sessions.add(s); s.on("close", () => sessions.delete(s)); });
  return new Promise<any>((res) => server.listen(p, "127.0.0.1", () => { res({ server, sessions }); }));
}
let s = await start(0);
port = s.server.address().port;
console.log(performance.now().toFixed(0), "port", port);
const pd = await PdClient.connect({ endpoints: [`127.0.0.1:${port}`], maxRetries: 30 });
console.log(performance.now().toFixed(0), "ts", await pd.getTS());
// stop
await new Promise((r) => { s.server.close(r); for (const x of s.sessions) x.destroy(); });
console.log(performance.now().toFixed(0), "stopped");
const p = pd.getTS().then((t) => console.log(performance.now().toFixed(0), "ts after restart", t), (e) => console.log("err", e.message));
await new Promise((r) => setTimeout(r, 500));
s = await start(port);
console.log(performance.now().toFixed(0), "restarted");
await p;
pd.close();
await new Promise((r) => { s.server.close(r); for (const x of s.sessions) x.destroy(); });
console.log(performance.now().toFixed(0), "done");
