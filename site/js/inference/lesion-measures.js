// What a dermatologist reads from a lesion's outline (issue #46): size, longest diameter, asymmetry, border
// compactness and dermoscopic colours, the scale that turns pixels into millimetres, and the growth rule.
// The twin of train/segmentation/measures.py, rule for rule and constant for constant (its docstring gives the
// sources; tests/test_lesion_measures.py checks the two agree on real photos), so that the card, the printed
// report and Python's figures never disagree. Descriptions, not a score: the referral stays the model's.
// Pixels are the photo's own: the mask must cover the photo's centre square at the photo's resolution (the
// outline model's 160x160 mask resized, nearest neighbour, to the square's side), so a scale measured on the
// photo applies to it. Pure functions: no DOM, so the history and the report can use them too.

// Reference RGB of the six dermoscopic colours (Kasmi & Mokrani 2016, x 255), compared in CIELAB; the order breaks
// ties. White counts only where lighter (higher L*) than the surrounding skin (measures.py says why).
export const COLOURS = {
  white: [255, 255, 255],
  red: [204, 51, 51],
  'light brown': [153, 102, 0],
  'dark brown': [51, 0, 0],
  'blue-grey': [51, 153, 153],
  black: [0, 0, 0],
};
export const COLOUR_PRESENT_SHARE = 0.05;
// sRGB (D65) to CIE XYZ and the D65 white, 2-degree observer: scikit-image's rgb2lab constants.
export const XYZ_FROM_RGB = [
  [0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]];
export const D65_WHITE = [0.95047, 1.0, 1.08883];
// Relative error of one measurement of an unchanged lesion (Gutkowicz-Krusin et al. 2000) and the growth a second
// one must exceed to be more than that noise (95% repeatability coefficient of a difference of two).
export const RELATIVE_ERROR = { area: 0.06, diameter: 0.03 };
export const GROWTH_LIMIT = Object.fromEntries(
  Object.entries(RELATIVE_ERROR).map(([name, error]) => [name, 1.96 * Math.sqrt(2) * error]));

// The widest field a photo's scale may state (mm across the photo): a hand-held clinical photo of a limb; a
// dermatoscope sees 10-25 mm. Beyond it the number is a typing error, not a scale.
export const MAX_FIELD_MM = 1000;

export const SCALE_MESSAGE = "The scale must be a positive number of millimetres: enter the dermatoscope's field of " +
  'view (mm across the photo) or the real length between the two ruler points, above 0.';

// One plain line per measure for the card and the printed report (docs/lesion-measures.md says the same).
export const MEANINGS = {
  area: 'How much skin the outline covers.',
  diameter: 'The longest straight distance across the outline (the D of the ABCD rule).',
  asymmetry: 'The share of the outline that its mirror image across each main axis does not cover: 0 is symmetric.',
  compactness: 'Border irregularity: 1 for a circle, higher for a longer, more ragged border.',
  colours: `Which of the six dermoscopic colours cover at least ${COLOUR_PRESENT_SHARE * 100}% of the lesion; several colours ` +
    'is an ABCD warning sign.',
  growth: 'Growth since the earlier visit beyond what repeated photos of an unchanged lesion differ by.',
  unscaled: 'No scale: sizes are in pixels of this photo and cannot be compared between photos.',
  notAScore: 'These describe the outline; they are not a second score: the referral is the model’s.',
};

export class DataError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DataError';
  }
}

export class ScaleError extends DataError {
  constructor(message) {
    super(message);
    this.name = 'ScaleError';
  }
}

const isFiniteNumber = (value) => typeof value === 'number' && Number.isFinite(value);

function checkedMm(value) {
  if (!(isFiniteNumber(value) && value > 0)) throw new ScaleError(SCALE_MESSAGE);
  return value;
}

// The model's outline is a probability map over the square it classified; a photo pixel is lesion where the map,
// resized bilinearly to the photo's centre square (half-pixel centres: tf.image.resize, which Python's
// train/evaluation/segmentation.py outline_on_square uses), is above one half.
export const OUTLINE_THRESHOLD = 0.5;

function bilinearTaps(out, size) {
  const scale = size / out;
  return Array.from({ length: out }, (_, i) => {
    const at = (i + 0.5) * scale - 0.5;
    const floor = Math.floor(at);
    return [Math.max(floor, 0), Math.min(Math.ceil(at), size - 1), at - floor];
  });
}

