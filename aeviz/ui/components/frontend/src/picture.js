// Drawing a decoded image (C*H*W values in [0, 1], grey or RGB) on a canvas, nearest-neighbour enlarged.

export function makeCanvas(shape) {
  const [, h, w] = shape;
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  canvas.style.imageRendering = "pixelated";
  return canvas;
}

/** Paint `values` (flat, channel-major) into `canvas` (sized W x H); values outside [0, 1] are clipped. */
export function paint(canvas, values, shape) {
  const [c, h, w] = shape;
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(w, h);
  const px = image.data, plane = h * w;
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 3; k++) {
      const v = values[(c >= 3 ? k : 0) * plane + i];
      px[4 * i + k] = Math.round(255 * (v < 0 ? 0 : v > 1 ? 1 : v));
    }
    px[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

/** Show a PNG (a data URI from the server) in `canvas`. */
export function paintUri(canvas, uri) {
  const img = new Image();
  img.onload = () => {
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    canvas.getContext("2d").drawImage(img, 0, 0);
  };
  img.src = uri;
}

/** Frames decoded and milliseconds spent, per view key: what benchmarks/decoder_fps.py reads. */
export function count(key, ms) {
  const stats = (window.__aevizDecodes = window.__aevizDecodes || {});
  const entry = (stats[key] = stats[key] || { frames: 0, ms: 0, first: performance.now(), last: 0 });
  entry.frames += 1;
  entry.ms += ms;
  entry.last = performance.now();
}
