// The views' stylesheet, put once into each component's shadow root. Sizes in rem: lecture mode's larger root
// font size enlarges the playground with the page's text.
export const CSS = `
.pg { display: flex; gap: 1.5rem; align-items: flex-start; font-family: var(--st-font, sans-serif);
  color: var(--st-text-color, #31333f); --pic: 16rem; --track: 12rem; user-select: none; }
.pg.big { --track: 13rem; }
.pic { flex: 0 0 auto; display: flex; flex-direction: column; align-items: center; gap: .4rem;
  width: min(var(--pic), 36%); }
.pic canvas.decoded { width: 100%; height: auto; image-rendering: pixelated; border-radius: .4rem; background: #000; }
.caption { font-size: .85rem; text-align: center; opacity: .85; }
.row { display: flex; align-items: center; gap: .6rem; }
.original { width: 3.2rem; height: 3.2rem; image-rendering: pixelated; border-radius: .25rem; }
.reset { font: inherit; font-size: .9rem; padding: .35rem .8rem; border-radius: .5rem; cursor: pointer;
  color: inherit; background: var(--st-secondary-background-color, #f0f2f6);
  border: 1px solid var(--st-border-color, #d5dae5); }
.reset:hover { border-color: var(--st-primary-color, #c2410c); color: var(--st-primary-color, #c2410c); }
.right { flex: 1 1 auto; min-width: 0; display: flex; flex-direction: column; gap: .4rem; }
.title { font-size: .95rem; font-weight: 600; }
.eq { display: flex; gap: .3rem; }
.col { flex: 1 1 0; min-width: 1.6rem; max-width: 4.5rem; display: flex; flex-direction: column; align-items: center;
  gap: .15rem; cursor: ns-resize; touch-action: none; outline: none; }
.val { font-size: .8rem; font-variant-numeric: tabular-nums; white-space: nowrap; }
.track { position: relative; width: 100%; height: var(--track); border-radius: .35rem;
  background: var(--st-secondary-background-color, #f0f2f6); }
.col.selected .track { box-shadow: 0 0 0 2px var(--st-primary-color, #c2410c); }
.col:focus-visible .track { box-shadow: 0 0 0 3px var(--st-primary-color, #c2410c); }
.zero { position: absolute; left: 0; right: 0; height: 1px; background: currentColor; opacity: .35; }
.bar { position: absolute; left: 22%; right: 22%; border-radius: 2px; background: var(--st-primary-color, #c2410c);
  opacity: .85; }
.orig { position: absolute; left: 6%; right: 6%; height: 0; border-top: 2px dashed currentColor; opacity: .55; }
.knob { position: absolute; left: 50%; width: 1rem; height: 1rem; margin: -.5rem 0 0 -.5rem; border-radius: 50%;
  background: var(--st-primary-color, #c2410c); border: 2px solid var(--st-background-color, #fff); }
.lab { font-size: .85rem; font-weight: 600; }
.sub { font-size: .7rem; opacity: .8; white-space: nowrap; }
.strip { width: 100%; height: 3rem; }
.narrow .val { font-size: .7rem; }
.narrow .sub { font-size: .6rem; }
.tiny .sub { display: none; }
.note { font-size: .8rem; opacity: .85; }
.server .caption { color: var(--st-primary-color, #c2410c); opacity: 1; }

.nb { font-family: var(--st-font, sans-serif); color: var(--st-text-color, #31333f); --thumb: 3.5rem; }
.nb.big { --thumb: 5rem; }
.nb-list { display: flex; flex-wrap: wrap; gap: .5rem .6rem; margin: .35rem 0; }
.nb-item { display: flex; flex-direction: column; align-items: center; width: calc(var(--thumb) + 1.2rem); }
.nb-pic { width: var(--thumb); height: var(--thumb); image-rendering: pixelated; border-radius: .3rem;
  background: #000; }
.nb-focus .nb-pic { box-shadow: 0 0 0 3px var(--st-primary-color, #c2410c); }
.nb-lab { font-size: .75rem; font-weight: 600; white-space: nowrap; margin-top: .2rem; }
.nb-dist { font-size: .7rem; opacity: .8; font-variant-numeric: tabular-nums; white-space: nowrap; }
.nb.big .nb-lab { font-size: .9rem; }
.nb.big .nb-dist { font-size: .85rem; }
`;
