// The agents table. Stop/start buttons appear only when the server says
// control is on for this request (serve --control-token-file and the tab's
// token, taken from the URL fragment #token=...).
import * as api from './api.js';
import { esc, ago, time } from './fmt.js';
import { matchNode } from './filters.js';

function row(a, control) {
  const state = !a.run ? 'stopped' : a.running ? 'running' : 'stopped';
  const buttons = control
    ? `<button type="button" class="btn small ${a.run ? 'danger' : ''}" data-act="${a.run ? 'stop' : 'start'}" data-addr="${esc(a.address)}">${a.run ? 'Stop' : 'Start'}</button>`
    : '';
  return `<tr data-name="${esc(a.name)}">
    <td><a href="#/node/${encodeURIComponent(a.name)}">${esc(a.name)}</a></td>
    <td class="mono">${esc(a.address)}</td>
    <td><span class="kind">${a.stable ? 'stable' : 'dynamic'}</span></td>
    <td><span class="pill ${state}">${state}</span></td>
    <td>${a.run ? 'yes' : 'no'}</td>
    <td class="num">${a.pid ?? '—'}</td>
    <td class="mono" title="${esc(time(a.heartbeat, true))}">${a.heartbeat ? esc(ago(a.heartbeat)) : '—'}</td>
    <td><span class="pill ${esc(a.working)}">${esc(a.working)}</span>${a.reason ? ` <span class="muted">${esc(a.reason)}</span>` : ''}</td>
    <td>${/^https?:\/\//.test(a.url ?? '') ? `<a class="mono" href="${esc(a.url)}">${esc(a.url)}</a>` : '<span class="muted">—</span>'}</td>
    <td>${buttons}</td></tr>`;
}

/** mount shows the agents view. */
export function mount(root, app) {
  let data = null, err = '', busy = false;
  root.innerHTML = `<section class="panel"><header><h2>Agents</h2><span class="muted" id="ag-count"></span>
    <span class="right muted" id="ag-control"></span></header><div id="ag-body"><div class="empty">Loading…</div></div></section>`;
  const body = root.querySelector('#ag-body');
  const draw = () => {
    if (err) { body.innerHTML = `<div class="empty error">${esc(err)}</div>`; return; }
    if (!data) return;
    const shown = data.agents.filter((a) => matchNode(a, app.state.filters) && (!app.state.filters.failing || !a.running || a.working !== 'available'));
    root.querySelector('#ag-count').textContent = `${data.agents.filter((a) => a.running).length} of ${data.agents.length} running`;
    root.querySelector('#ag-control').textContent = data.control ? 'control on: this tab holds the token'
      : api.token() ? 'read-only: the server did not accept this tab\'s token' : 'read-only (serve --control-token-file and #token=… turn control on)';
    body.innerHTML = shown.length ? `<table class="list" id="agents-table" data-control="${data.control}"><thead><tr><th>name</th><th>address</th>
      <th>kind</th><th>agent</th><th>run</th><th class="num">pid</th><th>heartbeat</th><th>working DB</th><th>metrics</th><th></th></tr></thead>
      <tbody>${shown.map((a) => row(a, data.control)).join('')}</tbody></table>` : '<div class="empty">No agents match.</div>';
  };
  const load = async () => {
    try { data = await api.get('agents'); err = ''; } catch (e) { err = e.message; }
    draw();
  };
  body.addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-act]');
    if (!b || busy) return;
    busy = true;
    b.disabled = true;
    try { await api.post(`agents/${api.enc(b.dataset.addr)}/${b.dataset.act}`); } catch (x) { err = x.message; }
    busy = false;
    await load();
  });
  load();
  let last = performance.now();
  return {
    update(what) {
      if (what === 'filters') draw();
      if (what === 'summary' && performance.now() - last > 3000) { last = performance.now(); load(); }
    },
    exportData: () => ({ name: 'agents', records: data?.agents ?? [] }),
  };
}
