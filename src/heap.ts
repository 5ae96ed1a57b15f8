/**
 * Keeps a long run's heap near what it holds, on runtimes that let a program ask for a full
 * collection (Bun).
 *
 * JavaScriptCore collects new objects often, but objects that lived through one of those
 * collections (every request in flight at the time, for one) wait for a full collection, and on
 * a long import or backup it ran too seldom: restoring 6,000 small tables, the heap held 44 MiB
 * after each full collection all through the import while it grew to 245 MiB between them (RSS
 * 410 MiB), and the gap grew with the run's length (680 MiB RSS at 30,000 tables). So a timer
 * asks for a full collection once the heap, with the ArrayBuffers outside it (metafiles read
 * and dropped), has grown `slackBytes` past what the last one left (a heap past
 * `BIG_HEAP_BYTES`: a quarter of what it left). A full collection of a 150 MiB heap takes about 150 ms, at most one every
 * `intervalMs`. V8 (Deno) paces its old generation itself; there the keeper does nothing.
 * @module
 */
import process from "node:process";
import { runtimeFullGc } from "./runtime.ts";

/**
 * Growth of the heap past the last full collection's size that asks for the next one. What is
 * not live between collections is RSS all the same, and JavaScriptCore does not compact: at
 * 100,000 tables a restore holds about 160 MiB live, and 64 MiB of slack put it over its 512 MiB
 * target.
 */
export const HEAP_SLACK_BYTES = 32 * 1024 * 1024;
/**
 * Past this size the heap grows by a quarter of what the last collection left before the next
 * one (a playground holding GiBs is not marked again for every `HEAP_SLACK_BYTES`).
 */
export const BIG_HEAP_BYTES = 512 * 1024 * 1024;
/** How often the heap size is looked at. */
export const HEAP_CHECK_MS = 1000;

/** What `HeapKeeper` needs from the runtime; injectable for tests. */
export interface HeapKeeperOptions {
  slackBytes?: number;
  /** A synchronous full collection (default: the runtime's, if any). */
  fullGc?: (() => void) | undefined;
  /**
   * The heap's size in bytes now (default: `process.memoryUsage()`'s `heapUsed` plus `external`:
   * a metafile read is a 16-128 MiB ArrayBuffer outside the heap that only a collection frees).
   */
  heapUsed?: () => number;
}

function heapAndExternal(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Asks for a full collection when the heap has grown past the last one's size by the slack. */
export class HeapKeeper {
  readonly #gc: () => void;
  readonly #used: () => number;
  readonly #slack: number;
  #base: number;
  /** Full collections asked for. */
  collections = 0;
  /** Milliseconds they took. */
  ms = 0;

  constructor(gc: () => void, opts: HeapKeeperOptions = {}) {
    this.#gc = gc;
    this.#used = opts.heapUsed ?? heapAndExternal;
    this.#slack = opts.slackBytes ?? HEAP_SLACK_BYTES;
    this.#base = this.#used();
  }

  /** One look: collects if the heap grew past the slack; returns whether it did. */
  check(): boolean {
    const slack = this.#base > BIG_HEAP_BYTES ? this.#base / 4 : this.#slack;
    if (this.#used() - this.#base < slack) return false;
    const t0 = performance.now();
    this.#gc();
    this.ms += performance.now() - t0;
    this.collections++;
    this.#base = this.#used();
    return true;
  }
}

/** The keeper `keepHeapTight` started, for `heapCheck`. */
let active: { keeper: HeapKeeper; everyMs: number; lastMs: number } | undefined;

/**
 * A look by the running keeper, at most once an interval, for loops that never give a timer a
 * turn (decoding 100k schemas from bytes already read runs as one chain of microtasks, so the
 * keeper's timer waits until it ends). Costs a clock read otherwise; a no-op with no keeper.
 * `now`: look whatever the interval, where a big buffer just turned to garbage (a metafile read:
 * a pass over 100k schemas reads hundreds of MiB of them in a few seconds).
 */
export function heapCheck(now = false): void {
  if (!active) return;
  const t = performance.now();
  if (!now && t - active.lastMs < active.everyMs) return;
  active.lastMs = t;
  active.keeper.check();
}

/**
 * Starts a keeper for the rest of the process (its timer does not keep the process alive);
 * returns its stopper, which returns the keeper (undefined where the runtime has no full
 * collection to ask for, and nothing was started).
 */
export function keepHeapTight(
  opts: HeapKeeperOptions & { intervalMs?: number } = {},
): () => HeapKeeper | undefined {
  const gc = "fullGc" in opts ? opts.fullGc : runtimeFullGc();
  if (!gc) return () => undefined;
  const keeper = new HeapKeeper(gc, opts);
  const me = { keeper, everyMs: opts.intervalMs ?? HEAP_CHECK_MS, lastMs: performance.now() };
  active = me;
  const timer = setInterval(() => {
    me.lastMs = performance.now();
    keeper.check();
  }, me.everyMs);
  (timer as { unref?: () => void }).unref?.();
  return () => {
    clearInterval(timer);
    if (active === me) active = undefined;
    return keeper;
  };
}
