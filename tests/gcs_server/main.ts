/**
 * Runs the fake GCS server as its own process (so its memory and CPU are not the tests'):
 *
 * ```sh
 * deno run -A tests/gcs_server/main.ts [--port N] [--bucket NAME]... [--account EMAIL=PEM_FILE]...
 * ```
 *
 * Prints one JSON line `{"endpoint": "http://127.0.0.1:PORT"}` when ready, and stops on SIGTERM
 * or when stdin closes (so it never outlives the test that started it).
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { startFakeGcs } from "./server.ts";

const buckets: string[] = [];
const accounts: Record<string, string> = {};
let port = 0;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const v = args[i + 1];
  if (a === "--port" && v !== undefined) port = Number(v);
  else if (a === "--bucket" && v !== undefined) buckets.push(v);
  else if (a === "--account" && v !== undefined) {
    const eq = v.indexOf("=");
    accounts[v.slice(0, eq)] = readFileSync(v.slice(eq + 1), "utf8");
  } else {
    console.error(`unknown argument ${a}`);
    process.exit(2);
  }
  i++;
}
const server = await startFakeGcs({
  port,
  buckets,
  ...(Object.keys(accounts).length > 0 ? { serviceAccounts: accounts } : {}),
});
process.stdout.write(JSON.stringify({ endpoint: server.endpoint }) + "\n");
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
process.stdin.on("end", () => void stop());
process.stdin.on("close", () => void stop());
process.stdin.resume();
