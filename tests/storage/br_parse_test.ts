/**
 * BR's storage URL cases, ported as data: pingcap/tidb `br/pkg/storage/parse_test.go`
 * (TestCreateStorage, TestFormatBackendURL, TestParseRawURL, TestIsLocal, TestS3ProfileOption,
 * TestS3ProfileCredentialsValidation, TestS3NoProfileCredentialsValidation, TestParseBackend,
 * TestS3DefaultForceStylePath). Each case names its Go test. A location goes through
 * `parseLocation` and the plugin's config reader, and the fields compared are those of the
 * `backuppb.StorageBackend` BR builds. Not ported: `ks3://` and `hdfs://` (tibr has no such
 * plugins).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { isStorageError } from "../../src/storage/errors.ts";
import { openStorage } from "../../src/storage/registry.ts";
import { parseLocation, targetUri } from "../../src/storage/url.ts";
import { parseS3Config } from "../../plugins/s3/_config.ts";
import { parseGcsConfig } from "../../plugins/gcs/_config.ts";
import { parseAzureConfig } from "../../plugins/azure/_config.ts";

const dir = mkdtempSync(join(tmpdir(), "tibr-br-parse-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const credFile = join(dir, "fakeCredentialsFile");
const credFile2 = join(dir, "fakeCredentialsFile2");
writeFileSync(credFile, "fakeCredentials");
writeFileSync(credFile2, "fakeCreds2");

/** The StorageBackend fields BR would build for `location` with `flags` (BackendOptions). */
async function brBackend(
  location: string,
  flags: Record<string, string> = {},
  warnings: string[] = [],
): Promise<Record<string, unknown>> {
  const t = parseLocation(location, { flags, warn: (m) => warnings.push(m) });
  switch (t.scheme) {
    case "local":
    case "file":
      return { local: t.prefix };
    case "noop":
      return { noop: true };
    case "s3": {
      const c = parseS3Config(t, {});
      const creds = c.credentials.kind === "static" ? c.credentials : undefined;
      return {
        s3: {
          bucket: c.bucket,
          prefix: c.prefix,
          endpoint: c.endpoint ?? "",
          region: c.region,
          forcePathStyle: c.forcePathStyle,
          sse: c.sse ?? "",
          sseKmsKeyId: c.sseKmsKeyId ?? "",
          storageClass: c.storageClass ?? "",
          accessKey: creds?.accessKeyId ?? "",
          secretAccessKey: creds?.secretAccessKey ?? "",
          sessionToken: creds?.sessionToken ?? "",
          roleArn: c.roleArn ?? "",
          externalId: c.externalId ?? "",
          profile: c.profile ?? "",
        },
      };
    }
    case "gs":
    case "gcs": {
      const c = await parseGcsConfig(t, {});
      return {
        gcs: {
          bucket: c.bucket,
          prefix: c.prefix,
          endpoint: c.endpoint ?? "",
          storageClass: c.storageClass ?? "",
          predefinedAcl: c.predefinedAcl ?? "",
          credentialsBlob: c.credentialsBlob ?? "",
        },
      };
    }
    case "azure":
    case "azblob": {
      const c = parseAzureConfig(t, {});
      return {
        azure: {
          bucket: c.bucket,
          prefix: c.prefix,
          endpoint: c.endpointGiven ? c.endpoint : "",
          storageClass: c.accessTier ?? "",
          accountName: c.accountName,
          sharedKey: c.credentials.kind === "sharedKey" ? c.credentials.accountKey : "",
          encryptionScope: c.encryptionScope ?? "",
        },
      };
    }
    default:
      return { other: t.scheme };
  }
}

const S3_EMPTY = {
  bucket: "",
  prefix: "",
  endpoint: "",
  region: "",
  forcePathStyle: false,
  sse: "",
  sseKmsKeyId: "",
  storageClass: "",
  accessKey: "",
  secretAccessKey: "",
  sessionToken: "",
  roleArn: "",
  externalId: "",
  profile: "",
};
const GCS_EMPTY = {
  bucket: "",
  prefix: "",
  endpoint: "",
  storageClass: "",
  predefinedAcl: "",
  credentialsBlob: "",
};

