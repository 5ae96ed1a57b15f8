/**
 * The one worker pool: at most `concurrency` tasks at once, stop on the first error.
 *
 * Every fan-out in tibr (backup ranges, fine-grained retries, table checksums, part uploads,
 * batched deletes, the playground's region workers) runs through `Pool`, so they share one
 * failure rule:
 *
 * - after the first task fails, or the caller's signal aborts, no task starts;
 * - the pool's own signal (handed to every task) aborts with that first error, so running tasks
 *   stop their requests;
 * - `forEach`/`drain` settle only once every started task has settled, so nothing the pool
 *   started is still running when the caller sees the error.
 *
 * p-map was the candidate library; it rejects at the first error while the other mappers keep
 * running detached (the leak this module exists to prevent) and cannot take tasks pushed one by
 * one with back-pressure, as a streaming upload needs.
 * @module
 */

/** Options of a `Pool`. */
export interface PoolOptions {
  /** Tasks running at once (at least 1). */
  concurrency: number;
  /** Stops the pool: no task starts after it aborts, and running tasks see the abort. */
  signal?: AbortSignal;
  /**
   * Called once, at the first failure, before the running tasks settle: where a run hands the
   * error to its `RunScope` (`onFail: (err) => scope.fail(err)`), so work outside the pool stops
   * too.
   */
  onFail?: (err: unknown) => void;
}

/** A task: gets the pool's signal, which aborts with the first error of any task. */
export type PoolTask<R> = (signal: AbortSignal) => Promise<R>;

/** A bounded set of running tasks with stop-on-first-error semantics. */
export class Pool {
  readonly #concurrency: number;
  readonly #ctl = new AbortController();
  readonly #parent: AbortSignal | undefined;
  readonly #onFail: ((err: unknown) => void) | undefined;
  /** Settled-or-not markers of running tasks; they never reject. */
  readonly #running = new Set<Promise<void>>();
  #failed = false;
  #error: unknown;
  readonly #onParentAbort = () => this.#fail(this.#parent!.reason);

  constructor(opts: PoolOptions) {
    this.#concurrency = Math.max(1, Math.floor(opts.concurrency));
    this.#parent = opts.signal;
    this.#onFail = opts.onFail;
    if (this.#parent?.aborted) this.#fail(this.#parent.reason);
    else this.#parent?.addEventListener("abort", this.#onParentAbort, { once: true });
  }

  /** Aborts with the first error of a task or the caller's abort reason. */
  get signal(): AbortSignal {
    return this.#ctl.signal;
  }

  /** Whether the pool has stopped (a task failed or it was aborted). */
  get failed(): boolean {
    return this.#failed;
  }

  /** Tasks started and not yet settled. */
  get running(): number {
    return this.#running.size;
  }

  /** Stops the pool with `reason` as if a task had failed with it. */
  abort(reason: unknown): void {
    this.#fail(reason);
  }

  /**
   * Waits for a free slot, then starts `task`; resolves once it has started. Its failure is
   * kept by the pool (see `drain`). Throws the first error instead of starting anything once
   * the pool has stopped.
   */
  async submit(task: PoolTask<unknown>): Promise<void> {
    // The check and the start happen in one turn: an await in between would let every waiter
    // woken by the same finished task take the one free slot.
    while (this.#running.size >= this.#concurrency && !this.#failed) {
      await Promise.race(this.#running);
    }
    if (this.#failed) throw this.#error;
    let result: Promise<unknown>;
    try {
      result = task(this.#ctl.signal);
    } catch (err) {
      result = Promise.reject(err);
    }
    const marker: Promise<void> = result.then(
      () => {},
      (err) => this.#fail(err),
    ).finally(() => this.#running.delete(marker));
    this.#running.add(marker);
  }

  /**
   * Resolves once a task could start at once, or the pool has stopped: lets a producer wait
   * before it prepares the next task's input (a part buffer, say).
   */
  async waitForSlot(): Promise<void> {
    while (this.#running.size >= this.#concurrency && !this.#failed) {
      await Promise.race(this.#running);
    }
  }

  /** Waits until every started task has settled, whatever their outcome. */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }

  /** Waits until every started task has settled; throws the first error, if any. */
  async drain(): Promise<void> {
    await this.settled();
    this.#release();
    if (this.#failed) throw this.#error;
  }

  /**
   * Runs `fn` over `items` in order of start, at most `concurrency` at once, and waits for all.
   * Throws the first error once the tasks already started have settled. An async iterable is
   * read one item ahead of the tasks: a producer is paced by the pool.
   */
  async forEach<T>(
    items: Iterable<T> | AsyncIterable<T>,
    fn: (item: T, index: number, signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    let i = 0;
    try {
      for await (const item of items) {
        const index = i++;
        await this.submit((signal) => fn(item, index, signal));
      }
    } catch {
      // The first error is rethrown by drain, after the running tasks settle.
    }
    await this.drain();
  }

  /** Like `forEach`, collecting results in the order of `items`. */
  async map<T, R>(
    items: readonly T[],
    fn: (item: T, index: number, signal: AbortSignal) => Promise<R>,
  ): Promise<R[]> {
    const out = new Array<R>(items.length);
    await this.forEach(items, async (item, index, signal) => {
      out[index] = await fn(item, index, signal);
    });
    return out;
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = err;
    this.#ctl.abort(err);
    this.#release();
    this.#onFail?.(err);
  }

  #release(): void {
    this.#parent?.removeEventListener("abort", this.#onParentAbort);
  }
}

/** `new Pool(opts).forEach(items, fn)`: the common one-shot fan-out. */
export function forEachPool<T>(
  items: Iterable<T>,
  opts: PoolOptions,
  fn: (item: T, index: number, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  return new Pool(opts).forEach(items, fn);
}

/** `new Pool(opts).map(items, fn)`: results in the order of `items`. */
export function mapPool<T, R>(
  items: readonly T[],
  opts: PoolOptions,
  fn: (item: T, index: number, signal: AbortSignal) => Promise<R>,
): Promise<R[]> {
  return new Pool(opts).map(items, fn);
}
