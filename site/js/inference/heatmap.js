// Explanation overlay: the class activation map (CAM) that the model graph outputs next to its logits,
// for one class, min-max normalised (as train/studies/explain_eval.py measures it) and drawn over what the model saw.

import { svgNode } from '../ui.js';

// Matplotlib's "inferno", sampled: black through purple and orange to pale yellow. Its lightness rises all the
// way, so the map still reads from least to most evidence when printed in black and white (the earlier
// blue-green-yellow-red map turned to a near-uniform grey there).
const STOPS = [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39],
  [252, 255, 164]];

function colour(v) {
  const x = Math.min(Math.max(v, 0), 1) * (STOPS.length - 1);
  const i = Math.min(Math.floor(x), STOPS.length - 2);
  const t = x - i;
  return STOPS[i].map((c, k) => Math.round(c + (STOPS[i + 1][k] - c) * t));
}

// The model reads only the centre square of a photo (classifier.js centreSquarePixels): every heatmap is drawn over
// that square, and the card and the report say so.
export const CENTRE_SQUARE = 'The model analysed only the photo\'s centre square, shown with the heatmap; anything ' +
  'outside it was not seen.';

/** The h x w map of class ``classIndex`` from cams {height, width, classes, data}, scaled to 0..1. */
export function classMap(cams, classIndex) {
  const { height, width, classes, data } = cams;
  const grid = new Float32Array(height * width);
  for (let p = 0; p < grid.length; p += 1) grid[p] = data[p * classes + classIndex];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of grid) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return grid.map((v) => (hi > lo ? (v - lo) / (hi - lo) : 0));
}

/** Where the map peaks, as fractions of the square (0..1 from the left and from the top). */
export function peak(grid, width) {
  const i = grid.indexOf(Math.max(...grid));
  return { x: ((i % width) + 0.5) / width, y: (Math.floor(i / width) + 0.5) / (grid.length / width) };
}

/** Draw ``square`` (the centre square the model classified) into ``canvas`` and the map on top at
 * ``opacity``; the small grid is upsampled by the canvas' bilinear smoothing, as in Python. */
export function drawOverlay(canvas, square, grid, gridWidth, opacity) {
  const ctx = canvas.getContext('2d');
  ctx.globalAlpha = 1;
  ctx.drawImage(square, 0, 0, canvas.width, canvas.height);
  const small = document.createElement('canvas');
  small.width = gridWidth;
  small.height = grid.length / gridWidth;
  const pixels = new ImageData(small.width, small.height);
  grid.forEach((v, p) => pixels.data.set([...colour(v), 255], p * 4));
  small.getContext('2d').putImageData(pixels, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.globalAlpha = opacity;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  ctx.globalAlpha = 1;
}

/** A copy of the centre square of ``source`` at ``side`` px (decoded bitmaps are closed after use). */
export function centreSquareCanvas(source, side) {
  const canvas = document.createElement('canvas');
  canvas.width = side;
  canvas.height = side;
  const s = Math.min(source.width, source.height);
  const ctx = canvas.getContext('2d');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, (source.width - s) / 2, (source.height - s) / 2, s, s, 0, 0, side, side);
  return canvas;
}

let legendCount = 0; // each legend's gradient needs an id of its own in the document

/** The colour scale of the heatmap as a labelled SVG bar (SVG fills print without "background graphics"). */
export function heatmapLegend() {
  const W = 240;
  const svg = svgNode('svg', { viewBox: `0 0 ${W} 30`, class: 'heatmap-legend', role: 'img',
    'aria-label': 'Heatmap colour scale: black marks the least evidence for the class, pale yellow the most' });
  const gradient = svgNode('linearGradient', { id: `heatmap-scale-${legendCount += 1}` });
  STOPS.forEach((rgb, i) => gradient.append(svgNode('stop', { offset: i / (STOPS.length - 1),
    'stop-color': `rgb(${rgb.join(',')})` })));
  const defs = svgNode('defs');
  defs.append(gradient);
  svg.append(defs, svgNode('rect', { x: 0.5, y: 0.5, width: W - 1, height: 12, fill: `url(#${gradient.id})`,
    stroke: '#000' }));
  for (const [x, text, anchor] of [[0, 'least evidence', 'start'], [W, 'most evidence', 'end']]) {
    const label = svgNode('text', { x, y: 27, 'text-anchor': anchor, class: 'axis' });
    label.textContent = text;
    svg.append(label);
  }
  return svg;
}
