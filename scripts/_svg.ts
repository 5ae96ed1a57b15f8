/**
 * Small hand-written SVG charts for docs/benchmarks/: grouped bars and lines, with an optional
 * target line. Plain SVG 1.1 with inline styles, so GitHub renders it as an image.
 * @module
 */

/** One bar. */
export interface Bar {
  label: string;
  value: number;
}

/** Bars drawn side by side under one label. */
export interface BarGroup {
  label: string;
  bars: Bar[];
}

/** A horizontal reference line (a target or a floor). */
export interface Reference {
  value: number;
  label: string;
}

/** A line of (x, y) points. */
export interface Series {
  label: string;
  points: [number, number][];
  /** Drawn dashed (a floor next to the measured line). */
  dashed?: boolean;
}

const COLORS = ["#3367d6", "#e8710a", "#1e8e3e", "#9334e6", "#d93025", "#12b5cb"];
const FONT = "font-family:Helvetica,Arial,sans-serif";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A round axis maximum at or above `v`, and its tick step. */
function niceScale(v: number): { max: number; step: number } {
  if (!(v > 0)) return { max: 1, step: 0.2 };
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (m * mag >= v) {
      const max = m * mag;
      const steps = [5, 4, 6, 3, 8];
      for (const n of steps) {
        const step = max / n;
        if (Number.isInteger(step / mag * 100)) return { max, step };
      }
      return { max, step: max / 5 };
    }
  }
  return { max: 10 * mag, step: 2 * mag };
}

function fmt(v: number): string {
  if (v === 0) return "0";
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1).replace(/\.0$/, "");
  return v.toFixed(2).replace(/0$/, "").replace(/\.0$/, "");
}

function frame(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" style="${FONT};font-size:15px;` +
    `font-weight:bold">${esc(title)}</text>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

function legend(labels: string[], x: number, y: number, dashed: boolean[] = []): string[] {
  const out: string[] = [];
  let cx = x;
  labels.forEach((l, i) => {
    const color = COLORS[i % COLORS.length]!;
    out.push(
      dashed[i]
        ? `<line x1="${cx}" y1="${y - 4}" x2="${cx + 14}" y2="${y - 4}" stroke="${color}" ` +
          `stroke-width="2" stroke-dasharray="4 3"/>`
        : `<rect x="${cx}" y="${y - 10}" width="14" height="10" fill="${color}"/>`,
    );
    out.push(`<text x="${cx + 18}" y="${y}" style="${FONT};font-size:12px">${esc(l)}</text>`);
    cx += 30 + l.length * 6.5;
  });
  return out;
}

/** The plot area of a chart and its y scale. */
interface Plot {
  left: number;
  top: number;
  plotW: number;
  plotH: number;
  y: (v: number) => number;
}

/** Horizontal grid lines with their y-axis labels, every `step` from 0 to `max`. */
function yGrid({ left, plotW, y }: Plot, max: number, step: number): string[] {
  const out: string[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) {
    out.push(
      `<line x1="${left}" y1="${y(v)}" x2="${left + plotW}" y2="${y(v)}" stroke="#e0e0e0"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" style="${FONT};font-size:11px">` +
        `${fmt(v)}</text>`,
    );
  }
  return out;
}

/** Dashed red lines for reference values (targets), labelled at the right. */
function referenceLines({ left, plotW, y }: Plot, refs: Reference[]): string[] {
  return refs.flatMap((r) => [
    `<line x1="${left}" y1="${y(r.value)}" x2="${left + plotW}" y2="${y(r.value)}" ` +
    `stroke="#d93025" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    `<text x="${left + plotW - 4}" y="${y(r.value) - 5}" text-anchor="end" ` +
    `style="${FONT};font-size:11px;fill:#d93025">${esc(r.label)}</text>`,
  ]);
}

/** The x and y axis lines. */
function axes({ left, top, plotW, plotH }: Plot): string[] {
  return [
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#444"/>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" ` +
    `stroke="#444"/>`,
  ];
}

/** Vertical grouped bars with value labels, a y axis in `unit`, and optional references. */
export function barChart(opts: {
  title: string;
  unit: string;
  groups: BarGroup[];
  references?: Reference[];
  width?: number;
  height?: number;
}): string {
  const width = opts.width ?? 720;
  const height = opts.height ?? 360;
  const left = 70;
  const right = 20;
  const top = 60;
  const bottom = 60;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const values = opts.groups.flatMap((g) => g.bars.map((b) => b.value));
  const refs = opts.references ?? [];
  const { max, step } = niceScale(Math.max(...values, ...refs.map((r) => r.value)) * 1.08);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const body: string[] = [];
  const plot = { left, top, plotW, plotH, y };
  body.push(...yGrid(plot, max, step));
  body.push(
    `<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${top + plotH / 2})" ` +
      `text-anchor="middle" style="${FONT};font-size:12px">${esc(opts.unit)}</text>`,
  );
  const seriesLabels = [...new Set(opts.groups.flatMap((g) => g.bars.map((b) => b.label)))];
  const groupW = plotW / Math.max(1, opts.groups.length);
  const barW = Math.min(48, (groupW * 0.8) / Math.max(1, seriesLabels.length));
  opts.groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * g.bars.length) / 2;
    g.bars.forEach((b, bi) => {
      const color = COLORS[seriesLabels.indexOf(b.label) % COLORS.length]!;
      const x = x0 + bi * barW;
      const h = Math.max(0, top + plotH - y(b.value));
      body.push(
        `<rect x="${x + 2}" y="${y(b.value)}" width="${barW - 4}" height="${h}" fill="${color}"/>`,
        `<text x="${x + barW / 2}" y="${y(b.value) - 4}" text-anchor="middle" ` +
          `style="${FONT};font-size:11px">${fmt(b.value)}</text>`,
      );
    });
    body.push(
      `<text x="${left + gi * groupW + groupW / 2}" y="${top + plotH + 18}" ` +
        `text-anchor="middle" style="${FONT};font-size:12px">${esc(g.label)}</text>`,
    );
  });
  body.push(
    ...referenceLines(plot, refs),
    ...axes(plot),
  );
  if (seriesLabels.length > 1) body.push(...legend(seriesLabels, left, height - 16));
  return frame(width, height, opts.title, body);
}

