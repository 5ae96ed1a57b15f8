import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createServer, connect } from "node:http2";
import { PD } from "../../src/gen/pdpb_pb.ts";
import { createClient } from "@connectrpc/connect";
import { createConnection } from "../../src/rpc/transport.ts";
const mode = Deno.args[0];
const handler = connectNodeAdapter({ grpc: true, grpcWeb: false, connect: false, routes(router) {
  router.service(PD, { getMembers() { return { header: { clusterId: 42n } }; } });
}});
const server = createServer(handler);
const sessions = new Set<any>();
server.on("session", (s) => { sessions.add(s); s.on("close", () => sessions.delete(s)); });
await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
const port = (server.address() as any).port;
if (mode === "raw") {
  const c = connect(`http://127.0.0.1:${port}`);
  const r = c.request({ ":path": "/pdpb.PD/GetMembers", ":method": "POST", "content-type": "application/grpc", te: "trailers" });
  r.end(new Uint8Array([0,0,0,0,0]));
  r.resume();
  await new Promise((res) => r.on("end", res));
  c.close();
} else {
  const conn = createConnection(`127.0.0.1:${port}`);
  console.log(await createClient(PD, conn.transport).getMembers({}));
  conn.close();
}
await new Promise((r) => { server.close(r); for (const x of sessions) x.destroy(); });
console.log("done", performance.now().toFixed(0));
