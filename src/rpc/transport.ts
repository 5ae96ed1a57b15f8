/**
 * How tibr reaches PD and TiKV: Connect's gRPC transport over HTTP/2, one per address.
 *
 * The transport keeps one HTTP/2 session per address (Connect's session manager reconnects
 * after the peer goes away) and speaks TLS when given BR's `--ca/--cert/--key` material.
 * Deadlines are per call (`{ timeoutMs }`): Connect would apply a transport-wide default to
 * streams too, and a backup stream legitimately runs for hours.
 * @module
 */
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Code, type ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { readFileSync } from "node:fs";
import { metrics } from "../metrics.ts";

/** BR's TLS flags: paths to PEM files. */
export interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
}

/** Options for `createTransport`. */
export interface TransportOptions {
  /** TLS material; without it the connection is plaintext HTTP/2 (h2c), as tiup clusters use. */
  tls?: TlsOptions;
  /** Extra interceptors (logging, metrics), outermost first. */
  interceptors?: Interceptor[];
  /** Largest message accepted, in bytes (TiKV's default max is 10 MiB; backup pages may be more). */
  readMaxBytes?: number;
}

/** A transport and the HTTP/2 session behind it. */
export interface RpcConnection {
  readonly address: string;
  readonly transport: Transport;
  /** Drops the HTTP/2 session; the next call reconnects. Used after `Unavailable`. */
  reset(): void;
  /** Closes the session for good. */
  close(): void;
}

/** Records each call's latency by method in the process metrics (a stream: to its headers). */
const _timed: Interceptor = (next) => async (req) => {
  const t0 = performance.now();
  const method = `${req.service.typeName.split(".").pop()}/${req.method.name}`;
  try {
    const res = await next(req);
    metrics.rpc(method, (performance.now() - t0) / 1000);
    return res;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    metrics.rpc(
      method,
      (performance.now() - t0) / 1000,
      typeof code === "number" ? (Code[code] ?? String(code)) : "error",
    );
    throw err;
  }
};

/** Turns `host:port` or a URL into the base URL the transport wants. */
export function baseUrlOf(address: string, tls: boolean): string {
  if (/^https?:\/\//.test(address)) return address.replace(/\/+$/, "");
  return `${tls ? "https" : "http"}://${address}`;
}

function tlsNodeOptions(tls: TlsOptions | undefined): Record<string, unknown> {
  if (!tls || (!tls.ca && !tls.cert && !tls.key)) return {};
  const read = (p: string | undefined) => (p ? readFileSync(p) : undefined);
  return { ca: read(tls.ca), cert: read(tls.cert), key: read(tls.key) };
}

/** Opens a gRPC connection to `address` (`host:port`, or an `http(s)://` URL). */
export function createConnection(address: string, opts: TransportOptions = {}): RpcConnection {
  const useTls = !!(opts.tls?.ca || opts.tls?.cert) || address.startsWith("https://");
  const baseUrl = baseUrlOf(address, useTls);
  const nodeOptions = tlsNodeOptions(opts.tls);
  let session = new Http2SessionManager(baseUrl, { idleConnectionTimeoutMs: 60_000 }, nodeOptions);
  const holder: { transport: Transport } = { transport: undefined as unknown as Transport };
  const build = () =>
    createGrpcTransport({
      baseUrl,
      sessionManager: session,
      nodeOptions,
      interceptors: [_timed, ...(opts.interceptors ?? [])],
      readMaxBytes: opts.readMaxBytes ?? 256 * 1024 * 1024,
      writeMaxBytes: 64 * 1024 * 1024,
    });
  holder.transport = build();
  // Callers keep the transport object; delegate so `reset` can swap the session underneath.
  const transport: Transport = {
    unary: (...args) => holder.transport.unary(...args),
    stream: (...args) => holder.transport.stream(...args),
  };
  return {
    address,
    transport,
    reset() {
      session.abort();
      session = new Http2SessionManager(baseUrl, { idleConnectionTimeoutMs: 60_000 }, nodeOptions);
      holder.transport = build();
    },
    close() {
      session.abort();
    },
  };
}

/**
 * Whether a failed call means the connection to its peer is gone or the peer did not answer in
 * time, not that the peer refused the request: Unavailable, DeadlineExceeded, a stream Canceled
 * without our own signal (another call's reset dropped the shared session), Aborted, which
 * Connect gives a call whose connection was reset (ECONNRESET) or whose stream was destroyed, and
 * Internal when the cause is the socket itself (EPIPE: writing to a peer that went away), as
 * opposed to a server's own INTERNAL status. gRPC servers (TiKV, PD) answer with Aborted only for
 * transactions, which tibr does not run, so every one of these is worth a retry on a fresh
 * connection (client-go's onSendFail).
 */
export function isConnectionLost(err: ConnectError, signal?: AbortSignal): boolean {
  if (signal?.aborted) return false;
  const code = err.code;
  if (code === Code.Internal) return _SOCKET_ERRORS.has(_causeCode(err) ?? "");
  return code === Code.Unavailable || code === Code.DeadlineExceeded ||
    code === Code.Canceled || code === Code.Aborted;
}

const _SOCKET_ERRORS = new Set(["EPIPE", "ECONNRESET", "ECONNABORTED", "ERR_HTTP2_GOAWAY_SESSION"]);

function _causeCode(err: ConnectError): string | undefined {
  let c: unknown = err.cause;
  for (let i = 0; i < 4 && c && typeof c === "object"; i++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === "string") return code;
    c = (c as { cause?: unknown }).cause;
  }
  return undefined;
}
