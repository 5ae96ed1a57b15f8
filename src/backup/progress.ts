/**
 * Backup progress for people and logs: a progress bar on a terminal (cli-progress), and a plain
 * line every few seconds otherwise (CI logs, pipes).
 * @module
 */
import cliProgress from "cli-progress";
import process from "node:process";

/** What the backup reports as it goes. */
export interface Progress {
  /** Sets the total number of units (ranges). */
  start(total: number, unit: string): void;
  /** One unit finished. */
  tick(n?: number): void;
  /** Adds backed-up bytes (for speed). */
  addBytes(n: bigint): void;
  /** Ends the display. */
  stop(): void;
}

/** Human-readable bytes, like BR's summaries (`12.3MB`). */
export function formatBytes(n: number | bigint): string {
  const v = Number(n);
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let i = 0;
  let x = v;
  while (x >= 1000 && i < units.length - 1) {
    x /= 1000;
    i++;
  }
  return `${i === 0 ? x : x.toFixed(1)}${units[i]}`;
}

/** A progress reporter suited to where stderr goes; `quiet` reports nothing. */
export function createProgress(
  title: string,
  mode: "auto" | "bar" | "lines" | "quiet" = "auto",
): Progress {
  const tty = !!process.stderr.isTTY;
  const kind = mode === "auto" ? (tty ? "bar" : "lines") : mode;
  let done = 0;
  let total = 0;
  let bytes = 0n;
  let unit = "ranges";
  const started = Date.now();
  const speed = () => {
    const s = (Date.now() - started) / 1000;
    return s > 0 ? `${formatBytes(Number(bytes) / s)}/s` : "-";
  };
  if (kind === "quiet") {
    return { start() {}, tick() {}, addBytes() {}, stop() {} };
  }
  if (kind === "bar") {
    const bar = new cliProgress.SingleBar({
      format:
        `${title} {bar} {percentage}% | {value}/{total} {unit} | {speed} | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
    }, cliProgress.Presets.shades_classic);
    return {
      start(t, u) {
        total = t;
        unit = u;
        bar.start(t, 0, { unit, speed: speed() });
      },
      tick(n = 1) {
        bar.increment(n, { speed: speed() });
      },
      addBytes(n) {
        bytes += n;
      },
      stop() {
        bar.stop();
      },
    };
  }
  const line = () => {
    const pct = total > 0 ? Math.floor((done * 100) / total) : 0;
    process.stderr.write(`${title}: ${done}/${total} ${unit} (${pct}%), ${speed()}\n`);
  };
  const timer = setInterval(line, 5000);
  (timer as unknown as { unref?: () => void }).unref?.();
  return {
    start(t, u) {
      total = t;
      unit = u;
    },
    tick(n = 1) {
      done += n;
    },
    addBytes(n) {
      bytes += n;
    },
    stop() {
      clearInterval(timer);
      line();
    },
  };
}
