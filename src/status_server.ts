/**
 * BR's `--status-addr`: an HTTP server with the run's Prometheus metrics at `/metrics` and its
 * phase and progress as JSON at `/status` (see docs/METRICS.md).
 * @module
 */
import { createServer, type Server } from "node:http";
import { type Metrics, metrics as processMetrics } from "./metrics.ts";

/** A running status server. */
export interface StatusServer {
  /** `host:port` it listens on (the real port when 0 was asked for). */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Splits BR's `HOST:PORT` (`:8286` for every interface, `[::1]:8286` for IPv6). Throws a
 * RangeError naming the problem for anything else.
 */
export function parseStatusAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new RangeError(
      `--status-addr must be HOST:PORT (for example 127.0.0.1:8286 or :8286), not '${addr}'`,
    );
  }
  return { host: m[1] ?? m[2] ?? "", port };
}

/** Starts serving `metrics` on `addr`; resolves once listening. */
export async function startStatusServer(
  addr: string,
  metrics: Metrics = processMetrics,
): Promise<StatusServer> {
  const { host, port } = parseStatusAddr(addr);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/metrics") {
      metrics.text().then((body) => {
        res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body);
      }, (err) => {
        res.writeHead(500, { "content-type": "text/plain" }).end(String(err));
      });
    } else if (path === "/status") {
      res.writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify(metrics.status()));
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("try /metrics or /status\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host === "" ? undefined : host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // The run must not wait for a scraper to hang up.
  server.unref();
  const bound = server.address();
  const address = typeof bound === "object" && bound
    ? `${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}`
    : addr;
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
