/**
 * Starts and stops the servers the cloud storage tests run against, each on 127.0.0.1 with
 * free ports: Ceph RADOS Gateway (S3), Azurite (Azure Blob) and the fake GCS server. Each start
 * function installs what it needs or throws with the reason; none of them skips. Servers are
 * stopped by `stop()` and, should the test process end first, on its exit.
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { ensureDebianPackages } from "./debian.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => typeof addr === "object" && addr ? resolve(addr.port) : reject());
    });
  });
}

/** Cleanups to run if the process exits before a server's `stop()`. */
const atExit = new Set<() => void>();
process.on("exit", () => {
  for (const f of atExit) {
    try {
      f();
    } catch {
      // Exiting anyway; nothing more to do.
    }
  }
});

function lastLines(text: string, n = 4): string {
  return text.trim().split("\n").slice(-n).join(" | ");
}

/** Runs a command to completion with a time limit; resolves with its output or throws. */
function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
  env?: Record<string, string>,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => out += d);
    child.stderr!.on("data", (d) => err += d);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else {
        const why = signal ? `killed by ${signal} after ${timeoutMs} ms` : `exit ${code}`;
        reject(new Error(`${cmd} ${args.join(" ")} failed (${why}): ${lastLines(err || out)}`));
      }
    });
  });
}

/** A running S3 server. */
export interface S3Server {
  /** `http://127.0.0.1:PORT` (path-style). */
  endpoint: string;
  region: string;
  accessKey: string;
  /** Contains `+` and `/`, like real AWS secrets. */
  secretKey: string;
  /** A role these keys may assume through the server's STS (for `role-arn`). */
  roleArn: string;
  stop(): Promise<void>;
}

/**
 * Starts a one-node Ceph cluster with RADOS Gateway (`scripts/ceph-rgw.sh`) on free ports,
 * installing `ceph-mon ceph-osd radosgw` first when missing. Clusters started by concurrent
 * test processes do not collide: each has its own directory, monitor port and RGW port.
 */
export async function startCephRgw(): Promise<S3Server> {
  ensureDebianPackages(
    ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph", "ceph-authtool", "monmaptool"],
    ["ceph-mon", "ceph-osd", "radosgw"],
  );
  const script = join(ROOT, "scripts", "ceph-rgw.sh");
  let out = "";
  let dir = "";
  let stopSync = () => {};
  const failures: string[] = [];
  // A second attempt with fresh ports and directory: a daemon now and then fails its first
  // start (a monitor command refused while the cluster settles).
  for (let attempt = 1; attempt <= 2 && out === ""; attempt++) {
    const d = mkdtempSync(join(tmpdir(), "tibr-rgw-"));
    dir = d;
    stopSync = () => spawnSync("bash", [script, "--stop", d], { stdio: "ignore" });
    atExit.add(stopSync);
    try {
      const [rgwPort, monPort] = [await freePort(), await freePort()];
      out = await run("bash", [script, d, String(rgwPort), String(monPort)], 150_000);
    } catch (err) {
      stopSync();
      atExit.delete(stopSync);
      failures.push(`attempt ${attempt}: ${(err as Error).message}`);
    }
  }
  if (out === "") throw new Error(`Ceph RGW did not start: ${failures.join("; ")}`);
  const field = (k: string) => {
    const v = new RegExp(`^${k}=(.*)$`, "m").exec(out)?.[1];
    if (v === undefined) throw new Error(`ceph-rgw.sh printed no ${k}: ${lastLines(out)}`);
    return v.trim();
  };
  return {
    endpoint: field("RGW_ENDPOINT"),
    region: "us-east-1",
    accessKey: field("RGW_ACCESS_KEY"),
    secretKey: field("RGW_SECRET_KEY"),
    roleArn: field("RGW_ROLE_ARN"),
    stop: async () => {
      atExit.delete(stopSync);
      await run("bash", [script, "--stop", dir], 30_000);
    },
  };
}

/** A running Azure Blob server. */
export interface AzureServer {
  /** The blob service URL, `http://127.0.0.1:PORT/<account>`. */
  endpoint: string;
  accountName: string;
  /** Base64; contains `+` and `/`. */
  accountKey: string;
  stop(): Promise<void>;
}