interface Case {
  /** The Go test the case comes from. */
  from: string;
  url: string;
  flags?: Record<string, string>;
  /** Expected fields (merged over the empty backend of the scheme), or an error pattern. */
  want: Record<string, unknown> | RegExp;
  /** Patterns the warnings must match, in order (unknown options BR ignores). */
  warns?: RegExp[];
}

const S3_ENDPOINT_FLAG = { "s3.endpoint": "https://s3.example.com/" };
const GCS_ENDPOINT_FLAG = { "gcs.endpoint": "https://gcs.example.com/" };
const AZ_URL = "azure://bucket1/prefix/path?account-name=user&account-key=cGFzc3dk" +
  "&endpoint=http://127.0.0.1/user&encryption-scope=test";

const CASES: Case[] = [
  // TestCreateStorage
  {
    from: "TestCreateStorage",
    url: "1invalid:",
    want: /first path segment of '1invalid:' cannot contain a colon/,
  },
  { from: "TestCreateStorage", url: "local:///tmp/storage", want: { local: "/tmp/storage" } },
  { from: "TestCreateStorage", url: "file:///tmp/storage", want: { local: "/tmp/storage" } },
  { from: "TestCreateStorage", url: "noop://", want: { noop: true } },
  {
    from: "TestCreateStorage",
    url: "s3:///bucket/more/prefix/",
    want: /missing bucket in 's3:\/\/\/bucket\/more\/prefix\/'/,
  },
  {
    from: "TestCreateStorage",
    url: "s3://bucket2/prefix/",
    flags: S3_ENDPOINT_FLAG,
    want: { s3: { bucket: "bucket2", prefix: "prefix", endpoint: "https://s3.example.com" } },
  },
  {
    from: "TestCreateStorage",
    url: "s3://bucket3/prefix/path?endpoint=https://127.0.0.1:9000&force_path_style=0" +
      "&SSE=aws:kms&sse-kms-key-id=TestKey&xyz=abc",
    want: {
      s3: {
        bucket: "bucket3",
        prefix: "prefix/path",
        endpoint: "https://127.0.0.1:9000",
        forcePathStyle: false,
        sse: "aws:kms",
        sseKmsKeyId: "TestKey",
      },
    },
    warns: [/ignoring unknown s3 option 'xyz'/],
  },
  {
    from: "TestCreateStorage (special characters in keys)",
    url: "s3://bucket4/prefix/path?access-key=******&secret-access-key=******+" +
      "&session-token=******",
    want: {
      s3: {
        bucket: "bucket4",
        prefix: "prefix/path",
        accessKey: "******",
        secretAccessKey: "******+",
        sessionToken: "******",
      },
    },
  },
  {
    from: "TestCreateStorage (role ARN and external ID)",
    url: `s3://bucket5/prefix/path?role-arn=${
      encodeURIComponent("arn:aws:iam::888888888888:role/my-role")
    }&external-id=abcd1234`,
    want: {
      s3: {
        bucket: "bucket5",
        prefix: "prefix/path",
        roleArn: "arn:aws:iam::888888888888:role/my-role",
        externalId: "abcd1234",
      },
    },
  },
  {
    from: "TestCreateStorage",
    url: "gcs://bucket2/prefix/",
    flags: GCS_ENDPOINT_FLAG,
    want: { gcs: { bucket: "bucket2", prefix: "prefix", endpoint: "https://gcs.example.com/" } },
  },
  {
    from: "TestCreateStorage",
    url: "gcs://bucket2",
    flags: GCS_ENDPOINT_FLAG,
    want: { gcs: { bucket: "bucket2", endpoint: "https://gcs.example.com/" } },
  },
  {
    from: "TestCreateStorage (credentials file not JSON)",
    url: "gcs://bucket/more/prefix/",
    flags: { ...GCS_ENDPOINT_FLAG, "gcs.credentials-file": credFile },
    want: {
      gcs: {
        bucket: "bucket",
        prefix: "more/prefix",
        endpoint: "https://gcs.example.com/",
        credentialsBlob: "fakeCredentials",
      },
    },
  },
  {
    from: "TestCreateStorage (URL option over flag)",
    url: "gcs://bucket?endpoint=http://127.0.0.1/",
    flags: { ...GCS_ENDPOINT_FLAG, "gcs.credentials-file": credFile },
    want: {
      gcs: { bucket: "bucket", endpoint: "http://127.0.0.1/", credentialsBlob: "fakeCredentials" },
    },
  },
  {
    from: "TestCreateStorage",
    url: `gs://bucket4/backup/?credentials-file=${encodeURIComponent(credFile2)}`,
    want: { gcs: { bucket: "bucket4", prefix: "backup", credentialsBlob: "fakeCreds2" } },
  },
  {
    from: "TestCreateStorage",
    url: "azure://bucket1/prefix/path?account-name=user&account-key=cGFzc3dk" +
      "&endpoint=http://127.0.0.1/user",
    want: {
      azure: {
        bucket: "bucket1",
        prefix: "prefix/path",
        endpoint: "http://127.0.0.1/user",
        storageClass: "",
        accountName: "user",
        sharedKey: "cGFzc3dk",
        encryptionScope: "",
      },
    },
  },
  { from: "TestCreateStorage", url: "/test", want: { local: resolve("/test") } },
  // TestParseRawURL: '/', '=' and '+' survive in secrets.
  {
    from: "TestParseRawURL",
    url: "s3://bucket/prefix/path?access-key=NXN7IPIOSAAKDEEOLMAF" +
      "&secret-access-key=nREY/7DtPaIbYKrKlEEMMF/ExCiJEX=XMLPUANw",
    want: {
      s3: {
        bucket: "bucket",
        prefix: "prefix/path",
        accessKey: "NXN7IPIOSAAKDEEOLMAF",
        secretAccessKey: "nREY/7DtPaIbYKrKlEEMMF/ExCiJEX=XMLPUANw",
      },
    },
  },
  {
    from: "TestParseRawURL",
    url: "s3://bucket/prefix/path?access-key=NXN7IPIOSAAKDEEOLMAF" +
      "&secret-access-key=nREY/7Dt+PaIbYKrKlEEMMF/ExCiJEX=XMLPUANw",
    want: {
      s3: {
        bucket: "bucket",
        prefix: "prefix/path",
        accessKey: "NXN7IPIOSAAKDEEOLMAF",
        secretAccessKey: "nREY/7Dt+PaIbYKrKlEEMMF/ExCiJEX=XMLPUANw",
      },
    },
  },
  // TestIsLocal
  { from: "TestIsLocal", url: ":", want: /missing a protocol scheme/ },
  { from: "TestIsLocal", url: "~/tmp/file", want: { local: resolve("~/tmp/file") } },
  { from: "TestIsLocal", url: ".", want: { local: resolve(".") } },
  { from: "TestIsLocal", url: "..", want: { local: resolve("..") } },
  { from: "TestIsLocal", url: "./tmp/file", want: { local: resolve("./tmp/file") } },
  { from: "TestIsLocal", url: "/tmp/file", want: { local: "/tmp/file" } },
  { from: "TestIsLocal", url: "local:///tmp/file", want: { local: "/tmp/file" } },
  { from: "TestIsLocal", url: "file:///tmp/file", want: { local: "/tmp/file" } },
  {
    from: "TestIsLocal",
    url: "s3://bucket/tmp/file",
    want: { s3: { bucket: "bucket", prefix: "tmp/file" } },
  },
  // TestS3ProfileOption
  {
    from: "TestS3ProfileOption",
    url: "s3://bucket/prefix/?profile=my-test-profile",
    want: { s3: { bucket: "bucket", prefix: "prefix", profile: "my-test-profile" } },
  },
  {
    from: "TestS3ProfileOption",
    url: "s3://bucket2/prefix/",
    flags: { "s3.profile": "profile-from-options" },
    want: { s3: { bucket: "bucket2", prefix: "prefix", profile: "profile-from-options" } },
  },
  {
    from: "TestS3ProfileOption",
    url: "s3://bucket3/prefix/?profile=dev-profile&region=us-west-2" +
      "&endpoint=https://s3.example.com",
    want: {
      s3: {
        bucket: "bucket3",
        prefix: "prefix",
        profile: "dev-profile",
        region: "us-west-2",
        endpoint: "https://s3.example.com",
      },
    },
  },
  {
    from: "TestS3ProfileOption",
    url: "s3://bucket4/prefix/",
    want: { s3: { bucket: "bucket4", prefix: "prefix" } },
  },
  // TestS3ProfileCredentialsValidation
  {
    from: "TestS3ProfileCredentialsValidation",
    url: "s3://bucket/prefix/?profile=production&region=us-west-2",
    want: {
      s3: { bucket: "bucket", prefix: "prefix", profile: "production", region: "us-west-2" },
    },
  },
  {
    from: "TestS3ProfileCredentialsValidation (partial keys with a profile)",
    url: "s3://bucket/prefix/?profile=dev&access-key=override-key",
    want: { s3: { bucket: "bucket", prefix: "prefix", profile: "dev" } },
  },
  {
    from: "TestS3ProfileCredentialsValidation",
    url: "s3://bucket/prefix/?profile=staging&access-key=explicit-access" +
      "&secret-access-key=explicit-secret",
    want: {
      s3: {
        bucket: "bucket",
        prefix: "prefix",
        profile: "staging",
        accessKey: "explicit-access",
        secretAccessKey: "explicit-secret",
      },
    },
  },
  // TestS3NoProfileCredentialsValidation
  {
    from: "TestS3NoProfileCredentialsValidation",
    url: "s3://bucket/prefix/",
    flags: { "s3.access-key": "only-access-key" },
    want: /secret_access_key not found/,
  },
  {
    from: "TestS3NoProfileCredentialsValidation",
    url: "s3://bucket/prefix/",
    flags: { "s3.access-key": "test-access", "s3.secret-access-key": "test-secret" },
    want: {
      s3: {
        bucket: "bucket",
        prefix: "prefix",
        accessKey: "test-access",
        secretAccessKey: "test-secret",
      },
    },
  },
  {
    from: "TestS3NoProfileCredentialsValidation",
    url: "s3://bucket/prefix/",
    flags: { "s3.region": "us-east-1" },
    want: { s3: { bucket: "bucket", prefix: "prefix", region: "us-east-1" } },
  },
  // TestParseBackend: values passed through unchecked, flags under URL options.
  {
    from: "TestParseBackend",
    url: "s3://bucket3/prefix/path?endpoint=https://127.0.0.1:9000&force_path_style=0" +
      "&sse-kms-key-id=TestKey&xyz=abc",
    flags: { "s3.storage-class": "test" },
    want: {
      s3: {
        bucket: "bucket3",
        prefix: "prefix/path",
        endpoint: "https://127.0.0.1:9000",
        storageClass: "test",
        sseKmsKeyId: "TestKey",
      },
    },
    warns: [/ignoring unknown s3 option 'xyz'/],
  },
  {
    from: "TestParseBackend",
    url: "gcs://bucket?endpoint=http://127.0.0.1&predefined-acl=1234",
    flags: { "gcs.storage-class": "test" },
    want: {
      gcs: {
        bucket: "bucket",
        endpoint: "http://127.0.0.1",
        storageClass: "test",
        predefinedAcl: "1234",
      },
    },
  },
  {
    from: "TestParseBackend",
    url: AZ_URL,
    flags: { "azblob.access-tier": "test" },
    want: {
      azure: {
        bucket: "bucket1",
        prefix: "prefix/path",
        endpoint: "http://127.0.0.1/user",
        storageClass: "test",
        accountName: "user",
        sharedKey: "cGFzc3dk",
        encryptionScope: "test",
      },
    },
  },
  {
    from: "TestParseBackend",
    url: "s3://bucket3/prefix/path?endpoint=https://127.0.0.1:9000&sse-kms-key-id=TestKey" +
      "&xyz=abc",
    want: {
      s3: {
        bucket: "bucket3",
        prefix: "prefix/path",
        endpoint: "https://127.0.0.1:9000",
        sseKmsKeyId: "TestKey",
      },
    },
    warns: [/'xyz'/],
  },
  {
    from: "TestParseBackend",
    url: "gcs://bucket?endpoint=http://127.0.0.1&predefined-acl=1234",
    want: { gcs: { bucket: "bucket", endpoint: "http://127.0.0.1", predefinedAcl: "1234" } },
  },
  // TestS3DefaultForceStylePath
  {
    from: "TestS3DefaultForceStylePath",
    url: "s3://bucket3/prefix/path",
    want: { s3: { bucket: "bucket3", prefix: "prefix/path", forcePathStyle: false } },
  },
  {
    from: "TestS3DefaultForceStylePath",
    url: "s3://bucket3/prefix/path?force-path-style=false",
    want: { s3: { bucket: "bucket3", prefix: "prefix/path", forcePathStyle: false } },
  },
  {
    from: "TestS3DefaultForceStylePath",
    url: "s3://bucket3/prefix/path?force-path-style=true",
    want: { s3: { bucket: "bucket3", prefix: "prefix/path", forcePathStyle: true } },
  },
];