/** The model's ``outline`` ({size, data}: size x size probabilities) as a mask of a photo's centre square of
 * ``side`` pixels ({width, height, data}: 1 = lesion), the mask lesionMeasures takes. */
export function outlineOnSquare(outline, side) {
  const { size, data: p } = outline;
  const taps = bilinearTaps(side, size);
  const data = new Uint8Array(side * side);
  for (let r = 0; r < side; r += 1) {
    const [r0, r1, dr] = taps[r];
    for (let c = 0; c < side; c += 1) {
      const [c0, c1, dc] = taps[c];
      const top = p[r0 * size + c0] + (p[r0 * size + c1] - p[r0 * size + c0]) * dc;
      const bottom = p[r1 * size + c0] + (p[r1 * size + c1] - p[r1 * size + c0]) * dc;
      data[r * side + c] = top + (bottom - top) * dr > OUTLINE_THRESHOLD ? 1 : 0;
    }
  }
  return { width: side, height: side, data };
}

/** Millimetres per photo pixel from the dermatoscope's field of view across the whole photo's width. */
export function mmPerPixelFromField(widthMm, imageWidthPx) {
  checkedMm(widthMm);
  if (!(isFiniteNumber(imageWidthPx) && imageWidthPx > 0)) {
    throw new ScaleError("The photo's width must be a positive number of pixels: load the photo again.");
  }
  return widthMm / imageWidthPx;
}

/** Millimetres per photo pixel from two clicks ``p1``, ``p2`` ([x, y] in photo pixels) ``lengthMm`` apart. */
export function mmPerPixelFromPoints(p1, p2, lengthMm) {
  checkedMm(lengthMm);
  if (![...p1, ...p2].every(isFiniteNumber)) throw new ScaleError('A ruler point is not a position on the photo: click both points on the photo.');
  const pixels = Math.hypot(p2[0] - p1[0], p2[1] - p1[1]);
  if (pixels === 0) throw new ScaleError('The two ruler points are the same pixel: click two points a known length apart.');
  return lengthMm / pixels;
}

/** The lesion's pixels as rows and columns, and their centroid and major-axis angle from the row axis as
 * scikit-image's regionprops gives them (its tie rule included: a shape with equal spreads gets -pi/4 or pi/4). */
function shape(mask) {
  const rows = [];
  const cols = [];
  for (let r = 0; r < mask.height; r += 1) {
    for (let c = 0; c < mask.width; c += 1) if (mask.data[r * mask.width + c]) { rows.push(r); cols.push(c); }
  }
  const n = rows.length;
  const centre = [rows.reduce((s, v) => s + v, 0) / n, cols.reduce((s, v) => s + v, 0) / n];
  let mu20 = 0; let mu02 = 0; let mu11 = 0;
  for (let i = 0; i < n; i += 1) {
    const dr = rows[i] - centre[0];
    const dc = cols[i] - centre[1];
    mu20 += dr * dr; mu02 += dc * dc; mu11 += dr * dc;
  }
  const [a, b, c] = [mu02 / n, -mu11 / n, mu20 / n];
  const theta = a - c === 0 ? (b < 0 ? Math.PI / 4 : -Math.PI / 4) : 0.5 * Math.atan2(-2 * b, c - a);
  return { rows, cols, centre, theta };
}

/** Share of the lesion's pixels whose mirror image across the line through ``centre`` along ``axis`` ([row,
 * column] unit vector) falls outside the lesion: the share of the area its mirror image does not cover. */
function asymmetry(mask, { rows, cols, centre }, axis) {
  let uncovered = 0;
  for (let i = 0; i < rows.length; i += 1) {
    const dr = rows[i] - centre[0];
    const dc = cols[i] - centre[1];
    const along = dr * axis[0] + dc * axis[1];
    // floor(x + 0.5) on both sides: Math.round and numpy's round differ at halves
    const mr = Math.floor(centre[0] + 2 * along * axis[0] - dr + 0.5);
    const mc = Math.floor(centre[1] + 2 * along * axis[1] - dc + 0.5);
    const inside = mr >= 0 && mr < mask.height && mc >= 0 && mc < mask.width;
    if (!(inside && mask.data[mr * mask.width + mc])) uncovered += 1;
  }
  return uncovered / rows.length;
}

/** scikit-image's perimeter_crofton(mask, 4): counts of the 2x2 pixel patterns (the mask padded with one empty
 * pixel), each weighted by its share of the Crofton formula's crossings in four directions. */
