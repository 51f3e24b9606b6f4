// The mesh heatmap: rows are agents, columns targets, one cell per pair.
// Two stacked canvases: the labels (redrawn only when the layout changes)
// and the cells (redrawn on every update by writing pixels into one
// ImageData, with the colours cached per theme). A 250 × 250 update is a
// few milliseconds of main-thread time; the canvas carries what it drew in
// data-* attributes (rows, cols, state, update-ms) for tests and scripts.
import { meshView } from './filters.js';
import { cssVar } from './fmt.js';

const LABEL_FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';
const MIN_CELL = 2;
const LABEL_PX = 14; // a label needs this many CSS pixels of axis

// palette reads the theme's mesh colours as little-endian RGBA words.
function palette() {
  const probe = document.createElement('canvas').getContext('2d');
  const word = (name) => {
    probe.fillStyle = '#000';
    probe.fillStyle = cssVar(name) || '#888';
    probe.clearRect(0, 0, 1, 1);
    probe.fillRect(0, 0, 1, 1);
    const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
    return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
  };
  const css = (name) => cssVar(name);
  return {
    up: [word('--m-up0'), word('--m-up1'), word('--m-up2'), word('--m-up3')],
    lossy: word('--m-lossy'), down: word('--m-down'), never: word('--m-never'),
    nodataBg: word('--m-nodata-bg'), hatch: word('--m-nodata-hatch'),
    stale: word('--m-stale'), self: word('--m-self'), bg: word('--m-bg'),
    fg: css('--fg'), muted: css('--muted'), line: css('--line'), accent: css('--accent'),
  };
}

// RTT thresholds of the green shades (goldpinger's 1 / 10 / 100 ms).
function upColour(p, rtt, loss) {
  if (loss != null && loss > 0) return p.lossy;
  if (rtt == null) return p.up[1];
  return rtt < 1 ? p.up[0] : rtt < 10 ? p.up[1] : rtt < 100 ? p.up[2] : p.up[3];
}

// thin picks which of n axis labels to draw when a cell is smaller than a
// line of text: every step-th, always the first node of each kind (so the
// stable/dynamic split stays named), never two closer than step cells.
function thin(n, step, stable) {
  const forced = [];
  for (let k = 0; k < n; k++) if (k === 0 || stable(k) !== stable(k - 1)) forced.push(k);
  const show = new Uint8Array(n);
  let last = -Infinity, f = 0;
  for (let k = 0; k < n; k++) {
    while (f < forced.length && forced[f] < k) f++;
    const next = f < forced.length ? forced[f] : Infinity;
    if (k === next || (k - last >= step && next - k >= step)) { show[k] = 1; last = k; }
  }
  return show;
}

/** Heatmap draws a mesh into a container and reports hover and click on cells. */
export class Heatmap {
  /**
   * @param {HTMLElement} wrap scrolling container (position: relative)
   * @param {{onHover?: Function, onClick?: Function, onLabel?: Function}} cb
   * @param {{maxCell?: number, fitHeight?: boolean}} opts cell size cap; fitHeight also fits the rows to the window
   */
  constructor(wrap, cb = {}, opts = {}) {
    this.wrap = wrap;
    this.opts = { maxCell: 26, fitHeight: false, ...opts };
    this.cb = cb;
    this.labels = document.createElement('canvas');
    this.labels.id = 'mesh-labels';
    this.cells = document.createElement('canvas');
    this.cells.id = 'mesh-cells';
    this.cells.setAttribute('role', 'img');
    this.cells.setAttribute('aria-label', 'Mesh heatmap');
    this.hl = document.createElement('div');
    this.hl.className = 'mesh-hl';
    this.hl.hidden = true;
    wrap.append(this.labels, this.cells, this.hl);
    this.mesh = null;
    this.view = null;
    this.updates = 0;
    this.layoutKey = '';
    this.pal = palette();
    this.cells.addEventListener('mousemove', (e) => this.hover(e));
    this.cells.addEventListener('mouseleave', () => { this.hl.hidden = true; cb.onHover?.(null); });
    this.cells.addEventListener('click', (e) => {
      const cell = this.cellAt(e);
      if (cell) cb.onClick?.(cell);
    });
    this.labels.addEventListener('click', (e) => this.labelClick(e));
    // The width is read here, not in update: reading layout there would
    // force the browser to lay out every other change of the frame first.
    this.width = wrap.clientWidth;
    this.ro = new ResizeObserver(([e]) => {
      const w = Math.round(e.contentRect.width);
      if (w === this.width) return;
      this.width = w;
      if (this.mesh) this.update(this.mesh, this.filters);
    });
    this.ro.observe(wrap);
  }