/** Lines over a (log or linear) x axis, with point labels and optional references. */
export function lineChart(opts: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  references?: Reference[];
  width?: number;
  height?: number;
}): string {
  const width = opts.width ?? 720;
  const height = opts.height ?? 380;
  const left = 70;
  const right = 30;
  const top = 60;
  const bottom = 70;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const xs = [...new Set(opts.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) =>
    a - b
  );
  const tx = (v: number) => (opts.logX ? Math.log10(v) : v);
  const xMin = tx(xs[0] ?? 1);
  const xMax = tx(xs[xs.length - 1] ?? 10);
  const span = xMax - xMin || 1;
  const x = (v: number) => left + ((tx(v) - xMin) / span) * plotW;
  const refs = opts.references ?? [];
  const ys = opts.series.flatMap((s) => s.points.map((p) => p[1]));
  const { max, step } = niceScale(Math.max(...ys, ...refs.map((r) => r.value)) * 1.1);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const body: string[] = [];
  const plot = { left, top, plotW, plotH, y };
  body.push(...yGrid(plot, max, step));
  for (const v of xs) {
    body.push(
      `<line x1="${x(v)}" y1="${top}" x2="${x(v)}" y2="${top + plotH}" stroke="#f0f0f0"/>`,
      `<text x="${x(v)}" y="${top + plotH + 16}" text-anchor="middle" ` +
        `style="${FONT};font-size:11px">${v >= 1000 ? `${fmt(v / 1000)}k` : fmt(v)}</text>`,
    );
  }
  body.push(
    `<text x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle" ` +
      `style="${FONT};font-size:12px">${esc(opts.xLabel)}</text>`,
    `<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${top + plotH / 2})" ` +
      `text-anchor="middle" style="${FONT};font-size:12px">${esc(opts.yLabel)}</text>`,
  );
  opts.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(" ");
    body.push(
      `<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"` +
        `${s.dashed ? ` stroke-dasharray="6 4"` : ""}/>`,
    );
    for (const [a, b] of s.points) {
      body.push(`<circle cx="${x(a)}" cy="${y(b)}" r="3.5" fill="${color}"/>`);
      // Values of the measured lines only: floors sit close together and are in the tables.
      if (!s.dashed) {
        body.push(
          `<text x="${x(a) + 5}" y="${y(b) - 6}" style="${FONT};font-size:10px;fill:${color}">` +
            `${fmt(b)}</text>`,
        );
      }
    }
  });
  body.push(
    ...referenceLines(plot, refs),
    ...axes(plot),
    ...legend(
      opts.series.map((s) => s.label),
      left,
      height - 12,
      opts.series.map((s) => !!s.dashed),
    ),
  );
  return frame(width, height, opts.title, body);
}
