/**
 * A throwaway MariaDB server for tests that load SQL: Debian's mariadb-server (installed when
 * missing), a fresh datadir in a temp directory, listening on 127.0.0.1 on a free port, run as
 * the current user (no root assumptions), no grant tables. Fails with the server's log when it
 * does not come up.
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { ensureDebianPackages } from "./debian.ts";
import { freePort } from "./servers.ts";

/** A running server. */
export interface MariaDb {
  port: number;
  /** Runs `sql` (or the file `input`) through the mariadb client; returns stdout. */
  query(sql: string, opts?: { db?: string }): string;
  /** Feeds a file to the client, as `mariadb db < file`. */
  source(file: string, db?: string): void;
  stop(): Promise<void>;
}

function _which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Starts MariaDB; install it first when it is missing. */
export async function startMariaDb(): Promise<MariaDb> {
  if (!_which("mariadbd") && !existsSbin()) {
    ensureDebianPackages(["mariadb-install-db", "mariadb"], ["mariadb-server", "mariadb-client"]);
  }
  const server = _which("mariadbd") ?? "/usr/sbin/mariadbd";
  const dir = mkdtempSync(join(tmpdir(), "tibr-mariadb-"));
  const data = join(dir, "data");
  const user = userInfo().username;
  const init = spawnSync("mariadb-install-db", [
    "--no-defaults",
    `--datadir=${data}`,
    `--user=${user}`,
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
  ], { encoding: "utf8" });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed: ${(init.stderr || init.stdout).slice(-500)}`);
  }
  const port = await freePort();
  const log = join(dir, "server.log");
  const child: ChildProcess = spawn(server, [
    "--no-defaults",
    `--datadir=${data}`,
    `--user=${user}`,
    `--port=${port}`,
    "--bind-address=127.0.0.1",
    `--socket=${join(dir, "sock")}`,
    `--pid-file=${join(dir, "pid")}`,
    `--log-error=${log}`,
    "--skip-grant-tables",
    "--skip-name-resolve",
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=16M",
    "--max-allowed-packet=64M",
    "--character-set-server=utf8mb4",
  ], { stdio: "ignore" });
  const client = (args: string[], input?: string) =>
    spawnSync("mariadb", [
      "--no-defaults",
      "-h127.0.0.1",
      `-P${port}`,
      "-uroot",
      "--batch",
      "--skip-column-names",
      "--max-allowed-packet=64M",
      ...args,
    ], { encoding: "utf8", input, maxBuffer: 256 << 20 });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (client(["-e", "SELECT 1"]).status === 0) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      let why = "";
      try {
        why = readFileSync(log, "utf8").slice(-800);
      } catch { /* no log yet */ }
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`MariaDB did not start on 127.0.0.1:${port}: ${why}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const run = (args: string[], input?: string) => {
    const r = client(args, input);
    if (r.status !== 0) throw new Error(`mariadb ${args.join(" ")} failed: ${r.stderr.trim()}`);
    return r.stdout;
  };
  return {
    port,
    query: (sql, opts = {}) => run([...(opts.db ? [opts.db] : []), "-e", sql]),
    source: (file, db) => {
      // The shell feeds the file: large binary inputs stay out of this process's pipes.
      const q = (x: string) => `'${x.replaceAll("'", `'\\''`)}'`;
      const r = spawnSync("sh", [
        "-c",
        `mariadb --no-defaults -h127.0.0.1 -P${port} -uroot --max-allowed-packet=64M ` +
        `${db ? q(db) : ""} < ${q(file)}`,
      ], { encoding: "utf8", maxBuffer: 64 << 20 });
      if (r.status !== 0) {
        throw new Error(
          `loading ${file} failed (${r.status ?? r.signal}): ${(r.stderr ?? "").slice(-400)}`,
        );
      }
    },
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) resolve();
        else child.once("exit", () => resolve());
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function existsSbin(): boolean {
  return spawnSync("test", ["-x", "/usr/sbin/mariadbd"]).status === 0;
}
