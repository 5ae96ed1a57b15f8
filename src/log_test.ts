import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { defaultLogFile, log, redactText, setupLogging } from "./log.ts";

test("redactText masks credentials in storage URLs, keeping the rest", () => {
  const url = "s3://bkt/p?access-key=AK&secret-access-key=a+b/c&region=us-east-1";
  assert.equal(
    redactText(url),
    "s3://bkt/p?access-key=******&secret-access-key=******&region=us-east-1",
  );
  assert.equal(
    redactText("azure://c/p?sas-token=sv=1&sig=xyz"),
    "azure://c/p?sas-token=******&sig=******",
  );
});

test("log records go to the file with secrets masked in messages and properties", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tibr-log-"));
  try {
    const file = join(dir, "tibr.log");
    assert.equal(await setupLogging({ level: "info", file, format: "json" }), file);
    log("test").info("open s3://b/p?secret-access-key=TOPSECRET+1", {
      secretAccessKey: "TOPSECRET+2",
      region: "r1",
    });
    log("test").debug("not written at info level");
    await setupLogging({ level: "info", file: "-", format: "text" }); // flushes the file sink
    const text = readFileSync(file, "utf8");
    assert.ok(!text.includes("TOPSECRET"), text);
    assert.match(text, /r1/);
    assert.ok(!text.includes("not written"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the default log file is in the temp dir, named like BR's", () => {
  const f = defaultLogFile(new Date("2026-01-02T03:04:05.678Z"));
  assert.equal(f, join(tmpdir(), "tibr.log.2026-01-02T03-04-05"));
});

test("--redact-info-log hides keys in logs and errors", async () => {
  const { logKey, setRedactInfoLog } = await import("./log.ts");
  assert.equal(logKey(Uint8Array.of(0x74, 0x80)), "7480");
  setRedactInfoLog(true);
  try {
    assert.equal(logKey(Uint8Array.of(0x74, 0x80)), "?");
  } finally {
    setRedactInfoLog(false);
  }
});
