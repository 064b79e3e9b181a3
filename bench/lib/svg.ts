/** SVG chart: calls (x) vs server CPU % (solid, left axis) and MOS (dashed, right axis), one colour per server. */
import type { StepResult } from './step.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

export function chartSvg(rows: StepResult[], title: string): string {
  const W = 760;
  const H = 420;
  const m = { l: 60, r: 60, t: 40, b: 60 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const servers = [...new Set(rows.map((r) => r.server))];
  const xs = [...new Set(rows.map((r) => r.calls))].sort((a, b) => a - b);
  const xMax = Math.max(...xs, 1);
  const cpuMax = niceCeil(Math.max(10, ...rows.map((r) => r.serverCpuPct ?? 0)));
  const X = (n: number): number => m.l + (pw * n) / xMax;
  const Yc = (c: number): number => m.t + ph - (ph * c) / cpuMax;
  // MOS axis 2.5..4.5: where the decisions are (4.3 is the usual floor); lower values stick to the bottom.
  const Ym = (v: number): number => m.t + ph - (ph * (Math.max(2.5, Math.min(4.5, v)) - 2.5)) / 2;
  const e: string[] = [];
  e.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  e.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  e.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const c = (cpuMax * i) / 5;
    const y = Yc(c);
    e.push(`<line x1="${m.l}" y1="${y}" x2="${m.l + pw}" y2="${y}" stroke="#eee"/>`);
    e.push(`<text x="${m.l - 6}" y="${y + 4}" text-anchor="end">${c.toFixed(0)}</text>`);
  }
  for (const v of [2.5, 3, 3.5, 4, 4.5]) e.push(`<text x="${m.l + pw + 6}" y="${Ym(v) + 4}">${v}</text>`);
  e.push(`<line x1="${m.l}" y1="${Ym(4.3)}" x2="${m.l + pw}" y2="${Ym(4.3)}" stroke="#999" stroke-dasharray="2,3"/>`);
  e.push(`<text x="${m.l + pw - 4}" y="${Ym(4.3) + 14}" text-anchor="end" fill="#777">MOS 4.3</text>`);
  for (const n of xs) e.push(`<text x="${X(n)}" y="${m.t + ph + 18}" text-anchor="middle">${n}</text>`);
  e.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  e.push(`<text x="${m.l + pw / 2}" y="${H - 20}" text-anchor="middle">concurrent calls (hollow dot: step invalid, generator saturated)</text>`);
  e.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">server CPU, % of one core (solid)</text>`);
  e.push(`<text transform="translate(${W - 14} ${m.t + ph / 2}) rotate(90)" text-anchor="middle">MOS, E-model (dashed)</text>`);
  servers.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = rows.filter((r) => r.server === s).sort((a, b) => a.calls - b.calls);
    const cpu = pts.filter((r) => r.serverCpuPct !== undefined);
    if (cpu.length) e.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${cpu.map((r) => `${X(r.calls)},${Yc(r.serverCpuPct ?? 0)}`).join(' ')}"/>`);
    for (const r of cpu) {
      e.push(`<circle cx="${X(r.calls)}" cy="${Yc(r.serverCpuPct ?? 0)}" r="${r.valid ? 4 : 3}" fill="${r.valid ? color : 'white'}" stroke="${color}"><title>${esc(`${s} N=${r.calls}: CPU ${r.serverCpuPct}%${r.valid ? '' : ' (INVALID)'}`)}</title></circle>`);
    }
    const mosPts = pts.filter((r) => Number.isFinite(r.mos));
    // Offset each server's MOS line by a pixel so equal values (4.41 for all) stay visible side by side.
    if (mosPts.length) e.push(`<polyline fill="none" stroke="${color}" stroke-width="2" stroke-dasharray="6,4" points="${mosPts.map((r) => `${X(r.calls)},${Ym(r.mos) + 3 * i}`).join(' ')}"/>`);
    const ly = m.t + ph - 14 - (servers.length - 1 - i) * 18; // legend bottom right, clear of the MOS lines
    e.push(`<rect x="${m.l + pw - 250}" y="${ly - 6}" width="14" height="4" fill="${color}"/>`);
    e.push(`<text x="${m.l + pw - 230}" y="${ly}">${esc(s)} (solid CPU, dashed MOS)</text>`);
  });
  e.push('</svg>');
  return e.join('\n');
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const k of [1, 2, 2.5, 5, 10]) if (k * p >= v) return k * p;
  return 10 * p;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
