/**
 * `tibr storage check`: probes a storage location and reports what works, how fast, and
 * whether conditional writes (which the backup lock relies on) are really honoured.
 * @module
 */
import { type Command, Option } from "commander";
import { orderHelp } from "../help.ts";
import { addStorageFlags, storageFlags } from "../storage_flags.ts";

function parseSize(text: string): number {
  const m = /^(\d+)\s*([kmg]i?b?)?$/i.exec(text.trim());
  if (!m) throw new Error(`invalid size ${JSON.stringify(text)}`);
  const unit = (m[2] ?? "").toLowerCase()[0];
  const mult = unit === "k" ? 1 << 10 : unit === "m" ? 1 << 20 : unit === "g" ? 1 << 30 : 1;
  return Number(m[1]) * mult;
}

/** Registers `tibr storage` and its `check` subcommand. */
export function registerStorage(program: Command): void {
  const storage = program.command("storage").description("inspect backup storage");
  const check = storage
    .command("check")
    .description(
      "probe a storage: list, write, read, ranged read, delete, conditional writes, latency " +
        "and throughput",
    )
    .addOption(
      new Option("--output <format>", "output format").choices(["table", "json"]).default("table"),
    )
    .option("--size <bytes>", "size of the throughput object (e.g. 64MiB)", "64MiB");
  orderHelp(addStorageFlags(check));
  check.action(async (opts: Record<string, unknown>, cmd: Command) => {
    const { startLogging } = await import("../logging.ts");
    await startLogging(cmd);
    const { runStorageCheck } = await import("./_storage_check.ts");
    let size: number;
    try {
      size = parseSize(String(opts.size));
    } catch (err) {
      const { UsageError } = await import("../errors.ts");
      throw new UsageError(`${(err as Error).message}; use a byte count such as 16MiB`);
    }
    await runStorageCheck(storageFlags(opts), { output: opts.output as "table" | "json", size });
  });
}
