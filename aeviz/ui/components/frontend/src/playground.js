// The decoder playground: one vertical slider per code dimension, drawn as the code's bars; dragging a bar
// redraws the decoded picture at every animation frame, in the browser. A model the browser cannot run is
// decoded on the server when the bar is let go (the code goes back as the component's state).
import { whenReady } from "./registry.js";
import { count, makeCanvas, paint, paintUri } from "./picture.js";

const STEPS = 60; // key presses from one end of a slider to the other

function el(tag, cls, parent, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

const fmt = (v, digits) => (v >= 0 ? "+" : "−") + Math.abs(v).toFixed(digits);
const NARROW = 56, TINY = 40; // px per column under which values get one decimal and notes go

function build(root, host) {
  const box = el("div", "pg", root);
  const pic = el("div", "pic", box);
  const canvas = makeCanvas([1, 28, 28]);
  canvas.className = "decoded";
  canvas.setAttribute("role", "img");
  pic.appendChild(canvas);
  const caption = el("div", "caption", pic);
  const row = el("div", "row", pic);
  const original = el("img", "original", row);
  original.alt = "the test image";
  const reset = el("button", "reset", row, "Reset to this image");
  reset.type = "button";
  const right = el("div", "right", box);
  const title = el("div", "title", right);
  const eq = el("div", "eq", right);
  const strip = el("canvas", "strip", right);
  const note = el("div", "note", right);
  return { box, canvas, caption, original, reset, title, eq, strip, note, host, columns: [] };
}

function column(ui, state, slot) {
  const col = el("div", "col", ui.eq);
  col.tabIndex = 0;
  col.setAttribute("role", "slider");
  col.dataset.slot = String(slot);
  const value = el("div", "val", col);
  const track = el("div", "track", col);
  const zero = el("div", "zero", track);
  const bar = el("div", "bar", track);
  const orig = el("div", "orig", track);
  const knob = el("div", "knob", track);
  const label = el("div", "lab", col);
  const note = el("div", "sub", col);
  const part = { col, value, track, zero, bar, orig, knob, label, note };
  col.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    try {
      col.setPointerCapture(event.pointerId); // moves outside the column still drag it
    } catch {
      // a scripted pointer (the benchmark's) has no capture to take
    }
    col.focus({ preventScroll: true });
    state.select(slot);
    state.dragging = slot;
    state.setFromPointer(slot, event.clientY);
  });
  col.addEventListener("pointermove", (event) => {
    if (state.dragging === slot) state.setFromPointer(slot, event.clientY);
  });
  const release = (event) => {
    if (state.dragging !== slot) return;
    state.dragging = null;
    if (col.hasPointerCapture(event.pointerId)) col.releasePointerCapture(event.pointerId);
    state.released();
  };
  col.addEventListener("pointerup", release);
  col.addEventListener("pointercancel", release);
  col.addEventListener("focus", () => state.select(slot));
  return part;
}

class Playground {
  constructor(root, host) {
    this.root = root;
    this.ui = build(root, host);
    this.pending = false;
    this.dragging = null; // the slot being dragged
    this.selected = -1; // the slot the arrow keys move: none until one is clicked or focused
    this.armed = false; // the viewer last clicked inside: arrow keys are ours (before lecture mode's handler)
    this.ui.reset.addEventListener("click", () => this.reset());
    this.onKey = (event) => this.key(event);
    this.onPointer = (event) => {
      this.armed = event.composedPath().includes(this.ui.box);
    };
    window.addEventListener("keydown", this.onKey, true); // capture, on window: before document's listeners
    window.addEventListener("pointerdown", this.onPointer, true);
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(this.ui.eq);
  }

  fit() {
    // a narrow column (the VAE page's, beside its controls) gets smaller numbers; a tiny one drops its note
    const width = this.ui.eq.clientWidth / Math.max(1, this.ui.columns.length);
    this.ui.eq.classList.toggle("narrow", width < NARROW);
    this.ui.eq.classList.toggle("tiny", width < TINY);
    this.digits = width < NARROW ? 1 : 2;
    if (this.data) this.drawBars();
  }

  update(data, component) {
    this.component = component;
    const fresh = !this.data || this.data.origin !== data.origin || this.data.model !== data.model;
    this.data = data;
    if (fresh || !this.code) this.code = data.code.slice();
    this.ui.box.classList.toggle("big", !!data.lecture);
    this.ui.box.style.setProperty("--pic", `${data.picture_rem || 16}rem`);
    this.ui.title.textContent = data.title || "";
    this.ui.caption.textContent = data.caption || "";
    this.ui.note.textContent = data.note || "";
    this.ui.original.style.display = data.original ? "" : "none";
    if (data.original) this.ui.original.src = data.original;
    this.ui.canvas.setAttribute("aria-label", data.caption || "decoded picture");
    this.layout();
    this.fit();
    this.decoder = null;
    if (data.fallback) {
      this.ui.box.classList.add("server");
      if (data.fallback.picture) paintUri(this.ui.canvas, data.fallback.picture);
      this.refresh(false);
      return;
    }
    this.ui.box.classList.remove("server");
    whenReady(data.model).then((decoder) => {
      if (this.data !== data) return;
      this.decoder = decoder;
      this.schedule();
    });
    this.refresh(false);
  }

