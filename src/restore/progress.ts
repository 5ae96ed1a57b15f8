/**
 * Restore progress in phases (schema, split/scatter, import, checksum), each shown as its own
 * bar on a terminal or as plain lines otherwise (the backup's reporter, one per phase).
 * @module
 */
import { createProgress, type Progress } from "../backup/progress.ts";

/** A restore's progress: one phase at a time. */
export interface PhasedProgress {
  /** Ends the running phase (if any) and starts `title` with `total` units. */
  phase(title: string, total: number, unit: string): Progress;
  /** Ends the running phase. Idempotent. */
  stop(): void;
}

/** Phases shown as `mode` says; nothing is printed before the first phase starts. */
export function phasedProgress(mode: "auto" | "bar" | "lines" | "quiet"): PhasedProgress {
  let current: Progress | undefined;
  return {
    phase(title, total, unit) {
      current?.stop();
      current = createProgress(title, mode);
      current.start(total, unit);
      return current;
    },
    stop() {
      current?.stop();
      current = undefined;
    },
  };
}
