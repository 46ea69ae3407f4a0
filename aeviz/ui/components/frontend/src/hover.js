// Hover to decode: over a plotly map the mouse position becomes a code (the map's inverse, sent with the data:
// a PCA plane, a raw 2-d code, a prior-quantile plane) and the decoder draws it beside the cursor, in the
// browser, at every animation frame. The chart is found by its Streamlit key, as the scrub follower does.
// With sprites (data.sprites), a hovered point's own image shows in the same tip, from the sheets sent once;
// a map without an inverse (UMAP, t-SNE, a 3-D view) shows only that.
import { whenReady } from "./registry.js";
import { count, makeCanvas, paint } from "./picture.js";
import { drawSprite, spritesReady } from "./sprites.js";

// Acklam's rational approximation of the normal quantile, then one Halley step on erfc: double precision
function erfc(x) {
  // a continued fraction for large |x|, the complement of the series otherwise
  const ax = Math.abs(x);
  let r;
  if (ax < 2.5) {
    let sum = ax, term = ax, k = 0;
    while (Math.abs(term) > 1e-17 * Math.abs(sum) && k < 200) {
      k += 1;
      term *= (-ax * ax) / k;
      sum += term / (2 * k + 1);
    }
    r = 1 - (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    let f = 0;
    for (let k = 60; k >= 1; k--) f = k / 2 / (ax + f);
    r = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  }
  return x >= 0 ? r : 2 - r;
}

export function ndtri(p) {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5, r = q * q;
    x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
      (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const e = 0.5 * erfc(-x / Math.SQRT2) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** The code at map position (x, y) for a map's inverse, as the server's LatentMap.inverse computes it. */
export function codeAt(inverse, x, y) {
  if (inverse.kind === "linear") {
    const { mean, axes } = inverse;
    return mean.map((m, i) => m + x * axes[0][i] + y * axes[1][i]);
  }
  if (inverse.kind === "probit") {
    const clip = (u) => Math.min(1 - 1e-9, Math.max(1e-9, u));
    return [ndtri(clip(x)), ndtri(clip(y))];
  }
  return [x, y];
}

function panel(size, parent) {
  const box = document.createElement("div");
  const canvas = makeCanvas([1, 28, 28]);
  Object.assign(canvas.style, { width: `${size}px`, height: `${size}px`, display: "block", borderRadius: "4px" });
  const label = document.createElement("div");
  label.style.marginTop = "4px";
  box.append(canvas, label);
  parent.appendChild(box);
  return { box, canvas, label };
}

function makeTip(size) {
  const tip = document.createElement("div");
  tip.className = "aeviz-hover-tip";
  tip.setAttribute("data-testid", "aevizHoverTip");
  Object.assign(tip.style, {
    position: "fixed", zIndex: 1000000, pointerEvents: "none", display: "none", padding: "6px", gap: "8px",
    borderRadius: "8px", boxShadow: "0 2px 10px rgba(0,0,0,.35)", font: "600 13px sans-serif", textAlign: "center",
  });
  const decoded = panel(size, tip);
  const thumb = panel(size, tip);
  thumb.box.dataset.testid = "aevizHoverThumb";
  document.body.appendChild(tip);
  return { tip, canvas: decoded.canvas, label: decoded.label, decoded, thumb };
}

/** The map index a plotly hover event points at (customdata, or its first column), or null for none or for a
 * click target of the decode-anywhere lattice (negative). */
function pointOf(event) {
  const pt = event && event.points && event.points[0];
  if (!pt) return null;
  const value = Array.isArray(pt.customdata) ? pt.customdata[0] : pt.customdata;
  return typeof value === "number" && value >= 0 ? { index: value, label: pt.data && pt.data.name } : null;
}

class Hover {
  constructor(root) {
    this.root = root;
    this.gd = null;
    this.pending = null;
    this.point = null;
    this.frame = 0;
    this.thumbs = 0;
    this.onMove = (event) => this.move(event);
    this.onLeave = () => this.hide();
    this.onPoint = (event) => {
      this.point = pointOf(event);
      this.schedule();
    };
    this.onUnpoint = () => {
      this.point = null;
      this.schedule();
    };
    this.timer = setInterval(() => this.hook(), 300);
  }

  update(data, host) {
    this.data = data;
    this.host = host;
    this.decoder = null;
    if (!this.tip) this.tip = makeTip(data.size || 112);
    if (data.model && data.inverse) {
      whenReady(data.model).then((decoder) => {
        if (this.data === data) this.decoder = decoder;
      });
    }
    spritesReady(data.sprites).then(() => this.schedule());
    this.hook();
  }

  hook() {
    const gd = document.querySelector(`.st-key-${this.data.chart} .js-plotly-plot`);
    if (!gd || gd === this.gd) return;
    if (this.gd) this.unhook();
    this.gd = gd;
    gd.addEventListener("mousemove", this.onMove);
    gd.addEventListener("mouseleave", this.onLeave);
    if (typeof gd.on === "function") {
      gd.on("plotly_hover", this.onPoint);
      gd.on("plotly_unhover", this.onUnpoint);
    }
  }

  unhook() {
    this.gd.removeEventListener("mousemove", this.onMove);
    this.gd.removeEventListener("mouseleave", this.onLeave);
    if (typeof this.gd.removeListener === "function") {
      this.gd.removeListener("plotly_hover", this.onPoint);
      this.gd.removeListener("plotly_unhover", this.onUnpoint);
    }
    this.gd = null;
  }

  move(event) {
    if (event.buttons) return this.hide(); // a box or lasso drag, or a 3-D turn: out of its way
    let at = null;
    const layout = this.gd && this.gd._fullLayout;
    if (this.data.inverse && layout && layout.xaxis && layout.yaxis && layout.xaxis._length) {
      const xa = layout.xaxis, ya = layout.yaxis, rect = this.gd.getBoundingClientRect();
      const px = event.clientX - rect.left - xa._offset, py = event.clientY - rect.top - ya._offset;
      if (px >= 0 && py >= 0 && px <= xa._length && py <= ya._length) at = [xa.p2c(px), ya.p2c(py)];
    }
    this.pending = { at, clientX: event.clientX, clientY: event.clientY };
    this.schedule();
  }

  schedule() {
    if (!this.scheduled) {
      this.scheduled = true;
      requestAnimationFrame(() => this.draw());
    }
  }

  draw() {
    this.scheduled = false;
    const p = this.pending;
    if (!p || !this.tip) return;
    const { tip, decoded, thumb } = this.tip;
    const decoding = Boolean(p.at && this.decoder);
    if (decoding) this.drawDecoded(p.at);
    const point = this.point;
    const showing = Boolean(point && drawSprite(thumb.canvas, this.data.sprites, point.index));
    if (showing) {
      thumb.label.textContent = `#${point.index}${point.label ? ` · ${point.label}` : ""}`;
      tip.dataset.index = String(point.index);
      tip.dataset.thumbs = String((this.thumbs += 1));
    } else {
      delete tip.dataset.index;
    }
    decoded.box.style.display = decoding ? "block" : "none";
    thumb.box.style.display = showing ? "block" : "none";
    if (!decoding && !showing) {
      tip.style.display = "none";
      return;
    }
    const style = getComputedStyle(this.host);
    tip.style.background = style.getPropertyValue("--st-background-color") || "#fff";
    tip.style.color = style.getPropertyValue("--st-text-color") || "#31333f";
    tip.style.border = `1px solid ${style.getPropertyValue("--st-border-color") || "#ccc"}`;
    tip.style.display = "flex";
    const size = tip.getBoundingClientRect();
    const left = p.clientX + 18 + size.width > window.innerWidth ? p.clientX - 18 - size.width : p.clientX + 18;
    const top = Math.max(4, Math.min(window.innerHeight - size.height - 4, p.clientY - size.height - 12));
    tip.style.left = `${left}px`;
    tip.style.top = `${top}px`;
  }

  drawDecoded(at) {
    const { tip, canvas, label } = this.tip;
    const code = codeAt(this.data.inverse, at[0], at[1]);
    const start = performance.now();
    paint(canvas, this.decoder.decode(code), this.data.shape);
    count(this.data.key, performance.now() - start);
    const shown = code.length === 2 ? code : at; // a 2-d code itself; a larger one's map position
    const words = code.length === 2 ? "z =" : "at";
    label.textContent = `${words} (${shown[0].toFixed(2)}, ${shown[1].toFixed(2)})`;
    tip.dataset.code = code.map((v) => v.toFixed(5)).join(",");
    tip.dataset.at = at.map((v) => v.toFixed(5)).join(",");
    tip.dataset.frames = String((this.frame += 1));
  }

  hide() {
    this.pending = null;
    if (this.tip) this.tip.tip.style.display = "none";
  }

  destroy() {
    clearInterval(this.timer);
    if (this.gd) this.unhook();
    if (this.tip) this.tip.tip.remove();
  }
}

/** Mount or update hover-decoding for the plotly chart named in `data.chart`. */
export function hover(root, data, component) {
  if (!root.__aevizHover) root.__aevizHover = new Hover(root);
  root.__aevizHover.update(data, component.parentElement.host || component.parentElement);
  return () => {
    if (root.__aevizHover) root.__aevizHover.destroy();
    root.__aevizHover = null;
  };
}
