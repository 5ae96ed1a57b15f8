/**
 * A gRPC server over HTTP/2 cleartext on 127.0.0.1 (Connect's Node adapter on `node:http2`)
 * that can be stopped and started again on the same port: a stopped store must really refuse
 * connections, and come back where clients last saw it.
 * @module
 */
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  createServer as createHttp1Server,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { createServer, type Http2Server, type ServerHttp2Session } from "node:http2";
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from "node:net";
import { log } from "../../log.ts";

/** Options of a `GrpcServer`. */
export interface GrpcServerOptions {
  /** Name for logs and errors (`pd`, `store 1`). */
  name: string;
  /** Registers the services. */
  routes: (router: ConnectRouter) => void;
  /** Server-side interceptors, outermost first. */
  interceptors?: Interceptor[];
  /** Port to listen on; 0 lets the OS pick one (kept for restarts). */
  port?: number;
  /** Interface to bind (127.0.0.1 by default). */
  host?: string;
  /**
   * Serves HTTP/1.1 requests on the same port (PD's HTTP API beside its gRPC, as PD's cmux
   * does): each connection goes to gRPC when it opens with the HTTP/2 preface, else here.
   */
  http1?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** The first bytes of every HTTP/2 connection (RFC 9113 §3.4); no HTTP/1 request starts so. */
const H2_PREFACE = "PRI * HTTP/2.0";

/** A restartable HTTP/2 gRPC server. */
export class GrpcServer {
  readonly name: string;
  readonly host: string;
  #port: number;
  #handler: ReturnType<typeof connectNodeAdapter>;
  #server: Http2Server | NetServer | undefined;
  #http1: GrpcServerOptions["http1"];
  #sessions = new Set<ServerHttp2Session>();
  /** The raw TCP connections under the sessions, to drop them without a GOAWAY. */
  #sockets = new Set<Socket>();

  constructor(opts: GrpcServerOptions) {
    this.name = opts.name;
    this.host = opts.host ?? "127.0.0.1";
    this.#port = opts.port ?? 0;
    this.#http1 = opts.http1;
    this.#handler = connectNodeAdapter({
      grpc: true,
      grpcWeb: false,
      connect: false,
      routes: opts.routes,
      interceptors: opts.interceptors ?? [],
      // Backup responses list many files; TiKV's limit is far above the 4 MiB gRPC default.
      readMaxBytes: 256 * 1024 * 1024,
      writeMaxBytes: 256 * 1024 * 1024,
    });
  }

  /** The bound port (0 before the first start with port 0). */
  get port(): number {
    return this.#port;
  }

  /** `host:port`, as PD lists it. */
  get address(): string {
    return `${this.host}:${this.#port}`;
  }

  /** Whether the server is listening. */
  get listening(): boolean {
    return this.#server !== undefined;
  }

  /** Starts listening (on the same port as before after a stop). Idempotent. */
  async start(): Promise<void> {
    if (this.#server) return;
    const h2 = createServer(this.#handler);
    let server: Http2Server | NetServer = h2;
    const http1 = this.#http1;
    if (http1) {
      const h1 = createHttp1Server(http1);
      server = createNetServer((sock: Socket) => {
        sock.once("data", (chunk: Uint8Array) => {
          sock.pause();
          sock.unshift(chunk);
          const head = new TextDecoder().decode(chunk.subarray(0, H2_PREFACE.length));
          (head === H2_PREFACE ? h2 : h1).emit("connection", sock);
          sock.resume();
        });
        sock.on("error", () => {});
      });
    }
    server.on("connection", (sock: Socket) => {
      this.#sockets.add(sock);
      sock.on("close", () => this.#sockets.delete(sock));
    });
    h2.on("session", (s) => {
      this.#sessions.add(s);
      s.on("close", () => this.#sessions.delete(s));
      // A client that vanishes mid-stream is not the server's failure.
      s.on("error", () => {});
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error & { code?: string }) => {
        server.off("listening", onListening);
        reject(
          new Error(
            err.code === "EADDRINUSE"
              ? `cannot start ${this.name}: port ${this.#port} on ${this.host} is already in use; ` +
                `choose other ports or stop what uses it`
              : `cannot start ${this.name} on ${this.host}:${this.#port}: ${err.message}`,
          ),
        );
      };
      const onListening = () => {
        server.off("error", onError);
        resolve();
      };
      server.once("error", onError);
      server.once("listening", onListening);
      server.listen(this.#port, this.host);
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    log("playground", "server").debug("{name} listening on {address}", {
      name: this.name,
      address: this.address,
    });
  }

  /**
   * Stops listening and drops every connection at once, as a crashed process would: clients
   * see their calls fail with Unavailable. Idempotent.
   */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // The TCP connections first, so no GOAWAY goes out: a crashed process sends none, and
    // Deno's HTTP/2 client (2.9) aborts the process on a GOAWAY that finds closed streams.
    for (const sock of this.#sockets) sock.destroy();
    this.#sockets.clear();
    for (const s of this.#sessions) s.destroy();
    this.#sessions.clear();
    await closed;
    log("playground", "server").debug("{name} stopped", { name: this.name });
  }
}
