// The overview: the original page's four series (good and failed, stable
// and dynamic) as two charts, agents running over time, the counts now,
// the live mesh and the latest events.
import { esc, ratio, time, dur } from './fmt.js';
import { timeChart, expose, theme } from './chart.js';
import { eventsTable, records as eventRecords } from './events.js';
import { meshPanel } from './mesh.js';
import { matchEvent } from './filters.js';

function card(label, value, sub, cls = '') {
  return `<div class="panel card ${cls}"><div class="label">${esc(label)}</div>
    <div class="value">${value}</div><div class="sub">${sub}</div></div>`;
}

function share(c) {
  if (!c || !c.total) return 'no counted pairs yet';
  const failed = c.total - c.good;
  return `${Math.round((c.good / c.total) * 1000) / 10} % good · ${failed} failed`;
}

function cards(s) {
  const n = s.now ?? {};
  const st = n.stable, dy = n.dynamic;
  const frac = (c) => (c ? `${c.good}<small> / ${c.total}</small>` : '—');
  const span = s.range ? `${time(s.range.from, true)} → ${time(s.range.to)}` : '';
  return card('Stable nodes good', frac(st), share(st), st && st.good < st.total ? 'bad' : 'good')
    + card('Dynamic nodes good', frac(dy), share(dy), dy && dy.good < dy.total ? 'bad' : '')
    + card('Agents running', `${n.agents_running ?? '—'}<small> / ${n.agents ?? '—'}</small>`,
      n.agents_running < n.agents ? `${n.agents - n.agents_running} not running` : 'all running',
      n.agents_running < n.agents ? 'bad' : '')
    + card('Links down now', `${n.links_down ?? '—'}`, n.links_down ? 'pairs whose last probe failed' : 'every counted pair answers',
      n.links_down ? 'bad' : 'good')
    + card(s.mode === 'replay' ? 'Replay' : 'History', s.range ? dur(s.range.to - s.range.from) : '—',
      `${esc(span)}${s.interval_seconds ? ` · every ${s.interval_seconds} s` : ''}`);
}

function seriesData(s) {
  const x = s.series?.time ?? [];
  const g = (k) => s.series?.[k] ?? [];
  const fail = (good, total) => total.map((t, i) => (t == null ? null : t - (good[i] ?? 0)));
  return {
    stable: [x, g('stable_good'), fail(g('stable_good'), g('stable_total'))],
    dynamic: [x, g('dynamic_good'), fail(g('dynamic_good'), g('dynamic_total'))],
    agents: [x, g('agents_running')],
  };
}

/** mount shows the overview. */
export function mount(root, app) {
  root.innerHTML = `<div class="grid cards" id="ov-cards"></div>
    <div class="grid two">
      <section class="panel"><header><h2>Stable nodes</h2><span class="muted">good and failed pairs</span></header>
        <div class="chart" id="ch-stable"></div></section>
      <section class="panel"><header><h2>Dynamic nodes</h2><span class="muted">good and failed pairs</span></header>
        <div class="chart" id="ch-dynamic"></div></section>
    </div>
    <div class="grid two" id="ov-bottom">
      <div id="ov-mesh"></div>
      <div class="grid stack">
        <section class="panel"><header><h2>Latest events</h2><a class="right" href="#/events">all events ›</a></header>
          <div id="ov-events"></div></section>
        <section class="panel"><header><h2>Agents running</h2></header><div class="chart" id="ch-agents"></div></section>
      </div>
    </div>`;
  const t = theme();
  const $ = (id) => root.querySelector(id);
  const panel = meshPanel($('#ov-mesh'), 'Mesh now');
  const charts = [];
  let d = seriesData(app.state.summary ?? {});
  const goodFailed = (el, data) => {
    const c = timeChart(el, {
      data, height: 200, yLabel: 'pairs',
      series: [
        { label: 'good', stroke: t.good },
        { label: 'failed', stroke: t.bad, fill: `${t.bad}22` },
      ],
      yRange: (_u, _min, max) => [0, Math.max(1, max)],
    });
    expose(el, data, ['good', 'failed']);
    return c;
  };
  charts.push([goodFailed($('#ch-stable'), d.stable), 'stable', ['good', 'failed']]);
  charts.push([goodFailed($('#ch-dynamic'), d.dynamic), 'dynamic', ['good', 'failed']]);
  charts.push([timeChart($('#ch-agents'), {
    data: d.agents, height: 140, step: true, legend: false,
    series: [{ label: 'agents running', stroke: t.accent, fill: `${t.accent}1f` }],
    yRange: (_u, _min, max) => [0, Math.max(1, max)],
  }), 'agents', ['agents_running']]);
  expose($('#ch-agents'), d.agents, ['agents_running']);

  const drawCards = () => { $('#ov-cards').innerHTML = app.state.summary ? cards(app.state.summary) : ''; };
  const drawEvents = () => {
    const ev = (app.state.summary?.events ?? []).filter((e) => matchEvent(e, app.state.filters)).slice(0, 10);
    $('#ov-events').innerHTML = eventsTable(ev, { empty: 'No outages yet.', id: 'ov-events-table' });
  };
  const drawMesh = () => panel.draw(app.state.mesh, app.state.filters, app.state.at, app.state.summary?.mode === 'replay');
  drawCards(); drawEvents(); drawMesh();
  return {
    update(what) {
      if (what === 'summary') {
        drawCards();
        d = seriesData(app.state.summary);
        for (const [c, k, names] of charts) { c.setData(d[k]); expose(c.root.parentElement, d[k], names); }
      }
      if (what === 'events' || what === 'summary' || what === 'filters') drawEvents();
      if (what === 'mesh' || what === 'filters') drawMesh();
    },
    unmount() { for (const [c] of charts) c.destroy(); panel.hm.destroy(); },
    exportData: () => {
      const s = app.state.summary?.series ?? {};
      const recs = (s.time ?? []).map((tm, i) => ({
        time: tm, stable_good: s.stable_good?.[i], stable_total: s.stable_total?.[i],
        dynamic_good: s.dynamic_good?.[i], dynamic_total: s.dynamic_total?.[i], agents_running: s.agents_running?.[i],
      }));
      return { name: 'summary', records: recs, json: { summary: app.state.summary, events: eventRecords(app.state.summary?.events ?? []) } };
    },
    png: () => panel.hm.toPNG(),
  };
}
