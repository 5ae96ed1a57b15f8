/**
 * Private helpers of the CLI failure tests: check that a failed backup left its storage
 * resumable, a closed port, the common flags. Running tibr: `tests/_support/tibr.ts`.
 * @module
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export {
  errorLine,
  type RunOptions,
  runTibr,
  tibrBinary,
  tibrCommand,
  type TibrRun,
} from "../_support/tibr.ts";

/** Files under `dir` (relative paths), recursively; [] when it does not exist. */
export function filesUnder(dir: string, rel = ""): string[] {
  if (!existsSync(join(dir, rel))) return [];
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const p = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...filesUnder(dir, p));
    else out.push(p);
  }
  return out;
}

/**
 * A failed backup left `dir` resumable: no `backupmeta` (finished or half-written), and no
 * temp file of an interrupted write in the local plugin's staging directory once the stores
 * have finished writing (they may still be closing their last files when the CLI exits).
 */
export async function assertResumable(dir: string): Promise<void> {
  assert.ok(!existsSync(join(dir, "backupmeta")), `${dir}/backupmeta must not exist`);
  const staged = () => filesUnder(join(dir, ".tibr-tmp")).filter((f) => !f.startsWith("locks/"));
  const deadline = Date.now() + 5_000;
  while (staged().length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(staged(), [], "no temp file of an unfinished write is left");
  assert.ok(!existsSync(join(dir, "backupmeta")), `${dir}/backupmeta must not exist`);
}

/** A local port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The common flags of a backup run that only the test reads: no progress bar, JSON summary. */
export function backupArgs(kind: string, pd: string, dir: string, log: string): string[] {
  return [
    "--log-file",
    log,
    "backup",
    kind,
    "-u",
    pd,
    "-s",
    `local://${dir}`,
    "--progress",
    "quiet",
    "--output",
    "json",
  ];
}
