// The decoder's layers in plain JavaScript: the ops of aeviz/webdecoder.py, on one code at a time.
// Weights arrive as a safetensors blob (8-byte header length, JSON header, float32 data); the layer list is in
// the header's metadata. Activations live in buffers allocated once per decoder, so a frame allocates nothing.
// Sums are taken in doubles (JavaScript numbers) and stored as float32: within 1e-6 of torch's float32.

const METADATA_KEY = "aeviz.decoder";

/** Header, layer list and Float32Array views of a safetensors blob (a Uint8Array). */
export function parseBlob(bytes) {
  // an own, 4-byte-aligned copy: the websocket message's buffer may hold other data at any offset
  const own = new Uint8Array(bytes.byteLength);
  own.set(bytes);
  const view = new DataView(own.buffer);
  const length = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(own.subarray(8, 8 + length)));
  const meta = header.__metadata__ || {};
  const spec = JSON.parse(meta[METADATA_KEY]);
  const start = 8 + length;
  const tensors = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (entry.dtype !== "F32") throw new Error(`tensor ${name} is ${entry.dtype}, not F32`);
    const [a, b] = entry.data_offsets;
    tensors[name] = new Float32Array(own.buffer, start + a, (b - a) / 4);
  }
  return { id: meta["aeviz.id"] || "", spec, tensors };
}

const size = (shape) => shape.reduce((a, b) => a * b, 1);
const sigmoid = (v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));

function erf(x) {
  // Abramowitz-Stegun 7.1.26 is only 1.5e-7 accurate; this series/continued fraction pair is ~1e-15
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let sum = x, term = x, k = 0;
    const x2 = x * x;
    while (Math.abs(term) > 1e-17 * Math.abs(sum) && k < 200) {
      k += 1;
      term *= -x2 / k;
      sum += term / (2 * k + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let k = 60; k >= 1; k--) f = (k / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

const ELEMENTWISE = {
  relu: () => (v) => (v > 0 ? v : 0),
  sigmoid: () => sigmoid,
  tanh: () => Math.tanh,
  silu: () => (v) => v * sigmoid(v),
  gelu: () => (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
  leaky_relu: (L) => (v) => (v >= 0 ? v : L.slope * v),
  elu: (L) => (v) => (v > 0 ? v : L.alpha * Math.expm1(v)),
  affine: (L) => (v) => v * L.scale + L.shift,
};

// Every weighted layer is a set of dot products over contiguous memory, taken four terms at a time into four
// sums (double precision): V8 keeps them in registers, which measured several times faster than walking the
// taps of a convolution with strided loads. Convolutions get their weights reordered once, at load, so that
// one output's terms lie side by side with the channels-last copy of the input made at each call.
function dot(a, ai, b, bi, n) {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, k = 0;
  for (; k + 3 < n; k += 4) {
    s0 += a[ai + k] * b[bi + k];
    s1 += a[ai + k + 1] * b[bi + k + 1];
    s2 += a[ai + k + 2] * b[bi + k + 2];
    s3 += a[ai + k + 3] * b[bi + k + 3];
  }
  for (; k < n; k++) s0 += a[ai + k] * b[bi + k];
  return s0 + s1 + (s2 + s3);
}

function linear(L, t, x, out) {
  const w = t[L.weight], b = L.bias ? t[L.bias] : null, n = x.length;
  for (let j = 0; j < out.length; j++) out[j] = (b ? b[j] : 0) + dot(w, j * n, x, 0, n);
}

function scaleShift(L, t, x, out, inShape) {
  const scale = t[L.scale], shift = t[L.shift];
  const per = size(inShape.slice(1));
  for (let c = 0; c < inShape[0]; c++) {
    for (let i = c * per; i < (c + 1) * per; i++) out[i] = x[i] * scale[c] + shift[c];
  }
}

/** Buffers and reordered weights of a convolution: weights (out, kh, kw, in/groups), input (groups, H, W, in). */
function prepareConv(L, t, inShape) {
  const w = t[L.weight], [cinAll, h, wd] = inShape, [co, oh, ow] = L.shape, [kh, kw] = L.kernel;
  const groups = L.groups, cin = cinAll / groups, per = co / groups, transposed = L.op === "conv_transpose2d";
  const wt = new Float32Array(co * kh * kw * cin);
  for (let o = 0; o < co; o++) {
    const g = Math.floor(o / per), local = o - g * per;
    for (let c = 0; c < cin; c++) {
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          const from = transposed ? (((g * cin + c) * per + local) * kh + ky) * kw + kx : ((o * cin + c) * kh + ky) * kw + kx;
          wt[((o * kh + ky) * kw + kx) * cin + c] = w[from];
        }
      }
    }
  }
  return { wt, xt: new Float32Array(cinAll * h * wd), acc: new Float64Array(co * oh * ow), cin, per };
}

function channelsLast(x, xt, cinAll, groups, hw) {
  const cin = cinAll / groups;
  for (let g = 0; g < groups; g++) {
    for (let c = 0; c < cin; c++) {
      const from = (g * cin + c) * hw;
      for (let p = 0; p < hw; p++) xt[(g * hw + p) * cin + c] = x[from + p];
    }
  }
}

function conv2d(L, t, x, out, inShape, prep) {
  const { wt, xt, cin, per } = prep, b = L.bias ? t[L.bias] : null;
  const [cinAll, h, wd] = inShape, [co, oh, ow] = L.shape, [kh, kw] = L.kernel;
  const [sh, sw] = L.stride, [ph, pw] = L.padding, [dh, dw] = L.dilation;
  channelsLast(x, xt, cinAll, L.groups, h * wd);
  for (let o = 0; o < co; o++) {
    const g = Math.floor(o / per);
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        let s = b ? b[o] : 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = y * sh - ph + ky * dh;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = xo * sw - pw + kx * dw;
            if (ix >= 0 && ix < wd) s += dot(wt, ((o * kh + ky) * kw + kx) * cin, xt, ((g * h + iy) * wd + ix) * cin, cin);
          }
        }
        out[(o * oh + y) * ow + xo] = s;
      }
    }
  }
}

