import { test } from "node:test";
import assert from "node:assert/strict";
import { parseTopology } from "./discover.ts";

const kv = (key: string, value: string) => ({
  key: new TextEncoder().encode(key),
  value: new TextEncoder().encode(value),
});

test("TiDB servers with a live ttl key are found, with their status port", () => {
  const found = parseTopology([
    kv("/topology/tidb/10.0.0.2:4000/info", '{"version":"8.5.0","status_port":10080}'),
    kv("/topology/tidb/10.0.0.2:4000/ttl", "1733480000000000000"),
    kv("/topology/tidb/10.0.0.1:4001/info", '{"version":"8.5.0","status_port":10081}'),
    kv("/topology/tidb/10.0.0.1:4001/ttl", "1733480000000000000"),
    // Its lease expired: the ttl key is gone, the info may linger in a snapshot.
    kv("/topology/tidb/10.0.0.9:4000/info", '{"status_port":10080}'),
    kv("/topology/tidb/10.0.0.3:4000/info", "not json"),
    kv("/topology/tidb/10.0.0.3:4000/ttl", "1"),
  ]);
  assert.deepEqual(found, [
    { host: "10.0.0.1", port: 4001, statusPort: 10081, version: "8.5.0" },
    { host: "10.0.0.2", port: 4000, statusPort: 10080, version: "8.5.0" },
  ]);
});