function expected(want: Record<string, unknown>): Record<string, unknown> {
  if ("s3" in want) return { s3: { ...S3_EMPTY, ...(want.s3 as object) } };
  if ("gcs" in want) return { gcs: { ...GCS_EMPTY, ...(want.gcs as object) } };
  return want;
}

describe("BR's parse_test.go cases (pingcap/tidb br/pkg/storage/parse_test.go)", () => {
  for (const c of CASES) {
    test(`${c.from}: ${c.url}`, async () => {
      const warnings: string[] = [];
      if (c.want instanceof RegExp) {
        const re = c.want;
        await assert.rejects(brBackend(c.url, c.flags, warnings), (e: unknown) => {
          assert.ok(isStorageError(e, "ConfigInvalid"), String(e));
          assert.match(e.message, re);
          return true;
        });
        return;
      }
      assert.deepEqual(await brBackend(c.url, c.flags, warnings), expected(c.want));
      assert.equal(warnings.length, c.warns?.length ?? 0, warnings.join("\n"));
      c.warns?.forEach((re, i) => assert.match(warnings[i]!, re));
    });
  }

  test("TestCreateStorage: an unknown scheme is not supported (net:storage)", async () => {
    await assert.rejects(
      openStorage("net:storage"),
      (e: unknown) =>
        isStorageError(e, "ConfigInvalid") && /unknown storage scheme 'net'/.test(e.message),
    );
  });
});

