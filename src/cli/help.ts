/**
 * Help layout: `-u/--pd`, `-s/--storage` and the command's own flags first, the flags every
 * backup command shares after them, and the storage groups (`--s3.*`, `--gcs.*`, `--azblob.*`,
 * `--storage-plugin`) last under their own heading.
 * @module
 */
import type { Command, Option } from "commander";

/** The heading of the storage option groups in help. */
export const STORAGE_HELP_GROUP = "Storage options (--s3.*, --gcs.*, --azblob.*, plugins):";

/** The flags help lists first, in this order (BR's `-u/--pd`, then `-s/--storage`). */
const PRIMARY = ["--pd", "--storage"];

/**
 * Orders `cmd`'s options for help: primary flags, then its own, then `shared` (long names of
 * the flags its command family has in common), then the storage group. Parsing does not depend
 * on the order.
 */
export function orderHelp(cmd: Command, shared: ReadonlySet<string> = new Set()): Command {
  const rank = (o: { long?: string | undefined; helpGroupHeading?: string | undefined }) => {
    const primary = PRIMARY.indexOf(o.long ?? "");
    if (primary >= 0) return primary;
    if (o.helpGroupHeading === STORAGE_HELP_GROUP) return PRIMARY.length + 2;
    return shared.has(o.long ?? "") ? PRIMARY.length + 1 : PRIMARY.length;
  };
  const sorted = cmd.options.map((o, i) => ({ o, i })).sort((a, b) =>
    rank(a.o) - rank(b.o) || a.i - b.i
  ).map((x) => x.o);
  (cmd.options as Option[]).splice(0, cmd.options.length, ...sorted);
  return cmd;
}
