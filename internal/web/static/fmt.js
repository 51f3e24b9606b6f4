// Formatting and small DOM helpers shared by every view. Everything that
// ends up in innerHTML goes through esc: node names come from the registry,
// which other programs write.

const pad = (n) => String(n).padStart(2, '0');

/** esc makes a value safe inside HTML text and attribute values. */
export function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

/** time formats epoch seconds as local HH:MM:SS, with the date when not today (or when full). */
export function time(t, full = false) {
  if (t == null || !isFinite(t)) return '—';
  const d = new Date(t * 1000);
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const today = new Date();
  if (!full && d.toDateString() === today.toDateString()) return hms;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}`;
}

/** dur formats seconds as "850 ms", "12.5 s", "3 m 20 s", "2 h 5 m", "3 d 4 h". */
export function dur(s) {
  if (s == null || !isFinite(s)) return '—';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${Math.round(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} m`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** ago formats how long before now (epoch seconds) t was. */
export function ago(t, now = Date.now() / 1000) {
  if (t == null) return '—';
  const d = now - t;
  return d < 0.5 ? 'now' : `${dur(d)} ago`;
}

/** ms formats an RTT in milliseconds with a precision that suits its size. */
export function ms(v) {
  if (v == null || !isFinite(v)) return '—';
  if (v < 1) return `${v.toFixed(3)} ms`;
  if (v < 100) return `${v.toFixed(2)} ms`;
  return `${Math.round(v)} ms`;
}

/** pct formats a ratio 0..1 as a percentage. */
export function pct(r) {
  if (r == null || !isFinite(r)) return '—';
  if (r === 0) return '0 %';
  if (r < 0.01) return `${(r * 100).toFixed(2)} %`;
  return `${Math.round(r * 1000) / 10} %`;
}

/** ratio formats good/total as "9 / 10". */
export function ratio(c) {
  return c ? `${c.good} / ${c.total}` : '—';
}

/** pairHref is the pair view's address; t (optional) centres the chart on a moment. */
export function pairHref(src, dst, t) {
  return `#/pair/${encodeURIComponent(src)}/${encodeURIComponent(dst)}${t ? `?t=${Math.round(t)}` : ''}`;
}

/** nodeHref is the node view's address. */
export function nodeHref(name) {
  return `#/node/${encodeURIComponent(name)}`;
}

/** cssVar reads a custom property of the document (the theme). */
export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** stateLabel names a mesh cell state character. */
export const stateLabel = {
  u: 'up', d: 'down', n: 'never answered', '-': 'no data', s: 'agent not running', '=': 'self',
};
