/**
 * Helpers shared by the cloud plugin tests (s3, gcs, azure).
 * @module
 */
import assert from "node:assert/strict";
import { isStorageError, type StorageError } from "../../src/storage/errors.ts";
import { openStorage } from "../../src/storage/registry.ts";
import type { ExternalStorage, StorageBackendInit } from "../../src/storage/types.ts";

/** Deletes every object of a storage (conformance cleanup). */
export async function empty(s: ExternalStorage): Promise<void> {
  const names: string[] = [];
  await s.walkDir({}, (n) => {
    names.push(n);
  });
  await s.deleteFiles(names);
}

/** The StorageError that opening `location` fails with; fails the test if it opens. */
export async function openError(location: string, env = {}): Promise<StorageError> {
  try {
    const s = await openStorage(location, { env });
    await s.close();
  } catch (err) {
    assert.ok(isStorageError(err), `not a StorageError: ${String(err)}`);
    return err;
  }
  assert.fail(`opening ${location} succeeded`);
}

/** The value of a StorageBackend of the expected case. */
export function backendValue(init: StorageBackendInit, kase: string): Record<string, unknown> {
  const b = init.backend;
  assert.equal(b?.case, kase);
  return b?.value as Record<string, unknown>;
}

/** The error is one line and no secret appears in its message, cause, JSON or stack. */
export function assertOneLine(err: Error, ...secrets: string[]): void {
  assert.equal(err.message.includes("\n"), false, `one line: ${err.message}`);
  const texts = [err.message, String(err.cause), JSON.stringify(err), err.stack ?? ""];
  for (const secret of secrets) {
    for (const t of texts) assert.equal(t.includes(secret), false, `secret leaked into: ${t}`);
  }
}
