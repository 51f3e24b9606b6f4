// The events view (outages with durations, filtered by node and kind) and
// the events table every other view reuses.
import * as api from './api.js';
import { esc, time, dur, pairHref, nodeHref } from './fmt.js';
import { matchEvent } from './filters.js';

// ongoing marks the down events that no later up of the same pair closes.
function ongoing(events) {
  const closed = new Set(), open = new Set();
  // events are newest first: walking forward, an "up" closes every older "down" of its pair.
  for (const e of events) {
    const k = `${e.source}\u0000${e.target}`;
    if (e.state === 'up') closed.add(k);
    else if (!closed.has(k)) { open.add(e); closed.add(k); }
  }
  return open;
}

/** eventsTable renders events (newest first) as an HTML table; every row links to its pair chart. */
export function eventsTable(events, { empty = 'No events in this range.', id = '' } = {}) {
  if (!events || !events.length) return `<div class="empty">${esc(empty)}</div>`;
  const open = ongoing(events);
  const rows = events.map((e) => {
    const outage = e.outage_seconds != null ? dur(e.outage_seconds) : open.has(e) ? '<span class="error">ongoing</span>' : '—';
    return `<tr data-source="${esc(e.source)}" data-target="${esc(e.target)}" data-state="${esc(e.state)}" data-time="${e.time}">
      <td class="mono" title="${esc(time(e.time, true))}">${esc(time(e.time))}</td>
      <td><a href="${nodeHref(e.source)}">${esc(e.source)}</a> → <a href="${nodeHref(e.target)}">${esc(e.target)}</a>
        <span class="kind">${e.stable ? 'stable' : 'dynamic'}</span></td>
      <td><span class="pill ${e.state === 'down' ? 'down' : 'up'}">${esc(e.state)}</span></td>
      <td class="muted">${esc(e.reason ?? '')}</td>
      <td class="num">${outage}</td>
      <td class="num"><a href="${pairHref(e.source, e.target, e.time)}">chart ›</a></td></tr>`;
  }).join('');
  return `<table class="list events" ${id ? `id="${esc(id)}"` : ''}><thead><tr><th>time</th><th>pair</th><th>state</th>
    <th>reason</th><th class="num">outage</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** records flattens events for CSV/JSON export. */
export function records(events) {
  return events.map((e) => ({
    time: e.time, source: e.source, target: e.target, target_address: e.target_address ?? '',
    stable: e.stable, state: e.state, reason: e.reason ?? '', outage_seconds: e.outage_seconds ?? '',
  }));
}

// PAGE is how many events the view draws at first and per "show more".
const PAGE = 200;

/** mount shows the events view; query.node preselects a node. */
export function mount(root, app, _args, query) {
  let node = query.get('node') ?? '';
  let events = [];
  let limit = PAGE; // rows drawn; a fault burst makes hundreds of events a minute
  let err = '';
  const names = (app.state.mesh?.nodes ?? []).map((n) => `<option value="${esc(n.name)}">`).join('');
  root.innerHTML = `<section class="panel"><header><h2>Events</h2>
      <span class="muted" id="ev-count"></span>
      <span class="right"><label class="seg"><span>Node</span>
        <input type="search" id="ev-node" list="ev-nodes" placeholder="any node" value="${esc(node)}"></label>
        <datalist id="ev-nodes">${names}</datalist></span></header>
    <p class="note">Up/down transitions seen by the agents, newest first. "Failing only" keeps the down events;
      the node filters above apply to source and target.</p>
    <div id="ev-body"></div></section>`;
  const body = root.querySelector('#ev-body');
  const count = root.querySelector('#ev-count');
  const draw = () => {
    const f = app.state.filters;
    const shown = events.filter((e) => matchEvent(e, f));
    count.textContent = shown.length > limit ? `newest ${limit} of ${shown.length}` : `${shown.length} of ${events.length}`;
    const more = shown.length > limit
      ? `<div class="more"><button type="button" class="btn small" id="ev-more">Show ${Math.min(PAGE, shown.length - limit)} more</button>
         <span class="muted">${shown.length - limit} older events not shown; export has them all</span></div>` : '';
    body.innerHTML = err ? `<div class="empty error">${esc(err)}</div>` : eventsTable(shown.slice(0, limit), { id: 'events-table' }) + more;
    body.querySelector('#ev-more')?.addEventListener('click', () => { limit += PAGE; draw(); });
    body.dataset.rows = shown.length;
  };
  const load = async () => {
    try {
      const r = await api.get('events', { node, limit: 2000 });
      events = r.events ?? [];
      err = '';
    } catch (e) { err = e.message; }
    draw();
  };
  const input = root.querySelector('#ev-node');
  input.addEventListener('change', () => {
    node = input.value.trim();
    history.replaceState(null, '', node ? `#/events?node=${encodeURIComponent(node)}` : '#/events');
    load();
  });
  load();
  return {
    update(what, data) {
      if (what === 'filters') draw();
      if (what === 'events' && data?.length) {
        const fresh = data.filter((e) => !node || e.source === node || e.target === node);
        if (fresh.length) { events = fresh.concat(events); draw(); }
      }
    },
    exportData: () => ({ name: node ? `events-${node}` : 'events', records: records(events.filter((e) => matchEvent(e, app.state.filters))) }),
  };
}
