// Filters shared by the views: stable/dynamic, failing only, name search.
// They are pure functions of the API's JSON so the mesh, the events and the
// agents table filter the same way.

/** defaults is the filter state at page load. */
export const defaults = () => ({ kind: 'all', failing: false, q: '' });

/** matchNode tells whether a node ({name, stable}) passes the kind and name filters. */
export function matchNode(node, f) {
  if (!node) return false;
  if (f.kind === 'stable' && !node.stable) return false;
  if (f.kind === 'dynamic' && node.stable) return false;
  if (f.q && !node.name.toLowerCase().includes(f.q.toLowerCase())) return false;
  return true;
}

/** matchEvent tells whether an event passes: its target's kind, and the search on source or target. */
export function matchEvent(ev, f) {
  if (f.kind === 'stable' && !ev.stable) return false;
  if (f.kind === 'dynamic' && ev.stable) return false;
  if (f.failing && ev.state !== 'down') return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    if (!ev.source.toLowerCase().includes(q) && !ev.target.toLowerCase().includes(q)) return false;
  }
  return true;
}

/**
 * meshView picks the rows and columns of the mesh to draw: positions into
 * mesh.rows and mesh.cols. The kind and name filters apply to both axes.
 * "Failing only" keeps the rows and columns that hold a failed cell (or an
 * agent that is not running), so a dead node still shows as a cross.
 */
export function meshView(mesh, f) {
  const R = mesh.rows.length, C = mesh.cols.length, st = mesh.state;
  let rows = [], cols = [];
  for (let i = 0; i < R; i++) if (matchNode(mesh.nodes[mesh.rows[i]], f)) rows.push(i);
  for (let j = 0; j < C; j++) if (matchNode(mesh.nodes[mesh.cols[j]], f)) cols.push(j);
  if (f.failing) {
    const badRow = new Uint8Array(R), badCol = new Uint8Array(C);
    for (const i of rows) {
      const o = i * C;
      for (const j of cols) {
        const c = st.charCodeAt(o + j);
        if (c === 100 /* d */) { badRow[i] = 1; badCol[j] = 1; } else if (c === 115 /* s */) badRow[i] = 1;
      }
    }
    rows = rows.filter((i) => badRow[i]);
    cols = cols.filter((j) => badCol[j]);
  }
  return { rows, cols, all: rows.length === R && cols.length === C };
}

/** active tells whether any filter narrows the view. */
export function active(f) {
  return f.kind !== 'all' || f.failing || f.q !== '';
}
