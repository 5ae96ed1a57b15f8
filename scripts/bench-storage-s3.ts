/**
 * Benchmark: a 1 GiB multipart upload to Ceph RGW through the s3 plugin's `create()` writer,
 * against `@aws-sdk/lib-storage`'s `Upload` (the floor) with the same S3 client, part size and
 * concurrency, in the same run. Runs alternate (plugin, Upload, plugin, ...) and each side's
 * median of 3 is compared; the target is plugin ≥ 0.95 × Upload.
 *
 * ```sh
 * deno run -A scripts/bench-storage-s3.ts [--size-mib 1024] [--part-mib 8] [--concurrency 4]
 *   [--runs 3]
 * ```
 *
 * Starts its own RGW (Debian packages `ceph-mon ceph-osd radosgw`, installed if missing) unless
 * S3_BENCH_ENDPOINT, S3_BENCH_ACCESS_KEY and S3_BENCH_SECRET_KEY name an existing server.
 * @module
 */
import { randomFillSync } from "node:crypto";
import process from "node:process";
import { Readable } from "node:stream";
import { CreateBucketCommand, DeleteObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { parseS3Config } from "../plugins/s3/_config.ts";
import { makeS3Client, S3Storage } from "../plugins/s3/storage.ts";
import { type S3Server, startCephRgw } from "../tests/_support/servers.ts";
import { alternate, median, positiveArg } from "./_bench_util.ts";

const MiB = 1024 * 1024;

const size = positiveArg("size-mib", 1024) * MiB;
const partSize = positiveArg("part-mib", 8) * MiB;
const concurrency = positiveArg("concurrency", 4);
const runs = positiveArg("runs", 3);
const CHUNK = MiB;

/** One 1 MiB block of random bytes, sent over and over (neither side can compress it). */
const block = randomFillSync(new Uint8Array(CHUNK));

let server: S3Server | undefined;
let endpoint = process.env["S3_BENCH_ENDPOINT"];
let accessKey = process.env["S3_BENCH_ACCESS_KEY"];
let secretKey = process.env["S3_BENCH_SECRET_KEY"];
if (!endpoint || !accessKey || !secretKey) {
  console.log("starting Ceph RGW ...");
  server = await startCephRgw();
  ({ endpoint, accessKey, secretKey } = server);
}
const bucket = "tibr-bench";
const cfg = parseS3Config(
  {
    scheme: "s3",
    bucket,
    prefix: "bench",
    options: { endpoint, "access-key": accessKey, "secret-access-key": secretKey },
  },
  {},
);
const client = makeS3Client(cfg);
try {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
} catch (err) {
  if ((err as { name?: string }).name !== "BucketAlreadyOwnedByYou") throw err;
}
const storage = new S3Storage(cfg, client);
await storage.connect();

async function viaPlugin(key: string, bytes = size): Promise<void> {
  const w = await storage.create(key, { partSize, concurrency });
  for (let off = 0; off < bytes; off += CHUNK) await w.write(block);
  const st = await w.close();
  if (st.size !== bytes) throw new Error(`plugin wrote ${st.size} bytes, not ${bytes}`);
}

async function viaLibStorage(key: string, bytes = size): Promise<void> {
  const body = Readable.from((function* () {
    for (let off = 0; off < bytes; off += CHUNK) yield block;
  })());
  const up = new Upload({
    client,
    params: { Bucket: bucket, Key: `bench/${key}`, Body: body },
    partSize,
    queueSize: concurrency,
    leavePartsOnError: false,
  });
  await up.done();
}

const rate = (ms: number) => size / MiB / (ms / 1000);

console.log(
  `uploading ${size / MiB} MiB to ${endpoint} in ${partSize / MiB} MiB parts, ` +
    `${concurrency} at a time, ${runs} runs each`,
);
try {
  // Untimed warm-up of both paths (JIT, connection pool, RGW's first pools and buckets).
  for (const fn of [viaPlugin, viaLibStorage]) {
    await fn("warmup", 128 * MiB);
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: "bench/warmup" }));
  }
  const times = await alternate(
    [["plugin", viaPlugin], ["libStorage", viaLibStorage]],
    runs,
    size,
    (key) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `bench/${key}` })),
  );
  const plugin = rate(median(times.plugin));
  const floor = rate(median(times.libStorage));
  console.log(`plugin create():       ${plugin.toFixed(0)} MiB/s (median of ${runs})`);
  console.log(`lib-storage Upload:    ${floor.toFixed(0)} MiB/s (median of ${runs}, the floor)`);
  console.log(`ratio plugin/Upload:   ${(plugin / floor).toFixed(3)} (target >= 0.95)`);
} finally {
  await storage.close();
  await server?.stop();
}
