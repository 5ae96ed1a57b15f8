/**
 * The body of `tibr storage check`, loaded only when the command runs.
 * @module
 */
import process from "node:process";
import { checkStorage, formatReport } from "../../storage/check.ts";
import { openStorageFromFlags, type StorageFlags } from "../storage_flags.ts";

/** Runs the check, prints the table or JSON on stdout, and throws if a probe failed. */
export async function runStorageCheck(
  f: StorageFlags,
  opts: { output: "table" | "json"; size: number },
): Promise<void> {
  const storage = await openStorageFromFlags(f);
  try {
    const report = await checkStorage(storage, { size: opts.size });
    process.stdout.write(
      opts.output === "json" ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`,
    );
    const failed = report.probes.find((p) => p.status === "fail");
    if (failed) {
      throw new Error(
        `storage check of ${report.storage} failed: ${failed.probe}: ${failed.detail}`,
      );
    }
  } finally {
    await storage.close();
  }
}
