// The pair view: a SmokePing-style RTT chart for one (source, target) pair.
// Grey "smoke" bands between min/max, p10/p90 and p25/p75, darker toward the
// median, each a flat step over its bucket's span; the median drawn per
// bucket in SmokePing's loss colours; buckets with no answer left empty,
// buckets where every probe was lost shaded red; transitions marked.
import * as api from './api.js';
import { esc, ms, pct, time, dur, nodeHref } from './fmt.js';
import { timeChart, theme } from './chart.js';
import { eventsTable, records as eventRecords } from './events.js';

/** lossColours are SmokePing's defaults: [upper bound of the loss ratio, colour, label]. */
export const lossColours = [
  [0, '#26ff00', '0'], [0.01, '#00b8ff', '≤ 1 %'], [0.05, '#0059ff', '≤ 5 %'], [0.10, '#7e00ff', '≤ 10 %'],
  [0.25, '#ff00ff', '≤ 25 %'], [0.50, '#ff5500', '≤ 50 %'], [0.9999, '#ff0000', '< 100 %'], [1, '#a00000', 'all lost'],
];

/** lossColour picks the SmokePing colour of a loss ratio. */
export function lossColour(r) {
  for (const [max, c] of lossColours) if (r <= max) return c;
  return lossColours[lossColours.length - 1][1];
}

const SPANS = [['15 m', 900], ['1 h', 3600], ['6 h', 21600], ['24 h', 86400], ['all', 0]];
const KEYS = ['max_ms', 'p90_ms', 'p75_ms', 'median_ms', 'p25_ms', 'p10_ms', 'min_ms'];

function facts(p) {
  let sent = 0, lost = 0, down = 0;
  const med = [];
  let lo = Infinity, hi = -Infinity;
  for (const b of p.buckets) {
    sent += b.sent; lost += b.lost;
    if (b.sent > 0 && b.lost === b.sent) down += p.bucket_seconds;
    if (b.median_ms != null) med.push(b.median_ms);
    if (b.min_ms != null) lo = Math.min(lo, b.min_ms);
    if (b.max_ms != null) hi = Math.max(hi, b.max_ms);
  }
  med.sort((a, b) => a - b);
  const outages = (p.events ?? []).filter((e) => e.state === 'down').length;
  return `<span>probes <b>${sent}</b></span><span>lost <b>${lost}</b> (${pct(sent ? lost / sent : null)})</span>
    <span>median RTT <b>${ms(med.length ? med[med.length >> 1] : null)}</b></span>
    <span>min <b>${ms(isFinite(lo) ? lo : null)}</b></span><span>max <b>${ms(isFinite(hi) ? hi : null)}</b></span>
    <span>outages <b>${outages}</b></span><span>time all lost <b>${dur(down)}</b></span>`;
}