  layout() {
    const { dims } = this.data;
    if (this.ui.columns.length !== dims.length) {
      this.ui.eq.replaceChildren();
      this.ui.columns = dims.map((_, slot) => column(this.ui, this, slot));
    }
    dims.forEach((dim, slot) => {
      const part = this.ui.columns[slot];
      part.label.textContent = this.data.labels[slot];
      part.note.textContent = (this.data.notes || [])[slot] || "";
      part.col.title = `${this.data.labels[slot]}: ${part.note.textContent}`;
      const [lo, hi] = this.data.ranges[slot];
      part.col.setAttribute("aria-label", `code dimension ${dim}`);
      part.col.setAttribute("aria-valuemin", lo.toFixed(2));
      part.col.setAttribute("aria-valuemax", hi.toFixed(2));
    });
    this.ui.strip.style.display = this.data.code.length > dims.length ? "" : "none";
    this.selected = Math.min(this.selected, dims.length - 1);
  }

  select(slot) {
    this.selected = slot;
    if (slot < 0) return;
    this.ui.columns.forEach((part, i) => part.col.classList.toggle("selected", i === slot));
  }

  set(slot, value) {
    const [lo, hi] = this.data.ranges[slot];
    this.code[this.data.dims[slot]] = Math.min(hi, Math.max(lo, value));
    this.schedule();
  }

  setFromPointer(slot, clientY) {
    const rect = this.ui.columns[slot].track.getBoundingClientRect();
    const [lo, hi] = this.data.ranges[slot];
    this.set(slot, hi - ((clientY - rect.top) / rect.height) * (hi - lo));
  }

  key(event) {
    const steps = { ArrowUp: 1, ArrowRight: 1, ArrowDown: -1, ArrowLeft: -1 };
    const focused = event.composedPath().includes(this.ui.box);
    if (!(event.key in steps) || !this.data || !(focused || this.armed) || !this.ui.box.isConnected) return;
    if (this.selected < 0) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const [lo, hi] = this.data.ranges[this.selected];
    this.select(this.selected);
    this.set(this.selected, this.code[this.data.dims[this.selected]] + (steps[event.key] * (hi - lo)) / STEPS);
    clearTimeout(this.keyTimer);
    this.keyTimer = setTimeout(() => this.released(), 400); // a run of key presses ends like a drag
  }

  reset() {
    this.code = this.data.code.slice();
    this.schedule();
    this.released();
  }

  released() {
    if (this.data && this.data.fallback && this.component) {
      this.component.setStateValue("code", { origin: this.data.origin, values: Array.from(this.code) });
    }
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.refresh(true);
    });
  }

  refresh(decode) {
    if (decode && this.decoder) {
      const start = performance.now();
      const out = this.decoder.decode(this.code);
      paint(this.ui.canvas, out, this.data.shape);
      count(this.data.key, performance.now() - start);
      this.ui.canvas.dataset.frames = String(Number(this.ui.canvas.dataset.frames || 0) + 1);
    }
    this.ui.box.dataset.code = this.code.map((v) => v.toFixed(5)).join(",");
    this.drawBars();
  }

  drawBars() {
    const { dims, ranges, code: origin } = this.data;
    dims.forEach((dim, slot) => {
      const part = this.ui.columns[slot];
      const [lo, hi] = ranges[slot];
      const at = (v) => `${(100 * (hi - Math.min(hi, Math.max(lo, v)))) / (hi - lo)}%`;
      const value = this.code[dim];
      const zero = Math.min(hi, Math.max(lo, 0));
      const top = Math.max(value, zero), bottom = Math.min(value, zero);
      part.zero.style.top = at(zero);
      part.bar.style.top = at(top);
      part.bar.style.bottom = `calc(100% - ${at(bottom)})`;
      part.orig.style.top = at(origin[dim]);
      part.knob.style.top = at(value);
      part.value.textContent = fmt(value, this.digits || 2);
      part.col.setAttribute("aria-valuenow", value.toFixed(2));
      part.col.classList.toggle("moved", Math.abs(value - origin[dim]) > 1e-9);
    });
    if (this.selected >= 0) this.select(this.selected);
    if (this.ui.strip.style.display !== "none") this.drawStrip();
  }

  drawStrip() {
    // every code value, the slid ones in the primary colour: the dimensions held still are visible too
    const canvas = this.ui.strip, code = this.code, n = code.length;
    const width = Math.max(200, canvas.clientWidth), height = canvas.clientHeight || 48;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    const style = getComputedStyle(this.ui.box);
    const ink = style.getPropertyValue("--st-text-color") || "#31333f";
    const accent = style.getPropertyValue("--st-primary-color") || "#c2410c";
    const peak = Math.max(1e-9, ...code.map(Math.abs), ...this.data.code.map(Math.abs));
    const shown = new Set(this.data.dims);
    const slot = width / n, mid = height / 2;
    ctx.globalAlpha = 0.35;
    ctx.fillStyle = ink;
    ctx.fillRect(0, mid, width, 1);
    for (let i = 0; i < n; i++) {
      ctx.globalAlpha = shown.has(i) ? 1 : 0.45;
      ctx.fillStyle = shown.has(i) ? accent : ink;
      const h = (code[i] / peak) * (mid - 2);
      ctx.fillRect(i * slot + slot * 0.1, Math.min(mid, mid - h), Math.max(1, slot * 0.8), Math.abs(h));
    }
  }

  destroy() {
    window.removeEventListener("keydown", this.onKey, true);
    window.removeEventListener("pointerdown", this.onPointer, true);
    this.resize.disconnect();
  }
}

/** Mount or update the playground in `root` (the component's parent element). */
export function playground(root, data, component) {
  if (!root.__aevizPlayground) root.__aevizPlayground = new Playground(root, component.parentElement);
  root.__aevizPlayground.update(data, component);
  return () => {
    if (root.__aevizPlayground) root.__aevizPlayground.destroy();
    root.__aevizPlayground = null;
  };
}
