/**
 * The `gcs://` (and `gs://`) storage plugin: Google Cloud Storage.
 *
 * ```text
 * gcs://bucket/prefix?credentials-file=/path/key.json
 * ```
 *
 * Options are BR's (`--gcs.*` flags or URL query): endpoint, storage-class, predefined-acl,
 * credentials-file. Credentials fall back to GOOGLE_APPLICATION_CREDENTIALS, then Google's
 * application-default lookup. Opening lists one key of the bucket, so a missing bucket or bad
 * credentials fail at once. Conditional writes use generation preconditions
 * (`ifGenerationMatch`, 0 = create only); versions are generations.
 *
 * Tested against `tests/gcs_server/`, a fake of the JSON API (no offline emulator honours
 * generation preconditions), not against Google itself.
 * @module
 */
import { definePlugin } from "../../src/storage/plugin.ts";
import { GCS_PLUGIN_OPTIONS, parseGcsConfig } from "./_config.ts";
import { GcsStorage } from "./storage.ts";

export { GcsStorage } from "./storage.ts";

/** The gcs plugin. */
export default definePlugin({
  name: "gcs",
  schemes: ["gcs", "gs"],
  options: GCS_PLUGIN_OPTIONS,
  async open(target, ctx) {
    const cfg = await parseGcsConfig(target, ctx.env);
    const storage = new GcsStorage(cfg, target.scheme);
    try {
      await storage.connect(ctx.signal);
    } catch (err) {
      await storage.close();
      throw err;
    }
    return storage;
  },
});
