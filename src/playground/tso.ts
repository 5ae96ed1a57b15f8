/**
 * PD's timestamp oracle: `ts = physical_ms << 18 | logical`, strictly increasing across every
 * call, handed out in batches. Physical time comes from an injectable clock so tests control
 * TTL expiry and GC without sleeping; when the clock stalls or steps back, the oracle keeps
 * counting logically and borrows the next millisecond when 2^18 logical values are used up.
 * @module
 */

import { composeTs, logicalOf, MAX_LOGICAL, physicalOf } from "../codec/tso.ts";

export { composeTs, LOGICAL_BITS, logicalOf, physicalOf } from "../codec/tso.ts";

/** ms since the Unix epoch. */
export type Clock = () => number;

/** A TSO as PD's TsoResponse carries it: the batch's largest logical value. */
export interface Timestamp {
  physical: number;
  logical: number;
}

/** The timestamp oracle. */
export class Tso {
  #physical = 0;
  #logical = 0;

  /** Uses `clock` for physical time (Date.now by default). */
  constructor(readonly clock: Clock = Date.now) {}

  /**
   * Reserves `count` consecutive timestamps and returns the largest, like PD's Tso stream: the
   * batch is `[ts - count + 1, ts]`, all above anything handed out before.
   */
  allocate(count = 1): Timestamp {
    if (!Number.isInteger(count) || count < 1 || count >= MAX_LOGICAL) {
      throw new RangeError(`TSO batch size ${count} must be between 1 and ${MAX_LOGICAL - 1}`);
    }
    const now = Math.floor(this.clock());
    if (now > this.#physical) {
      this.#physical = now;
      this.#logical = 0;
    }
    if (this.#logical + count >= MAX_LOGICAL) {
      this.#physical += 1;
      this.#logical = 0;
    }
    this.#logical += count;
    return { physical: this.#physical, logical: this.#logical };
  }

  /** One new timestamp. */
  next(): bigint {
    const t = this.allocate(1);
    return composeTs(t.physical, t.logical);
  }

  /** The last timestamp handed out (0 before the first). */
  last(): bigint {
    return composeTs(this.#physical, this.#logical);
  }

  /** Moves the oracle past `ts` (after a restart from saved state). */
  advancePast(ts: bigint): void {
    if (ts > this.last()) {
      this.#physical = physicalOf(ts);
      this.#logical = logicalOf(ts);
    }
  }
}
