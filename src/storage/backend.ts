/**
 * Turns a storage's `storageBackend()` into the `backup.StorageBackend` message that a TiKV
 * store is sent, refusing storages that stores cannot reach.
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { type StorageBackend, StorageBackendSchema } from "../gen/brpb_pb.ts";
import { StorageError } from "./errors.ts";
import type { ExternalStorage } from "./types.ts";

/**
 * The `backup.StorageBackend` message for `storage`. With `sendCredentials` false no secret is
 * included (BR's `--send-credentials-to-tikv=false`). Throws `Unsupported` with a one-line
 * reason when TiKV stores cannot write there (memory, custom plugins without a backend).
 */
export function toStorageBackend(
  storage: ExternalStorage,
  sendCredentials: boolean,
): StorageBackend {
  const init = storage.storageBackend(sendCredentials);
  let msg: StorageBackend;
  try {
    msg = create(StorageBackendSchema, init);
  } catch (cause) {
    throw new StorageError(
      `the plugin of ${storage.uri()} returned an invalid StorageBackend; fix its ` +
        "storageBackend() (see docs/PLUGINS.md)",
      { code: "Unexpected", operation: "storageBackend", cause },
    );
  }
  if (msg.backend.case === undefined) {
    throw new StorageError(
      `TiKV stores cannot write to ${storage.uri()}; back up to local, s3, gcs or azure storage`,
      { code: "Unsupported", operation: "storageBackend" },
    );
  }
  return msg;
}
