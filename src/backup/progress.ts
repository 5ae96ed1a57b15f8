/**
 * Progress for people and logs: a progress bar on a terminal (cli-progress), and a plain line
 * every few seconds otherwise (CI logs, pipes). A run goes through phases (BR's "Full Backup",
 * then "Checksum"), each with its own bar; the ETA is smoothed over the recent rate.
 * @module
 */
import cliProgress from "cli-progress";
import process from "node:process";

/** What a task reports as it goes. */
export interface Progress {
  /** Sets the total number of units (ranges) of the current phase. */
  start(total: number, unit: string): void;
  /** One unit finished. */
  tick(n?: number): void;
  /** Adds handled bytes (for speed). */
  addBytes(n: bigint): void;
  /**
   * Ends the current phase's display and starts the next (`Checksum` after the backup), with
   * `total` units when known; without a total it shows the phase name until `stop`.
   */
  phase(title: string, total?: number, unit?: string): void;
  /** Ends the display, leaving the cursor at the start of a clean line. */
  stop(): void;
}

/**
 * Human-readable bytes as BR prints them (go-units `HumanSize`: decimal units, 4 significant
 * digits): `64B`, `859.6B`, `1.441kB`, `12.35MB`.
 */
export function formatBytes(n: number | bigint): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
  let x = Number(n);
  let i = 0;
  while (x >= 1000 && i < units.length - 1) {
    x /= 1000;
    i++;
  }
  return `${Number.isFinite(x) ? String(Number(x.toPrecision(4))) : "0"}${units[i]}`;
}