function croftonPerimeter(mask) {
  const s2 = Math.sqrt(2);
  const weights = [0, Math.PI / 4 * (1 + 1 / s2), Math.PI / (4 * s2), Math.PI / (2 * s2), 0, Math.PI / 4 * (1 + 1 / s2),
    0, Math.PI / (4 * s2), Math.PI / 4, Math.PI / 2, Math.PI / (4 * s2), Math.PI / (4 * s2), Math.PI / 4, Math.PI / 2, 0, 0];
  const at = (r, c) => (r >= 0 && r < mask.height && c >= 0 && c < mask.width && mask.data[r * mask.width + c] ? 1 : 0);
  const counts = new Array(16).fill(0);
  for (let r = -1; r <= mask.height; r += 1) {
    for (let c = -1; c <= mask.width; c += 1) counts[at(r, c) + 4 * at(r, c - 1) + 2 * at(r - 1, c) + 8 * at(r - 1, c - 1)] += 1;
  }
  return counts.reduce((sum, count, i) => sum + weights[i] * count, 0);
}

const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);

/** The largest distance between two points of the lesion's pixels (as unit squares): the farthest pair of the
 * convex hull of the corners of each row's first and last pixel (monotone chain, as exact as scipy's Qhull on
 * these integer corners). */
function longestDiameter(mask) {
  const corners = [];
  for (let r = 0; r < mask.height; r += 1) {
    let first = -1; let last = -1;
    for (let c = 0; c < mask.width; c += 1) if (mask.data[r * mask.width + c]) { if (first < 0) first = c; last = c; }
    if (first >= 0) corners.push([r, first], [r + 1, first], [r, last + 1], [r + 1, last + 1]);
  }
  corners.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  const half = (points) => points.reduce((hull, p) => {
    while (hull.length >= 2 && cross(hull[hull.length - 2], hull[hull.length - 1], p) <= 0) hull.pop();
    hull.push(p);
    return hull;
  }, []);
  const hull = [...half(corners).slice(0, -1), ...half([...corners].reverse()).slice(0, -1)];
  let longest = 0;
  for (let i = 0; i < hull.length; i += 1) {
    for (let j = i + 1; j < hull.length; j += 1) {
      longest = Math.max(longest, (hull[i][0] - hull[j][0]) ** 2 + (hull[i][1] - hull[j][1]) ** 2);
    }
  }
  return Math.sqrt(longest);
}

/** CIELAB [L*, a*, b*] of an sRGB colour [r, g, b] (0..255), step for step as measures.py's rgb_to_lab. */
export function rgbToLab(rgb) {
  const linear = rgb.map((v) => {
    const c = v / 255.0;
    return c > 0.04045 ? ((c + 0.055) / 1.055) ** 2.4 : c / 12.92;
  });
  const [fx, fy, fz] = XYZ_FROM_RGB.map((m, i) => {
    const t = (linear[0] * m[0] + linear[1] * m[1] + linear[2] * m[2]) / D65_WHITE[i];
    return t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16.0 / 116.0;
  });
  return [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)];
}

const COLOUR_LAB = Object.values(COLOURS).map(rgbToLab);
const WHITE = Object.keys(COLOURS).indexOf('white');

/** The median of each channel over the photo's pixels outside the outline (the mean of the two middle values for
 * an even count, as numpy's); null when the outline covers the whole photo. */
function skinColour(image, mask) {
  const channels = [[], [], []];
  for (let i = 0; i < mask.width * mask.height; i += 1) {
    if (!mask.data[i]) for (let c = 0; c < 3; c += 1) channels[c].push(image.data[4 * i + c]);
  }
  if (channels[0].length === 0) return null;
  return channels.map((values) => {
    values.sort((p, q) => p - q);
    const half = values.length >> 1;
    return values.length % 2 ? values[half] : (values[half - 1] + values[half]) / 2;
  });
}

/** Share of the lesion's pixels nearest, in CIELAB, to each reference colour; a pixel nearest to white counts only
 * where it is lighter (higher L*) than the skin (when there is skin): pale lesion no lighter than the skin is no
 * dermoscopic white, and counts towards no colour. */
function colourShares(image, { rows, cols }, skin) {
  const skinL = skin && rgbToLab(skin)[0];
  const counts = new Array(COLOUR_LAB.length).fill(0);
  for (let i = 0; i < rows.length; i += 1) {
    const k = 4 * (rows[i] * image.width + cols[i]);
    const lab = rgbToLab([image.data[k], image.data[k + 1], image.data[k + 2]]);
    let best = 0; let bestDistance = Infinity;
    COLOUR_LAB.forEach(([l, a, b], j) => {
      const d = (lab[0] - l) ** 2 + (lab[1] - a) ** 2 + (lab[2] - b) ** 2;
      if (d < bestDistance) { best = j; bestDistance = d; }
    });
    if (best !== WHITE || skin == null || lab[0] > skinL) counts[best] += 1;
  }
  return Object.fromEntries(Object.keys(COLOURS).map((name, j) => [name, counts[j] / rows.length]));
}

