import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createServer } from "node:http2";
import { PD } from "../../src/gen/pdpb_pb.ts";
import { PdClient } from "../../src/pd/client.ts";
const mode = Deno.args[0];
let port = 0;
const handler = connectNodeAdapter({ grpc: true, grpcWeb: false, connect: false, routes(router) {
  router.service(PD, {
    getMembers() {
      const m = { name: "pd", memberId: 1n, clientUrls: [`http://127.0.0.1:${port}`] };
      return { header: { clusterId: 42n }, members: [m], leader: m };
    },
    async *tso(reqs) {
      for await (const r of reqs) yield { header: { clusterId: 42n }, count: r.count, timestamp: { physical: BigInt(Date.now()), logical: 1n } };
    },
  });
}});
const server = createServer(handler);
const sessions = new Set<any>();
server.on("session", (s) => { sessions.add(s); s.on("close", () => sessions.delete(s)); });
await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
port = (server.address() as any).port;
const pd = await PdClient.connect({ endpoints: [`127.0.0.1:${port}`] });
if (mode !== "members") console.log(await pd.getTS());
pd.close();
await new Promise((r) => { server.close(r); if (mode !== "noDestroy") for (const x of sessions) x.destroy(); });
console.log("done", performance.now().toFixed(0));
