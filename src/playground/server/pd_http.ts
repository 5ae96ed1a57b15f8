/**
 * PD's HTTP API, the part BR and restore tools call, served on PD's own port beside its gRPC
 * (HTTP/1.1 and h2c share the port, as PD's cmux does; see `_grpc.ts`):
 *
 * | Method and path                                   | Answer                                   |
 * |---------------------------------------------------|------------------------------------------|
 * | GET  /pd/api/v1/version                           | `{"version": "v8.5.0"}`                  |
 * | GET  /pd/api/v1/config/cluster-version            | `"8.5.0"`                                |
 * | GET  /pd/api/v1/schedulers                        | names; `?status=paused` only the paused, |
 * |                                                   | `&timestamp` with pause/resume times|
 * | POST /pd/api/v1/schedulers/{name}                 | `{"delay": s}` pauses for s seconds, 0   |
 * |                                                   | resumes; `all` names every scheduler     |
 * | GET  /pd/api/v1/config/schedule                   | the persisted schedule config            |
 * | POST /pd/api/v1/config/schedule                   | `{"item": value}` sets items (unknown    |
 * |                                                   | ones are dropped, as PD's decoder does)  |
 * | POST /pd/api/v1/config[?ttlSecond=N]              | `{"schedule.item": value}`; with a TTL   |
 * |                                                   | the values lapse after N s (0 removes);  |
 * |                                                   | only PD's TTL items take one             |
 * | GET  /pd/api/v1/stats/region                      | `?start_key=&end_key=` (encoded keys)    |
 * | GET  /pd/api/v1/store/{id}                        | the store and its state                  |
 * | GET  /pd/api/v1/config/region-label/rules         | label rules                              |
 * | POST /pd/api/v1/config/region-label/rule          | creates or replaces one (TTL per label)  |
 * | DELETE /pd/api/v1/config/region-label/rule/{id}   | deletes one                              |
 *
 * Answers are JSON, as PD renders them: messages are JSON strings (`"The config is updated."`),
 * errors carry PD's text with status 400 (bad input), 404 or 500.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { concatBytes } from "../../codec/bytes.ts";
import type { Cluster } from "../cluster.ts";
import { STORE_STATE_NUMBER } from "../regions.ts";
import type { LabelRule, PdScheduling } from "./scheduling.ts";

/** PD's version as the playground reports it. */
export const PD_VERSION = "8.5.0";

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8" });
  res.end(JSON.stringify(value, null, 2) + "\n");
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Uint8Array[] = [];
  for await (const c of req) chunks.push(c as Uint8Array);
  const text = new TextDecoder().decode(concatBytes(...chunks)).trim();
  if (text === "") throw new HttpError(400, "unexpected end of JSON input");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
}

function objectOf(v: unknown): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new HttpError(400, "json: cannot unmarshal into a map: the body must be a JSON object");
  }
  return v as Record<string, unknown>;
}