  /** destroy stops watching the container's size. */
  destroy() {
    this.ro.disconnect();
  }

  /** retheme re-reads the palette (prefers-color-scheme changed) and redraws. */
  retheme() {
    this.pal = palette();
    this.layoutKey = '';
    if (this.mesh) this.update(this.mesh, this.filters);
  }

  /** update draws mesh under filters; cheap when only the cells changed. */
  update(mesh, filters) {
    const t0 = performance.now();
    performance.mark('mesh-update-start');
    this.mesh = mesh;
    this.filters = filters;
    const v = meshView(mesh, filters);
    this.view = v;
    const key = `${this.width}|${devicePixelRatio}|${mesh.nodes.length}|${v.rows.join(',')}|${v.cols.join(',')}|${mesh.rows.join(',')}|${mesh.cols.join(',')}`;
    if (key !== this.layoutKey) {
      this.layout(mesh, v);
      this.layoutKey = key;
    }
    const drawn = this.paint(mesh, v);
    const c = this.cells.dataset;
    c.rows = v.rows.length;
    c.cols = v.cols.length;
    c.state = drawn;
    c.time = mesh.time ?? '';
    performance.mark('mesh-update-end');
    performance.measure('mesh-update', 'mesh-update-start', 'mesh-update-end');
    performance.clearMarks('mesh-update-start');
    performance.clearMarks('mesh-update-end');
    // A live page updates for days: keep the timeline bounded.
    if (++this.updates % 1000 === 0) performance.clearMeasures('mesh-update');
    const ms = performance.now() - t0;
    c.updateMs = ms.toFixed(3);
    this.lastMs = ms;
    return ms;
  }

  layout(mesh, v) {
    const name = (idx) => mesh.nodes[idx]?.name ?? '?';
    const rowNames = v.rows.map((i) => name(mesh.rows[i]));
    const colNames = v.cols.map((j) => name(mesh.cols[j]));
    const ctx = this.labels.getContext('2d');
    ctx.font = LABEL_FONT;
    let lw = 0;
    for (const n of rowNames.concat(colNames)) lw = Math.max(lw, ctx.measureText(n).width);
    lw = Math.min(Math.ceil(lw) + 12, 160);
    const avail = Math.max(120, this.width - lw - 8);
    let cell = Math.min(this.opts.maxCell, Math.floor(avail / Math.max(1, v.cols.length)));
    if (this.opts.fitHeight) {
      const availH = innerHeight - (this.wrap.getBoundingClientRect().top + scrollY) - lw - 90;
      // Fit the rows to the window, but not below 4 px: a big mesh scrolls.
      cell = Math.min(cell, Math.max(Math.min(cell, 4), Math.floor(Math.max(240, availH) / Math.max(1, v.rows.length))));
    }
    cell = Math.max(MIN_CELL, cell);
    const dpr = window.devicePixelRatio || 1;
    const cd = Math.max(1, Math.round(cell * dpr)); // cell in device pixels
    const gap = cell >= 8 ? Math.max(1, Math.round(dpr)) : 0;
    const gw = v.cols.length * cd, gh = v.rows.length * cd;
    Object.assign(this, { lw, lh: lw, cell: cd / dpr, cd, gap, dpr, rowNames, colNames });
    this.cells.width = Math.max(1, gw);
    this.cells.height = Math.max(1, gh);
    this.cells.style.width = `${gw / dpr}px`;
    this.cells.style.height = `${gh / dpr}px`;
    this.cells.style.left = `${lw}px`;
    this.cells.style.top = `${lw}px`;
    const W = lw + gw / dpr + 8, H = lw + gh / dpr + 8;
    this.labels.width = Math.round(W * dpr);
    this.labels.height = Math.round(H * dpr);
    this.labels.style.width = `${W}px`;
    this.labels.style.height = `${H}px`;
    this.img = gw && gh ? this.cells.getContext('2d').createImageData(gw, gh) : null;
    this.px = this.img ? new Uint32Array(this.img.data.buffer) : null;
    this.drawLabels(ctx, mesh, v);
    this.cells.dataset.rowNames = rowNames.join('\n');
    this.cells.dataset.colNames = colNames.join('\n');
  }

