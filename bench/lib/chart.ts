// bench/results.svg: each server's cost relative to the floor for the key metrics, on a log scale.
// Hand-written SVG (no plotting package): one group of bars per metric, one bar per server.
import { KEY_METRICS, ratioOf, type Results } from "./results.ts";

const CHART_METRICS = ["fanoutCpu", "echoCpu", "echoPerS", "echoP99", "memPerConn", "connectPerS"];
const SHORT: Record<string, string> = {
  fanoutCpu: "fan-out CPU/delivery",
  echoCpu: "echo CPU/echo",
  echoPerS: "1 / echo throughput",
  echoP99: "echo p99 @2k/s",
  memPerConn: "RSS / idle conn",
  connectPerS: "1 / connect rate",
};
const COLORS = ["#e4572e", "#17bebb", "#4b3f72", "#ffc914", "#76b041"];

export function renderSvg(results: Results): string {
  const servers = results.meta.servers.map((s) => s.name).filter((n) => n !== "floor");
  const metrics = CHART_METRICS.map((id) => KEY_METRICS.find((m) => m.id === id)!);
  // "Cost" ratio: > 1 always means worse than the floor, so higher-is-better metrics are inverted.
  const cost = (metricIdx: number, server: string): number | null => {
    const m = metrics[metricIdx]!;
    const r = ratioOf(results, m, server, "floor");
    if (r === null || r <= 0) return null;
    return m.isLowerBetter ? r : 1 / r;
  };
  const all = metrics.flatMap((_, i) => servers.map((s) => cost(i, s))).filter((v): v is number => v !== null);
  const minExp = Math.floor(Math.log10(Math.min(0.5, ...all)));
  const maxExp = Math.ceil(Math.log10(Math.max(2, ...all)));

  const W = 900, H = 420, left = 70, right = 20, top = 50, bottom = 90;
  const plotH = H - top - bottom;
  const y = (v: number) => top + plotH - ((Math.log10(v) - minExp) / (maxExp - minExp)) * plotH;
  const groupW = (W - left - right) / metrics.length;
  const barW = Math.min(32, (groupW - 20) / Math.max(1, servers.length));

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Cost relative to the floor (raw Bun.serve) — lower is better, log scale</text>`,
    `<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(results.meta.cpuModel)} × ${results.meta.nproc}, ${results.meta.mode} run, ${results.meta.date.slice(0, 10)}</text>`,
  ];
  for (let e = minExp; e <= maxExp; e++) {
    const v = 10 ** e;
    parts.push(
      `<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="${e === 0 ? "#000" : "#ddd"}" stroke-width="${e === 0 ? 1.5 : 1}"/>`,
      `<text x="${left - 8}" y="${y(v) + 4}" text-anchor="end">${v >= 1 ? v : v.toFixed(-e)}×</text>`,
    );
  }
  metrics.forEach((m, i) => {
    const gx = left + i * groupW + (groupW - barW * servers.length) / 2;
    servers.forEach((s, j) => {
      const v = cost(i, s);
      const x = gx + j * barW;
      if (v === null) {
        parts.push(`<text x="${x + barW / 2}" y="${y(1) - 4}" text-anchor="middle" fill="#999">n/a</text>`);
        return;
      }
      const y0 = y(1), y1 = y(v);
      parts.push(
        `<rect x="${x + 2}" y="${Math.min(y0, y1)}" width="${barW - 4}" height="${Math.max(1, Math.abs(y1 - y0))}" fill="${COLORS[j % COLORS.length]}"><title>${s}: ${v.toFixed(2)}×</title></rect>`,
        `<text x="${x + barW / 2}" y="${v >= 1 ? y1 - 4 : y1 + 12}" text-anchor="middle" font-size="10">${v >= 10 ? v.toFixed(0) : v.toFixed(1)}</text>`,
      );
    });
    parts.push(`<text x="${left + i * groupW + groupW / 2}" y="${H - bottom + 18}" text-anchor="middle">${esc(SHORT[m.id]!)}</text>`);
  });
  servers.forEach((s, j) => {
    const x = left + j * 170;
    parts.push(
      `<rect x="${x}" y="${H - 40}" width="14" height="14" fill="${COLORS[j % COLORS.length]}"/>`,
      `<text x="${x + 20}" y="${H - 28}">${esc(s)}</text>`,
    );
  });
  parts.push(`<text x="${W - right}" y="${H - 28}" text-anchor="end" fill="#555">floor = 1× (black line)</text>`, "</svg>");
  return parts.join("\n") + "\n";
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
