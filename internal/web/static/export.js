// Export of the current view: its records as CSV or JSON, the heatmap as PNG.
// Files are made in the browser from what the view shows; nothing is asked
// of the server.

function cell(v) {
  if (v == null) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** csv turns records (objects with the same keys) into RFC 4180 text. */
export function csv(records) {
  if (!records.length) return '';
  const keys = Object.keys(records[0]);
  return [keys.join(','), ...records.map((r) => keys.map((k) => cell(r[k])).join(','))].join('\r\n') + '\r\n';
}

function stamp() {
  return new Date().toISOString().replace(/[:]/g, '').replace(/\..*/, '');
}

/** save offers blob as a download named name and notes it on <body data-last-export> for tests. */
export function save(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  document.body.dataset.lastExport = `${name} ${blob.size}`;
}

/** exportView saves what the view's exportData() returns, as "csv" or "json". */
export function exportView(view, format) {
  const d = view?.exportData?.();
  if (!d) return;
  const name = `pmonitor-${d.name}-${stamp()}`;
  if (format === 'csv') save(new Blob([csv(d.records ?? [])], { type: 'text/csv' }), `${name}.csv`);
  else save(new Blob([JSON.stringify(d.json ?? d.records ?? [], null, 1)], { type: 'application/json' }), `${name}.json`);
}

/** exportPNG saves the view's heatmap as a PNG. */
export async function exportPNG(view) {
  if (!view?.png) return;
  const blob = await view.png();
  if (blob) save(blob, `pmonitor-mesh-${stamp()}.png`);
}
