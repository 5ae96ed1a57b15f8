/**
 * `--status-addr` for the commands that run a task (backup, restore): one way to start the
 * metrics server and announce it.
 * @module
 */
import process from "node:process";
import { UsageError } from "./errors.ts";

/**
 * Serves `/metrics` and `/status` on `addr` when given (announced on stderr); a bad address or
 * one that cannot be bound is a UsageError. Resolves to the server, to close when the run ends.
 */
export async function serveStatus(
  addr: unknown,
): Promise<{ address: string; close(): Promise<void> } | undefined> {
  if (typeof addr !== "string") return undefined;
  const { startStatusServer } = await import("../status_server.ts");
  let status;
  try {
    status = await startStatusServer(addr);
  } catch (err) {
    throw new UsageError(
      err instanceof RangeError
        ? err.message
        : `cannot serve --status-addr ${addr}: ${(err as Error).message}`,
    );
  }
  process.stderr.write(`Metrics at http://${status.address}/metrics\n`);
  return status;
}
