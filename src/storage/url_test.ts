import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isStorageError } from "./errors.ts";
import { boolOption, parseLocation, redactUri, targetUri } from "./url.ts";

function configInvalid(location: string, pattern: RegExp) {
  assert.throws(() => parseLocation(location), (err: unknown) => {
    assert.ok(isStorageError(err, "ConfigInvalid"), String(err));
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  });
}

describe("parseLocation", () => {
  test("a bare path is local and made absolute", () => {
    assert.deepEqual(parseLocation("backup/x/", { cwd: "/data" }), {
      scheme: "local",
      bucket: "",
      prefix: "/data/backup/x",
      options: {},
    });
    assert.equal(parseLocation("/abs/dir").prefix, "/abs/dir");
  });

  test("local:// and file:// take an absolute path after three slashes", () => {
    assert.equal(parseLocation("local:///tmp/bk").prefix, "/tmp/bk");
    assert.equal(parseLocation("file:///tmp/bk/").prefix, "/tmp/bk");
    assert.equal(parseLocation("file://localhost/tmp/bk").prefix, "/tmp/bk");
    assert.equal(parseLocation("local:///tmp/with%20space").prefix, "/tmp/with space");
    configInvalid("local://relative/dir", /three slashes/);
    configInvalid("local://", /no directory/);
  });

  test("s3 URLs give bucket, prefix and BR's query options", () => {
    const t = parseLocation(
      "s3://bkt/some/prefix/?endpoint=http://127.0.0.1:7480&force_path_style=false&Access-Key=AK",
    );
    assert.equal(t.scheme, "s3");
    assert.equal(t.bucket, "bkt");
    assert.equal(t.prefix, "some/prefix");
    assert.deepEqual(t.options, {
      endpoint: "http://127.0.0.1:7480",
      "force-path-style": "false",
      "access-key": "AK",
    });
  });

  test("a '+' in a secret stays a '+', and %2B decodes to '+'", () => {
    const t = parseLocation("s3://b/p?secret-access-key=ab+cd/ef%2Bg==&session_token=x+y");
    assert.equal(t.options["secret-access-key"], "ab+cd/ef+g==");
    assert.equal(t.options["session-token"], "x+y");
  });

  test("URL options win over flags of the scheme's group (as BR); other groups are ignored", () => {
    const t = parseLocation("s3://b/p?region=us-east-1&endpoint=http://a", {
      flags: {
        "s3.region": "eu-west-1",
        "s3.storage-class": "",
        "gcs.endpoint": "http://gcs",
        "s3.force-path-style": true,
      },
    });
    assert.deepEqual(t.options, {
      region: "us-east-1",
      endpoint: "http://a",
      "force-path-style": "true",
    });
    const g = parseLocation("gs://b/p", { flags: { "gcs.endpoint": "http://gcs" } });
    assert.equal(g.options.endpoint, "http://gcs");
    const a = parseLocation("azure://c/p", { flags: { "azblob.account-name": "acct" } });
    assert.equal(a.options["account-name"], "acct");
  });

  test("gs, gcs, azure and azblob need a bucket", () => {
    for (const scheme of ["s3", "gs", "gcs", "azure", "azblob"]) {
      configInvalid(`${scheme}:///prefix`, new RegExp(`missing bucket.*${scheme}://<bucket>`));
    }
    assert.equal(parseLocation("gcs://b").prefix, "");
    assert.equal(parseLocation("azblob://container/a/b").bucket, "container");
  });

  test("malformed URLs say how to write them", () => {
    configInvalid("", /empty storage location/);
    configInvalid(
      "s3:bucket/prefix",
      /malformed storage URL 's3:bucket\/prefix'; write it as s3:\/\//,
    );
    configInvalid("s3:/bucket", /malformed/);
    configInvalid("s3://b/p?x=%zz", /percent-encoding/);
    configInvalid("s3://b/../up", /'\.\.' segment/);
    // A local URL is refused the same way, also when the dots are percent-encoded.
    configInvalid("local:///tmp/bk/../etc", /'\.\.' segment/);
    configInvalid("local:///tmp/bk/%2e%2e/etc", /'\.\.' segment/);
    configInvalid("file:///tmp/%2E%2E", /'\.\.' segment/);
    configInvalid("path/with?query", /options need a URL/);
  });

  test("credentials in the user part are refused without echoing them", () => {
    assert.throws(() => parseLocation("s3://AKID:SECRETXYZ@bucket/p"), (err: Error) => {
      assert.match(err.message, /user part/);
      assert.doesNotMatch(err.message, /SECRETXYZ/);
      return true;
    });
  });

  test("unknown schemes parse, for custom plugins", () => {
    const t = parseLocation("myfs://host/a/b?opt=1", { flags: { "myfs.level": "3" } });
    assert.deepEqual(t, {
      scheme: "myfs",
      bucket: "host",
      prefix: "a/b",
      options: { opt: "1", level: "3" },
    });
  });
});

describe("redactUri and targetUri", () => {
  test("secrets are masked and the rest kept", () => {
    assert.equal(
      redactUri("s3://b/p?access-key=AK&secret_access_key=S+1&region=r&session-token=T"),
      "s3://b/p?access-key=redacted&secret_access_key=redacted&region=r&session-token=redacted",
    );
    assert.equal(
      redactUri("azure://c/p?account-name=n&account-key=K%2B%3D&sas-token=sv%3D1"),
      "azure://c/p?account-name=n&account-key=redacted&sas-token=redacted",
    );
    assert.equal(redactUri("s3://user:pw@b/p"), "s3://b/p");
    assert.equal(redactUri("/plain/path"), "/plain/path");
  });

  test("targetUri is BR's FormatBackendURL: no options", () => {
    assert.equal(targetUri(parseLocation("s3://b/p?secret-access-key=x")), "s3://b/p");
    assert.equal(targetUri(parseLocation("/x/y")), "local:///x/y");
    assert.equal(targetUri(parseLocation("gcs://b")), "gcs://b");
  });
});

describe("boolOption", () => {
  test("reads Go's ParseBool spellings; parseLocation drops and reports what BR ignores", () => {
    const warned: string[] = [];
    const t = parseLocation(
      "s3://b/p?force-path-style=F&object-lock-enabled&use-accelerate-endpoint=1",
      { warn: (m) => warned.push(m) },
    );
    assert.equal(boolOption(t, "force-path-style", true), false);
    assert.equal(boolOption(t, "object-lock-enabled", false), false);
    assert.equal(boolOption(t, "use-accelerate-endpoint", false), true);
    assert.equal(boolOption(t, "missing", true), true);
    assert.equal(warned.length, 1);
    assert.match(warned[0]!, /ignoring s3 option 'object-lock-enabled'.*"" is not a boolean/);
    const bad = parseLocation("s3://b/p?force-path-style=yes", { warn: (m) => warned.push(m) });
    assert.equal(bad.options["force-path-style"], undefined);
    assert.equal(boolOption(bad, "force-path-style", true), true);
  });
});
