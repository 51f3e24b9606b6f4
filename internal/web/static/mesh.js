// The mesh view: the heatmap at full width, its legend and tooltip, and a
// count of the cells by state. Click a cell for the pair, a label for the node.
import { Heatmap } from './heatmap.js';
import { esc, ms, pct, time, ago, stateLabel, pairHref, nodeHref } from './fmt.js';

const legend = `
  <span><i class="sw-up0"></i>up &lt; 1 ms</span>
  <span><i class="sw-up1"></i>&lt; 10 ms</span>
  <span><i class="sw-up2"></i>&lt; 100 ms</span>
  <span><i class="sw-up3"></i>≥ 100 ms</span>
  <span><i class="sw-lossy"></i>up, lossy</span>
  <span><i class="sw-down"></i>down</span>
  <span><i class="sw-never"></i>never answered</span>
  <span><i class="sw-nodata"></i>no data</span>
  <span><i class="sw-stale"></i>agent not running</span>
  <span><i class="sw-self"></i>self</span>
  <span class="axes">rows: source agent · columns: target</span>`;

/** showTip fills the shared tooltip for a hovered cell (null hides it). */
export function showTip(cell) {
  const tip = document.getElementById('mesh-tip');
  if (!cell) { tip.hidden = true; delete tip.dataset.pair; return; }
  const src = cell.source?.name ?? '?', dst = cell.target?.name ?? '?';
  const agent = cell.agent && cell.agent.state !== 'running'
    ? `<dt>agent</dt><dd>${esc(cell.agent.state)}${cell.agent.reason ? ` (${esc(cell.agent.reason)})` : ''}</dd>` : '';
  tip.innerHTML = `<div class="pair">${esc(src)} → ${esc(dst)}</div><dl>
    <dt>state</dt><dd>${esc(stateLabel[cell.state] ?? cell.state)}</dd>
    <dt>RTT</dt><dd>${ms(cell.rtt)}</dd>
    <dt>loss</dt><dd>${pct(cell.loss)}</dd>
    <dt>since</dt><dd>${cell.since ? `${time(cell.since)} (${ago(cell.since)})` : '—'}</dd>${agent}</dl>`;
  tip.dataset.pair = `${src}→${dst}`;
  tip.dataset.state = cell.state;
  tip.hidden = false;
  const w = tip.offsetWidth, h = tip.offsetHeight;
  const x = cell.x + 16 + w > innerWidth ? cell.x - w - 12 : cell.x + 16;
  const y = cell.y + 16 + h > innerHeight ? cell.y - h - 12 : cell.y + 16;
  tip.style.left = `${Math.max(4, x)}px`;
  tip.style.top = `${Math.max(4, y)}px`;
}

/** openCell navigates to the pair view, or to the node for the diagonal. */
export function openCell(cell) {
  showTip(null);
  if (cell.state === '=' || cell.source?.name === cell.target?.name) location.hash = nodeHref(cell.source.name);
  else location.hash = pairHref(cell.source.name, cell.target.name, null);
}

/** meshPanel builds the heatmap panel in root; it is used by the mesh and overview views. */
export function meshPanel(root, title, opts) {
  root.insertAdjacentHTML('beforeend', `<section class="panel" id="mesh-panel">
    <header><h2>${esc(title)}</h2><span class="muted" id="mesh-when"></span></header>
    <div class="mesh-counts" id="mesh-counts"></div>
    <div class="mesh-wrap" id="mesh-wrap"></div>
    <div class="legend">${legend}</div></section>`);
  const wrap = root.querySelector('#mesh-wrap');
  const hm = new Heatmap(wrap, {
    onHover: showTip,
    onClick: openCell,
    onLabel: (n) => { location.hash = nodeHref(n.name); },
  }, opts);
  const counts = root.querySelector('#mesh-counts');
  const when = root.querySelector('#mesh-when');
  return {
    hm,
    draw(mesh, filters, at, replay) {
      if (!mesh) return;
      hm.update(mesh, filters);
      const n = { u: 0, d: 0, n: 0, s: 0, '-': 0 };
      const st = hm.cells.dataset.state;
      for (let i = 0; i < st.length; i++) if (st[i] in n) n[st[i]]++;
      counts.innerHTML = `<span><b>${hm.view.rows.length}</b> × <b>${hm.view.cols.length}</b></span>
        <span><b>${n.u}</b> up</span><span><b class="${n.d ? 'error' : ''}">${n.d}</b> down</span>
        <span><b>${n.n}</b> never</span><span><b>${n.s}</b> not running</span><span><b>${n['-']}</b> no data</span>`;
      when.textContent = at == null ? (replay ? `end of the run · ${time(mesh.time, true)}` : `live · ${time(mesh.time)}`) : `at ${time(mesh.time, true)}`;
    },
    records() {
      const m = hm.mesh, v = hm.view, out = [];
      if (!m || !v) return out;
      for (const i of v.rows) for (const j of v.cols) {
        const idx = i * m.cols.length + j;
        out.push({
          source: m.nodes[m.rows[i]].name, target: m.nodes[m.cols[j]].name, state: stateLabel[m.state[idx]] ?? m.state[idx],
          rtt_ms: m.rtt_ms?.[idx] ?? null, loss: m.loss?.[idx] ?? null, since: m.since?.[idx] ?? null,
        });
      }
      return out;
    },
  };
}

/** mount shows the mesh view. */
export function mount(root, app) {
  root.innerHTML = '';
  const panel = meshPanel(root, 'Mesh', { maxCell: 44, fitHeight: true });
  const draw = () => panel.draw(app.state.mesh, app.state.filters, app.state.at, app.state.summary?.mode === 'replay');
  draw();
  return {
    update(what) { if (what === 'mesh' || what === 'filters') draw(); if (what === 'theme') panel.hm.retheme(); },
    unmount() { panel.hm.destroy(); showTip(null); },
    exportData: () => ({ name: 'mesh', records: panel.records() }),
    png: () => panel.hm.toPNG(),
  };
}
