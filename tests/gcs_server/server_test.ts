/**
 * The fake GCS server on its own, over raw HTTP: what the gcs plugin's conformance run relies
 * on it for (atomic generation preconditions, the resumable protocol, listing pages, ranges,
 * checksums), checked against the JSON API's documented behaviour rather than through the SDK.
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, describe, test } from "node:test";
import { crc32c, crc32cBase64 } from "./_crc32c.ts";
import { startFakeGcs } from "./server.ts";

const gcs = await startFakeGcs({ buckets: ["b"] });
after(() => gcs.close());

const enc = new TextEncoder();
const obj = (name: string) => `${gcs.endpoint}/storage/v1/b/b/o/${encodeURIComponent(name)}`;
const upload = (name: string, query = "") =>
  `${gcs.endpoint}/upload/storage/v1/b/b/o?uploadType=media&name=${encodeURIComponent(name)}` +
  query;

async function put(name: string, body: string, query = ""): Promise<Response> {
  return await fetch(upload(name, query), { method: "POST", body: enc.encode(body) });
}

describe("fake GCS server", () => {
  test("CRC-32C matches the standard check value and GCS's encoding", () => {
    assert.equal(crc32c(enc.encode("123456789")), 0xe3069283);
    assert.equal(crc32cBase64(new Uint8Array(0)), "AAAAAA==");
    // Incremental use gives the same result as one pass.
    const a = enc.encode("hello "), b = enc.encode("world");
    assert.equal(crc32c(b, crc32c(a)), crc32c(enc.encode("hello world")));
  });

  test("ifGenerationMatch=0 lets exactly one of 20 racing creators win", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => put("race", `writer ${i}`, "&ifGenerationMatch=0")),
    );
    const statuses = results.map((r) => r.status).sort();
    await Promise.all(results.map((r) => r.body?.cancel()));
    assert.deepEqual(statuses, [200, ...Array(19).fill(412)]);
  });

  test("ifGenerationMatch=<gen> replaces only that generation", async () => {
    const first = await (await put("cas", "v1")).json();
    const second = await put("cas", "v2", `&ifGenerationMatch=${first.generation}`);
    assert.equal(second.status, 200);
    const gen2 = (await second.json()).generation;
    assert.ok(BigInt(gen2) > BigInt(first.generation), "generations grow");
    const stale = await put("cas", "v3", `&ifGenerationMatch=${first.generation}`);
    assert.equal(stale.status, 412);
    await stale.body?.cancel();
    const media = await fetch(`${obj("cas")}?alt=media`);
    assert.equal(await media.text(), "v2");
    assert.equal(media.headers.get("x-goog-generation"), gen2);
  });

  test("a chunked resumable upload survives a resent chunk and reports gaps", async () => {
    const start = await fetch(
      `${gcs.endpoint}/upload/storage/v1/b/b/o?uploadType=resumable&name=res`,
      { method: "POST", body: "{}", headers: { "content-type": "application/json" } },
    );
    assert.equal(start.status, 200);
    const session = start.headers.get("location")!;
    const data = new Uint8Array(1000).map((_, i) => i % 251);
    const send = (from: number, to: number, total = "*") =>
      fetch(session, {
        method: "PUT",
        body: data.subarray(from, to),
        headers: { "content-range": `bytes ${from}-${to - 1}/${total}` },
      });
    let r = await send(0, 400);
    assert.equal(r.status, 308);
    assert.equal(r.headers.get("range"), "bytes=0-399");
    r = await send(300, 600); // overlaps what the server has: only the new bytes count
    assert.equal(r.headers.get("range"), "bytes=0-599");
    r = await send(700, 800); // a gap: the server says where it is
    assert.equal(r.status, 308);
    assert.equal(r.headers.get("range"), "bytes=0-599");
    const status = await fetch(session, {
      method: "PUT",
      headers: { "content-range": "bytes */*" },
    });
    assert.equal(status.headers.get("range"), "bytes=0-599");
    r = await send(600, 1000, "1000");
    assert.equal(r.status, 200);
    const meta = await r.json();
    assert.equal(meta.size, "1000");
    assert.equal(meta.md5Hash, createHash("md5").update(data).digest("base64"));
    assert.equal(meta.crc32c, crc32cBase64(data));
    assert.equal(gcs.openSessions(), 0);
  });

  test("uploads whose MD5 does not match are rejected", async () => {
    const r = await fetch(upload("md5", ""), {
      method: "POST",
      body: "abc",
      headers: { "x-goog-hash": `md5=${createHash("md5").update("abd").digest("base64")}` },
    });
    assert.equal(r.status, 400);
    await r.body?.cancel();
    const missing = await fetch(obj("md5"));
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });

  test("listing pages in byte order with prefix, delimiter and startOffset", async () => {
    for (const n of ["l/a", "l/b/1", "l/b/2", "l/c", "l/\u{e000}", "l/\u{1f600}"]) {
      await (await put(n, n)).body?.cancel();
    }
    const list = async (q: string) =>
      await (await fetch(`${gcs.endpoint}/storage/v1/b/b/o?${q}`)).json();
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await list(
        `prefix=l/&maxResults=2${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`,
      );
      names.push(...(page.items ?? []).map((i: { name: string }) => i.name));
      token = page.nextPageToken;
    } while (token);
    assert.deepEqual(names, ["l/a", "l/b/1", "l/b/2", "l/c", "l/\u{e000}", "l/\u{1f600}"]);
    const dirs = await list("prefix=l/&delimiter=/");
    assert.deepEqual(dirs.prefixes, ["l/b/"]);
    assert.deepEqual(dirs.items.map((i: { name: string }) => i.name), [
      "l/a",
      "l/c",
      "l/\u{e000}",
      "l/\u{1f600}",
    ]);
    const from = await list("prefix=l/&startOffset=l/b/2");
    assert.equal(from.items[0].name, "l/b/2", "startOffset is inclusive");
  });

  test("ranged downloads answer 206 with the total size, 416 past the end", async () => {
    await (await put("r", "0123456789")).body?.cancel();
    const part = await fetch(`${obj("r")}?alt=media`, { headers: { range: "bytes=2-4" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), "bytes 2-4/10");
    assert.equal(await part.text(), "234");
    const tail = await fetch(`${obj("r")}?alt=media`, { headers: { range: "bytes=-3" } });
    assert.equal(await tail.text(), "789");
    const past = await fetch(`${obj("r")}?alt=media`, { headers: { range: "bytes=10-" } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get("content-range"), "bytes */10");
    await past.body?.cancel();
  });
});
