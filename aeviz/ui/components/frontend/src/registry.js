// Decoders by model id, shared by every view on the page: the weights arrive once per model (their own
// element), the views ask for them by id and draw as soon as they are here.
import { Decoder } from "./kernel.js";

const decoders = new Map(); // id -> Decoder or Error
const waiting = new Map(); // id -> [resolve, reject][]
const KEEP = 24; // models a long session keeps (at most about 1 MB each)

export function provide(blob) {
  let decoder;
  try {
    decoder = new Decoder(blob);
  } catch (error) {
    console.error("aeviz: cannot read these decoder weights", error);
    return null;
  }
  if (!decoders.has(decoder.id)) {
    decoders.set(decoder.id, decoder);
    while (decoders.size > KEEP) decoders.delete(decoders.keys().next().value);
  }
  for (const [resolve] of waiting.get(decoder.id) || []) resolve(decoders.get(decoder.id));
  waiting.delete(decoder.id);
  return decoder.id;
}

/** A promise of the decoder with this id (resolved at once when its weights are already here). */
export function whenReady(id) {
  if (decoders.has(id)) return Promise.resolve(decoders.get(id));
  return new Promise((resolve, reject) => {
    if (!waiting.has(id)) waiting.set(id, []);
    waiting.get(id).push([resolve, reject]);
  });
}

export function known() {
  return [...decoders.keys()];
}
