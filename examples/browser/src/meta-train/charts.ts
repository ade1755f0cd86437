/**
 * Small canvas line charts for the live learning curves and fits. (The runner's report builds Vega-Lite
 * specs, but they live inside @concord/runner, whose entry point loads Node modules; plotting here is
 * plain canvas so the page stays light and the main thread free.)
 */
export interface Series {
  readonly label: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  readonly dash?: readonly number[];
  /** Draw dots instead of a line. */
  readonly dots?: boolean;
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly logY?: boolean;
  readonly yRange?: readonly [number, number];
}

export function drawChart(canvas: HTMLCanvasElement, series: readonly Series[], options: ChartOptions): void {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 420;
  const height = canvas.clientHeight || 260;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  // What the canvas shows, for screen readers (and tests): the title and the legend.
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${options.title}. ${series.map((s) => s.label).join("; ")}`);
  const g = canvas.getContext("2d")!;
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  g.font = "12px system-ui, sans-serif";
  const margin = { left: 52, right: 12, top: 26, bottom: 34 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y) && (!options.logY || y > 0));
  g.fillStyle = "#222";
  g.fillText(options.title, margin.left, 16);
  if (all.length === 0) {
    g.fillStyle = "#888";
    g.fillText("waiting for data…", margin.left + 8, margin.top + plotH / 2);
    return;
  }
  const fy = (y: number) => (options.logY ? Math.log10(y) : y);
  const xs = all.map(([x]) => x);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (x0 === x1) x1 = x0 + 1;
  let [y0, y1] = options.yRange ? options.yRange.map(fy) : [Math.min(...all.map(([, y]) => fy(y))), Math.max(...all.map(([, y]) => fy(y)))];
  if (y0 === y1) [y0, y1] = [y0! - 1, y1! + 1];
  const px = (x: number) => margin.left + ((x - x0) / (x1 - x0)) * plotW;
  const py = (y: number) => margin.top + (1 - (fy(y) - y0!) / (y1! - y0!)) * plotH;

  g.strokeStyle = "#ccc";
  g.lineWidth = 1;
  g.strokeRect(margin.left, margin.top, plotW, plotH);
  g.fillStyle = "#555";
  for (let i = 0; i <= 4; i++) {
    const value = y0! + ((y1! - y0!) * i) / 4;
    const y = margin.top + (1 - i / 4) * plotH;
    g.fillText(formatTick(options.logY ? 10 ** value : value), 4, y + 4);
    const xValue = x0 + ((x1 - x0) * i) / 4;
    g.fillText(formatTick(xValue), margin.left + (plotW * i) / 4 - 10, height - 18);
  }
  g.fillText(options.xLabel, margin.left + plotW / 2 - 20, height - 4);
  g.save();
  g.beginPath();
  g.rect(margin.left, margin.top, plotW, plotH);
  g.clip();
  for (const s of series) {
    g.strokeStyle = s.color;
    g.fillStyle = s.color;
    g.lineWidth = 2;
    g.setLineDash(s.dash ? [...s.dash] : []);
    const points = s.points.filter(([, y]) => Number.isFinite(y) && (!options.logY || y > 0));
    if (s.dots) {
      for (const [x, y] of points) {
        g.beginPath();
        g.arc(px(x), py(y), 3.5, 0, 2 * Math.PI);
        g.fill();
      }
      continue;
    }
    g.beginPath();
    points.forEach(([x, y], i) => (i === 0 ? g.moveTo(px(x), py(y)) : g.lineTo(px(x), py(y))));
    g.stroke();
  }
  g.restore();
  g.setLineDash([]);
  // Legend.
  let lx = margin.left + 8;
  for (const s of series) {
    g.fillStyle = s.color;
    g.fillRect(lx, margin.top + 6, 12, 3);
    g.fillStyle = "#333";
    g.fillText(s.label, lx + 16, margin.top + 11);
    lx += g.measureText(s.label).width + 34;
  }
  g.save();
  g.translate(margin.left + plotW - 4, margin.top + plotH - 6);
  g.fillStyle = "#777";
  g.textAlign = "right";
  g.fillText(options.yLabel, 0, 0);
  g.restore();
}

function formatTick(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 0.01 || magnitude >= 10_000)) return value.toExponential(0);
  return Number(value.toPrecision(3)).toString();
}
