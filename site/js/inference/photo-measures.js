// The lesion measures of one classified photo (issue #46), on the pixels My lesions keeps of it: the photo is
// shrunk by records/history-records.js storedCanvas, as storedCopy shrinks it (longest side at most STORED_SIDE), and the
// model's outline is laid on that copy's centre square. A re-measure of the saved copy therefore sees the same
// pixels (up to JPEG) and gives the same numbers, and the stored measures' widthPx is the saved copy's width.
// DOM (canvas) needed; the measures themselves are lesion-measures.js's pure functions.
import { lesionMeasures, mmPerPixelFromField, outlineOnSquare, storedMeasures } from './lesion-measures.js';
import { storedCanvas } from '../records/history-records.js';

/** The photo as My lesions keeps it (storedCanvas), and its centre square's pixels. */
function storedSquare(source) {
  const canvas = storedCanvas(source);
  const { width, height } = canvas;
  const side = Math.min(width, height);
  // the same centre square as the classifier's (inference/classifier.js centreSquarePixels)
  const image = canvas.getContext('2d').getImageData(Math.floor((width - side) / 2), Math.floor((height - side) / 2),
    side, side);
  return { side, widthPx: width, image };
}

/**
 * The measures of the lesion that ``outline`` (a classifier result's, or null) marks on ``source`` (the whole photo
 * as classified: ImageBitmap or canvas), in millimetres when ``scale`` ({mmAcross, source}: the real width of the
 * whole photo) is given. Null when the model draws no outline. Returns {side, widthPx, mask, measures, stored}:
 * ``mask`` covers the centre square (side x side) of the photo shrunk to widthPx wide, ``measures`` is
 * lesionMeasures' result, ``stored`` what a saved result keeps. Throws DataError for an empty outline and
 * ScaleError for a scale that is no positive number of millimetres.
 */
export function measurePhoto(source, outline, scale) {
  if (!outline) return null;
  const { side, widthPx, image } = storedSquare(source);
  const mask = outlineOnSquare(outline, side);
  const mmPerPixel = scale ? mmPerPixelFromField(scale.mmAcross, widthPx) : null;
  const measures = lesionMeasures(mask, image, mmPerPixel);
  return { side, widthPx, mask, measures, stored: storedMeasures(measures, widthPx) };
}

/**
 * Draws the outline of ``mask`` ({width, height, data}, e.g. measurePhoto's) over what ``canvas`` shows of the same
 * square: a white line cased in black, so that it stands out on a dark lesion, on pale skin, on the heatmap's
 * colours and in black-and-white print alike. Only the line's pixels change.
 */
export function drawOutline(canvas, mask) {
  const { width, height } = canvas;
  const ctx = canvas.getContext('2d');
  const pixels = ctx.getImageData(0, 0, width, height);
  // the mask at the canvas's resolution, nearest neighbour
  const at = (x, y) => mask.data[Math.floor((y * mask.height) / height) * mask.width + Math.floor((x * mask.width) / width)];
  const inside = new Uint8Array(width * height);
  for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) inside[y * width + x] = at(x, y) ? 1 : 0;
  // a pixel is on the line when a pixel within ``reach`` of it lies on the other side of the border
  const core = Math.max(1, Math.round(width / 256));
  const casing = 2 * core;
  const crosses = (x, y, reach) => {
    const here = inside[y * width + x];
    for (let dy = -reach; dy <= reach; dy += 1) {
      for (let dx = -reach; dx <= reach; dx += 1) {
        const nx = x + dx;
        const ny = y + dy;
        if (nx >= 0 && ny >= 0 && nx < width && ny < height && inside[ny * width + nx] !== here) return true;
      }
    }
    return false;
  };
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      if (!crosses(x, y, casing)) continue;
      const value = crosses(x, y, core) ? 255 : 0;
      const k = 4 * (y * width + x);
      pixels.data.set([value, value, value, 255], k);
    }
  }
  ctx.putImageData(pixels, 0, 0);
}
