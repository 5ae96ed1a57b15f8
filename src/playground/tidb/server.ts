/**
 * The playground's TiDB server: the MySQL protocol through mysql2's server side (handshake with
 * `mysql_native_password`, COM_QUERY with several statements, COM_INIT_DB, COM_PING), statements
 * run by a `Session` over a `TidbEngine`, and TiDB's status API over HTTP (`/status`,
 * `/schema`, `/schema/{db}`, `/schema/{db}/{table}`).
 *
 * ```ts
 * const tidb = await startTidbServer({ cluster, port: 0, statusPort: 0 });
 * // mysql -h 127.0.0.1 -P ${tidb.port} -u root
 * await tidb.stop();
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import process from "node:process";
import mysql from "mysql2";
import { log } from "../../log.ts";
import { type TableInfo, toJson } from "../../tidb/model.ts";
import type { Cluster } from "../cluster.ts";
import { type EtcdStore, TIDB_TOPOLOGY_PATH, TIDB_TOPOLOGY_TTL_S } from "../server/etcd.ts";
import { TidbEngine } from "./engine.ts";
import type { Stmt } from "./ast.ts";
import { SqlError } from "./errors.ts";
import { parse } from "./parser.ts";
import { type Result, Session, TIDB_RELEASE, TIDB_SERVER_VERSION } from "./session.ts";

/** Options of `startTidbServer`. */
export interface TidbServerOptions {
  /** The cluster whose MVCC engine holds TiDB's meta and rows. */
  cluster: Cluster;
  /** SQL port (0 = any free port). */
  port?: number;
  /** Status API port (0 = any free port, -1 = none). */
  statusPort?: number;
  /** root's password ("" = none). */
  password?: string;
  /** PD's etcd, to register in as TiDB's info syncer does (`/topology/tidb/...`). */
  etcd?: EtcdStore;
}

