// What a person at a terminal sees: tibr runs under a pseudo-terminal (util-linux `script`), its
// progress bars drawn as on a real one; the bytes it wrote are replayed into a headless xterm
// (@xterm/headless) and the assertions are on the resulting screen. Ctrl-C is typed as the
// terminal's interrupt character, so the kernel's line discipline sends SIGINT to tibr's process
// group as it would for a user.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import xterm from "@xterm/headless";
import { runBackup } from "../../src/backup/task.ts";
import { type Playground, startPlayground } from "../../src/playground/server/mod.ts";
import { ensureDebianPackages } from "../_support/debian.ts";
import { ROOT, runTibr, tibrCommand } from "../_support/tibr.ts";
import { startSmall, tempDir } from "../playground/_helpers.ts";

const COLS = 120;
const ROWS = 40;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Single-quotes `s` for sh. */
function sh(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A tibr run under a pseudo-terminal: what it drew so far, and a way to type into it. */
interface PtyRun {
  child: ChildProcess;
  output: () => string;
  type: (text: string) => void;
  done: Promise<number>;
}

function runInPty(args: string[]): PtyRun {
  const cmd = [...tibrCommand(), ...args].map(sh).join(" ");
  // The terminal's size is set first so the bars have a width to draw in.
  const child = spawn("script", [
    "-qfec",
    `stty cols ${COLS} rows ${ROWS}; exec ${cmd}`,
    "/dev/null",
  ], {
    cwd: ROOT,
    env: {
      ...process.env,
      PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}`,
      TERM: "xterm-256color",
      TIBR_STORAGE_PLUGINS: "",
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const done = new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? -1));
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  done.finally(() => clearTimeout(timer));
  return { child, output: () => out, type: (t) => child.stdin!.write(t), done };
}

/** The screen (scrollback included) after replaying `bytes` into a terminal of our size. */
async function screen(bytes: string): Promise<string[]> {
  const term = new xterm.Terminal({
    cols: COLS,
    rows: ROWS,
    scrollback: 5000,
    allowProposedApi: true,
  });
  await new Promise<void>((resolve) => term.write(bytes, resolve));
  const buf = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? "");
  term.dispose();
  while (lines.length > 0 && lines.at(-1) === "") lines.pop();
  return lines;
}

/** Waits until `pred` holds for what the run drew, or fails naming what it was waiting for. */
async function waitFor(run: PtyRun, what: string, pred: (out: string) => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!pred(run.output())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}:\n${run.output()}`);
    await sleep(50);
  }
}

function index(lines: string[], re: RegExp, what: string): number {
  const i = lines.findIndex((l) => re.test(l));
  assert.ok(i >= 0, `no ${what} on the screen:\n${lines.join("\n")}`);
  return i;
}

describe("tibr at a terminal", () => {
  let a: Playground;
  let b: Playground;
  const tmp = tempDir("terminal");
  const backup = join(tmp.path, "shop");

  before(async () => {
    ensureDebianPackages(["script"], ["bsdutils"]);
    [a, b] = await Promise.all([
      startSmall(),
      startPlayground({ data: "empty", electionMs: 300, scatterMs: 5, tidbPort: 0 }),
    ]);
    await runBackup({
      mode: "db",
      db: "shop",
      pd: [a.pdAddress],
      storage: `local://${backup}`,
      sendCredentials: true,
      concurrency: 4,
      checksum: true,
      compression: "zstd",
      progress: "quiet",
    });
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    tmp.cleanup();
  });

  test("Ctrl-C during a backup: the bar stops, the interrupt message and the error stay readable", async () => {
    for (const s of a.cluster.regions.stores()) a.admin.slowStore(s.id, 150);
    try {
      const run = runInPty([
        "--log-file",
        join(tmp.path, "int.log"),
        "backup",
        "db",
        "--db",
        "shop",
        "-u",
        a.pdAddress,
        "-s",
        `local://${join(tmp.path, "interrupted")}`,
      ]);
      // The bar is drawing, with some ranges done.
      await waitFor(
        run,
        "the backup's bar",
        (o) => /Database Backup .*\| [1-9]\d*\/\d+ ranges/.test(o),
      );
      run.type("\x03");
      const code = await run.done;
      const lines = await screen(run.output());
      const text = lines.join("\n");
      assert.equal(code, 1, text);
      const msg = index(lines, /Received SIGINT/, "interrupt message");
      assert.equal(lines[msg], "Received SIGINT: stopping and saving the checkpoint", text);
      // After the message: the checkpoint's fate and the one-line error, each on its own line,
      // and no bar drawn over them or after them.
      const after = lines.slice(msg + 1).filter((l) => l !== "");
      assert.ok(
        after.some((l) =>
          /^Checkpoint saved at local:\/\/.*interrupted \(\d+ sub-ranges done\)/.test(l)
        ),
        text,
      );
      assert.ok(after.some((l) => /^Error: .*interrupted by SIGINT/.test(l)), text);
      for (const l of after) assert.doesNotMatch(l, /ranges \||░|█|Database Backup/, text);
      // The bar's last state is above the message, not overwritten by it.
      assert.ok(lines.slice(0, msg).some((l) => /Database Backup .*ranges/.test(l)), text);
    } finally {
      for (const s of a.cluster.regions.stores()) a.admin.slowStore(s.id, 0);
    }
  });

  test("Ctrl-C in the checksum phase: checkpoint status says every key range is done", async () => {
    // Slow stores stretch the checksum, which starts once every key range is backed up.
    for (const s of a.cluster.regions.stores()) a.admin.slowStore(s.id, 150);
    const dir = join(tmp.path, "at-checksum");
    try {
      const run = runInPty([
        "--log-file",
        join(tmp.path, "at-checksum.log"),
        "backup",
        "db",
        "--db",
        "shop",
        "-u",
        a.pdAddress,
        "-s",
        `local://${dir}`,
      ]);
      // Once every range is backed up, the stores slow down further so the checksum that
      // follows lasts long after its bar appears.
      await waitFor(run, "the finished backup bar", (o) => /\| (\d+)\/\1 ranges/.test(o));
      for (const s of a.cluster.regions.stores()) a.admin.slowStore(s.id, 2_000);
      await waitFor(run, "the checksum phase", (o) => /Checksum .*tables/.test(o));
      run.type("\x03");
      const lines = await screen(run.output());
      assert.equal(await run.done, 1, lines.join("\n"));
    } finally {
      for (const s of a.cluster.regions.stores()) a.admin.slowStore(s.id, 0);
    }
    const status = await runTibr([
      "checkpoint",
      "status",
      "-s",
      `local://${dir}`,
      "--output",
      "json",
    ]);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.ok(s.progress.ranges.total > 0, status.stdout);
    assert.deepEqual(s.progress.ranges, { done: s.meta.ranges, total: s.meta.ranges });
    assert.ok(s.progress.subRanges >= s.progress.ranges.total, status.stdout);
    const text = await runTibr(["checkpoint", "status", "-s", `local://${dir}`]);
    const n = s.meta.ranges;
    assert.match(text.stdout, new RegExp(`^key ranges done +${n} of ${n}$`, "m"));
  });

  test("the checksum runs as its own phase after the backup's bar, not a bar left at 100 %", async () => {
    const run = runInPty([
      "--log-file",
      join(tmp.path, "full.log"),
      "backup",
      "db",
      "--db",
      "shop",
      "-u",
      a.pdAddress,
      "-s",
      `local://${join(tmp.path, "complete")}`,
    ]);
    const code = await run.done;
    const lines = await screen(run.output());
    const text = lines.join("\n");
    assert.equal(code, 0, text);
    const bar = index(lines, /^Database Backup .*100% \| (\d+)\/\1 ranges/, "finished backup bar");
    const checksum = index(lines, /^Checksum .*\| (\d+)\/\1 tables/, "checksum phase");
    const summary = index(lines, /^Database Backup success summary:$/, "summary");
    assert.ok(bar < checksum && checksum < summary, text);
  });

  const restoreArgs = (log: string) => {
    const port = (addr: string) => addr.slice(addr.lastIndexOf(":") + 1);
    return [
      "--log-file",
      join(tmp.path, log),
      "restore",
      "db",
      "--db",
      "shop",
      "-u",
      b.pdAddress,
      "-s",
      `local://${backup}`,
      "--tidb-host",
      "127.0.0.1",
      "--tidb-port",
      port(b.tidbAddress),
      "--tidb-status-port",
      port(b.tidbStatusAddress),
    ];
  };

  test("Ctrl-C during a restore: the message and the error are not drawn over", async () => {
    // Slow Downloads keep the import running until the key is pressed.
    b.admin.injectDownloadFault({ delayMs: 500 });
    try {
      const run = runInPty(restoreArgs("restore-int.log"));
      await waitFor(
        run,
        "the import bar",
        (o) => /DataBase Restore .*\| [1-9]\d*\/\d+ files/.test(o),
      );
      run.type("\x03");
      const code = await run.done;
      const lines = await screen(run.output());
      const text = lines.join("\n");
      assert.equal(code, 1, text);
      const msg = index(lines, /Received SIGINT/, "interrupt message");
      assert.equal(lines[msg], "Received SIGINT: stopping and putting the cluster back", text);
      const after = lines.slice(msg + 1).filter((l) => l !== "");
      assert.ok(after.length > 0 && /^Error: /.test(after.at(-1)!), text);
      for (const l of after) assert.doesNotMatch(l, /files \||░|█|DataBase Restore/, text);
      assert.ok(lines.slice(0, msg).some((l) => /DataBase Restore .*files/.test(l)), text);
    } finally {
      b.imports.clearDownloadFaults();
    }
  });

  test("a restore shows its phases, BR's label on the import bar (split/scatter inside it), and the checksum after it", async () => {
    // The interrupted restore above is resumed.
    const run = runInPty(restoreArgs("restore.log"));
    const code = await run.done;
    const lines = await screen(run.output());
    const text = lines.join("\n");
    assert.equal(code, 0, text);
    const schema = index(lines, /^Schema .*\| (\d+)\/\1 tables/, "schema phase");
    // Split/scatter runs batch by batch inside the import, under the import bar.
    const ingest = index(lines, /^DataBase Restore .*100% \| (\d+)\/\1 files/, "import bar");
    const checksum = index(lines, /^Checksum .*\| (\d+)\/\1 tables/, "checksum phase");
    const summary = index(lines, /^DataBase Restore success summary:$/, "summary");
    assert.ok(schema < ingest && ingest < checksum && checksum < summary, text);
  });
});