/** Serves PD's HTTP API over `scheduling` and `cluster`. */
export function pdHttpHandler(
  cluster: Cluster,
  scheduling: PdScheduling,
): (req: IncomingMessage, res: ServerResponse) => void {
  const route = async (req: IncomingMessage): Promise<[number, unknown]> => {
    const url = new URL(req.url ?? "/", "http://pd");
    const method = req.method ?? "GET";
    const path = url.pathname.replace(/\/+$/, "");
    const q = url.searchParams;
    if (method === "GET" && path === "/pd/api/v1/version") {
      return [200, { version: `v${PD_VERSION}` }];
    }
    if (method === "GET" && path === "/pd/api/v1/config/cluster-version") {
      return [200, PD_VERSION];
    }
    if (method === "GET" && path === "/pd/api/v1/schedulers") {
      const status = q.get("status");
      let names = scheduling.schedulers();
      if (status === "paused") names = names.filter((n) => scheduling.isPaused(n));
      else if (status === "disabled") names = [];
      if (status === "paused" && q.has("timestamp")) {
        // Go renders a whole-second time.Time as RFC 3339 without a fraction.
        const rfc3339 = (s: number) => new Date(s * 1000).toISOString().replace(".000Z", "Z");
        return [
          200,
          names.map((name) => {
            const t = scheduling.pauseTimes(name);
            return {
              name,
              paused_at: rfc3339(t.pausedAt),
              resume_at: rfc3339(t.resumeAt),
            };
          }),
        ];
      }
      return [200, names];
    }
    const sched = path.match(/^\/pd\/api\/v1\/schedulers\/([^/]+)$/);
    if (method === "POST" && sched) {
      const body = objectOf(await readJson(req));
      if (!("delay" in body)) throw new HttpError(400, "missing pause time");
      const delay = Number(body.delay);
      if (!Number.isInteger(delay)) {
        throw new HttpError(400, "json: cannot unmarshal delay into Go value of type int64");
      }
      try {
        scheduling.pauseOrResume(decodeURIComponent(sched[1]!), delay);
      } catch (err) {
        throw new HttpError(500, (err as Error).message);
      }
      return [200, "Pause or resume the scheduler successfully."];
    }
    if (path === "/pd/api/v1/config/schedule") {
      if (method === "GET") return [200, scheduling.scheduleConfig()];
      if (method === "POST") {
        const body = objectOf(await readJson(req));
        try {
          scheduling.setSchedule(body, { ignoreUnknown: true });
        } catch (err) {
          throw new HttpError(400, (err as Error).message);
        }
        return [200, "The config is updated."];
      }
    }
    if (method === "POST" && path === "/pd/api/v1/config") {
      const body = objectOf(await readJson(req));
      const ttl = q.get("ttlSecond");
      try {
        if (ttl !== null && ttl !== "") {
          if (!/^[+-]?\d+$/.test(ttl)) {
            throw new Error(`strconv.Atoi: parsing ${JSON.stringify(ttl)}: invalid syntax`);
          }
          const items: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(body)) {
            if (!k.startsWith("schedule.")) throw new Error(`unsupported ttl config ${k}`);
            items[k.slice("schedule.".length)] = v;
          }
          scheduling.setScheduleTtl(items, Number(ttl));
          return [200, "The config is updated."];
        }
        const items: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(body)) {
          const dot = k.indexOf(".");
          if (dot >= 0 && k.slice(0, dot) !== "schedule") {
            throw new Error(
              `config prefix ${k.slice(0, dot)} is not served by the playground's PD`,
            );
          }
          items[dot >= 0 ? k.slice(dot + 1) : k] = v;
        }
        scheduling.setSchedule(items);
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
      return [200, "The config is updated."];
    }
    if (method === "GET" && path === "/pd/api/v1/stats/region") {
      const key = (name: string) => latin1(q.get(name) ?? "");
      const regions = cluster.regions.scanRegions(key("start_key"), key("end_key"));
      return [200, {
        count: regions.length,
        empty_count: 0,
        storage_size: 0,
        storage_keys: 0,
        store_leader_count: countBy(regions.map((r) => r.leader.storeId)),
        store_peer_count: countBy(regions.flatMap((r) => r.peers.map((p) => p.storeId))),
      }];
    }
    const store = path.match(/^\/pd\/api\/v1\/store\/(\d+)$/);
    if (method === "GET" && store) {
      const s = cluster.regions.getStore(BigInt(store[1]!));
      if (!s) {
        throw new HttpError(404, "[PD:core:ErrStoreNotFound]store id " + store[1] + " not found");
      }
      const regions = cluster.regions.all();
      const down = cluster.faults.store(s.id).stopped;
      return [200, {
        store: {
          id: Number(s.id),
          address: s.address,
          version: s.version,
          state: STORE_STATE_NUMBER[s.state],
          state_name: down && s.state === "Up" ? "Disconnected" : s.state,
          labels: s.labels,
        },
        status: {
          leader_count: regions.filter((r) => r.leader.storeId === s.id).length,
          region_count: regions.filter((r) => r.peers.some((p) => p.storeId === s.id)).length,
        },
      }];
    }
    if (method === "GET" && path === "/pd/api/v1/config/region-label/rules") {
      return [200, scheduling.labelRules().map(labelRuleJson)];
    }
    if (method === "POST" && path === "/pd/api/v1/config/region-label/rule") {
      const b = objectOf(await readJson(req));
      if (typeof b.id !== "string" || b.id === "") throw new HttpError(400, "empty rule id");
      const labels = Array.isArray(b.labels) ? b.labels as LabelRule["labels"] : [];
      try {
        scheduling.setLabelRule({
          id: b.id,
          labels,
          ruleType: String(b.rule_type ?? "key-range"),
          data: b.data,
        });
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
      return [200, "The rule is updated."];
    }
    const rule = path.match(/^\/pd\/api\/v1\/config\/region-label\/rule\/(.+)$/);
    if (method === "DELETE" && rule) {
      const id = decodeURIComponent(rule[1]!);
      if (!scheduling.deleteLabelRule(id)) throw new HttpError(404, "rule not found");
      return [200, "The rule is deleted."];
    }
    throw new HttpError(404, "404 page not found");
  };

  return (req, res) => {
    route(req).then(
      ([status, value]) => send(res, status, value),
      (err) => {
        const status = err instanceof HttpError ? err.status : 500;
        send(res, status, (err as Error).message.split("\n")[0]);
      },
    );
  };
}

function latin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

function countBy(ids: bigint[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) out[String(id)] = (out[String(id)] ?? 0) + 1;
  return out;
}

function labelRuleJson(r: LabelRule): Record<string, unknown> {
  return { id: r.id, labels: r.labels, rule_type: r.ruleType, data: r.data, index: 0 };
}
