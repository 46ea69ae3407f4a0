// A point's nearest neighbours in code space (computed on the server): listed with their images, drawn from
// the sprite sheets already in the browser, their index, class and distance; and ringed on the plotly map
// (an overlay that follows zooms, pans and resizes, with no rerun).
import { drawSprite, spritesReady } from "./sprites.js";

const SVG = "http://www.w3.org/2000/svg";

function el(tag, cls, parent, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function item(list, entry, focus) {
  const box = el("div", focus ? "nb-item nb-focus" : "nb-item", list);
  box.dataset.index = String(entry.index);
  box.dataset.label = entry.label;
  const canvas = el("canvas", "nb-pic", box);
  canvas.width = canvas.height = 1;
  el("div", "nb-lab", box, `#${entry.index} · ${entry.label}`);
  el("div", "nb-dist", box, focus ? "the point" : `d = ${entry.distance.toPrecision(3)}`);
  if (!focus) box.dataset.distance = String(entry.distance);
  return { entry, canvas };
}

/** Rings round map positions over the plotly chart with element key `chart`. */
class Rings {
  constructor(chart) {
    this.chart = chart;
    this.points = [];
    this.gd = null;
    this.redraw = () => this.draw();
    this.resize = new ResizeObserver(this.redraw);
    this.timer = setInterval(() => this.hook(), 300);
    this.hook();
  }

  set(points) {
    this.points = points;
    this.draw();
  }

  hook() {
    const gd = document.querySelector(`.st-key-${this.chart} .js-plotly-plot`);
    if (gd !== this.gd) {
      if (this.gd && typeof this.gd.removeListener === "function") {
        this.gd.removeListener("plotly_afterplot", this.redraw);
        this.gd.removeListener("plotly_relayout", this.redraw);
      }
      this.resize.disconnect();
      this.gd = gd;
      if (gd && typeof gd.on === "function") {
        gd.on("plotly_afterplot", this.redraw);
        gd.on("plotly_relayout", this.redraw);
        this.resize.observe(gd);
      }
    }
    if (this.gd && (!this.svg || !this.svg.isConnected)) this.draw(); // plotly rebuilt its layers
  }

  draw() {
    const gd = this.gd, layout = gd && gd._fullLayout;
    const holder = gd && gd.querySelector(".svg-container");
    if (!layout || !layout.xaxis || !layout.yaxis || !holder) return;
    if (!this.svg || this.svg.parentNode !== holder) {
      if (this.svg) this.svg.remove();
      this.svg = document.createElementNS(SVG, "svg");
      this.svg.setAttribute("data-testid", "aevizRings");
      Object.assign(this.svg.style, { position: "absolute", left: 0, top: 0, pointerEvents: "none", overflow: "hidden" });
      holder.appendChild(this.svg);
    }
    const xa = layout.xaxis, ya = layout.yaxis;
    this.svg.setAttribute("width", layout.width);
    this.svg.setAttribute("height", layout.height);
    this.svg.replaceChildren();
    for (const p of this.points) {
      const x = xa._offset + xa.c2p(p.x), y = ya._offset + ya.c2p(p.y);
      if (!(x >= xa._offset && x <= xa._offset + xa._length && y >= ya._offset && y <= ya._offset + ya._length)) continue;
      const r = p.focus ? 9 : 6;
      for (const [width, colour] of [[4, "#ffffff"], [2, p.focus ? "#c2410c" : "#111111"]]) {
        const ring = document.createElementNS(SVG, "circle");
        ring.setAttribute("cx", x.toFixed(1));
        ring.setAttribute("cy", y.toFixed(1));
        ring.setAttribute("r", String(r));
        ring.setAttribute("fill", "none");
        ring.setAttribute("stroke", colour);
        ring.setAttribute("stroke-width", String(width));
        if (width === 2) ring.dataset.index = String(p.index);
        this.svg.appendChild(ring);
      }
    }
  }

  destroy() {
    clearInterval(this.timer);
    this.resize.disconnect();
    if (this.gd && typeof this.gd.removeListener === "function") {
      this.gd.removeListener("plotly_afterplot", this.redraw);
      this.gd.removeListener("plotly_relayout", this.redraw);
    }
    if (this.svg) this.svg.remove();
  }
}

/** Mount or update the neighbour list (data.items, nearest first) of data.focus. */
export function neighbours(root, data) {
  let state = root.__aevizNeighbours;
  if (!state || state.chart !== data.chart) {
    if (state) state.rings.destroy();
    state = root.__aevizNeighbours = { chart: data.chart, rings: new Rings(data.chart) };
  }
  if (state.box) state.box.remove();
  const box = (state.box = el("div", data.lecture ? "nb big" : "nb", root));
  box.dataset.testid = "aevizNeighbours";
  el("div", "title", box, data.title);
  const list = el("div", "nb-list", box);
  const cells = [item(list, data.focus, true), ...data.items.map((entry) => item(list, entry, false))];
  if (data.note) el("div", "note", box, data.note);
  const paintAll = () => cells.forEach((c) => drawSprite(c.canvas, data.sprites, c.entry.index));
  paintAll();
  spritesReady(data.sprites).then(() => {
    if (state.box === box) paintAll();
  });
  state.rings.set([{ ...data.focus, focus: true }, ...data.items]);
  return () => {
    state.rings.destroy();
    root.__aevizNeighbours = null;
  };
}
