import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { type Error as RegionError, ErrorSchema } from "../gen/errorpb_pb.ts";
import type { PdClient, RegionInfo } from "../pd/client.ts";
import { ManualClock } from "../storage/clock.ts";
import { RegionRequestError, sendToRegion } from "./region_request.ts";
import type { StoreConnections } from "./stores.ts";

const KEY = new Uint8Array([0x74, 1]);

/** PD answers with region 10 led from `leaderStore`; counts look-ups. */
function fakePd(state: { leaderStore: bigint | undefined; lookups: number }): PdClient {
  return {
    getRegion: () => {
      state.lookups++;
      const leader = state.leaderStore === undefined
        ? undefined
        : { id: state.leaderStore * 100n, storeId: state.leaderStore };
      return Promise.resolve(
        {
          region: { id: 10n, regionEpoch: { confVer: 1n, version: 1n } },
          leader,
          startKey: new Uint8Array(),
          endKey: new Uint8Array(),
        } as unknown as RegionInfo,
      );
    },
  } as unknown as PdClient;
}

function fakeStores(resets: bigint[]): StoreConnections {
  return {
    tikv: (id: bigint) => Promise.resolve({ storeId: id }),
    reset: (id: bigint) => resets.push(id),
  } as unknown as StoreConnections;
}

/**
 * Sends one request whose first answers are `errors` (then success) and returns where each
 * attempt went, the sleeps and the PD look-ups.
 */
async function run(errors: RegionError[], leaderStore: bigint | undefined = 1n) {
  const state = { leaderStore, lookups: 0 };
  const clock = new ManualClock();
  const resets: bigint[] = [];
  const sentTo: bigint[] = [];
  const { response } = await sendToRegion(
    fakePd(state),
    fakeStores(resets),
    KEY,
    (client, ctx) => {
      const store = (client as unknown as { storeId: bigint }).storeId;
      sentTo.push(store);
      assert.equal(ctx.peer?.storeId, store, "the context names the peer the request goes to");
      const regionError = errors.shift();
      // After an election (NotLeader without leader) PD learns the new leader.
      if (regionError?.notLeader && !regionError.notLeader.leader) state.leaderStore = 2n;
      return Promise.resolve({ response: "ok", regionError });
    },
    { clock },
  );
  assert.equal(response, "ok");
  return { sentTo, sleeps: clock.sleeps, lookups: state.lookups, resets };
}

const err = (init: Parameters<typeof create<typeof ErrorSchema>>[1]) => create(ErrorSchema, init);

Deno.test("NotLeader naming the new leader retries there at once, without PD", async () => {
  const out = await run([err({ notLeader: { regionId: 10n, leader: { id: 300n, storeId: 3n } } })]);
  assert.deepEqual(out.sentTo, [1n, 3n]);
  assert.deepEqual(out.sleeps, []);
  assert.equal(out.lookups, 1);
});

Deno.test("NotLeader without a leader backs off regionScheduling and asks PD again", async () => {
  const out = await run([err({ notLeader: { regionId: 10n } })]);
  assert.deepEqual(out.sentTo, [1n, 2n]);
  assert.deepEqual(out.sleeps, [2], "client-go's regionScheduling: 2 ms first");
  assert.equal(out.lookups, 2);
});

Deno.test("EpochNotMatch reloads the region: at once with current regions, else after regionMiss", async () => {
  const withRegions = await run([
    err({ epochNotMatch: { currentRegions: [{ id: 10n }] } }),
  ]);
  assert.deepEqual(withRegions.sleeps, []);
  assert.equal(withRegions.lookups, 2);
  const bare = await run([err({ epochNotMatch: {} }), err({ epochNotMatch: {} })]);
  assert.deepEqual(bare.sleeps, [2, 4]);
  assert.equal(bare.lookups, 3);
});

Deno.test("ServerIsBusy backs off tikvServerBusy on the same leader", async () => {
  const out = await run([err({ serverIsBusy: { reason: "scheduler is busy" } })]);
  assert.deepEqual(out.sentTo, [1n, 1n]);
  assert.equal(out.sleeps.length, 1);
  // 2000 ms base with equal jitter.
  assert.ok(out.sleeps[0]! >= 1000 && out.sleeps[0]! < 2000, String(out.sleeps));
  assert.equal(out.lookups, 1);
});

Deno.test("StoreNotMatch drops the store's connection and asks PD again, without sleeping", async () => {
  const out = await run([err({ storeNotMatch: { requestStoreId: 1n, actualStoreId: 5n } })]);
  assert.deepEqual(out.resets, [1n]);
  assert.deepEqual(out.sleeps, []);
  assert.equal(out.lookups, 2);
});

Deno.test("a busy store for the whole budget fails naming the key, within virtual time", async () => {
  const busy = Array.from({ length: 50 }, () => err({ serverIsBusy: {} }));
  const started = performance.now();
  await assert.rejects(
    run(busy),
    (e: Error) =>
      e instanceof RegionRequestError &&
      /^request for key 7401 failed after \d+ s of backoff: region error: serverIsBusy;/.test(
        e.message,
      ),
  );
  assert.ok(performance.now() - started < 1000);
});
