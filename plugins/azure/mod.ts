/**
 * The `azure://` (and `azblob://`) storage plugin: Azure Blob Storage.
 *
 * ```text
 * azure://container/prefix?account-name=acct&account-key=...
 * ```
 *
 * Options are BR's (`--azblob.*` flags or URL query): endpoint, account-name, account-key,
 * sas-token, access-tier, encryption-scope, encryption-key. Credentials fall back to
 * AZURE_STORAGE_ACCOUNT/AZURE_STORAGE_KEY; Azure AD is not supported yet. Opening lists one
 * key of the container, so a missing container or bad credentials fail at once. Conditional
 * writes use `If-None-Match: *` and `If-Match`; versions are ETags.
 * @module
 */
import { definePlugin } from "../../src/storage/plugin.ts";
import { AZURE_PLUGIN_OPTIONS, parseAzureConfig } from "./_config.ts";
import { AzureStorage } from "./storage.ts";

export { AzureStorage } from "./storage.ts";

/** The azure plugin. */
export default definePlugin({
  name: "azure",
  schemes: ["azure", "azblob"],
  options: AZURE_PLUGIN_OPTIONS,
  async open(target, ctx) {
    const storage = new AzureStorage(parseAzureConfig(target, ctx.env), target.scheme);
    try {
      await storage.connect(ctx.signal);
    } catch (err) {
      await storage.close();
      throw err;
    }
    return storage;
  },
});