/** A speed as BR prints it: `859.6B/s`. */
export function formatSpeed(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond > 0 ? bytesPerSecond : 0)}/s`;
}

/**
 * A duration as Go's `time.Duration.String` writes it (BR's `total-take`): `1h2m3.5s`,
 * `4.032112345s`, `1.150853ms`, `850µs`, `0s`.
 */
export function goDuration(ms: number): string {
  let ns = Math.round(ms * 1e6);
  if (ns === 0) return "0s";
  const neg = ns < 0;
  if (neg) ns = -ns;
  const frac = (v: number, digits: number) => {
    const whole = Math.floor(v / 10 ** digits);
    const rest = String(v % 10 ** digits).padStart(digits, "0").replace(/0+$/, "");
    return rest === "" ? String(whole) : `${whole}.${rest}`;
  };
  let out: string;
  if (ns < 1_000) out = `${ns}ns`;
  else if (ns < 1_000_000) out = `${frac(ns, 3)}µs`;
  else if (ns < 1_000_000_000) out = `${frac(ns, 6)}ms`;
  else {
    const h = Math.floor(ns / 3_600e9);
    const m = Math.floor((ns % 3_600e9) / 60e9);
    const s = frac(ns % 60e9, 9);
    out = `${h > 0 ? `${h}h` : ""}${h > 0 || m > 0 ? `${m}m` : ""}${s}s`;
  }
  return neg ? `-${out}` : out;
}

/**
 * A rate smoothed over time (exponential moving average with a time constant), so one slow or
 * fast range does not swing the ETA.
 */
export class SmoothedRate {
  #rate: number | undefined;
  #lastMs: number;
  #pending = 0;

  constructor(private readonly tauMs = 10_000, nowMs = Date.now()) {
    this.#lastMs = nowMs;
  }

  /** `n` units finished at `nowMs`. */
  add(n: number, nowMs = Date.now()): void {
    this.#pending += n;
    const dt = nowMs - this.#lastMs;
    if (dt < 200) return; // too short to measure; folded into the next sample
    const sample = (this.#pending * 1000) / dt;
    const a = 1 - Math.exp(-dt / this.tauMs);
    this.#rate = this.#rate === undefined ? sample : this.#rate + a * (sample - this.#rate);
    this.#pending = 0;
    this.#lastMs = nowMs;
  }

  /** Units per second, or undefined before the first sample. */
  get perSecond(): number | undefined {
    return this.#rate;
  }

  /** Seconds left for `remaining` units, or undefined while unknown. */
  eta(remaining: number): number | undefined {
    if (remaining <= 0) return 0;
    return this.#rate && this.#rate > 0 ? remaining / this.#rate : undefined;
  }
}

/** An ETA for people: `45s`, `3m05s`, `1h02m`, or `--` while unknown. */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return "--";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** The displays now drawing on the terminal. */
const _active = new Set<{ stop(): void }>();
/** Set once the run is interrupted: later displays (a phase starting meanwhile) stay quiet. */
let _halted = false;

/**
 * Stops every progress display now (a signal handler calls it before writing to stderr, so a
 * bar's next redraw cannot overwrite the message), and every one created later. Their later
 * `stop` does nothing more.
 */
export function stopProgressDisplays(): void {
  _halted = true;
  for (const p of [..._active]) p.stop();
}

/** A progress reporter suited to where stderr goes; `quiet` reports nothing. */
export function createProgress(
  title: string,
  mode: "auto" | "bar" | "lines" | "quiet" = "auto",
): Progress {
  const tty = !!process.stderr.isTTY;
  const kind = mode === "auto" ? (tty ? "bar" : "lines") : mode;
  let name = title;
  let done = 0;
  let total = 0;
  let bytes = 0n;
  let unit = "ranges";
  let started = Date.now();
  let rate = new SmoothedRate();
  const speed = () => {
    const s = (Date.now() - started) / 1000;
    return s > 0 ? formatSpeed(Number(bytes) / s) : "-";
  };
  const eta = () => formatEta(rate.eta(total - done));
  const reset = (t: string) => {
    name = t;
    done = 0;
    total = 0;
    bytes = 0n;
    started = Date.now();
    rate = new SmoothedRate();
  };
  if (kind === "quiet" || _halted) {
    return { start() {}, tick() {}, addBytes() {}, phase() {}, stop() {} };
  }
  if (kind === "bar") {
    let bar: cliProgress.SingleBar | undefined;
    let stopped = false;
    const open = (t: number | undefined) => {
      if (stopped) return;
      const counted = t !== undefined;
      bar = new cliProgress.SingleBar({
        format: counted
          ? `{title} {bar} {percentage}% | {value}/{total} {unit} | {speed} | ETA {eta}`
          : "{title} ...",
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        linewrap: false,
      }, cliProgress.Presets.shades_classic);
      bar.start(t ?? 1, 0, { title: name, unit, speed: speed(), eta: eta() });
    };
    const close = () => {
      bar?.stop();
      bar = undefined;
    };
    const display: Progress = {
      start(t, u) {
        total = t;
        unit = u;
        close();
        open(t);
      },
      tick(n = 1) {
        done += n;
        rate.add(n);
        bar?.increment(n, { speed: speed(), eta: eta() });
      },
      addBytes(n) {
        bytes += n;
      },
      phase(t, tot, u) {
        if (stopped) return;
        close();
        reset(t);
        if (u !== undefined) unit = u;
        if (tot !== undefined) total = tot;
        open(tot);
      },
      stop() {
        stopped = true;
        _active.delete(display);
        close();
      },
    };
    _active.add(display);
    return display;
  }
  const line = () => {
    const pct = total > 0 ? Math.floor((done * 100) / total) : 0;
    process.stderr.write(
      `${name}: ${done}/${total} ${unit} (${pct}%), ${speed()}, ETA ${eta()}\n`,
    );
  };
  let timer: ReturnType<typeof setInterval> | undefined;
  const arm = () => {
    clearInterval(timer);
    timer = setInterval(line, 5000);
    (timer as unknown as { unref?: () => void }).unref?.();
  };
  arm();
  let ended = false;
  const display: Progress = {
    start(t, u) {
      total = t;
      unit = u;
    },
    tick(n = 1) {
      done += n;
      rate.add(n);
    },
    addBytes(n) {
      bytes += n;
    },
    phase(t, tot, u) {
      line();
      reset(t);
      if (u !== undefined) unit = u;
      if (tot !== undefined) total = tot;
      process.stderr.write(`${name} ...\n`);
      arm();
    },
    stop() {
      if (ended) return;
      ended = true;
      _active.delete(display);
      clearInterval(timer);
      line();
    },
  };
  _active.add(display);
  return display;
}
