// Image sprites: every map point's image in a few sheets (the server's views/projector.sprite_blob), sent once
// per set of images as bytes of their own. A view asks for a point's image by map index and draws it from the
// decoded sheet: no request per hover.

const SPRITES_KEY = "aeviz.sprites";
const sheets = new Map(); // id -> { meta, bitmap } once decoded
const waiting = new Map(); // id -> callbacks
const KEEP = 16; // sheets a long session keeps (a few MB of pixels each)

/** The metadata and id of a sprite blob, or null when the bytes are something else (decoder weights). */
export function spriteHeader(bytes) {
  if (bytes.byteLength < 16) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = Number(view.getBigUint64(0, true));
  if (length <= 0 || length > 1 << 20 || 8 + length > bytes.byteLength) return null;
  let header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  } catch {
    return null;
  }
  const meta = header.__metadata__ || {};
  if (!meta[SPRITES_KEY] || !header.sheet) return null;
  const [a, b] = header.sheet.data_offsets;
  return { id: meta["aeviz.id"], meta: JSON.parse(meta[SPRITES_KEY]), start: 8 + length + a, end: 8 + length + b };
}

/** Decode a sprite blob's sheet (asynchronously) and keep it under its id. */
export function provideSprites(bytes, header) {
  if (sheets.has(header.id)) return;
  const image = bytes.slice(header.start, header.end); // an own copy: the message's buffer is reused
  createImageBitmap(new Blob([image], { type: header.meta.mime }))
    .then((bitmap) => {
      sheets.set(header.id, { meta: header.meta, bitmap });
      while (sheets.size > KEEP) sheets.delete(sheets.keys().next().value);
      for (const resolve of waiting.get(header.id) || []) resolve();
      waiting.delete(header.id);
      window.__aevizSprites = [...sheets.keys()]; // what the browser tests wait for
    })
    .catch((error) => console.error("aeviz: cannot decode a sprite sheet", error));
}

/** A promise resolved once every sheet in `chunks` ([{id, first, count}]) is here. */
export function spritesReady(chunks) {
  return Promise.all(
    (chunks || []).map(
      (c) =>
        sheets.has(c.id) ||
        new Promise((resolve) => {
          if (!waiting.has(c.id)) waiting.set(c.id, []);
          waiting.get(c.id).push(resolve);
        }),
    ),
  );
}

/** Draw map point `index`'s image from `chunks` into `canvas` (sized to the image); false when its sheet is
 * not here yet. */
export function drawSprite(canvas, chunks, index) {
  const chunk = (chunks || []).find((c) => index >= c.first && index < c.first + c.count);
  const sheet = chunk && sheets.get(chunk.id);
  if (!sheet) return false;
  const { cols, height, width } = sheet.meta;
  const i = index - chunk.first;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(sheet.bitmap, (i % cols) * width, Math.floor(i / cols) * height, width, height, 0, 0, width, height);
  canvas.dataset.index = String(index);
  return true;
}
