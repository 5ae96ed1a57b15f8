/**
 * MySQL error packets the playground's TiDB answers with: code, SQLSTATE and TiDB's message.
 * @module
 */

/** A statement failed with a MySQL error the client sees as an error packet. */
export class SqlError extends Error {
  /** `code` is the MySQL error number, `state` the SQLSTATE. */
  constructor(readonly code: number, readonly state: string, message: string) {
    super(message);
    this.name = "SqlError";
  }
}

/** 1235: a statement or clause the playground does not implement (TiDB's ErrNotSupportedYet). */
export function notSupported(what: string): SqlError {
  return new SqlError(1235, "42000", `This version of TiDB doesn't yet support '${what}'`);
}

/** 1064: a syntax error at `near` (TiDB's parser message). */
export function syntaxError(line: number, column: number, near: string): SqlError {
  return new SqlError(
    1064,
    "42000",
    `You have an error in your SQL syntax; check the manual that corresponds to your TiDB ` +
      `version for the right syntax to use line ${line} column ${column} near "${near}" `,
  );
}

/** 1049: unknown database. */
export function unknownDatabase(name: string): SqlError {
  return new SqlError(1049, "42000", `Unknown database '${name}'`);
}

/** 1146: the table does not exist. */
export function noSuchTable(db: string, table: string): SqlError {
  return new SqlError(1146, "42S02", `Table '${db}.${table}' doesn't exist`);
}

/** 1046: no database selected. */
export function noDatabaseSelected(): SqlError {
  return new SqlError(1046, "3D000", "No database selected");
}
