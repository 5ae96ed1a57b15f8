import assert from "node:assert/strict";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ImportSST } from "../gen/import_sstpb_pb.ts";
import { createConnection, isConnectionLost } from "./transport.ts";

describe("a lost connection", () => {
  let server: Server;
  let address = "";
  before(async () => {
    // A store that dies mid-call: once the client has sent its request, the TCP connection is
    // reset (RST, as a killed process's kernel sends).
    server = createServer((sock: Socket) => {
      let seen = 0;
      sock.on("data", (d: Uint8Array) => {
        seen += d.length;
        if (seen > 100) sock.resetAndDestroy();
      });
      sock.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test("a call whose connection is reset is classed as lost, so it is retried", async () => {
    const conn = createConnection(address);
    try {
      const client = createClient(ImportSST, conn.transport);
      const err = await client.multiIngest({}, { timeoutMs: 5000 }).then(
        () => assert.fail("the call succeeded"),
        (e) => ConnectError.from(e),
      );
      // Connect gives a reset connection Aborted (or Unavailable, by timing): either is lost.
      assert.ok(
        [Code.Aborted, Code.Unavailable, Code.Canceled].includes(err.code),
        `${Code[err.code]}: ${err.rawMessage}`,
      );
      assert.equal(isConnectionLost(err), true);
    } finally {
      conn.close();
    }
  });

  test("refusals and our own cancellation are not lost connections", () => {
    const e = (c: Code, cause?: unknown) => new ConnectError("x", c, undefined, undefined, cause);
    for (const c of [Code.InvalidArgument, Code.NotFound, Code.PermissionDenied, Code.Internal]) {
      assert.equal(isConnectionLost(e(c)), false, Code[c]);
    }
    for (const c of [Code.Aborted, Code.Unavailable, Code.DeadlineExceeded, Code.Canceled]) {
      assert.equal(isConnectionLost(e(c)), true, Code[c]);
      assert.equal(isConnectionLost(e(c), AbortSignal.abort()), false, `${Code[c]} after abort`);
    }
    // Connect gives a write to a store that went away (EPIPE) Internal: the socket's error, not
    // the server's status, tells it apart.
    const epipe = Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
    assert.equal(isConnectionLost(e(Code.Internal, epipe)), true, "EPIPE");
    assert.equal(isConnectionLost(e(Code.Internal, new Error("server said no"))), false);
  });
});