/** Waits until `child` prints `ready` (a regexp) or fails, with a time limit. */
function waitFor(
  child: ChildProcess,
  ready: RegExp,
  what: string,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (d: Buffer | string) => {
      seen += d;
      const m = ready.exec(seen);
      if (m) {
        cleanup();
        resolve(m[1] ?? m[0]);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`${what} exited (${code}) before it was ready: ${lastLines(seen)}`));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(new Error(`cannot start ${what}: ${e.message}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} was not ready within ${timeoutMs} ms: ${lastLines(seen)}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stderr?.off("data", onData);
      child.off("exit", onExit);
      child.off("error", onError);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
    child.once("error", onError);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** A base64 account key with both `+` and `/` in it, to test secrets that need escaping. */
function keyWithSpecials(): string {
  for (;;) {
    const k = randomBytes(64).toString("base64");
    if (k.includes("+") && k.includes("/")) return k;
  }
}

/**
 * Starts Azurite's blob service (the npm devDependency, run by `node`) with an account whose
 * key holds `+` and `/`, storing under a temporary directory removed by `stop()`.
 */
export async function startAzurite(): Promise<AzureServer> {
  const main = join(ROOT, "node_modules", "azurite", "dist", "src", "blob", "main.js");
  if (!existsSync(main)) {
    throw new Error(`Azurite is not installed (${main} is missing); run 'npm ci'`);
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "tibr-azurite-"));
  const accountName = "tibracct";
  const accountKey = keyWithSpecials();
  const child = spawn("node", [
    main,
    "--blobHost",
    "127.0.0.1",
    "--blobPort",
    String(port),
    "--location",
    dir,
    "--skipApiVersionCheck",
    "--disableTelemetry",
    "--loose",
  ], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, AZURITE_ACCOUNTS: `${accountName}:${accountKey}` },
  });
  const kill = () => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  atExit.add(kill);
  try {
    await waitFor(child, /successfully listens/, "Azurite (node azurite-blob)", 60_000);
  } catch (err) {
    kill();
    atExit.delete(kill);
    throw err;
  }
  // Drop further output so a full pipe never blocks Azurite.
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    endpoint: `http://127.0.0.1:${port}/${accountName}`,
    accountName,
    accountKey,
    stop: async () => {
      atExit.delete(kill);
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A running fake GCS server. */
export interface GcsServer {
  /** `http://127.0.0.1:PORT`, the `endpoint` option. */
  endpoint: string;
  stop(): Promise<void>;
}

/** What the fake GCS server starts with. */
export interface GcsServerOptions {
  buckets?: string[];
  /** Service accounts that may call it: email → file with the public key (PEM). */
  accounts?: Record<string, string>;
}

/**
 * Starts `tests/gcs_server/main.ts` as a child process of the same runtime (its stored objects
 * then do not count in the test's memory); it exits when this process does.
 */
export async function startFakeGcsServer(opts: GcsServerOptions = {}): Promise<GcsServer> {
  const main = join(ROOT, "tests", "gcs_server", "main.ts");
  const args: string[] = [];
  for (const b of opts.buckets ?? []) args.push("--bucket", b);
  for (const [email, file] of Object.entries(opts.accounts ?? {})) {
    args.push("--account", `${email}=${file}`);
  }
  const runtimeArgs = process.versions["deno"] !== undefined
    ? ["run", "-A", "--quiet", main, ...args]
    : [main, ...args];
  // stdin stays open: the server exits when it closes, that is when this process ends.
  const child = spawn(process.execPath, runtimeArgs, { stdio: ["pipe", "pipe", "pipe"] });
  const kill = () => child.kill("SIGKILL");
  atExit.add(kill);
  let endpoint: string;
  try {
    endpoint = await waitFor(child, /"endpoint":"([^"]+)"/, "the fake GCS server", 60_000);
  } catch (err) {
    kill();
    atExit.delete(kill);
    throw err;
  }
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    endpoint,
    stop: async () => {
      atExit.delete(kill);
      await stopChild(child);
    },
  };
}

/**
 * A service account for the fake GCS server: writes its public key and its key file (as Google
 * issues them, outside the default universe so the auth library signs its own tokens offline)
 * into `dir`. Pass `{ [email]: pubFile }` as the server's `accounts` and `credFile` to tibr.
 */
export function gcsServiceAccount(
  dir: string,
  email = "tibr-test@tibr-test.iam.gserviceaccount.com",
): { email: string; pubFile: string; credFile: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pubFile = join(dir, "sa.pub.pem");
  const credFile = join(dir, "sa.json");
  writeFileSync(pubFile, publicKey.export({ type: "spki", format: "pem" }) as string);
  writeFileSync(
    credFile,
    JSON.stringify({
      type: "service_account",
      project_id: "tibr-test",
      private_key_id: "0123456789abcdef",
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
      client_email: email,
      client_id: "100000000000000000002",
      universe_domain: "tibr-fake-gcs.test",
    }),
  );
  return { email, pubFile, credFile };
}