describe("BR's TestFormatBackendURL", () => {
  const cases: [Parameters<typeof targetUri>[0], string][] = [
    [{ scheme: "local", bucket: "", prefix: "/tmp/file", options: {} }, "local:///tmp/file"],
    [{ scheme: "noop", bucket: "", prefix: "", options: {} }, "noop:///"],
    [
      { scheme: "s3", bucket: "bucket", prefix: "/some prefix/", options: {} },
      "s3://bucket/some%20prefix/",
    ],
    [
      { scheme: "gcs", bucket: "bucket", prefix: "/some prefix/", options: {} },
      "gcs://bucket/some%20prefix/",
    ],
    [
      { scheme: "azure", bucket: "bucket", prefix: "/some prefix/", options: {} },
      "azure://bucket/some%20prefix/",
    ],
  ];
  for (const [target, want] of cases) {
    test(`${target.scheme} formats as ${want}`, () => assert.equal(targetUri(target), want));
  }
  test("a parsed location formats with its prefix percent-encoded, gs as gcs", () => {
    assert.equal(targetUri(parseLocation("s3://b/some%20prefix/x")), "s3://b/some%20prefix/x");
    assert.equal(targetUri(parseLocation("gs://b/p")), "gcs://b/p");
    assert.equal(targetUri(parseLocation("azblob://c/p")), "azure://c/p");
    assert.equal(targetUri(parseLocation("noop://")), "noop:///");
  });
});
