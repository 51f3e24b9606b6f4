// The JSON API client. Paths are relative so the page also works behind a
// reverse proxy that mounts serve under a prefix. The control token (from
// the URL fragment #token=..., kept in sessionStorage) only ever leaves the
// browser as an Authorization header.

const TOKEN_KEY = 'pmonitor.token';

/** token returns the control token of this tab, or null. */
export function token() {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
}

/** takeTokenFromHash moves "#token=..." from the address into sessionStorage and strips it from the address bar. */
export function takeTokenFromHash() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return false;
  try { sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1])); } catch { /* storage off: token lost */ }
  history.replaceState(null, '', `${location.pathname}${location.search}#/agents`);
  return true;
}

function headers() {
  const h = { Accept: 'application/json' };
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

async function decode(res, path) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const msg = body && body.error ? body.error : `${res.status} ${res.statusText}`;
    const err = new Error(`${path}: ${msg}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

/** get fetches api/v1/PATH with query parameters (null/undefined/'' are left out). */
export async function get(path, params = {}, signal) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, v);
  const url = `api/v1/${path}${q.toString() ? `?${q}` : ''}`;
  return decode(await fetch(url, { headers: headers(), signal }), url);
}

/** post sends an empty POST to api/v1/PATH with the token. */
export async function post(path) {
  const url = `api/v1/${path}`;
  return decode(await fetch(url, { method: 'POST', headers: headers() }), url);
}

/** enc encodes one path segment. */
export const enc = encodeURIComponent;
