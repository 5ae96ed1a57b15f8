/**
 * The checkpoint lock on S3 (Ceph RADOS Gateway started for this file): exactly one of 8
 * concurrent runs wins, on a free lock and on an expired one, and fencing after a takeover.
 * @module
 */
import { after, describe } from "node:test";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { openStorage } from "../../src/storage/registry.ts";
import { startCephRgw } from "../_support/servers.ts";
import { lockRaceTests } from "./_race.ts";

const rgw = await startCephRgw();
after(() => rgw.stop());
const BUCKET = "tibr-checkpoint-lock";
const admin = new S3Client({
  endpoint: rgw.endpoint,
  region: rgw.region,
  forcePathStyle: true,
  credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
});
await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
after(() => admin.destroy());

let n = 0;
describe("s3 (Ceph RGW)", () => {
  lockRaceTests("s3", {
    open: () =>
      openStorage(
        `s3://${BUCKET}/lock-${Date.now()}-${n++}?endpoint=${rgw.endpoint}` +
          `&access-key=${rgw.accessKey}&secret-access-key=${rgw.secretKey}`,
        { env: {} },
      ),
    runners: 8,
    rounds: 10,
    takeoverRounds: 5,
  });
});
