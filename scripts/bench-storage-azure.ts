/**
 * Benchmark: a block upload to Azure Blob (Azurite) through the azure plugin's `create()`
 * writer, against the raw SDK's `BlockBlobClient.uploadStream` (the floor) with the same
 * service client options, block size and concurrency, in the same run. Runs alternate (plugin,
 * SDK, plugin, ...) and each side's median is compared; the target is plugin >= 0.95 x SDK.
 *
 * ```sh
 * deno run -A scripts/bench-storage-azure.ts [--size-mib 1024] [--part-mib 8] [--concurrency 4]
 *   [--runs 3] [--json]
 * ```
 *
 * Starts its own Azurite (the npm devDependency, run by `node`) unless AZURE_BENCH_ENDPOINT,
 * AZURE_BENCH_ACCOUNT and AZURE_BENCH_KEY name an existing service. Azurite keeps blobs on
 * local disk, so the figures say what the client costs next to a local server, not what a
 * real Azure account would do. `--json` prints one JSON object with the figures on the last
 * line (for scripts/bench.ts).
 * @module
 */
import { Buffer } from "node:buffer";
import { randomFillSync } from "node:crypto";
import { loadavg } from "node:os";
import process from "node:process";
import { Readable } from "node:stream";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { parseAzureConfig } from "../plugins/azure/_config.ts";
import { AzureStorage } from "../plugins/azure/storage.ts";
import { type AzureServer, startAzurite } from "../tests/_support/servers.ts";
import { alternate, median, positiveArg } from "./_bench_util.ts";

const MiB = 1024 * 1024;

const size = Math.round(positiveArg("size-mib", 1024) * MiB);
const partSize = Math.round(positiveArg("part-mib", 8) * MiB);
const concurrency = positiveArg("concurrency", 4);
const runs = positiveArg("runs", 3);
const json = process.argv.includes("--json");
const CHUNK = MiB;

/** One 1 MiB block of random bytes, sent over and over. */
const block = randomFillSync(new Uint8Array(CHUNK));

let server: AzureServer | undefined;
let endpoint = process.env["AZURE_BENCH_ENDPOINT"];
let account = process.env["AZURE_BENCH_ACCOUNT"];
let key = process.env["AZURE_BENCH_KEY"];
if (!endpoint || !account || !key) {
  console.log("starting Azurite ...");
  server = await startAzurite();
  ({ endpoint, accountName: account, accountKey: key } = server);
}
const container = "tibr-bench";
const prefix = "bench";
// The SDK side gets the same client options as the plugin's (no SDK-level retries).
const service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(account, key), {
  retryOptions: { maxTries: 1 },
});
const containerClient = service.getContainerClient(container);
await containerClient.createIfNotExists();
const cfg = parseAzureConfig(
  {
    scheme: "azure",
    bucket: container,
    prefix,
    options: { endpoint, "account-name": account, "account-key": key },
  },
  {},
);
const storage = new AzureStorage(cfg);
await storage.connect();

async function viaPlugin(name: string, bytes = size): Promise<void> {
  const w = await storage.create(name, { partSize, concurrency });
  for (let off = 0; off < bytes; off += CHUNK) await w.write(block);
  const st = await w.close();
  if (st.size !== bytes) throw new Error(`plugin wrote ${st.size} bytes, not ${bytes}`);
}

/** The same bytes as a Buffer: the SDK's block scheduler copies with `Buffer#copy`. */
const blockBuffer = Buffer.from(block.buffer, block.byteOffset, block.byteLength);

async function viaSdk(name: string, bytes = size): Promise<void> {
  const body = Readable.from((function* () {
    for (let off = 0; off < bytes; off += CHUNK) yield blockBuffer;
  })());
  await containerClient.getBlockBlobClient(`${prefix}/${name}`).uploadStream(
    body,
    partSize,
    concurrency,
  );
}

const rate = (ms: number) => size / MiB / (ms / 1000);

console.log(
  `uploading ${size / MiB} MiB to ${endpoint} in ${partSize / MiB} MiB blocks, ` +
    `${concurrency} at a time, ${runs} runs each, load average ${loadavg()[0]!.toFixed(2)}`,
);
try {
  // Untimed warm-up of both paths (JIT, connection pool, Azurite's first writes).
  for (const fn of [viaPlugin, viaSdk]) {
    await fn("warmup", Math.min(size, 64 * MiB));
    await containerClient.deleteBlob(`${prefix}/warmup`);
  }
  const times = await alternate(
    [["plugin", viaPlugin], ["sdk", viaSdk]],
    runs,
    size,
    (name) => containerClient.deleteBlob(`${prefix}/${name}`),
  );
  const plugin = rate(median(times.plugin));
  const floor = rate(median(times.sdk));
  console.log(`plugin create():       ${plugin.toFixed(0)} MiB/s (median of ${runs})`);
  console.log(`SDK uploadStream:      ${floor.toFixed(0)} MiB/s (median of ${runs}, the floor)`);
  console.log(`ratio plugin/SDK:      ${(plugin / floor).toFixed(3)} (target >= 0.95)`);
  console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  if (json) {
    console.log(JSON.stringify({
      bench: "storage-azure",
      sizeMiB: size / MiB,
      partMiB: partSize / MiB,
      concurrency,
      runs,
      pluginMiBs: plugin,
      sdkMiBs: floor,
      ratio: plugin / floor,
      pluginMs: times.plugin,
      sdkMs: times.sdk,
    }));
  }
} finally {
  await storage.close();
  await server?.stop();
}
