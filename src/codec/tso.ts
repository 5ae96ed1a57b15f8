/**
 * The TSO layout, defined once: PD's timestamps are `physical_ms << 18 | logical`
 * (tikv/pd pkg/utils/tsoutil: `physicalShiftBits = 18`).
 * @module
 */

/** Bits of the logical part. */
export const LOGICAL_BITS = 18n;
/** Logical values per physical millisecond. */
export const MAX_LOGICAL = 1 << 18;

/** Composes a TSO from PD physical time (ms since the Unix epoch) and a logical counter. */
export function composeTs(physicalMs: bigint | number, logical: bigint | number = 0): bigint {
  return (BigInt(physicalMs) << LOGICAL_BITS) | BigInt(logical);
}

/** The physical part of a TSO: PD time, ms since the Unix epoch. */
export function physicalOf(ts: bigint): number {
  return Number(ts >> LOGICAL_BITS);
}

/** The logical part of a TSO. */
export function logicalOf(ts: bigint): number {
  return Number(ts & ((1n << LOGICAL_BITS) - 1n));
}
