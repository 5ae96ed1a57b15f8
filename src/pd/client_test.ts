import assert from "node:assert/strict";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { PD } from "../gen/pdpb_pb.ts";
import type { RpcConnection } from "../rpc/transport.ts";
import { ManualClock } from "../storage/clock.ts";
import { PdClient, PdError } from "./client.ts";

/**
 * An in-memory PD cluster: each member answers GetMembers with the current leader and GetStore
 * only while it leads (a follower answers PD's "not leader", as pd-server's gRPC layer does);
 * a member in `down` refuses every call, like a stopped process.
 */
class FakePd {
  leader: string | undefined;
  readonly down = new Set<string>();
  readonly calls: string[] = [];
  /** Runs before each GetMembers answer (an election finishing, say). */
  beforeMembers: () => void = () => {};
  constructor(readonly members: string[], leader: string | undefined) {
    this.leader = leader;
  }

  #member(name: string) {
    return { name, clientUrls: [`http://${name}`] };
  }

  dial = (endpoint: string): RpcConnection => {
    const name = endpoint.replace(/^https?:\/\//, "");
    const check = (what: string) => {
      this.calls.push(`${what}@${name}`);
      if (this.down.has(name)) {
        throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
      }
    };
    const transport = createRouterTransport(({ service }) =>
      service(PD, {
        getMembers: () => {
          check("GetMembers");
          this.beforeMembers();
          return {
            header: { clusterId: 7n },
            members: this.members.map((m) => this.#member(m)),
            ...(this.leader ? { leader: this.#member(this.leader) } : {}),
          };
        },
        getStore: (req) => {
          check("GetStore");
          if (name !== this.leader) throw new ConnectError("not leader", Code.Unavailable);
          return { header: { clusterId: 7n }, store: { id: req.storeId, address: "tikv:20160" } };
        },
      })
    );
    return { address: endpoint, transport, reset() {}, close() {} };
  };
}

Deno.test("PD client follows a leader change to a member it learned, not one given in -u", async () => {
  const pd = new FakePd(["pd1:2379", "pd2:2379", "pd3:2379"], "pd1:2379");
  const clock = new ManualClock();
  const client = await PdClient.connect({ endpoints: ["pd1:2379"], dial: pd.dial, clock });
  assert.equal(client.clusterId, 7n);
  assert.equal((await client.getStore(1n))?.address, "tikv:20160");
  // pd1 stops; pd3 wins the election.
  pd.down.add("pd1:2379");
  pd.leader = "pd3:2379";
  assert.equal((await client.getStore(2n))?.id, 2n);
  assert.equal(client.leader, "http://pd3:2379");
  assert.equal(clock.sleeps.length, 1, "one pdRPC backoff before finding the new leader");
  // client-go's pdRPC kind: 500 ms base with equal jitter, so the first sleep is 250..500 ms.
  assert.ok(clock.sleeps[0]! >= 250 && clock.sleeps[0]! < 500, String(clock.sleeps));
  client.close();
});

Deno.test("PD client retries a follower's not-leader answer against the new leader", async () => {
  const pd = new FakePd(["pd1:2379", "pd2:2379"], "pd1:2379");
  const clock = new ManualClock();
  const client = await PdClient.connect({
    endpoints: ["pd1:2379", "pd2:2379"],
    dial: pd.dial,
    clock,
  });
  pd.leader = "pd2:2379";
  assert.equal((await client.getStore(3n))?.id, 3n);
  assert.deepEqual(pd.calls.filter((c) => c.startsWith("GetStore")), [
    "GetStore@pd1:2379",
    "GetStore@pd2:2379",
  ]);
  client.close();
});

Deno.test("PD client gives up after its discovery budget when no member answers (fake clock)", async () => {
  const pd = new FakePd(["pd1:2379", "pd2:2379"], "pd1:2379");
  pd.down.add("pd1:2379");
  pd.down.add("pd2:2379");
  const clock = new ManualClock();
  const started = performance.now();
  await assert.rejects(
    PdClient.connect({ endpoints: ["pd1:2379", "pd2:2379"], dial: pd.dial, clock }),
    (err: Error) =>
      err instanceof PdError &&
      /^cannot reach any PD endpoint in 10 s \(pd1:2379: .*ECONNREFUSED; pd2:2379: .*\): check -u\/--pd and that PD is up$/
        .test(err.message),
  );
  assert.equal(clock.now(), 10_000, "the whole 10 s budget, virtual");
  assert.ok(clock.sleeps.every((ms) => ms <= 3000), "pdRPC caps each sleep at 3 s");
  assert.ok(performance.now() - started < 1000);
});

Deno.test("PD client waits while no leader is elected, then connects", async () => {
  const pd = new FakePd(["pd1:2379"], undefined);
  const clock = new ManualClock();
  // GetMembers answers without a leader until the election ends at 1 s (virtual).
  pd.beforeMembers = () => {
    if (clock.now() >= 1000) pd.leader = "pd1:2379";
  };
  const client = await PdClient.connect({ endpoints: ["pd1:2379"], dial: pd.dial, clock });
  assert.equal(client.leader, "http://pd1:2379");
  assert.ok(clock.now() >= 1000 && clock.now() < 10_000);
  client.close();
});
