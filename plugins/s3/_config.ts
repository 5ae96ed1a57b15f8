/**
 * Reads BR's S3 options (URL query and `--s3.*` flags, canonical dash names) and the AWS_*
 * environment into one validated config. No SDK here, so it is cheap to unit-test.
 * @module
 */
import type { StorageTarget } from "../../src/storage/plugin.ts";
import { S3_OPTION_SPEC } from "./options.ts";
import { invalid, nonEmpty, parseBool, parseEndpoint } from "../_cloud/_config.ts";

/** Every option the plugin accepts (owned by its SDK-free options.ts). */
export const S3_PLUGIN_OPTIONS: string[] = [...S3_OPTION_SPEC.options];

/** Where the credentials come from, in BR's order of precedence. */
export type S3Credentials =
  | { kind: "static"; accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | {
    kind: "profile";
    profile: string;
    /** AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE, when set. */
    credentialsFile?: string;
    configFile?: string;
  }
  /** The SDK's default chain: env, shared files, SSO, web identity, ECS, EC2 metadata. */
  | { kind: "chain" };

/** A validated S3 location. */
export interface S3Config {
  bucket: string;
  /** No leading or trailing `/`; "" for the bucket root. */
  prefix: string;
  /** `http(s)://host[:port]` without a trailing `/`; undefined for AWS itself. */
  endpoint?: string;
  /** The `region` option as given, "" when unset: BR leaves it empty in the backend it sends. */
  region: string;
  /** The region the SDK signs with: `region`, AWS_REGION, AWS_DEFAULT_REGION or `us-east-1`. */
  sdkRegion: string;
  forcePathStyle: boolean;
  useAccelerateEndpoint: boolean;
  storageClass?: string;
  sse?: string;
  sseKmsKeyId?: string;
  acl?: string;
  provider?: string;
  profile?: string;
  roleArn?: string;
  externalId?: string;
  objectLockEnabled: boolean;
  credentials: S3Credentials;
}

/**
 * Builds the config from a target and the environment. Credentials: `access-key` +
 * `secret-access-key` (+ `session-token`) options, else AWS_ACCESS_KEY_ID +
 * AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the `profile` option or AWS_PROFILE, else
 * the SDK's default chain. Region: option, AWS_REGION, AWS_DEFAULT_REGION, then `us-east-1`
 * as BR. `force-path-style` defaults to false as in BR's `ParseBackend`; `openStorage` passes
 * the value BR's command line settles on (`s3ForcePathStyle` in src/storage/url.ts: virtual-hosted
 * style forced for alibaba, netease, tencent, accelerate endpoints and, unless the URL names the
 * option, AWS). Like BR's `S3BackendOptions.Apply`,
 * values of `sse`, `acl`, `storage-class`, ... are passed through unchecked; only the endpoint
 * and the key pair (without a profile) are checked.
 */
export function parseS3Config(
  target: StorageTarget,
  env: Record<string, string | undefined>,
): S3Config {
  const o = target.options;
  if (target.bucket === "") {
    throw invalid("missing bucket in the s3 URL; write s3://<bucket>/<prefix>");
  }
  const endpointRaw = nonEmpty(o["endpoint"]);
  const endpoint = endpointRaw === undefined ? undefined : parseEndpoint(endpointRaw, "s3");
  const region = nonEmpty(o["region"]) ?? "";
  const sdkRegion = nonEmpty(region) ?? nonEmpty(env["AWS_REGION"]) ??
    nonEmpty(env["AWS_DEFAULT_REGION"]) ?? "us-east-1";
  const sse = nonEmpty(o["sse"]);
  const sseKmsKeyId = nonEmpty(o["sse-kms-key-id"]);
  const acl = nonEmpty(o["acl"]);

  const accessKey = nonEmpty(o["access-key"]);
  const secretKey = nonEmpty(o["secret-access-key"]);
  const profile = nonEmpty(o["profile"]);
  // BR's Apply: without a profile, the keys come as a pair (messages as BR's).
  if (profile === undefined && (accessKey === undefined) !== (secretKey === undefined)) {
    throw invalid(
      `s3 ${accessKey === undefined ? "access_key" : "secret_access_key"} not found; ` +
        "give access-key and secret-access-key together",
    );
  }
  let credentials: S3Credentials;
  if (accessKey !== undefined && secretKey !== undefined) {
    credentials = { kind: "static", accessKeyId: accessKey, secretAccessKey: secretKey };
    const token = nonEmpty(o["session-token"]);
    if (token !== undefined) credentials.sessionToken = token;
  } else if (profile !== undefined) {
    credentials = { kind: "profile", profile };
  } else if (nonEmpty(env["AWS_ACCESS_KEY_ID"]) && nonEmpty(env["AWS_SECRET_ACCESS_KEY"])) {
    credentials = {
      kind: "static",
      accessKeyId: env["AWS_ACCESS_KEY_ID"]!,
      secretAccessKey: env["AWS_SECRET_ACCESS_KEY"]!,
    };
    const token = nonEmpty(env["AWS_SESSION_TOKEN"]);
    if (token !== undefined) credentials.sessionToken = token;
  } else if (nonEmpty(env["AWS_PROFILE"])) {
    credentials = { kind: "profile", profile: env["AWS_PROFILE"]! };
  } else {
    credentials = { kind: "chain" };
  }

  if (credentials.kind === "profile") {
    const cf = nonEmpty(env["AWS_SHARED_CREDENTIALS_FILE"]);
    const conf = nonEmpty(env["AWS_CONFIG_FILE"]);
    if (cf !== undefined) credentials.credentialsFile = cf;
    if (conf !== undefined) credentials.configFile = conf;
  }

  const roleArn = nonEmpty(o["role-arn"]);
  const externalId = nonEmpty(o["external-id"]);

  const cfg: S3Config = {
    bucket: target.bucket,
    prefix: target.prefix.replace(/^\/+|\/+$/g, ""),
    region,
    sdkRegion,
    forcePathStyle: parseBool("s3", "force-path-style", o["force-path-style"], false),
    useAccelerateEndpoint: parseBool(
      "s3",
      "use-accelerate-endpoint",
      o["use-accelerate-endpoint"],
      false,
    ),
    objectLockEnabled: parseBool("s3", "object-lock-enabled", o["object-lock-enabled"], false),
    credentials,
  };
  if (endpoint !== undefined) cfg.endpoint = endpoint;
  const put = <K extends keyof S3Config>(k: K, v: S3Config[K] | undefined) => {
    if (v !== undefined) cfg[k] = v;
  };
  put("storageClass", nonEmpty(o["storage-class"]));
  put("sse", sse);
  put("sseKmsKeyId", sseKmsKeyId);
  put("acl", acl);
  put("provider", nonEmpty(o["provider"]));
  put("profile", profile ?? (credentials.kind === "profile" ? credentials.profile : undefined));
  put("roleArn", roleArn);
  put("externalId", externalId);
  return cfg;
}
