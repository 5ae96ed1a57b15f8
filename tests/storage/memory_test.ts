/**
 * The conformance suite against the memory plugin, once bare and once through openStorage with
 * every layer (retry, rate limit, concurrency limit, faults that only add latency, metrics), to
 * show the layers are transparent.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runStorageConformance } from "../../src/storage/conformance.ts";
import { clearMemoryStorage, plugin } from "../../plugins/memory/mod.ts";
import { StorageError } from "../../src/storage/errors.ts";
import { FaultInjector } from "../../src/storage/faults.ts";
import { StorageMetrics } from "../../src/storage/metrics.ts";
import { checkName } from "../../src/storage/names.ts";
import { openStorage } from "../../src/storage/registry.ts";
import type { ExternalStorage } from "../../src/storage/types.ts";

const BY_DESIGN = {
  reason: "the memory plugin keeps every object in RAM by design, so a 200 MiB object grows RSS",
  tests: ["create streams a large multipart write with bounded memory"],
};

let n = 0;
const names = new Map<ExternalStorage, string>();

runStorageConformance({
  name: "memory",
  async create() {
    const bucket = `conf-${++n}`;
    const s = await plugin.open(
      { scheme: "memory", bucket, prefix: "p", options: {} },
      { env: {}, StorageError, checkName },
    );
    names.set(s, bucket);
    return s;
  },
  cleanup(s) {
    clearMemoryStorage(names.get(s));
    return Promise.resolve();
  },
  skip: [BY_DESIGN],
});

const metrics = new StorageMetrics();
runStorageConformance({
  name: "memory through every layer",
  create: () =>
    openStorage(`memory://layered-${++n}/prefix`, {
      env: {},
      layers: {
        concurrency: 4,
        rateLimit: 1 << 30,
        metrics,
        faults: new FaultInjector([{ probability: 0.05, latencyMs: 1 }], { seed: 7 }),
      },
    }),
  skip: [BY_DESIGN],
});

test("the layered run went through the metrics layer", () => {
  assert.ok(metrics.totals().calls > 1000, `only ${metrics.totals().calls} calls counted`);
});
