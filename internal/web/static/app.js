// pmonitor dashboard: state, router (URL hash), live stream and toolbar.
// Views are modules with mount(root, app, args, query) returning
// {update(what, data), unmount(), exportData(), png()}; "what" is one of
// summary, mesh, events, filters, at, theme.
import * as api from './api.js';
import * as overview from './overview.js';
import * as meshView from './mesh.js';
import * as pairView from './pair.js';
import * as nodeView from './node.js';
import * as eventsView from './events.js';
import * as agentsView from './agents.js';
import { defaults } from './filters.js';
import { exportView, exportPNG } from './export.js';
import { esc, time } from './fmt.js';

// A blocked resource would otherwise fail silently: make it a console error
// (the browser tests fail on any).
document.addEventListener('securitypolicyviolation', (e) => {
  console.error(`CSP blocked ${e.blockedURI || 'inline code'} (${e.violatedDirective})`);
});

const $ = (id) => document.getElementById(id);
const root = $('view');
const views = { '': overview, mesh: meshView, pair: pairView, node: nodeView, events: eventsView, agents: agentsView };
const SERIES_CAP = 720;

const state = { summary: null, mesh: null, liveMesh: null, at: null, filters: defaults(), generation: 0 };
const app = { state };
let current = null;

function notify(what, data) {
  try { current?.update?.(what, data); } catch (e) { console.error(e); }
}

// --- router ---------------------------------------------------------------

function route() {
  api.takeTokenFromHash(); // #token=... becomes #/agents
  const h = location.hash.replace(/^#\/?/, '');
  const [path, qs] = h.split('?');
  const parts = path.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  const name = views[parts[0]] ? parts[0] : '';
  try { current?.unmount?.(); } catch (e) { console.error(e); }
  current = null;
  root.dataset.view = name || 'overview';
  for (const a of document.querySelectorAll('.tabs a')) a.classList.toggle('active', a.dataset.view === (name || 'overview') || (name === 'pair' && a.dataset.view === 'mesh') || (name === 'node' && a.dataset.view === 'mesh'));
  if (!state.summary) return;
  current = views[name].mount(root, app, parts.slice(1), new URLSearchParams(qs ?? ''));
  $('x-png').disabled = !current?.png;
  document.title = `pmonitor · ${name ? parts.join(' › ') : 'overview'}`;
  window.scrollTo(0, 0);
}

// --- state updates --------------------------------------------------------

function setSummary(s) {
  const old = state.summary ?? {};
  const merged = { ...old, ...s };
  merged.series = s.series ?? old.series ?? { time: [] };
  merged.events = s.events ?? old.events ?? [];
  if (!s.series && s.now && s.time) appendPoint(merged.series, s);
  if (s.generation != null) state.generation = s.generation;
  state.summary = merged;
  $('mode').textContent = merged.mode === 'replay' ? 'replay' : 'live';
  $('mode').className = `badge ${merged.mode === 'replay' ? 'replay' : 'live'}`;
  $('foot-time').textContent = `data at ${time(merged.time, true)}${state.generation ? ` · generation ${state.generation}` : ''}`;
  syncScrubber();
}

// appendPoint extends the chart series from a stream push, keeping the
// spacing of the server's series so the line does not get denser at its end.
function appendPoint(sr, s) {
  const t = sr.time ?? (sr.time = []);
  const n = t.length;
  const step = n > 1 ? (t[n - 1] - t[0]) / (n - 1) : 1;
  if (n && s.time - t[n - 1] < step * 0.99) return;
  const push = (k, v) => (sr[k] ?? (sr[k] = [])).push(v);
  t.push(s.time);
  push('stable_good', s.now.stable?.good); push('stable_total', s.now.stable?.total);
  push('dynamic_good', s.now.dynamic?.good); push('dynamic_total', s.now.dynamic?.total);
  push('agents_running', s.now.agents_running);
  if (t.length > SERIES_CAP) for (const k of Object.keys(sr)) sr[k].splice(0, sr[k].length - SERIES_CAP);
}

let meshPending = false;
function setMesh(m) {
  state.mesh = m;
  if (meshPending) return;
  meshPending = true;
  requestAnimationFrame(() => { meshPending = false; notify('mesh'); });
}

// --- live stream ----------------------------------------------------------

// The indicator: "connected" while the stream is open; "reconnecting"
// while the browser retries by itself (the stream ended, or the server is
// away); "disconnected" when it gave up (an HTTP error: serve restarting
// behind a proxy, too many clients), and then connect() tries again with a
// backoff. Whatever was missed meanwhile is fetched again on reopening.
let backoff = 1000;
let missed = false;
function showConn(state, text) {
  const conn = $('conn');
  conn.dataset.state = state;
  conn.textContent = text;
}

function connect() {
  const es = new EventSource('api/v1/stream');
  es.addEventListener('open', () => {
    showConn('open', 'connected');
    backoff = 1000;
    if (missed) { missed = false; resync(); }
  });
  es.addEventListener('summary', (e) => {
    setSummary(JSON.parse(e.data));
    if (!current) route(); else notify('summary');
  });
  es.addEventListener('mesh', (e) => {
    state.liveMesh = JSON.parse(e.data);
    if (state.at == null) setMesh(state.liveMesh);
  });
  es.addEventListener('events', (e) => {
    // The server sends each database's new events oldest first, one
    // database after another: the views want them newest first.
    const fresh = (JSON.parse(e.data).events ?? []).sort((a, b) => b.time - a.time);
    if (!fresh.length || !state.summary) return;
    state.summary.events = fresh.concat(state.summary.events ?? []).slice(0, 10);
    notify('events', fresh);
  });
  es.addEventListener('error', () => {
    missed = true;
    if (es.readyState !== EventSource.CLOSED) {
      showConn('error', 'reconnecting');
      return;
    }
    showConn('error', 'disconnected');
    es.close();
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 30000);
  });
}

