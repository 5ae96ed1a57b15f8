/**
 * Finds TiDB servers through PD, as TiUP and TiDB Lightning do: every TiDB registers
 * `/topology/tidb/<host:port>/info` (JSON with its `status_port`) and `/topology/tidb/<host:port>/ttl`
 * under a lease in the etcd that PD embeds; etcd v3's `KV.Range` on PD's port lists them. A
 * server without a live `ttl` key has gone away (its lease expired) and is left out.
 * @module
 */
import { createClient } from "@connectrpc/connect";
import { KV } from "../gen/etcd/rpc_pb.ts";
import { log } from "../log.ts";
import { createConnection, type TlsOptions } from "../rpc/transport.ts";

/** TiDB's topology prefix in PD's etcd (`infosync.TopologyInformationPath`). */
export const TOPOLOGY_PREFIX = "/topology/tidb/";

/** A TiDB server found in PD. */
export interface FoundTidb {
  host: string;
  port: number;
  statusPort: number;
  version: string;
}

const ENC = new TextEncoder();
const DEC = new TextDecoder();

function prefixEnd(p: Uint8Array): Uint8Array {
  const out = p.slice();
  out[out.length - 1]!++;
  return out;
}

/** Parses topology keys and values into the live servers, sorted by address. */
export function parseTopology(kvs: { key: Uint8Array; value: Uint8Array }[]): FoundTidb[] {
  const infos = new Map<string, Record<string, unknown>>();
  const alive = new Set<string>();
  for (const kv of kvs) {
    const key = DEC.decode(kv.key);
    if (!key.startsWith(TOPOLOGY_PREFIX)) continue;
    const rest = key.slice(TOPOLOGY_PREFIX.length);
    const slash = rest.lastIndexOf("/");
    if (slash <= 0) continue;
    const addr = rest.slice(0, slash);
    const leaf = rest.slice(slash + 1);
    if (leaf === "ttl") alive.add(addr);
    if (leaf !== "info") continue;
    try {
      infos.set(addr, JSON.parse(DEC.decode(kv.value)) as Record<string, unknown>);
    } catch {
      log("restore").warn("TiDB topology entry {key} is not JSON; ignored", { key });
    }
  }
  const out: FoundTidb[] = [];
  for (const [addr, info] of infos) {
    if (!alive.has(addr)) continue;
    const i = addr.lastIndexOf(":");
    const port = Number(addr.slice(i + 1));
    if (i <= 0 || !Number.isInteger(port)) continue;
    out.push({
      host: addr.slice(0, i),
      port,
      statusPort: Number(info.status_port ?? 10080),
      version: String(info.version ?? ""),
    });
  }
  return out.sort((a, b) => `${a.host}:${a.port}`.localeCompare(`${b.host}:${b.port}`));
}

/** The TiDB servers registered in the etcd of the PD at `pdAddress`. */
export async function discoverTidb(
  pdAddress: string,
  tls?: TlsOptions,
  signal?: AbortSignal,
): Promise<FoundTidb[]> {
  const conn = createConnection(pdAddress, tls ? { tls } : {});
  try {
    const kv = createClient(KV, conn.transport);
    const start = ENC.encode(TOPOLOGY_PREFIX);
    const res = await kv.range({ key: start, rangeEnd: prefixEnd(start) }, {
      timeoutMs: 10_000,
      ...(signal ? { signal } : {}),
    });
    return parseTopology(res.kvs);
  } finally {
    conn.close();
  }
}
