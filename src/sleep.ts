/**
 * The one abortable sleep every retry loop, backoff and ticker uses.
 * @module
 */

/**
 * Resolves after `ms` milliseconds (at once when `ms <= 0`); rejects with the signal's reason
 * when it is aborted first, and leaves no listener behind either way.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
