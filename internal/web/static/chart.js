// uPlot helpers: time-series charts themed from the CSS custom properties,
// resized with their container. uPlot is loaded as a classic script
// (vendor/uPlot.iife.min.js) and found on globalThis.
import { cssVar, time } from './fmt.js';

/** theme reads the colours the charts draw with. */
export function theme() {
  return {
    fg: cssVar('--fg'), muted: cssVar('--muted'), grid: cssVar('--grid'), line: cssVar('--line'),
    good: cssVar('--good'), bad: cssVar('--bad'), accent: cssVar('--accent'), warn: cssVar('--warn'),
    band: [cssVar('--band0'), cssVar('--band1'), cssVar('--band2')],
  };
}

const pad = (n) => String(n).padStart(2, '0');

// timeValues labels the time axis in 24-hour local time, with the date when
// the chart spans more than a day.
function timeValues(u, splits) {
  const span = (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0);
  return splits.map((v) => {
    const d = new Date(v * 1000);
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    if (span > 86400) return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
    return span < 600 ? `${hm}:${pad(d.getSeconds())}` : hm;
  });
}

// Time ticks in whole seconds and round minutes and hours (the labels have
// no fractions of a second).
const TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

function axis(t, label) {
  return {
    stroke: t.muted, label, labelSize: label ? 18 : 0, labelFont: '12px system-ui, sans-serif',
    font: '11.5px system-ui, sans-serif',
    grid: { stroke: t.grid, width: 1 }, ticks: { stroke: t.grid, width: 1, size: 4 },
  };
}

// restLegend shows the latest values in the legend while the cursor is
// off the chart (uPlot shows "--" there otherwise).
function restLegend(u) {
  if (u.cursor.idx == null && u.data?.[0]?.length) u.setLegend({ idx: u.data[0].length - 1 });
}

// xRange widens the x scale to opts.xRange when it would span the data (the
// last bucket ends after its start), and keeps a zoom the user dragged.
function xRange(opts) {
  const xs = opts.data[0];
  return (_u, min, max) => {
    if (!xs.length || (min <= xs[0] && max >= xs[xs.length - 1])) return [Math.min(min, opts.xRange[0]), Math.max(max, opts.xRange[1])];
    return [min, max];
  };
}

/**
 * timeChart draws series over epoch-second x values into el and keeps its
 * width in step with el. opts: {series: [{label, stroke, fill?, width?, show?}],
 * data: [xs, ...ys], height, yLabel, step, hooks, bands, xRange: [min, max], yRange,
 * dataIdx: uPlot's cursor.dataIdx}.
 */
export function timeChart(el, opts) {
  const t = theme();
  const U = globalThis.uPlot;
  if (!U) throw new Error('uPlot did not load (static/vendor/uPlot.iife.min.js)');
  const path = opts.step ? U.paths.stepped({ align: 1 }) : undefined;
  const plot = new U({
    width: Math.max(200, el.clientWidth),
    height: opts.height ?? 220,
    cursor: { drag: { x: true, y: false }, ...(opts.dataIdx ? { dataIdx: opts.dataIdx } : {}) },
    legend: { show: opts.legend !== false },
    scales: { x: { time: true, ...(opts.xRange ? { range: xRange(opts) } : {}) }, y: { range: opts.yRange } },
    axes: [{ ...axis(t), values: timeValues, incrs: TIME_INCRS, space: 70, size: 34 }, { ...axis(t, opts.yLabel), size: 52 }],
    series: [{ value: (_u, v) => (v == null ? '—' : time(v, true)) }, ...opts.series.map((s) => ({ width: 2, paths: path, points: { show: false }, ...s }))],
    bands: opts.bands,
    hooks: { ...opts.hooks, setCursor: [...(opts.hooks?.setCursor ?? []), restLegend] },
  }, opts.data, el);
  restLegend(plot);
  const ro = new ResizeObserver(() => {
    const w = Math.max(200, el.clientWidth);
    if (Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height: plot.height });
  });
  ro.observe(el);
  const destroy = plot.destroy.bind(plot);
  plot.destroy = () => { ro.disconnect(); destroy(); };
  return plot;
}

/** expose writes what a chart shows into data-* attributes (tests read them; canvas pixels are not in the DOM). */
export function expose(el, data, names) {
  el.dataset.points = data[0].length;
  el.dataset.series = names.join(',');
  el.dataset.last = JSON.stringify(names.map((_, i) => data[i + 1][data[0].length - 1] ?? null));
}