/** The measures of the lesion outlined by ``mask`` ({width, height, data}: one value per photo pixel, non-zero =
 * lesion), its colours when ``image`` (an ImageData of the same pixels, RGBA) is given, and sizes in millimetres
 * when ``mmPerPixel`` is. DataError for an empty outline or an image of another size. */
export function lesionMeasures(mask, image = null, mmPerPixel = null) {
  if (!mask.data.some((v) => v)) {
    throw new DataError('The lesion outline is empty: no pixel of the photo is marked as lesion. Retake the photo ' +
      'with the lesion in the centre square, or draw the outline.');
  }
  if (image && (image.width !== mask.width || image.height !== mask.height)) {
    throw new DataError(`The photo (${image.height}x${image.width}) does not match the outline (${mask.height}x` +
      `${mask.width}): give the outline at the photo's resolution.`);
  }
  const scale = mmPerPixel == null ? null : checkedMm(mmPerPixel);
  const lesion = shape(mask);
  const major = [Math.cos(lesion.theta), Math.sin(lesion.theta)];
  const minor = [-Math.sin(lesion.theta), Math.cos(lesion.theta)];
  const asymmetryMajor = asymmetry(mask, lesion, major);
  const asymmetryMinor = asymmetry(mask, lesion, minor);
  const area = lesion.rows.length;
  const diameter = longestDiameter(mask);
  const perimeter = croftonPerimeter(mask);
  const shares = image ? colourShares(image, lesion, skinColour(image, mask)) : null;
  return {
    areaPx: area,
    areaMm2: scale == null ? null : area * scale * scale,
    diameterPx: diameter,
    diameterMm: scale == null ? null : diameter * scale,
    perimeterPx: perimeter,
    compactness: perimeter ** 2 / (4 * Math.PI * area),
    asymmetryMajor,
    asymmetryMinor,
    asymmetry: (asymmetryMajor + asymmetryMinor) / 2,
    colourShares: shares,
    coloursPresent: shares && Object.keys(shares).filter((name) => shares[name] >= COLOUR_PRESENT_SHARE),
    mmPerPixel: scale,
  };
}

/** The relative change of area and longest diameter from ``before`` to ``after`` (lesionMeasures results),
 * flagged when either grew beyond GROWTH_LIMIT. Only millimetres compare between photos: without a scale on both,
 * ``comparable`` is false and nothing is flagged or computed. */
export function growth(before, after) {
  if (before.mmPerPixel == null || after.mmPerPixel == null) {
    return { comparable: false, areaChange: null, diameterChange: null, flagged: null };
  }
  const areaChange = after.areaMm2 / before.areaMm2 - 1;
  const diameterChange = after.diameterMm / before.diameterMm - 1;
  return {
    comparable: true,
    areaChange,
    diameterChange,
    flagged: areaChange > GROWTH_LIMIT.area || diameterChange > GROWTH_LIMIT.diameter,
  };
}

/** The measures as a saved result keeps them (history-schema.js ``measures``): the outline's pixel sizes with the
 * width of the photo they are pixels of, so that a scale kept as millimetres across the photo applies to them at
 * any resolution. */
export function storedMeasures(measures, widthPx) {
  return {
    widthPx,
    areaPx: measures.areaPx,
    diameterPx: measures.diameterPx,
    asymmetry: measures.asymmetry,
    compactness: measures.compactness,
    colours: measures.coloursPresent,
  };
}

/** Stored measures with their millimetres from ``scale`` ({mmAcross, source}, or null: no millimetres), in the
 * shape lesionMeasures returns, so that growth() compares two saved visits. */
export function scaledMeasures(stored, scale) {
  const mmPerPixel = scale ? checkedMm(scale.mmAcross) / stored.widthPx : null;
  return {
    ...stored,
    coloursPresent: stored.colours,
    mmPerPixel,
    areaMm2: mmPerPixel == null ? null : stored.areaPx * mmPerPixel * mmPerPixel,
    diameterMm: mmPerPixel == null ? null : stored.diameterPx * mmPerPixel,
  };
}