/** A running TiDB server. */
export interface TidbServer {
  /** `127.0.0.1:port` of the SQL endpoint. */
  readonly address: string;
  readonly port: number;
  /** `127.0.0.1:port` of the status API ("" when not started). */
  readonly statusAddress: string;
  readonly statusPort: number;
  readonly engine: TidbEngine;
  /** Closes the listeners and every connection. Idempotent. */
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";
// Capabilities: LONG_PASSWORD, FOUND_ROWS, LONG_FLAG, CONNECT_WITH_DB, ODBC, LOCAL_FILES (for
// LOAD STATS, whose file the client sends as TiDB asks for it), IGNORE_SPACE, PROTOCOL_41, INTERACTIVE, TRANSACTIONS, SECURE_CONNECTION,
// MULTI_STATEMENTS, MULTI_RESULTS, PLUGIN_AUTH. No SSL and no compression: mysql2's server
// side implements neither, so clients must not be offered them.
const CAPABILITIES = 0x1 | 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x2000 | 0x8000 |
  0x10000 | 0x20000 | 0x80000;
const SERVER_STATUS_AUTOCOMMIT = 0x2;
const SERVER_MORE_RESULTS_EXISTS = 0x8;
const UTF8MB4_BIN = 46;

function sha1(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha1");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** mysql_native_password: token = SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))). */
export function checkNativePassword(
  password: string,
  scramble: Uint8Array,
  token: Uint8Array,
): boolean {
  if (password === "") return token.length === 0;
  if (token.length !== 20) return false;
  const stage1 = sha1(new TextEncoder().encode(password));
  const stage2 = sha1(stage1);
  const mix = sha1(scramble, stage2);
  for (let i = 0; i < 20; i++) if ((stage1[i]! ^ mix[i]!) !== token[i]) return false;
  return true;
}

interface ServerConn {
  serverHandshake(args: Record<string, unknown>): void;
  on(event: string, fn: (...args: unknown[]) => void): void;
  writeOk(args?: Record<string, unknown>): void;
  writeError(args: { message: string; code: number }): void;
  writeColumns(columns: Record<string, unknown>[]): void;
  writeTextRow(row: (string | null)[]): void;
  writeEof(warnings?: number, status?: number): void;
  writePacket(packet: { _name?: string; buffer: Uint8Array; start: number }): void;
  stream: Socket;
  close(): void;
}

/** Starts the SQL endpoint (and the status API) over `o.cluster`. */
export async function startTidbServer(o: TidbServerOptions): Promise<TidbServer> {
  const engine = new TidbEngine(o.cluster);
  if (engine.bootstrapIfEmpty()) {
    log("playground", "tidb").info("bootstrapped an empty store (mysql and test databases)");
  }
  // The tables already there (the sample, a saved --dir) get statistics, as if analyzed after
  // loading; statistics live in memory only.
  const analyzed = engine.analyzeAllAtLoad();
  if (analyzed > 0) {
    log("playground", "tidb").info("analyzed {n} tables as loaded", { n: analyzed });
  }
  const password = o.password ?? "";
  let nextConnId = 1;
  const sockets = new Set<Socket>();
  const onConnection = (c: unknown) => {
    const conn = c as ServerConn;
    const id = nextConnId++;
    const session = new Session(engine, id);
    sockets.add(conn.stream);
    conn.stream.on("close", () => sockets.delete(conn.stream));
    // mysql2's error packet carries a placeholder SQLSTATE; put the real one in before it goes out.
    let sqlState = "HY000";
    const write = conn.writePacket.bind(conn);
    conn.writePacket = (packet) => {
      if (packet._name === "Error") {
        const at = packet.start + 7;
        new TextEncoder().encodeInto("#" + sqlState, packet.buffer.subarray(at, at + 6));
      }
      write(packet);
    };
    const fail = (err: unknown) => {
      if (err instanceof SqlError) {
        sqlState = err.state;
        conn.writeError({ message: err.message, code: err.code });
      } else {
        sqlState = "HY000";
        log("playground", "tidb").warn("statement failed: {error}", { error: String(err) });
        conn.writeError({ message: (err as Error)?.message ?? String(err), code: 1105 });
      }
    };
    conn.on("error", () => conn.stream.destroy());
    // mysql2's server side never ends its command loop, so it neither resets the sequence id at
    // each command (as the protocol requires) nor expects the client's 0: do both here.
    const raw = conn as unknown as { sequenceId: number; _verifySequenceId: () => void };
    raw._verifySequenceId = () => {};
    const newCommand = () => {
      raw.sequenceId = 1;
    };
    conn.serverHandshake({
      protocolVersion: 10,
      serverVersion: TIDB_SERVER_VERSION,
      connectionId: id,
      statusFlags: SERVER_STATUS_AUTOCOMMIT,
      characterSet: UTF8MB4_BIN,
      capabilityFlags: CAPABILITIES,
      authCallback: (
        p: {
          user: string;
          database?: string;
          authPluginData1: Uint8Array;
          authPluginData2: Uint8Array;
          authToken: Uint8Array;
        },
        cb: (err: unknown, mysqlError?: { message: string; code: number }) => void,
      ) => {
        const scramble = new Uint8Array([...p.authPluginData1, ...p.authPluginData2]);
        const token = new Uint8Array(p.authToken ?? []);
        if (p.user !== "root" || !checkNativePassword(password, scramble, token)) {
          sqlState = "28000";
          cb(null, {
            message: `Access denied for user '${p.user}'@'127.0.0.1' (using password: ${
              token.length ? "YES" : "NO"
            })`,
            code: 1045,
          });
          return;
        }
        if (p.database) {
          try {
            session.run({ k: "use", db: p.database }, "");
          } catch (err) {
            sqlState = "42000";
            cb(null, { message: (err as Error).message, code: 1049 });
            return;
          }
        }
        cb(null);
      },
    });
    // LOCAL INFILE: after the 0xFB request the client sends the file as packets ending with an
    // empty one; they are no commands, so they are taken before mysql2's dispatcher sees them.
    let infile: { chunks: Uint8Array[]; done: (data: Uint8Array) => void } | undefined;
    const rawPackets = conn as unknown as {
      handlePacket(p: { sequenceId: number; buffer: Uint8Array; start: number; end: number }): void;
    };
    const dispatch = rawPackets.handlePacket.bind(conn);
    rawPackets.handlePacket = (p) => {
      if (!infile || !p) return dispatch(p);
      raw.sequenceId = p.sequenceId + 1;
      const payload = p.buffer.subarray(p.start + 4, p.end);
      if (payload.length > 0) {
        infile.chunks.push(payload.slice());
        return;
      }
      const { chunks, done } = infile;
      infile = undefined;
      const data = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        data.set(c, at);
        at += c.length;
      }
      done(data);
    };
    const writeResult = (r: Result, more: boolean) => {
      const status = SERVER_STATUS_AUTOCOMMIT | (more ? SERVER_MORE_RESULTS_EXISTS : 0);
      if (r.kind === "infile") throw new Error("a LOCAL INFILE statement answers on its own");
      if (r.kind === "ok") {
        conn.writeOk({
          affectedRows: r.affectedRows,
          insertId: Number(r.insertId),
          serverStatus: status,
        });
        return;
      }
      conn.writeColumns(r.columns.map((c) => ({
        catalog: "def",
        schema: c.db,
        table: c.table,
        orgTable: c.table,
        name: c.name,
        orgName: c.name,
        characterSet: c.charset,
        columnLength: c.length,
        columnType: c.type,
        flags: c.flags,
        decimals: c.decimals,
      })));
      for (const row of r.rows) conn.writeTextRow(row);
      conn.writeEof(0, status);
    };
    const runQuery = (sql: string) => {
      newCommand();
      // As TiDB does, the whole query is parsed first (a syntax error runs nothing); then each
      // statement runs and answers in turn, and the first failure ends the response.
      let stmts: Stmt[];
      try {
        stmts = parse(sql);
      } catch (err) {
        fail(err);
        return;
      }
      const runFrom = (i: number) => {
        for (; i < stmts.length; i++) {
          let r: Result;
          try {
            r = session.run(stmts[i]!, sql);
          } catch (err) {
            fail(err);
            return;
          }
          if (r.kind === "infile") {
            const { load } = r;
            const next = i + 1;
            infile = {
              chunks: [],
              done: (data) => {
                let res: Result;
                try {
                  res = load(data);
                } catch (err) {
                  fail(err);
                  return;
                }
                writeResult(res, next < stmts.length);
                runFrom(next);
              },
            };
            // The request: 0xFB and the file name, in a packet of the command's sequence.
            const name = new TextEncoder().encode(r.file);
            const len = 1 + name.length;
            const packet = new Uint8Array(4 + len);
            packet.set([len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, raw.sequenceId & 0xff]);
            packet[4] = 0xfb;
            packet.set(name, 5);
            raw.sequenceId++;
            conn.stream.write(packet);
            return;
          }
          writeResult(r, i < stmts.length - 1);
        }
      };
      runFrom(0);
    };
    conn.on("query", (sql) => runQuery(String(sql)));
    // mysql2 hands text queries that start with SET or PREPARE to `stmt_prepare`.
    conn.on("stmt_prepare", (sql) => {
      newCommand();
      const q = String(sql);
      // Undo mysql2's routing with its own test (the first space-separated word): a text SET
      // runs as a query; anything else is a real COM_STMT_PREPARE and is refused.
      if (q.split(" ")[0]!.toUpperCase() === "SET") {
        runQuery(q);
        return;
      }
      fail(
        new SqlError(
          1235,
          "42000",
          "This version of TiDB doesn't yet support 'prepared statements'",
        ),
      );
    });
    conn.on("stmt_execute", () => {
      newCommand();
      fail(
        new SqlError(
          1235,
          "42000",
          "This version of TiDB doesn't yet support 'prepared statements'",
        ),
      );
    });
    conn.on("init_db", (name) => {
      newCommand();
      try {
        session.run({ k: "use", db: String(name) }, "");
        conn.writeOk();
      } catch (err) {
        fail(err);
      }
    });
    // Commands mysql2 does not dispatch would otherwise get no answer and hang the client.
    conn.on("packet", (_packet, known, code) => {
      if (known) return;
      newCommand();
      if (code === 0x1f) {
        // COM_RESET_CONNECTION (connection pools): nothing of the session needs resetting.
        conn.writeOk();
        return;
      }
      fail(
        new SqlError(
          1235,
          "42000",
          `This version of TiDB doesn't yet support 'command 0x${Number(code).toString(16)}'`,
        ),
      );
    });
    conn.on("ping", () => {
      newCommand();
      conn.writeOk();
    });
    conn.on("field_list", () => {
      newCommand();
      // COM_FIELD_LIST (the mysql client's table-name completion): an empty field list.
      conn.writeEof(0, SERVER_STATUS_AUTOCOMMIT);
    });
  };
  const server = mysql.createServer(onConnection as Parameters<typeof mysql.createServer>[0]);
  // mysql2's Server wraps a net.Server and passes listen's arguments through to it.
  const net = (server as unknown as { _server: NetServer })._server;
  await new Promise<void>((resolve, reject) => {
    net.once("error", reject);
    net.listen(o.port ?? 4000, HOST, () => {
      net.off("error", reject);
      resolve();
    });
  });
  const port = (net.address() as AddressInfo).port;

  let status: HttpServer | undefined;
  let statusPort = 0;
  if ((o.statusPort ?? 10080) >= 0) {
    status = createHttpServer((req, res) => {
      const send = (code: number, body: unknown) => {
        const bytes = typeof body === "string" ? new TextEncoder().encode(body) : toJson(body);
        res.writeHead(code, {
          "content-type": typeof body === "string" ? "text/plain" : "application/json",
        });
        res.end(bytes);
      };
      try {
        const url = new URL(req.url ?? "/", "http://x");
        const parts = url.pathname.split("/").filter((p) => p !== "").map(decodeURIComponent);
        if (parts[0] === "status" && parts.length === 1) {
          send(200, {
            connections: sockets.size,
            version: TIDB_SERVER_VERSION,
            git_hash: "tibr-playground",
            status_port: statusPort,
          });
          return;
        }
        if (
          parts[0] === "stats" && parts[1] === "dump" && (parts.length === 4 || parts.length === 5)
        ) {
          // `/stats/dump/{db}/{table}[/{yyyyMMddHHmmss}]`: the JSONTable of the statistics (a
          // snapshot time reads the same ones: the playground keeps no history of them); an
          // unknown table answers 400 with TiDB's error, as TiDB's handler.WriteError does.
          const hit = engine.table(parts[2]!, parts[3]!);
          if (!hit) return send(400, `[schema:1146]Table '${parts[2]}.${parts[3]}' doesn't exist`);
          return send(200, engine.dumpStats(hit.db, hit.table));
        }
        if (parts[0] === "schema") {
          const tableId = url.searchParams.get("table_id");
          if (parts.length === 1 && tableId !== null) {
            // `/schema?table_id=N`: one table by id, as TiDB's schema handler serves it.
            const t = /^\d+$/.test(tableId) ? engine.tableById(Number(tableId)) : undefined;
            return t
              ? send(200, t.table)
              : send(404, `[schema:1146]Table which ID = ${tableId} does not exist.`);
          }
          const tableIds = url.searchParams.get("table_ids");
          if (parts.length === 1 && tableIds !== null) {
            // `/schema?table_ids=1,2,3`: TableInfos keyed by id; ids not found are left out.
            const out: Record<string, TableInfo> = {};
            for (const id of tableIds.split(",")) {
              const t = /^\d+$/.test(id.trim()) ? engine.tableById(Number(id)) : undefined;
              if (t) out[String(t.table.id)] = t.table;
            }
            return send(200, out);
          }
          if (parts.length === 1) return send(200, engine.schema().dbs.map((d) => d.info));
          const db = engine.db(parts[1]!);
          if (!db) return send(404, `[schema:1049]Unknown database '${parts[1]}'`);
          if (parts.length === 2 && url.searchParams.get("id_name_only") === "true") {
            return send(200, db.tables.map((t) => ({ id: t.id, name: t.name })));
          }
          if (parts.length === 2) return send(200, db.tables);
          const t = engine.table(parts[1]!, parts[2]!)?.table;
          if (!t || parts.length > 3) {
            return send(404, `[schema:1146]Table '${parts[1]}.${parts[2]}' doesn't exist`);
          }
          return send(200, t);
        }
        send(404, "404 page not found\n");
      } catch (err) {
        send(500, String((err as Error).message));
      }
    });
    await new Promise<void>((resolve, reject) => {
      status!.once("error", reject);
      status!.listen(o.statusPort ?? 10080, HOST, () => {
        status!.off("error", reject);
        resolve();
      });
    });
    statusPort = (status.address() as AddressInfo).port;
  }
  // TiDB's info syncer: topology info and a ttl stamp under one lease, refreshed every 30 s.
  let lease = 0n;
  let refresh: ReturnType<typeof setInterval> | undefined;
  if (o.etcd) {
    const etcd = o.etcd;
    const prefix = `${TIDB_TOPOLOGY_PATH}/${HOST}:${port}`;
    lease = etcd.grant(TIDB_TOPOLOGY_TTL_S);
    const stamp = () => etcd.put(`${prefix}/ttl`, `${BigInt(Date.now()) * 1_000_000n}`, lease);
    etcd.put(
      `${prefix}/info`,
      JSON.stringify({
        version: TIDB_RELEASE,
        git_hash: "tibr-playground",
        ip: HOST,
        status_port: statusPort,
        deploy_path: process.cwd(),
        start_timestamp: Math.floor(Date.now() / 1000),
        labels: {},
      }),
      lease,
    );
    stamp();
    refresh = setInterval(() => {
      if (etcd.keepAlive(lease)) stamp();
    }, 30_000);
    (refresh as { unref?: () => void }).unref?.();
  }
  log("playground", "tidb").info("TiDB {release} listening on {address} (status port {status})", {
    release: TIDB_RELEASE,
    address: `${HOST}:${port}`,
    status: statusPort,
  });

  let stopping: Promise<void> | undefined;
  return {
    address: `${HOST}:${port}`,
    port,
    statusAddress: status ? `${HOST}:${statusPort}` : "",
    statusPort,
    engine,
    stop() {
      stopping ??= (async () => {
        clearInterval(refresh);
        if (o.etcd) o.etcd.revoke(lease);
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => server.close(() => r()));
        if (status) {
          status.closeAllConnections();
          await new Promise<void>((r) => status!.close(() => r()));
        }
      })();
      return stopping;
    },
  };
}
