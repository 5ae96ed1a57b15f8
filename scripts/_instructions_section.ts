/**
 * The "paired instruction counts" subsections of docs/BENCHMARKS.md under B1 and B2, rendered by
 * bench.ts from docs/benchmarks/instructions.json, which `bench-instructions.ts --record` writes.
 * They live in their own file so that bench.ts's regeneration of B1 and B2 keeps them.
 * @module
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** One side's counts (as bench-instructions.ts reports them). */
interface Side {
  irs: number[];
  median: number;
  spread: number;
}

/** What is kept per case: when, how, and bench-instructions.ts's JSON. */
export interface InstructionsRecord {
  date: string;
  commands: string[];
  /** What the figures alone do not say (how a run was completed, a side measurement). */
  note?: string;
  result: {
    tool: string;
    base: string;
    head: string;
    dirty: boolean;
    runs: number;
    slow: number;
    fromLog?: boolean;
    b1?: {
      sizes: Array<{ regions: number; floor: Side; base: Side; head: Side }>;
      steps: Array<{ from: number; to: number; floor: number; base: number; head: number }>;
    };
    b2?: {
      ranges: number;
      copiedIntoBase: string[];
      sides: Record<string, Side>;
      perRange: Record<
        "baseFlush" | "headFlush" | "baseLoader" | "headLoader" | "floor",
        number
      >;
    };
  };
}

/** Reads the records (none when the file is absent). */
export function readInstructions(file: string): Record<string, InstructionsRecord> {
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
}

/** Sets `id`'s record, keeping the others. */
export function recordInstructions(file: string, id: string, rec: InstructionsRecord): void {
  const all = readInstructions(file);
  all[id] = rec;
  writeFileSync(file, JSON.stringify(all, null, 2) + "\n");
}

const n0 = (x: number) => Math.round(x).toLocaleString("en");
const r3 = (x: number) => x.toFixed(3);
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
/** A side's spread over its runs; one run has none. */
const spread = (x: Side | undefined) =>
  !x ? "–" : x.irs.length < 2 ? "1 run" : `${pct(x.spread)} (${x.irs.length} runs)`;
/** A figure per region or range; a side that was not counted has none. */
const fig = (x: number | null | undefined) =>
  typeof x === "number" && Number.isFinite(x) ? n0(x) : "–";
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  typeof a === "number" && typeof b === "number" && Number.isFinite(a / b) ? r3(a / b) : "–";

/** The verdict against "within 10 % of the base" over the head/base ratios given. */
function verdict(all: Array<[string, number]>): string {
  const ratios = all.filter(([, r]) => Number.isFinite(r));
  if (ratios.length < all.length) {
    return `Verdict: incomplete (not counted: ${
      all.filter(([, r]) => !Number.isFinite(r)).map(([k]) => k).join(", ")
    }).`;
  }
  const worst = ratios.reduce((a, b) => (Math.abs(b[1] - 1) > Math.abs(a[1] - 1) ? b : a));
  const ok = ratios.every(([, r]) => Math.abs(r - 1) <= 0.1);
  return `Verdict: ${ok ? "within" : "**not** within"} 10 % of the base (largest deviation ` +
    `${worst[0]}: ${r3(worst[1])}×).`;
}

/** The subsection's lines for B1 or B2, or none when nothing is recorded. */
export function instructionsSection(id: string, file: string): string[] {
  const rec = readInstructions(file)[id];
  if (!rec) return [];
  const r = rec.result;
  const lines = [
    `### ${id}: paired instruction counts (commit ${r.base} vs this tree)`,
    "",
    `Run ${rec.date} by scripts/bench-instructions.ts: instructions executed (valgrind ` +
    `${r.tool}, Ir) by each process, ${
      r.fromLog
        ? `up to ${r.runs} run(s) per side (the run was stopped before its end; the figures are ` +
          "its log's, by `--from-log`)"
        : `${r.runs} run(s) per side`
    }, at commit ${r.base} and at ` +
    `${r.head}${r.dirty ? " with uncommitted changes" : ""}, against the same ` +
    `${id === "B1" ? "playground" : "checkpoint"}. Instruction counts do not depend on the ` +
    `machine's load, unlike the times above; spread is (max - min) / min of one side's runs. ` +
    `Clocks run ${r.slow}× slower under libfaketime so that no timeout fires under valgrind.`,
    "",
    "```sh",
    ...rec.commands,
    "```",
    "",
  ];
  if (id === "B1" && r.b1) {
    lines.push(
      "| regions | floor Ir/region | base Ir/region | head Ir/region | head/base | head/floor | " +
        "spread floor, base, head |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    const ratios: Array<[string, number]> = [];
    for (const s of r.b1.sizes) {
      const per = (x: Side) => n0(x.median / s.regions);
      ratios.push([`${n0(s.regions)} regions`, s.head.median / s.base.median]);
      lines.push(
        `| ${n0(s.regions)} | ${per(s.floor)} | ${per(s.base)} | ${per(s.head)} | ` +
          `${r3(s.head.median / s.base.median)} | ${r3(s.head.median / s.floor.median)} | ` +
          `${spread(s.floor)}, ${spread(s.base)}, ${spread(s.head)} |`,
      );
    }
    for (const st of r.b1.steps) {
      ratios.push([`marginal ${n0(st.from)} → ${n0(st.to)}`, st.head / st.base]);
      lines.push(
        `| marginal ${n0(st.from)} → ${n0(st.to)} | ${n0(st.floor)} | ${n0(st.base)} | ` +
          `${n0(st.head)} | ${r3(st.head / st.base)} | ${r3(st.head / st.floor)} | |`,
      );
    }
    lines.push(
      "",
      "Per region: a process's whole count divided by the regions (start-up included); the " +
        "marginal rows divide the difference between two sizes, which takes start-up out.",
      "",
      verdict(ratios),
      "",
    );
  }
  if (id === "B2" && r.b2) {
    const p = r.b2.perRange;
    const sp = (k: string) => spread(r.b2!.sides[k]);
    lines.push(
      "| ranges | per range | base Ir | head Ir | head/base | spread base, head |",
      "| ---: | --- | ---: | ---: | ---: | ---: |",
      `| ${n0(r.b2.ranges)} | flush (write - inputs) | ${fig(p.baseFlush)} | ${
        fig(p.headFlush)
      } | ` +
        `${ratio(p.headFlush, p.baseFlush)} | ${sp("baseWrite")}, ${sp("headWrite")} |`,
      `| ${n0(r.b2.ranges)} | loader (loader - start) | ${fig(p.baseLoader)} | ` +
        `${fig(p.headLoader)} | ${ratio(p.headLoader, p.baseLoader)} | ${sp("baseLoader")}, ` +
        `${sp("headLoader")} |`,
      `| ${n0(r.b2.ranges)} | floor (floor - start) | | ${fig(p.floor)} | | ${sp("floor")} |`,
      "",
      `Loader/floor by instructions: base ${ratio(p.baseLoader, p.floor)}, head ` +
        `${ratio(p.headLoader, p.floor)}.${
          r.b2.copiedIntoBase.length > 0
            ? ` Copied into the base tree for the benchmark script (not on the measured ` +
              `path): ${r.b2.copiedIntoBase.join(", ")}.`
            : ""
        }`,
      "",
      verdict([["flush", p.headFlush / p.baseFlush], ["loader", p.headLoader / p.baseLoader]]),
      "",
    );
  }
  if (rec.note) lines.push(rec.note, "");
  return lines;
}
