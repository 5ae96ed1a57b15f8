/**
 * `tibr playground`: starts a simulated TiKV cluster (PD, stores, admin API) on 127.0.0.1 and
 * runs until SIGINT/SIGTERM, like `tiup playground`. See docs/PLAYGROUND.md.
 * @module
 */
import type { Command } from "commander";
import { readFileSync } from "node:fs";
import process from "node:process";
import { UsageError } from "../errors.ts";
import { startLogging } from "../logging.ts";

function intFlag(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new UsageError(`--${name} must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** Reads `--data`: default, empty, JSON text, or @FILE holding JSON. */
function dataText(v: string): string {
  if (!v.startsWith("@")) return v;
  try {
    return readFileSync(v.slice(1), "utf8");
  } catch (err) {
    throw new UsageError(`cannot read --data file ${v.slice(1)}: ${(err as Error).message}`);
  }
}

async function action(cmd: Command): Promise<void> {
  await startLogging(cmd);
  const o = cmd.opts<{
    stores: number;
    pdPort: number;
    data: string;
    regions?: number;
    dir?: string;
    adminPort?: number;
    electionMs: number;
    instantNoop?: boolean;
    instantImport?: boolean;
    tidbPort?: number;
    tidbStatusPort?: number;
    tidbPassword: string;
  }>();
  const { parseSampleSpec } = await import("../../playground/sample.ts");
  let spec;
  try {
    spec = parseSampleSpec(dataText(o.data));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message);
  }
  const { startPlayground } = await import("../../playground/server/mod.ts");
  const pg = await startPlayground({
    stores: o.stores,
    pdPort: o.pdPort,
    data: spec,
    ...(o.regions !== undefined ? { regions: o.regions } : {}),
    ...(o.dir !== undefined ? { dir: o.dir } : {}),
    ...(o.adminPort !== undefined ? { adminPort: o.adminPort } : {}),
    electionMs: o.electionMs,
    ...(o.instantNoop ? { instantNoop: true } : {}),
    ...(o.instantImport ? { instantImport: true } : {}),
    // Like the stores and the admin API, TiDB follows --pd-port 0 onto OS-picked ports.
    tidbPort: o.tidbPort ?? (o.pdPort === 0 ? 0 : 4000),
    tidbStatusPort: o.tidbStatusPort ?? (o.pdPort === 0 ? 0 : 10080),
    tidbPassword: o.tidbPassword,
  });
  const out = process.stdout;
  const stats = pg.cluster.mvcc.stats();
  out.write(`PD address:  ${pg.pdAddress}\n`);
  out.write(`Admin URL:   ${pg.adminUrl}\n`);
  for (const [id, addr] of pg.storeAddresses()) out.write(`Store ${id}:     ${addr}\n`);
  if (pg.tidb) {
    const [host, port] = [pg.tidb.address.split(":")[0], pg.tidb.port];
    out.write(`TiDB:        ${pg.tidb.address} (mysql -h ${host} -P ${port} -u root)\n`);
    out.write(`TiDB status: http://${pg.tidb.statusAddress}/status\n`);
  }
  out.write(
    `Data:        ${
      pg.loaded ? `loaded from ${o.dir}` : pg.sample
        ? `${pg.sample.tables} tables, ` +
          `${pg.sample.rows} rows, ${pg.sample.rawKeys} raw keys`
        : "empty"
    }; ${stats.keys} keys, ${pg.cluster.regions.size} regions\n`,
  );
  out.write(`Cluster id:  ${pg.cluster.clusterId}\n`);
  const catalog = pg.catalog;
  if (catalog && catalog.databases.length > 0) {
    // What the backup and table filters can name, with the rows each table holds.
    for (const db of catalog.databases) {
      const tables = catalog.tables.filter((t) => t.db.id === db.id);
      const list = tables.map((t) => {
        const rows = t.maxId - BigInt(t.deleted.size);
        return `${t.info.name.O} (${rows} rows)`;
      });
      out.write(
        `Database:    ${db.db_name.O}: ${list.length ? list.join(", ") : "no tables"}\n`,
      );
    }
  }
  const example = catalog?.tables[0];
  out.write(`Try:         tibr backup full -u ${pg.pdAddress} -s local:///tmp/backup\n`);
  if (example) {
    const name = `${example.db.db_name.O}.${example.info.name.O}`;
    out.write(
      `             tibr backup table -u ${pg.pdAddress} --db ${example.db.db_name.O} ` +
        `--table ${example.info.name.O} -s local:///tmp/backup-${name.replace(".", "-")}\n`,
    );
  }
  out.write("Press Ctrl+C to stop.\n");

  await new Promise<void>((resolve) => {
    const onSignal = (sig: string) => {
      process.stderr.write(`\nReceived ${sig}: stopping the playground\n`);
      resolve();
    };
    process.once("SIGINT", () => onSignal("SIGINT"));
    process.once("SIGTERM", () => onSignal("SIGTERM"));
  });
  await pg.stop();
  if (o.dir !== undefined) process.stderr.write(`State saved to ${o.dir}\n`);
}

/** Registers `tibr playground`. */
export function registerPlayground(program: Command): void {
  program
    .command("playground")
    .description(
      "run a simulated TiKV cluster (PD, stores, TiDB, admin API) on 127.0.0.1 for trying tibr",
    )
    .option("--stores <n>", "number of TiKV stores", intFlag("stores", 1, 64), 3)
    .option(
      "--pd-port <port>",
      "PD port (stores take the next ports; 0 = any)",
      intFlag("pd-port", 0, 65535),
      2379,
    )
    .option(
      "--data <spec>",
      "data to load: default, empty, a JSON sample spec, or @FILE (see docs/PLAYGROUND.md)",
      "default",
    )
    .option(
      "--regions <n>",
      "split the data into about this many regions",
      intFlag("regions", 1, 10_000_000),
    )
    .option("--dir <dir>", "keep the cluster's state in DIR across restarts")
    .option(
      "--admin-port <port>",
      "admin HTTP port (default: after the stores)",
      intFlag("admin-port", 0, 65535),
    )
    .option(
      "--election-ms <ms>",
      "ms before a stopped store's leaders move to live stores (0 = never)",
      intFlag("election-ms", 0, 3_600_000),
      1000,
    )
    .option(
      "--tidb-port <port>",
      "TiDB SQL port (default 4000, or any with --pd-port 0; 0 = any, -1 = no TiDB server)",
      intFlag("tidb-port", -1, 65535),
    )
    .option(
      "--tidb-status-port <port>",
      "TiDB status API port (default 10080, or any with --pd-port 0; 0 = any)",
      intFlag("tidb-status-port", 0, 65535),
    )
    .option("--tidb-password <password>", "root's password on the TiDB server", "")
    .option(
      "--instant-noop",
      "backups to noop:// skip building SST files (measures the client alone)",
    )
    .option(
      "--instant-import",
      "Download reads nothing and Ingest writes nothing, checks kept (measures a restore client)",
    )
    .action((_o, cmd: Command) => action(cmd));
}
