/**
 * One cancellation per command run: a `RunScope` owns the run's abort signal. Everything the
 * run starts (workers, RPCs, retry sleeps, storage calls) takes `scope.signal`; the first fatal
 * error anywhere (a range, the GC keeper, the checkpoint runner, the lock, storage) calls
 * `scope.fail(err)`, which aborts that signal, so no new request is sent after it.
 *
 * `scope.run(work, ...watchers)` replaces `Promise.race([work, watcher])`: a race returns while
 * the losing work keeps running; `run` aborts the signal the work was given and waits for it to
 * settle before it throws the first error.
 * @module
 */
import process from "node:process";

/** The run's abort signal and its first fatal error. */
export class RunScope {
  readonly #ctl = new AbortController();
  readonly #parent: AbortSignal | undefined;
  #failed = false;
  #error: unknown;
  readonly #onParent = () => this.fail(this.#parent!.reason);
  readonly #unlinks: Array<() => void> = [];

  /** A scope that also aborts when `parent` does (an outer run, a test's controller). */
  constructor(parent?: AbortSignal) {
    this.#parent = parent;
    if (parent?.aborted) this.fail(parent.reason);
    else parent?.addEventListener("abort", this.#onParent, { once: true });
  }

  /** Aborts with the first fatal error (or the interrupting signal's reason). */
  get signal(): AbortSignal {
    return this.#ctl.signal;
  }

  /** The first fatal error, once there is one. */
  get error(): unknown {
    return this.#error;
  }

  /** Whether the run has failed or was interrupted. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Records the first fatal error and aborts the run's signal with it; later calls are no-ops. */
  fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = err;
    this.#ctl.abort(err);
  }

  /** Throws the first fatal error if the run has one (a check before starting new work). */
  throwIfFailed(): void {
    if (this.#failed) throw this.#error;
  }

  /**
   * Fails the run on `sig` (SIGINT, SIGTERM) with an error naming it; `onSignal` runs first
   * (to print a line). Undone by `close`.
   */
  onSignals(
    signals: readonly ("SIGINT" | "SIGTERM")[] = ["SIGINT", "SIGTERM"],
    onSignal?: (sig: string) => void,
  ): void {
    for (const sig of signals) {
      const handler = () => {
        onSignal?.(sig);
        this.fail(new Error(`interrupted by ${sig}`));
      };
      process.once(sig, handler);
      this.#unlinks.push(() => process.off(sig, handler));
    }
  }

  /**
   * Awaits `work` while `watchers` (promises that only ever reject, like a GC keeper's
   * `failed`) watch the run. The first rejection of either fails the scope (aborting the signal
   * `work` was given); `run` then waits until `work` has settled and throws that first error.
   */
  async run<T>(work: Promise<T>, ...watchers: Promise<unknown>[]): Promise<T> {
    for (const w of watchers) w.catch((err) => this.fail(err));
    try {
      const value = await work;
      this.throwIfFailed();
      return value;
    } catch (err) {
      this.fail(err);
      throw this.#error;
    }
  }

  /** Unlinks the parent signal and the process signals. */
  close(): void {
    this.#parent?.removeEventListener("abort", this.#onParent);
    for (const u of this.#unlinks.splice(0)) u();
  }
}
