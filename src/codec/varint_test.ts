import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeVarNumber,
  decodeVarU64,
  encodeVarU64,
  pushVarNumber,
  putVarNumber,
  putVarU64,
  skipVarint,
  varintSize,
  varNumberAt,
  varU64At,
} from "./varint.ts";

test("varints round-trip at the width boundaries", () => {
  const max = (1n << 64n) - 1n;
  for (const v of [0n, 1n, 127n, 128n, 300n, (1n << 35n) + 7n, max]) {
    const enc = encodeVarU64(v);
    assert.deepEqual(decodeVarU64(enc), { value: v, next: enc.length });
  }
  assert.deepEqual([...encodeVarU64(300n)], [0xac, 0x02]);
  assert.equal(encodeVarU64(max).length, 10);
  for (const n of [0, 1, 127, 128, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
    const out: number[] = [];
    pushVarNumber(out, n);
    assert.deepEqual([...encodeVarU64(BigInt(n))], out);
    assert.deepEqual(decodeVarNumber(Uint8Array.from(out)), { value: n, next: out.length });
  }
});

test("varint decoding rejects truncation, overlong input and overflow", () => {
  assert.throws(() => decodeVarU64(Uint8Array.of(0x80, 0x80)), /truncated/);
  assert.throws(() => decodeVarU64(new Uint8Array(11).fill(0x80)), /truncated or longer/);
  assert.throws(() => decodeVarU64(Uint8Array.of(...new Array(9).fill(0xff), 0x7f)), /overflows/);
  assert.throws(() => decodeVarNumber(encodeVarU64(1n << 60n)), /too large/);
  assert.throws(() => encodeVarU64(-1n), RangeError);
});

test("positional codecs agree with encodeVarU64 across the u64 range", () => {
  const values = [0n, 1n, 127n, 128n, 300n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n];
  values.push(2n ** 63n, 2n ** 64n - 1n, 0xdead_beef_cafe_f00dn);
  for (const v of values) {
    const want = encodeVarU64(v);
    const buf = new Uint8Array(12);
    const end = putVarU64(buf, 1, v);
    assert.deepEqual(buf.subarray(1, end), want, String(v));
    assert.equal(varU64At(buf, 1), v);
    assert.equal(skipVarint(buf, 1), end);
    if (v <= BigInt(Number.MAX_SAFE_INTEGER)) {
      assert.equal(varintSize(Number(v)), want.length);
      assert.equal(putVarNumber(buf, 0, Number(v)), want.length);
      assert.equal(varNumberAt(buf, 0), Number(v));
    }
  }
});
