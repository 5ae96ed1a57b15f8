/**
 * S3 path style as BR settles it, and storage booleans through the one parser, as the CLI and
 * `openStorage` compose them (`resolveTarget`, then the S3 plugin's config reader).
 *
 * The rule is pingcap/tidb br/pkg/storage/s3.go: `ParseFromFlags` starts `ForcePathStyle` from
 * true, the URL's query (or the flag) may set it, then `SetForcePathStyle(rawURL)` clears it for
 * the alibaba, netease and tencent providers and an accelerate endpoint whatever was given, and
 * `useVirtualHostStyleForAWSS3` clears it for AWS (provider aws, an amazonaws.com endpoint, a
 * role ARN) unless the raw URL contains `force-path-style` or `force_path_style`. Booleans are
 * Go's `strconv.ParseBool` (src/strconv/atob.go); BR's `ExtractQueryParameters` leaves a field
 * as it was when the value does not parse.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseS3Config } from "../../plugins/s3/_config.ts";
import { resolveTarget } from "../../src/storage/registry.ts";
import { FALSE_SPELLINGS, TRUE_SPELLINGS } from "../../src/util/bool.ts";

function pathStyle(
  url: string,
  flags: Record<string, string> = {},
  warnings: string[] = [],
): boolean {
  const target = resolveTarget(url, { flags, warn: (m) => warnings.push(m) });
  return parseS3Config(target, {}).forcePathStyle;
}

const CASES: { url: string; flags?: Record<string, string>; want: boolean; why: string }[] = [
  { url: "s3://b/p", want: true, why: "the command line's default" },
  { url: "s3://b/p?force-path-style=false", want: false, why: "the URL may clear it" },
  {
    url: "s3://b/p?provider=ceph&endpoint=http://127.0.0.1:7480",
    want: true,
    why: "another provider keeps the default",
  },
  { url: "s3://b/p?provider=minio&force_path_style=F", want: false, why: "Go's F, BR's _" },
  { url: "s3://b/p?provider=alibaba", want: false, why: "alibaba needs virtual-hosted style" },
  {
    url: "s3://b/p?provider=alibaba&force-path-style=true",
    want: false,
    why: "forced for alibaba even when the URL asks for path style",
  },
  {
    url: "s3://b/p?provider=netease&force_path_style=1",
    want: false,
    why: "forced for netease",
  },
  {
    url: "s3://b/p",
    flags: { "s3.provider": "tencent", "s3.force-path-style": "true" },
    want: false,
    why: "forced for tencent, named by flags",
  },
  {
    url: "s3://b/p?use-accelerate-endpoint=true&force-path-style=true",
    want: false,
    why: "an accelerate endpoint is virtual-hosted only",
  },
  { url: "s3://b/p?use-accelerate-endpoint=T", want: false, why: "Go's T" },
  { url: "s3://b/p?provider=aws", want: false, why: "AWS without the option in the URL" },
  {
    url: "s3://b/p?provider=aws&force-path-style=true",
    want: true,
    why: "AWS keeps what the URL says",
  },
  { url: "s3://b/p?provider=aws&force_path_style=false", want: false, why: "and its _ spelling" },
  {
    url: "s3://b/p",
    flags: { "s3.provider": "aws", "s3.force-path-style": "true" },
    want: false,
    why: "for AWS the flag alone does not keep path style (BR tests the raw URL only)",
  },
  {
    url: "s3://b/p?endpoint=https://s3.us-west-2.amazonaws.com",
    want: false,
    why: "an amazonaws.com endpoint",
  },
  { url: "s3://b/p?role-arn=arn:aws:iam::1:role/r", want: false, why: "a role to assume" },
  {
    url: "s3://b/force-path-style/p?provider=aws",
    want: true,
    why: "BR's substring test also matches the option's name in the path",
  },
];

describe("S3 force-path-style as BR's command line settles it (br/pkg/storage/s3.go)", () => {
  for (const c of CASES) {
    test(`${c.url} ${c.flags ? JSON.stringify(c.flags) : ""}-> ${c.want}: ${c.why}`, () => {
      assert.equal(pathStyle(c.url, c.flags), c.want);
    });
  }
});

describe("storage URL booleans take Go's ParseBool spellings (the one parser)", () => {
  test("every true and false spelling in the query, and flags lose to the URL", () => {
    for (const v of TRUE_SPELLINGS) {
      assert.equal(
        pathStyle(`s3://b/p?force-path-style=${v}`, { "s3.force-path-style": "0" }),
        true,
      );
    }
    for (const v of FALSE_SPELLINGS) {
      assert.equal(pathStyle(`s3://b/p?force-path-style=${v}`), false, v);
    }
  });

  test("a value Go refuses is ignored with a warning, leaving the default (BR keeps the field)", () => {
    for (const v of ["yes", "tRUE", "on", "", "2"]) {
      const warnings: string[] = [];
      assert.equal(pathStyle(`s3://b/p?force-path-style=${v}`, {}, warnings), true, v);
      assert.equal(warnings.length, 1, v);
      assert.match(warnings[0]!, /ignoring s3 option 'force-path-style'.* is not a boolean/);
    }
    const warnings: string[] = [];
    const t = resolveTarget("s3://b/p?object-lock-enabled=True&use-accelerate-endpoint=False", {
      warn: (m) => warnings.push(m),
    });
    const c = parseS3Config(t, {});
    assert.deepEqual([c.objectLockEnabled, c.useAccelerateEndpoint, warnings], [true, false, []]);
  });
});
