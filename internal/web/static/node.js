// The node view: one node as sender (its row of the mesh) and as target
// (its column), its status list and last five (the original page's cells),
// and its events.
import * as api from './api.js';
import { esc, ms, time, ago, ratio, stateLabel, pairHref, nodeHref } from './fmt.js';
import { eventsTable, records as eventRecords } from './events.js';

const cls = { u: 'u', d: 'd', n: 'n', s: 's', '=': 'e' };

// strip renders a row or a column as linked cells.
function strip(id, names, state, rtt, pairOf) {
  if (!names?.length) return '<div class="empty">No data.</div>';
  const named = names.length <= 48; // small meshes: every cell with its name
  const cells = names.map((n, i) => {
    const ch = state[i] ?? '-';
    const [a, b] = pairOf(n);
    const tip = `${a} → ${b}: ${stateLabel[ch] ?? ch}${rtt?.[i] != null ? `, ${ms(rtt[i])}` : ''}`;
    const href = a === b ? nodeHref(a) : pairHref(a, b);
    const c = `cell-${cls[ch] ?? 'x'}`;
    return named
      ? `<a class="chip" href="${href}" title="${esc(tip)}"><i class="${c}"></i>${esc(n)}</a>`
      : `<a class="${c}" href="${href}" title="${esc(tip)}" aria-label="${esc(tip)}"></a>`;
  }).join('');
  return `<div class="strip${named ? ' named' : ''}" id="${id}" data-state="${esc(state)}" data-names="${esc(names.join('\n'))}">${cells}</div>`;
}

function lastFive(last) {
  if (!last?.length) return '<span class="muted">none yet</span>';
  return `<span class="cells" id="node-last">${last.map((l) => `<i class="${l.responded ? 'u' : 'd'}" title="${esc(l.name)} at ${esc(time(l.sample_time))}: ${l.responded ? 'answered' : 'failed'}"></i>`).join('')}</span>
    <span class="muted">${last.map((l) => esc(l.name)).join(', ')}</span>`;
}

function targets(list) {
  if (!list?.length) return '<div class="empty">This node has no working database (not an agent).</div>';
  return `<table class="list" id="node-targets"><thead><tr><th>target</th><th>kind</th><th>last</th><th>sampled</th>
    <th class="num">probes</th><th class="num">answers</th><th class="num">RTT last</th><th class="num">RTT avg</th>
    <th class="num">failures in a row</th></tr></thead><tbody>${list.map((t) => `<tr>
      <td><a href="${nodeHref(t.name)}">${esc(t.name)}</a> <span class="muted mono">${esc(t.address)}</span></td>
      <td><span class="kind">${t.stable ? 'stable' : 'dynamic'}</span></td>
      <td>${t.total_count > 0 ? `<span class="pill ${t.responded ? 'up' : 'down'}">${t.responded ? 'up' : 'down'}</span>` : '<span class="pill never">never</span>'}</td>
      <td class="mono" title="${esc(time(t.sample_time, true))}">${t.sample_time ? esc(ago(t.sample_time)) : '—'}</td>
      <td class="num">${t.total_count}</td><td class="num">${t.total_success}</td>
      <td class="num">${ms(t.rtt_last_ms)}</td><td class="num">${ms(t.rtt_avg_ms)}</td>
      <td class="num">${t.consecutive_failures ?? '—'}</td></tr>`).join('')}</tbody></table>`;
}

/** mount shows the node view for args [name]. */
export function mount(root, app, args) {
  const [name] = args;
  let node = null;
  root.innerHTML = `<div class="crumbs"><a href="#/mesh">Mesh</a> › node</div><div id="node-body"><div class="empty">Loading ${esc(name)}…</div></div>`;
  const body = root.querySelector('#node-body');
  const draw = (d) => {
    const a = d.agent ?? {};
    const agentState = a.state ?? 'unavailable';
    body.innerHTML = `<section class="panel"><header><h1>${esc(d.node.name)}</h1>
        <span class="mono muted">${esc(d.node.address)}</span><span class="kind">${d.node.stable ? 'stable' : 'dynamic'}</span>
        <span class="pill ${esc(agentState)}">${esc(agentState)}</span>
        <span class="right muted">${a.heartbeat ? `heartbeat ${esc(ago(a.heartbeat))}` : ''}${a.pid ? ` · pid ${a.pid}` : ''}${a.reason ? ` · ${esc(a.reason)}` : ''}</span></header>
        <div class="facts"><span>status, all <b>${ratio(d.status?.all)}</b></span><span>stable <b>${ratio(d.status?.stable)}</b></span>
          <span>run <b>${a.run == null ? '—' : a.run ? 'yes' : 'no'}</b></span><span>running <b>${a.running == null ? '—' : a.running ? 'yes' : 'no'}</b></span>
          <span>last five ${lastFive(d.last)}</span></div></section>
      <div class="grid two">
        <section class="panel"><header><h2>As sender</h2><span class="muted">its probes to every target</span></header>
          ${strip('node-row', d.row?.cols, d.row?.state ?? '', d.row?.rtt_ms, (n) => [d.node.name, n])}</section>
        <section class="panel"><header><h2>As target</h2><span class="muted">every agent's probes to it</span></header>
          ${strip('node-col', d.column?.rows, d.column?.state ?? '', d.column?.rtt_ms, (n) => [n, d.node.name])}</section>
      </div>
      <section class="panel"><header><h2>Status list</h2><span class="muted">its working database, registry order</span></header>${targets(d.targets)}</section>
      <section class="panel"><header><h2>Events</h2><a class="right" href="#/events?node=${encodeURIComponent(d.node.name)}">all ›</a></header>
        ${eventsTable(d.events ?? [], { empty: 'No transitions involving this node.', id: 'node-events' })}</section>`;
  };
  const load = async () => {
    try { node = await api.get(`nodes/${api.enc(name)}`); draw(node); } catch (e) {
      body.innerHTML = `<div class="panel empty error">${esc(e.message)}</div>`;
    }
  };
  load();
  let last = 0;
  return {
    update(what) {
      // Refresh on live mesh changes, at most every 2 s.
      if (what === 'mesh' && app.state.at == null && performance.now() - last > 2000) { last = performance.now(); load(); }
    },
    exportData: () => ({
      name: `node-${name}`,
      records: node?.targets ?? [],
      json: node ? { ...node, events: eventRecords(node.events ?? []) } : null,
    }),
  };
}
