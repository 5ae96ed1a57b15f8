import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "./errors.ts";
import {
  MAX_TIMER_MS,
  parseBool,
  parseNumber,
  parsePdEndpoints,
  parseUint64,
  secondsFlag,
} from "./flags.ts";

// Go's strconv.ParseBool (BR reads boolean flags through pflag with it): src/strconv/atob.go.
test("booleans take exactly Go's ParseBool spellings", () => {
  for (const v of ["1", "t", "T", "TRUE", "true", "True"]) assert.equal(parseBool("x", v), true);
  for (const v of ["0", "f", "F", "FALSE", "false", "False"]) {
    assert.equal(parseBool("x", v), false);
  }
  assert.equal(parseBool("x", undefined), true, "a flag without a value is true");
  for (const v of ["yes", "no", "on", "off", "tRUE", "", "2"]) {
    assert.throws(() => parseBool("checksum", v), (e) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /^--checksum '.*' is not a boolean/);
      return true;
    });
  }
});

test("numbers are refused outside their range, naming the flag and the range", () => {
  const r = { min: 0, max: 22, integer: true };
  assert.equal(parseNumber("compression-level", "3", r), 3);
  for (const v of ["1.5", "abc", "99", "-1", "", "1e308", "NaN", "Infinity"]) {
    assert.throws(
      () => parseNumber("compression-level", v, r),
      /--compression-level '.*' is out of range: give an integer from 0 to 22/,
    );
  }
});

test("durations never exceed what a timer holds", () => {
  const f = secondsFlag("checkpoint-flush-interval");
  assert.equal(f("0.05"), 50);
  assert.ok(f("2147483") <= MAX_TIMER_MS);
  assert.throws(() => f("2147484"), /--checkpoint-flush-interval '2147484' is out of range/);
  assert.throws(() => f("0"), /out of range/);
});

test("TSOs are unsigned 64-bit integers", () => {
  assert.equal(parseUint64("lastbackupts", "18446744073709551615"), 2n ** 64n - 1n);
  assert.throws(() => parseUint64("lastbackupts", "18446744073709551616"), /not a TSO/);
  assert.throws(() => parseUint64("lastbackupts", "-1"), /not a TSO/);
});

test("PD endpoints need a host and a port from 1 to 65535", () => {
  assert.deepEqual(parsePdEndpoints("127.0.0.1:2379, http://pd-1:2379"), [
    "127.0.0.1:2379",
    "http://pd-1:2379",
  ]);
  assert.deepEqual(parsePdEndpoints("[::1]:2379"), ["[::1]:2379"]);
  for (const v of ["127.0.0.1:99999", "a b", "", "host", "127.0.0.1:0", "ftp://h:1", " , "]) {
    assert.throws(() => parsePdEndpoints(v), (e) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /--pd .*(is not a PD address|is empty): give host:port/);
      return true;
    });
  }
});
