// gRPC wire compatibility: tibr's Connect clients against an independent @grpc/grpc-js server
// (unary, server streaming, bidi, error statuses, deadline, abort), from Deno and from a
// single binary compiled with `bun build --compile`.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";

const root = new URL("../..", import.meta.url).pathname;
const bin = join(root, "node_modules/.bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
const client = join(root, "tests/grpc/smoke_client.ts");
const EXPECTED = [
  "unary",
  "bidi",
  "bidi error status",
  "server streaming",
  "error mid-stream",
  "status codes",
  "deadline",
  "abort",
];

describe("gRPC wire compatibility with @grpc/grpc-js", () => {
  let server: ChildProcess;
  let address = "";
  let serverOut = "";
  const work = mkdtempSync(join(tmpdir(), "tibr-grpc-"));

  before(async () => {
    server = spawn("node", [join(root, "tests/grpc/grpcjs_server.mjs")], {
      stdio: ["pipe", "pipe", "pipe"],
      env,
    });
    server.stderr!.on("data", (d) => (serverOut += d));
    address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`grpc-js server did not start: ${serverOut}`)),
        15_000,
      );
      server.stdout!.on("data", (d) => {
        serverOut += d;
        const m = /listening (\d+)/.exec(serverOut);
        if (m) {
          clearTimeout(timer);
          resolve(`127.0.0.1:${m[1]}`);
        }
      });
      server.on("exit", (code) => reject(new Error(`grpc-js server exited ${code}: ${serverOut}`)));
    });
  });

  after(() => {
    server.stdin!.end();
    server.kill();
    rmSync(work, { recursive: true, force: true });
  });

  async function runClient(cmd: string, args: string[]): Promise<Record<string, string>> {
    const before = (serverOut.match(/cancelled backup/g) ?? []).length;
    let out: string;
    try {
      ({ stdout: out } = await promisify(execFile)(cmd, [...args, address], {
        env,
        encoding: "utf8",
        timeout: 60_000,
      }));
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      assert.fail(`smoke client failed:\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
    }
    const results = JSON.parse(out.trim().split("\n").at(-1)!) as Record<string, string>;
    assert.deepEqual(Object.keys(results), EXPECTED);
    for (const [name, outcome] of Object.entries(results)) assert.equal(outcome, "ok", name);
    const seen = () => (serverOut.match(/cancelled backup/g) ?? []).length;
    for (let i = 0; i < 50 && seen() === before; i++) await new Promise((r) => setTimeout(r, 50));
    const cancelled = seen();
    assert.equal(cancelled, before + 1, "the server must see the aborted stream cancelled");
    return results;
  }

  test("from Deno", async () => {
    await runClient(join(bin, "deno"), ["run", "-A", client]);
  });

  test("from a bun --compile single binary", async () => {
    const exe = join(work, "smoke");
    execFileSync(join(bin, "bun"), ["build", "--compile", client, "--outfile", exe], {
      env,
      stdio: "pipe",
      cwd: root,
    });
    await runClient(exe, []);
  });
});
