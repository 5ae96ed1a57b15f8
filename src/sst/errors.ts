/**
 * The one error type of the SST reader and writer.
 * @module
 */

/** What went wrong, as a closed set. */
export type SstErrorCode =
  /** The bytes are not a valid table: bad magic, checksum mismatch, malformed block. */
  | "Corruption"
  /** The file ends before a structure it declares (footer, block, entry). */
  | "Truncated"
  /** A valid table using a feature tibr does not read (plain table, bzip2, partitioned index). */
  | "Unsupported"
  /** The caller broke a precondition (keys out of order, bad option). */
  | "InvalidArgument";

/**
 * An SST problem. The message names the file and, for format problems, the byte offset, and
 * says what to do; `cause` keeps an underlying library error.
 */
export class SstError extends Error {
  override readonly name = "SstError";
  /** Kind of failure. */
  readonly code: SstErrorCode;
  /** File (or object) name, when known. */
  readonly file: string | undefined;
  /** Byte offset in the file where the problem was found, when it has one. */
  readonly offset: number | undefined;

  constructor(
    code: SstErrorCode,
    message: string,
    opts: { file?: string; offset?: number; cause?: unknown } = {},
  ) {
    const where = opts.file === undefined
      ? ""
      : `${opts.file}${opts.offset === undefined ? "" : ` at offset ${opts.offset}`}: `;
    super(where + message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.file = opts.file;
    this.offset = opts.offset;
  }
}