function table(p) {
  const rows = p.buckets.map((b) => `<tr><td>${b.time}</td><td>${b.sent}</td><td>${b.lost}</td><td>${b.loss ?? ''}</td>${KEYS.map((k) => `<td>${b[k] ?? ''}</td>`).join('')}</tr>`).join('');
  return `<div class="sr-only"><table id="pair-table"><thead><tr><th>time</th><th>sent</th><th>lost</th><th>loss</th>${KEYS.map((k) => `<th>${k}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table></div>`;
}

/** mount shows the pair view for args [source, target]; query t centres the chart on a moment. */
export function mount(root, app, args, query) {
  const [src, dst] = args;
  const s = app.state.summary;
  const centre = Number(query.get('t')) || null;
  let span = 3600;
  let pair = null, plot = null;
  root.innerHTML = `<div class="crumbs"><a href="#/mesh">Mesh</a> › pair</div>
    <section class="panel"><header><h1><a href="${nodeHref(src)}">${esc(src)}</a> → <a href="${nodeHref(dst)}">${esc(dst)}</a></h1>
      <span class="right ranges">${SPANS.map(([l, v]) => `<button type="button" class="btn small" data-span="${v}">${l}</button>`).join('')}</span></header>
      <div class="facts" id="pair-facts"></div>
      <div class="chart" id="pair-chart"></div>
      <div class="muted mono" id="pair-readout">&nbsp;</div>
      <div class="losskey"><span>median coloured by loss:</span>${lossColours.map(([, c, l]) => `<span><i class="lk" data-c="${c}"></i>${l}</span>`).join('')}
        <span><i class="lk band"></i>RTT min–max, p10–p90, p25–p75</span><span><i class="lk out"></i>all probes lost</span></div>
      <div id="pair-table-wrap"></div></section>
    <section class="panel"><header><h2>Transitions</h2></header><div id="pair-events"></div></section>`;
  for (const i of root.querySelectorAll('.lk[data-c]')) i.style.background = i.dataset.c;
  const $ = (id) => root.querySelector(id);
  const chartEl = $('#pair-chart');

  const range = () => {
    const r = app.state.summary?.range ?? s?.range;
    let to = centre ? centre + span / 2 : (app.state.at ?? r?.to ?? Date.now() / 1000);
    let from = span ? to - span : r?.from;
    if (r && from < r.from) from = r.from;
    if (r && to > r.to && !centre) to = r.to;
    return { from: from != null ? Math.floor(from) : undefined, to: to != null ? Math.ceil(to) : undefined };
  };

  const draw = (p) => {
    const t = theme();
    const xs = p.buckets.map((b) => b.time);
    const ys = KEYS.map((k) => p.buckets.map((b) => b[k] ?? null));
    const bs = p.bucket_seconds;
    const dpr = devicePixelRatio;
    // Each bucket is drawn over its own span [time, time + bucket_seconds):
    // flat steps, never lines interpolated between bucket centres, so a
    // bucket with no answer is a gap and an outage has sharp edges.
    const span = (u, b) => {
      const x0 = Math.round(u.valToPos(b.time, 'x', true)), x1 = Math.round(u.valToPos(b.time + bs, 'x', true));
      return [x0, Math.max(1, x1 - x0)];
    };
    const clip = (u) => {
      const { left, top, width, height } = u.bbox;
      u.ctx.save();
      u.ctx.beginPath(); u.ctx.rect(left, top, width, height); u.ctx.clip();
    };
    const hooks = {
      // Under the grid: outages, then the smoke.
      drawClear: [(u) => {
        const { ctx } = u;
        const { top, height } = u.bbox;
        const Y = (v) => u.valToPos(v, 'y', true);
        clip(u);
        let lost = 0, steps = 0, gaps = 0;
        for (const b of p.buckets) {
          const [x, w] = span(u, b);
          if (b.sent > 0 && b.lost === b.sent) { // every probe lost: shaded, no smoke
            ctx.fillStyle = `${t.bad}30`;
            ctx.fillRect(x, top, w, height);
            lost++;
            continue;
          }
          if (b.min_ms == null) { gaps++; continue; } // nothing sent or answered: a gap
          for (const [i, [lo, hi]] of [['min_ms', 'max_ms'], ['p10_ms', 'p90_ms'], ['p25_ms', 'p75_ms']].entries()) {
            if (b[lo] == null || b[hi] == null) continue;
            const y0 = Y(b[hi]), y1 = Y(b[lo]);
            ctx.fillStyle = t.band[i];
            ctx.fillRect(x, y0, w, Math.max(1 * dpr, y1 - y0));
          }
          steps++;
        }
        ctx.restore();
        Object.assign(chartEl.dataset, { bandSteps: steps, lostShaded: lost, gaps });
      }],
      draw: [(u) => {
        const { ctx } = u;
        const { top, height } = u.bbox;
        const X = (v) => u.valToPos(v, 'x', true), Y = (v) => u.valToPos(v, 'y', true);
        clip(u);
        // Transitions.
        ctx.lineWidth = 1.5 * dpr;
        ctx.setLineDash([4 * dpr, 3 * dpr]);
        for (const e of p.events ?? []) {
          ctx.strokeStyle = e.state === 'down' ? t.bad : t.good;
          const x = Math.round(X(e.time)) + 0.5;
          ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
        }
        ctx.setLineDash([]);
        // The median: a step per bucket in its loss colour, joined by thin
        // risers to the next bucket when it has one.
        let prev = null, drawn = 0;
        for (const b of p.buckets) {
          if (b.median_ms == null) { prev = null; continue; }
          const [x0, w] = span(u, b), y = Math.round(Y(b.median_ms));
          if (prev != null && prev !== y) {
            ctx.strokeStyle = t.muted; ctx.lineWidth = 1 * dpr;
            ctx.beginPath(); ctx.moveTo(x0, prev); ctx.lineTo(x0, y); ctx.stroke();
          }
          ctx.strokeStyle = lossColour(b.loss ?? (b.sent ? b.lost / b.sent : 0));
          ctx.lineWidth = 2.5 * dpr;
          ctx.beginPath(); ctx.moveTo(x0, y); ctx.lineTo(x0 + w, y); ctx.stroke();
          prev = y; drawn++;
        }
        ctx.restore();
        chartEl.dataset.drawn = String(Number(chartEl.dataset.drawn || 0) + 1);
        chartEl.dataset.medianSegments = drawn;
      }],
      setCursor: [(u) => {
        const i = u.cursor.idx;
        const b = i != null ? p.buckets[i] : null;
        $('#pair-readout').textContent = b
          ? `${time(b.time, true)} · median ${ms(b.median_ms)} · p25–p75 ${ms(b.p25_ms)}–${ms(b.p75_ms)} · min ${ms(b.min_ms)} · max ${ms(b.max_ms)} · loss ${pct(b.loss)} (${b.lost}/${b.sent})`
          : '\u00a0';
      }],
    };
    // The series only scale the axes and feed the cursor: the hooks draw.
    const hidden = { stroke: 'transparent', width: 0, points: { show: false } };
    if (plot) plot.destroy();
    chartEl.innerHTML = '';
    plot = timeChart(chartEl, {
      data: [xs, ...ys], height: 320, yLabel: 'RTT (ms)', legend: false, hooks,
      series: KEYS.map((k) => ({ label: k.replace('_ms', ''), ...hidden })),
      xRange: [p.from, p.to],
      // The cursor picks the bucket it is over, not the nearest bucket start.
      dataIdx: (_u, _s, closest, x) => (x == null || !xs.length ? closest : Math.max(0, Math.min(xs.length - 1, Math.floor((x - xs[0]) / bs)))),
      yRange: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1],
    });
    chartEl.dataset.buckets = p.buckets.length;
    chartEl.dataset.from = p.from;
    chartEl.dataset.to = p.to;
    $('#pair-facts').innerHTML = facts(p);
    $('#pair-table-wrap').innerHTML = table(p);
    $('#pair-events').innerHTML = eventsTable([...(p.events ?? [])].sort((a, b) => b.time - a.time), { empty: 'No transitions in this range.' });
  };

  const load = async () => {
    for (const b of root.querySelectorAll('[data-span]')) b.classList.toggle('on', Number(b.dataset.span) === span);
    try {
      const r = range();
      // A bucket holds at least two probes, so short ranges do not break
      // into empty slivers; at most 240 buckets across the chart.
      const iv = app.state.summary?.interval_seconds || 1;
      const span = r.from != null && r.to != null ? r.to - r.from : 3600;
      const buckets = Math.max(1, Math.min(240, Math.floor(span / (2 * iv))));
      pair = await api.get(`pairs/${api.enc(src)}/${api.enc(dst)}`, { from: r.from, to: r.to, buckets });
      draw(pair);
    } catch (e) {
      $('#pair-facts').innerHTML = `<span class="error">${esc(e.message)}</span>`;
    }
  };
  for (const b of root.querySelectorAll('[data-span]')) b.addEventListener('click', () => { span = Number(b.dataset.span); load(); });
  load();
  return {
    update(what) { if (what === 'theme' && pair) draw(pair); if (what === 'at') load(); },
    unmount() { if (plot) plot.destroy(); },
    exportData: () => ({
      name: `pair-${src}-${dst}`,
      records: (pair?.buckets ?? []).map((b) => ({ time: b.time, sent: b.sent, lost: b.lost, loss: b.loss, ...Object.fromEntries(KEYS.map((k) => [k, b[k]])) })),
      json: pair ? { ...pair, events: eventRecords(pair.events ?? []) } : null,
    }),
  };
}