// Transposed convolution as a scatter of dot products: input (iy, ix) through tap (ky, kx) adds to output
// (iy*stride - padding + ky*dilation, ...).
function convTranspose2d(L, t, x, out, inShape, prep) {
  const { wt, xt, acc, cin, per } = prep, b = L.bias ? t[L.bias] : null;
  const [cinAll, h, wd] = inShape, [co, oh, ow] = L.shape, [kh, kw] = L.kernel;
  const [sh, sw] = L.stride, [ph, pw] = L.padding, [dh, dw] = L.dilation;
  channelsLast(x, xt, cinAll, L.groups, h * wd);
  for (let o = 0; o < co; o++) acc.fill(b ? b[o] : 0, o * oh * ow, (o + 1) * oh * ow);
  for (let o = 0; o < co; o++) {
    const g = Math.floor(o / per);
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const row = ((o * kh + ky) * kw + kx) * cin;
        const ixLo = Math.max(0, Math.ceil((pw - kx * dw) / sw));
        const ixHi = Math.min(wd - 1, Math.floor((ow - 1 + pw - kx * dw) / sw));
        for (let iy = 0; iy < h; iy++) {
          const oy = iy * sh - ph + ky * dh;
          if (oy < 0 || oy >= oh) continue;
          const base = (o * oh + oy) * ow - pw + kx * dw, from = (g * h + iy) * wd;
          for (let ix = ixLo; ix <= ixHi; ix++) acc[base + ix * sw] += dot(wt, row, xt, (from + ix) * cin, cin);
        }
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = acc[i];
}

function upsampleIndex(n, m, alignCorners, bilinear) {
  // for each of m outputs: [low, high, weight of high] along an axis of n inputs
  const rows = [];
  for (let i = 0; i < m; i++) {
    if (!bilinear) {
      const lo = Math.min(Math.floor((i * n) / m), n - 1);
      rows.push([lo, lo, 0]);
      continue;
    }
    const src = alignCorners ? (m > 1 ? (i * (n - 1)) / (m - 1) : 0) : Math.max(((i + 0.5) * n) / m - 0.5, 0);
    const lo = Math.min(Math.floor(src), n - 1);
    rows.push([lo, Math.min(lo + 1, n - 1), src - lo]);
  }
  return rows;
}

function upsample(L, t, x, out, inShape) {
  const [c, h, w] = inShape, [, oh, ow] = L.shape;
  const bilinear = L.mode === "bilinear";
  const ys = upsampleIndex(h, oh, L.align_corners, bilinear), xs = upsampleIndex(w, ow, L.align_corners, bilinear);
  for (let k = 0; k < c; k++) {
    const plane = k * h * w;
    for (let y = 0; y < oh; y++) {
      const [y0, y1, fy] = ys[y];
      for (let xo = 0; xo < ow; xo++) {
        const [x0, x1, fx] = xs[xo];
        const top = x[plane + y0 * w + x0] * (1 - fx) + x[plane + y0 * w + x1] * fx;
        const bottom = x[plane + y1 * w + x0] * (1 - fx) + x[plane + y1 * w + x1] * fx;
        out[(k * oh + y) * ow + xo] = top * (1 - fy) + bottom * fy;
      }
    }
  }
}

const KERNELS = { linear, scale_shift: scaleShift, conv2d, conv_transpose2d: convTranspose2d, upsample };

/** A decoder ready to run: decode(code) -> Float32Array of C*H*W values (the last layer's output). */
export class Decoder {
  constructor(blob) {
    const { id, spec, tensors } = parseBlob(blob);
    this.id = id;
    this.spec = spec;
    this.tensors = tensors;
    this.codeSize = spec.code_size;
    this.outputShape = spec.output_shape;
    this.steps = [];
    let shape = [spec.code_size];
    for (const L of spec.layers) {
      if (L.op === "reshape") {
        shape = L.shape;
        continue;
      }
      const fn = ELEMENTWISE[L.op] ? null : KERNELS[L.op];
      if (!fn && !ELEMENTWISE[L.op]) throw new Error(`the browser's decoder has no ${L.op}`);
      const prep = L.op === "conv2d" || L.op === "conv_transpose2d" ? prepareConv(L, tensors, shape) : null;
      this.steps.push({ L, fn, prep, map: ELEMENTWISE[L.op] ? ELEMENTWISE[L.op](L) : null, inShape: shape });
      shape = L.shape;
    }
    this.input = new Float32Array(spec.code_size);
    // two buffers per step would do; one per step keeps every intermediate for a look (and costs < 1 MB)
    for (const step of this.steps) step.out = new Float32Array(size(step.L.shape));
  }

  /** Decode one code (an array of numbers); returns the output buffer (reused by the next call). */
  decode(code) {
    let x = this.input;
    for (let i = 0; i < x.length; i++) x[i] = code[i];
    for (const step of this.steps) {
      const out = step.out;
      if (step.map) {
        const f = step.map;
        for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
      } else {
        step.fn(step.L, this.tensors, x, out, step.inShape, step.prep);
      }
      x = out;
    }
    return x;
  }
}
