import { createServer } from "node:http2";
import { connect } from "node:http2";
const mode = Deno.args[0];
const server = createServer((req, res) => { res.end("hi"); });
const sessions = new Set<any>();
server.on("session", (s) => { sessions.add(s); s.on("close", () => sessions.delete(s)); });
await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
const port = (server.address() as any).port;
if (mode === "client") {
  const c = connect(`http://127.0.0.1:${port}`);
  const r = c.request({ ":path": "/" });
  r.resume();
  await new Promise((res) => r.on("end", res));
  if (Deno.args[1] === "destroy") c.destroy(undefined, 8); else c.close();
}
await new Promise((r) => { server.close(r); for (const x of sessions) x.destroy(); });
console.log("done", performance.now().toFixed(0));
