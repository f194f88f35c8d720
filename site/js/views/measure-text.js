// The outline measures as words, one way for the result card and the printed report (issue #46): each measure
// with its value, its unit and its MEANINGS line, and the scale line that says which scale the millimetres use.
import { COLOUR_PRESENT_SHARE, MEANINGS } from '../inference/lesion-measures.js';

const SCALE_SOURCE_NAMES = { field: 'field of view', ruler: 'ruler' };

/** A length in millimetres as the page writes it: at most two decimals, no trailing zeros. */
export function mmText(mm) {
  return String(Number(mm.toFixed(2)));
}

const sharePercent = (share) => `${Math.round(share * 100)}%`;
const wholePixels = (px) => Math.round(px).toLocaleString('en');

export const AT_EDGE = 'The outline reaches the edge of the square the model classified: the lesion may go on ' +
  'beyond it, and then these measures are of the part inside the square only (centre the lesion, or take the photo ' +
  'from further away).';

/** True when ``mask`` ({width, height, data}) marks a pixel on its own border. */
export function touchesEdge({ width, height, data }) {
  for (let i = 0; i < width; i += 1) if (data[i] || data[(height - 1) * width + i]) return true;
  for (let r = 0; r < height; r += 1) if (data[r * width] || data[r * width + width - 1]) return true;
  return false;
}

/** "Scale: 20 mm across the photo (field of view)", or the unscaled line; ``fromDefault``: the saved default. */
export function scaleSentence(scale, fromDefault = false) {
  if (!scale) return MEANINGS.unscaled;
  const source = SCALE_SOURCE_NAMES[scale.source];
  return `Scale: ${mmText(scale.mmAcross)} mm across the photo (${source}${fromDefault ? ', your saved default for ' +
    'new photos' : ''}).`;
}

/** [{key, name, value, meaning}] of ``measures`` (lesionMeasures' or scaledMeasures' shape, with widthPx: the
 * width in pixels of the photo the pixel sizes are of); millimetres where the measures carry a scale. */
export function measureLines(measures) {
  const m = measures;
  const pixelsOf = `pixels of the photo at ${m.widthPx} px across`;
  const asymmetry = m.asymmetryMajor == null ? `mean of the two main axes ${sharePercent(m.asymmetry)}`
    : `${sharePercent(m.asymmetryMajor)} across the main axis, ${sharePercent(m.asymmetryMinor)} across the second ` +
      `axis, mean ${sharePercent(m.asymmetry)}`;
  const colours = m.coloursPresent == null ? 'not measured'
    : m.coloursPresent.length ? m.coloursPresent.join(', ')
      : `none covers ${sharePercent(COLOUR_PRESENT_SHARE)} of the lesion`;
  return [
    { key: 'area', name: 'Area', meaning: MEANINGS.area,
      value: `${wholePixels(m.areaPx)} px${m.areaMm2 == null ? '' : ` = ${m.areaMm2.toFixed(1)} mm²`} (${pixelsOf})` },
    { key: 'diameter', name: 'Longest diameter', meaning: MEANINGS.diameter,
      value: `${wholePixels(m.diameterPx)} px${m.diameterMm == null ? '' : ` = ${m.diameterMm.toFixed(1)} mm`} (${pixelsOf})` },
    { key: 'asymmetry', name: 'Asymmetry', meaning: MEANINGS.asymmetry, value: asymmetry },
    { key: 'compactness', name: 'Border irregularity (compactness)', meaning: MEANINGS.compactness,
      value: m.compactness.toFixed(2) },
    { key: 'colours', name: 'Colours', meaning: MEANINGS.colours, value: colours },
  ];
}
