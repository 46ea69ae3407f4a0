// aeviz's browser kit: one bundle for every aeviz component (one Streamlit component, "aeviz.kit", whose data
// says which view to draw). Bytes are a model's decoder weights or a sheet of image sprites (each its own
// element, sent once); a JSON object names its view. Streamlit calls this default export again whenever the
// data changes.
import { CSS } from "./style.js";
import { hover } from "./hover.js";
import { neighbours } from "./neighbours.js";
import { playground } from "./playground.js";
import { provide } from "./registry.js";
import { provideSprites, spriteHeader } from "./sprites.js";

export { Decoder, parseBlob } from "./kernel.js";
export { codeAt, ndtri } from "./hover.js";
export { known, provide, whenReady } from "./registry.js";
export { drawSprite, spriteHeader, spritesReady } from "./sprites.js";

const VIEWS = { playground, hover, neighbours };

function styled(root) {
  if (!root.querySelector(":scope > style[data-aeviz]")) {
    const style = document.createElement("style");
    style.dataset.aeviz = "1";
    style.textContent = CSS;
    root.appendChild(style);
  }
}

export default function aevizKit(component) {
  const { data, parentElement } = component;
  if (data instanceof Uint8Array) {
    const sprites = spriteHeader(data); // image sprites, else a model's decoder weights
    if (sprites) provideSprites(data, sprites);
    else provide(data);
    return undefined;
  }
  const view = data && VIEWS[data.view];
  if (!view) return undefined;
  styled(parentElement);
  return view(parentElement, data, component);
}
