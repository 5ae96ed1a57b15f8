/**
 * Two `tibr backup` commands started at once into the same storage: exactly one proceeds and
 * writes a complete backup; the other stops with one line naming who holds the checkpoint lock
 * (or, if it came late, that the storage already holds a backup) and writes nothing of its own.
 * On local storage, S3 (Ceph RGW), Azure (Azurite) and GCS (the fake GCS server), all started
 * here on 127.0.0.1; the playground's stores write the data files to the same storage.
 * @module
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { MetaReader } from "../../src/backup/metareader.ts";
import { CHECKPOINT_DIR } from "../../src/checkpoint/files.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { startSmall } from "../playground/_helpers.ts";
import {
  gcsServiceAccount,
  startAzurite,
  startCephRgw,
  startFakeGcsServer,
} from "../_support/servers.ts";
import { errorLine, runTibr, type TibrRun } from "../_support/tibr.ts";

const BUCKET = "tibr-concurrent";
const dir = mkdtempSync(join(tmpdir(), "tibr-concurrent-"));
let pg: Playground;
const stops: (() => Promise<void>)[] = [];
const locations: Record<string, () => string> = {};
let n = 0;

before(async () => {
  const [rgw, azurite, gcsAccount] = await Promise.all([
    startCephRgw(),
    startAzurite(),
    Promise.resolve(gcsServiceAccount(dir)),
  ]);
  stops.push(() => rgw.stop(), () => azurite.stop());
  const gcs = await startFakeGcsServer({
    buckets: [BUCKET],
    accounts: { [gcsAccount.email]: gcsAccount.pubFile },
  });
  stops.push(() => gcs.stop());
  const s3 = new S3Client({
    endpoint: rgw.endpoint,
    region: rgw.region,
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
  });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  s3.destroy();
  const key = new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey);
  await new BlobServiceClient(azurite.endpoint, key).getContainerClient(BUCKET).create();

  locations.local = () => `local://${join(dir, `bk-${n++}`)}`;
  locations.s3 = () =>
    `s3://${BUCKET}/bk-${n++}?endpoint=${rgw.endpoint}&access-key=${rgw.accessKey}` +
    `&secret-access-key=${encodeURIComponent(rgw.secretKey)}&force-path-style=true` +
    `&region=${rgw.region}`;
  locations.azure = () =>
    `azure://${BUCKET}/bk-${n++}?endpoint=${azurite.endpoint}` +
    `&account-name=${azurite.accountName}&account-key=${encodeURIComponent(azurite.accountKey)}`;
  locations.gcs = () =>
    `gcs://${BUCKET}/bk-${n++}?endpoint=${gcs.endpoint}&credentials-file=${gcsAccount.credFile}`;
  pg = await startSmall();
});

after(async () => {
  await pg?.stop();
  for (const stop of stops) await stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

function backup(location: string, i: number): Promise<TibrRun> {
  return runTibr([
    "backup",
    "full",
    "-u",
    pg.pdAddress,
    "-s",
    location,
    "--progress",
    "quiet",
    "--output",
    "json",
    "--log-file",
    join(dir, `run-${n}-${i}.log`),
  ]);
}

describe("two backups into one storage at once: exactly one proceeds", () => {
  for (const kind of ["local", "s3", "azure", "gcs"]) {
    test(kind, async () => {
      const location = locations[kind]!();
      const runs = await Promise.all([backup(location, 0), backup(location, 1)]);
      const winners = runs.filter((r) => r.code === 0);
      const losers = runs.filter((r) => r.code !== 0);
      assert.equal(winners.length, 1, runs.map((r) => `${r.code}: ${r.stderr}`).join("\n"));
      for (const r of losers) {
        const line = errorLine(r);
        assert.match(
          line,
          /cannot take the checkpoint lock .* held by run \d+|already holds a backup/,
        );
        assert.doesNotMatch(line, /secret|account-key=|AccountKey/i);
        console.log(`${kind}, the other run: ${line}`);
      }
      const summary = JSON.parse(winners[0]!.stdout.trim().split("\n").pop()!);
      assert.equal(summary.checksum, "passed");
      const storage = await openStorage(location, { env: {} });
      try {
        const reader = await MetaReader.open(storage);
        assert.equal(String(reader.meta.endVersion), summary.backupTs);
        let files = 0;
        for await (const _ of reader.dataFiles()) files++;
        assert.equal(files, summary.dataFiles);
        const left: string[] = [];
        await storage.walkDir({ subDir: CHECKPOINT_DIR }, (name) => {
          left.push(name);
        });
        assert.deepEqual(left, [], "the winner removed its checkpoint and released the lock");
      } finally {
        await storage.close();
      }
    });
  }
});