  drawLabels(ctx, mesh, v) {
    const { lw, lh, dpr, rowNames, colNames, pal } = this;
    const cell = this.cell;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.labels.width, this.labels.height);
    ctx.font = LABEL_FONT;
    const step = Math.max(1, Math.ceil(LABEL_PX / cell));
    const stableRow = (k) => mesh.nodes[mesh.rows[v.rows[k]]]?.stable;
    const stableCol = (k) => mesh.nodes[mesh.cols[v.cols[k]]]?.stable;
    const showRow = thin(rowNames.length, step, stableRow);
    const showCol = thin(colNames.length, step, stableCol);
    const fit = (s, w) => {
      if (ctx.measureText(s).width <= w) return s;
      while (s.length > 1 && ctx.measureText(`${s}…`).width > w) s = s.slice(0, -1);
      return `${s}…`;
    };
    ctx.fillStyle = pal.fg;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (let k = 0; k < rowNames.length; k++) {
      if (!showRow[k]) continue;
      ctx.fillText(fit(rowNames[k], lw - 10), lw - 6, lh + (k + 0.5) * cell);
    }
    ctx.save();
    ctx.translate(lw, lh);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'left';
    for (let k = 0; k < colNames.length; k++) {
      if (!showCol[k]) continue;
      ctx.fillText(fit(colNames[k], lh - 10), 6, (k + 0.5) * cell);
    }
    ctx.restore();
    // The stable / dynamic boundary on both axes.
    const split = (n, stable) => { for (let k = 1; k < n; k++) if (stable(k) !== stable(k - 1)) return k; return -1; };
    const sr = split(rowNames.length, stableRow), sc = split(colNames.length, stableCol);
    ctx.strokeStyle = pal.muted;
    ctx.lineWidth = 1;
    ctx.beginPath();
    if (sr > 0) { ctx.moveTo(8, lh + sr * cell + 0.5); ctx.lineTo(lw, lh + sr * cell + 0.5); }
    if (sc > 0) { ctx.moveTo(lw + sc * cell + 0.5, 8); ctx.lineTo(lw + sc * cell + 0.5, lh); }
    ctx.stroke();
    this.split = { sr, sc };
  }

  // paint writes every visible cell into the ImageData and returns the
  // drawn state string (row-major over the visible rows and columns). Per
  // cell row it writes the first pixel line, copies it down inside the
  // buffer (memmove, no allocation), then patches the rare hatched cells:
  // about 1 ms per million pixels.
  paint(mesh, v) {
    if (!this.px) return '';
    const { px, cd, gap, pal } = this;
    const C = mesh.cols.length, nc = v.cols.length, W = nc * cd;
    const st = mesh.state, rtt = mesh.rtt_ms, loss = mesh.loss;
    const inner = cd - gap, bg = pal.bg;
    const hatchedCols = [];
    const parts = v.all ? null : [];
    for (let r = 0; r < v.rows.length; r++) {
      const o = v.rows[r] * C;
      const top = r * cd * W;
      hatchedCols.length = 0;
      let x0 = top;
      for (let k = 0; k < nc; k++, x0 += cd) {
        const idx = o + v.cols[k];
        const ch = st.charCodeAt(idx);
        let col;
        switch (ch) {
          case 117: col = upColour(pal, rtt?.[idx], loss?.[idx]); break; // u
          case 100: col = pal.down; break; // d
          case 110: col = pal.never; break; // n
          case 115: col = pal.stale; break; // s
          case 61: col = pal.self; break; // =
          default: col = pal.nodataBg; hatchedCols.push(k);
        }
        if (parts) parts.push(st[idx]);
        let x = x0;
        for (const end = x0 + inner; x < end; x++) px[x] = col;
        for (const end = x0 + cd; x < end; x++) px[x] = bg;
      }
      for (let y = 1; y < inner; y++) px.copyWithin(top + y * W, top, top + W);
      for (let y = inner; y < cd; y++) px.fill(bg, top + y * W, top + (y + 1) * W);
      for (const k of hatchedCols) {
        for (let y = 0; y < inner; y++) {
          const line = top + y * W + k * cd;
          for (let x = 0; x < inner; x++) if (((x + y) & 3) === 0) px[line + x] = pal.hatch;
        }
      }
    }
    this.cells.getContext('2d').putImageData(this.img, 0, 0);
    return parts ? parts.join('') : st;
  }

  /** cellAt maps a mouse event on the cells canvas to the pair under it. */
  cellAt(e) {
    if (!this.view || !this.mesh) return null;
    const rect = this.cells.getBoundingClientRect();
    const x = e.clientX - rect.left, y = e.clientY - rect.top;
    const c = Math.floor(x / this.cell), r = Math.floor(y / this.cell);
    if (r < 0 || c < 0 || r >= this.view.rows.length || c >= this.view.cols.length) return null;
    const m = this.mesh, ri = this.view.rows[r], ci = this.view.cols[c];
    const idx = ri * m.cols.length + ci;
    return {
      r, c, source: m.nodes[m.rows[ri]], target: m.nodes[m.cols[ci]], agent: m.agents?.[ri],
      state: m.state[idx], rtt: m.rtt_ms?.[idx] ?? null, loss: m.loss?.[idx] ?? null, since: m.since?.[idx] ?? null,
      x: e.clientX, y: e.clientY,
    };
  }

  hover(e) {
    const cell = this.cellAt(e);
    if (!cell) { this.hl.hidden = true; this.cb.onHover?.(null); return; }
    const s = this.cell;
    Object.assign(this.hl.style, {
      left: `${this.lw + cell.c * s - 1}px`, top: `${this.lh + cell.r * s - 1}px`,
      width: `${s + 1}px`, height: `${s + 1}px`,
    });
    this.hl.hidden = false;
    this.cb.onHover?.(cell);
  }

  labelClick(e) {
    if (!this.view) return;
    const rect = this.labels.getBoundingClientRect();
    const x = e.clientX - rect.left, y = e.clientY - rect.top;
    const m = this.mesh;
    if (x < this.lw && y > this.lh) {
      const r = Math.floor((y - this.lh) / this.cell);
      if (r < this.view.rows.length) this.cb.onLabel?.(m.nodes[m.rows[this.view.rows[r]]]);
    } else if (y < this.lh && x > this.lw) {
      const c = Math.floor((x - this.lw) / this.cell);
      if (c < this.view.cols.length) this.cb.onLabel?.(m.nodes[m.cols[this.view.cols[c]]]);
    }
  }

  /** toPNG returns the labels and the cells composed on the panel colour, as a PNG blob. */
  toPNG() {
    const out = document.createElement('canvas');
    out.width = this.labels.width;
    out.height = this.labels.height;
    const ctx = out.getContext('2d');
    ctx.fillStyle = cssVar('--panel') || '#fff';
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(this.labels, 0, 0);
    ctx.drawImage(this.cells, Math.round(this.lw * this.dpr), Math.round(this.lh * this.dpr));
    return new Promise((resolve) => out.toBlob(resolve, 'image/png'));
  }
}
