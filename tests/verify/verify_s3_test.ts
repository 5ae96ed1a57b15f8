// `tibr verify` through the S3 plugin against Ceph RGW: a backup of the playground, put in a
// bucket, passes the semantic level there; with a data file removed, meta names it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { runBackup } from "../../src/backup/task.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { verifyBackup } from "../../src/verify/verify.ts";
import { startSmall, tempDir } from "../playground/_helpers.ts";
import { filesUnder } from "../backup/_cli.ts";
import { startCephRgw } from "../_support/servers.ts";

const rgw = await startCephRgw();
after(() => rgw.stop());
const BUCKET = "tibr-verify";
const admin = new S3Client({
  endpoint: rgw.endpoint,
  region: rgw.region,
  forcePathStyle: true,
  credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
});
await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
after(() => admin.destroy());
const url = `s3://${BUCKET}/backup?endpoint=${rgw.endpoint}&access-key=${rgw.accessKey}` +
  `&secret-access-key=${encodeURIComponent(rgw.secretKey)}&force-path-style=true`;

test("a backup in S3 (Ceph RGW) passes every level; a missing file there is named", async () => {
  const tmp = tempDir("verify-s3");
  const pg = await startSmall();
  try {
    const dir = join(tmp.path, "b");
    await runBackup({
      mode: "full",
      pd: [pg.pdAddress],
      storage: `local://${dir}`,
      sendCredentials: true,
      concurrency: 4,
      checksum: false,
      compression: "zstd",
      progress: "quiet",
    });
    const s3 = await openStorage(url);
    try {
      for (const name of filesUnder(dir)) {
        if (name.startsWith(".tibr-tmp/")) continue;
        await s3.writeFile(name, readFileSync(join(dir, name)));
      }
      const r = await verifyBackup(s3, { level: "semantic" });
      assert.deepEqual(r.problems, []);
      assert.equal(r.tables.length, 6);
      const victim = filesUnder(dir).find((n) => n.endsWith("_write.sst"))!;
      await s3.deleteFile(victim);
      const m = await verifyBackup(s3, { level: "meta" });
      assert.deepEqual([...new Set(m.problems.map((p) => p.code))], ["MissingFile"]);
      assert.equal(m.problems[0]!.file, victim);
    } finally {
      await s3.close();
    }
  } finally {
    await pg.stop();
    tmp.cleanup();
  }
});