async function resync() {
  try {
    setSummary(await api.get('summary'));
    notify('summary');
    if (state.at == null) setMesh(state.liveMesh = await api.get('mesh'));
  } catch (e) { console.warn('resync', e.message); }
}

// --- toolbar: filters, time scrubber, export --------------------------------

function bindFilters() {
  const f = state.filters;
  const changed = () => notify('filters');
  $('f-kind').addEventListener('change', (e) => { f.kind = e.target.value; changed(); });
  $('f-failing').addEventListener('change', (e) => { f.failing = e.target.checked; changed(); });
  let t = 0;
  $('f-search').addEventListener('input', (e) => {
    clearTimeout(t);
    t = setTimeout(() => { f.q = e.target.value.trim(); changed(); }, 120);
  });
}

function syncScrubber() {
  const r = state.summary?.range;
  const s = $('scrub');
  if (!r || r.from == null || r.to == null) { s.disabled = true; return; }
  s.disabled = false;
  s.min = Math.floor(r.from);
  s.max = Math.ceil(r.to);
  s.step = Math.max(1, Math.round(state.summary.interval_seconds ?? 1));
  if (state.at == null) s.value = s.max;
  const replay = state.summary.mode === 'replay';
  $('scrub-label').textContent = state.at == null ? (replay ? 'latest' : 'live') : time(state.at, true);
  $('scrub-live').textContent = replay ? 'Latest' : 'Live';
  $('scrub-live').classList.toggle('on', state.at == null);
}

let scrubSeq = 0;
async function setAt(t) {
  const seq = ++scrubSeq;
  state.at = t;
  syncScrubber();
  try {
    const m = t == null ? (state.liveMesh ?? await api.get('mesh')) : await api.get('mesh', { at: t });
    if (seq !== scrubSeq) return; // a later move won
    setMesh(m);
    notify('at');
  } catch (e) { console.warn(e.message); $('scrub-label').textContent = e.message; }
}

function bindScrubber() {
  const s = $('scrub');
  let t = 0;
  s.addEventListener('input', () => {
    const v = Number(s.value);
    $('scrub-label').textContent = time(v, true);
    clearTimeout(t);
    t = setTimeout(() => setAt(v >= Number(s.max) ? null : v), 150);
  });
  $('scrub-live').addEventListener('click', () => setAt(null));
}

function bindExport() {
  $('x-csv').addEventListener('click', () => exportView(current, 'csv'));
  $('x-json').addEventListener('click', () => exportView(current, 'json'));
  $('x-png').addEventListener('click', () => exportPNG(current));
}

// --- start ----------------------------------------------------------------

async function start() {
  bindFilters();
  bindScrubber();
  bindExport();
  window.addEventListener('hashchange', route);
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => route());
  api.takeTokenFromHash();
  try {
    const [s, m] = await Promise.all([api.get('summary'), api.get('mesh')]);
    setSummary(s);
    state.mesh = state.liveMesh = m;
  } catch (e) {
    root.innerHTML = `<div class="panel empty error">Cannot reach the pmonitor API: ${esc(e.message)}</div>`;
    console.warn(e);
  }
  route();
  connect();
  document.body.dataset.ready = '1';
}

start();
