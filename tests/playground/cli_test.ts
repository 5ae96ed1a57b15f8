// `tibr playground` as a user runs it: it prints the PD address and admin URL, serves a
// `tibr backup full` run from another process, stops on SIGTERM saving its state to --dir, and
// comes back from that directory with the same cluster and data. Bad flags exit 2 with one line.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { promisify } from "node:util";
import { after, describe, test } from "node:test";
import { SMALL_SPEC, tempDir } from "./_helpers.ts";

const root = new URL("../..", import.meta.url).pathname;
const main = join(root, "src/cli/main.ts");
const bin = join(root, "node_modules/.bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
const run = promisify(execFile);

interface Running {
  child: ChildProcess;
  pd: string;
  admin: string;
  out: () => string;
  exited: Promise<number | null>;
}

async function startCli(args: string[], logFile: string): Promise<Running> {
  const child = spawn("deno", ["run", "-A", main, "--log-file", logFile, "playground", ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!out.includes("Press Ctrl+C")) {
    if (child.exitCode !== null) throw new Error(`tibr playground exited: ${out}`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`tibr playground did not start in 60 s: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pd = /PD address:\s+(\S+)/.exec(out)![1]!;
  const admin = /Admin URL:\s+(\S+)/.exec(out)![1]!;
  return { child, pd, admin, out: () => out, exited };
}

describe("tibr playground command", () => {
  const tmp = tempDir("cli");
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    tmp.cleanup();
  });

  test("serves a backup, saves its state on SIGTERM and loads it again from --dir", async () => {
    const spec = join(tmp.path, "spec.json");
    writeFileSync(spec, JSON.stringify(SMALL_SPEC));
    const state = join(tmp.path, "state");
    const log = join(tmp.path, "tibr.log");
    const args = ["--pd-port", "0", "--admin-port", "0", "--data", `@${spec}`, "--dir", state];
    const first = await startCli(args, log);
    children.push(first.child);
    assert.match(first.out(), /Data:\s+6 tables, 5200 rows, 800 raw keys/);
    const { stdout } = await run("deno", [
      "run",
      "-A",
      main,
      "--log-file",
      log,
      "backup",
      "full",
      "-u",
      first.pd,
      "-s",
      `local://${join(tmp.path, "backup")}`,
      "--output",
      "json",
      "--progress",
      "quiet",
    ], { env, timeout: 120_000 });
    const summary = JSON.parse(stdout);
    assert.equal(summary.checksum, "passed");
    assert.equal(summary.tables, 6);
    const truth = async (admin: string) => {
      const r = await fetch(`${admin}/truth/table?db=shop&table=users&ts=${summary.backupTs}`);
      return await r.json();
    };
    const before = await truth(first.admin);
    const status = await (await fetch(`${first.admin}/status`)).json();
    // Deno's ChildProcess.kill reports the signal even when the child exits cleanly.
    process.kill(first.child.pid!, "SIGTERM");
    assert.equal(await first.exited, 0);
    assert.ok(existsSync(join(state, "cluster.json")), "state saved");

    const second = await startCli(args, log);
    children.push(second.child);
    assert.match(second.out(), new RegExp(`loaded from ${state}`));
    const again = await (await fetch(`${second.admin}/status`)).json();
    assert.equal(again.clusterId, status.clusterId);
    assert.equal(again.regions, status.regions);
    assert.deepEqual(await truth(second.admin), before, "the same data at the same ts");
    // The TSO moved on past everything handed out before the restart.
    const ts = (await (await fetch(`${second.admin}/tso`)).json()).ts;
    assert.ok(BigInt(ts) > BigInt(summary.backupTs));
    process.kill(second.child.pid!, "SIGINT");
    assert.equal(await second.exited, 0);
  });

  test("a bad --data spec exits 2 with one line", async () => {
    const r = await run("deno", [
      "run",
      "-A",
      main,
      "--log-file",
      join(tmp.path, "bad.log"),
      "playground",
      "--data",
      '{"databases": 3}',
    ], { env }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("Detail tibr log"));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(r.stderr, /invalid sample spec: databases must be an array/);
  });
});
