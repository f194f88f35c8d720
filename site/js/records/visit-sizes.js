// The lesion's size at each photo and visit of My lesions (issue #46), and its growth between two of them, in the
// words the compare view, the size chart and the printed visit report share. Millimetres come only from a photo's
// own scale and its result's outline measures (lesion-measures.js): pixels of two photos never compare, so a photo
// without either is named, never guessed. Pure: no DOM.
import { GROWTH_LIMIT, growth, MEANINGS, RELATIVE_ERROR, scaledMeasures } from '../inference/lesion-measures.js';

// why a photo or visit has no size in millimetres, in the words the page names it by
export const MISSING_WORDS = {
  scale: 'no scale',
  measures: 'no outline measures',
};

/** The outline measures of ``entry``'s newest result that has them (null: none), in millimetres when the photo
 * has a scale: {measures (scaledMeasures), missing: null | 'scale' | 'measures', modelVersion (whose outline)}. */
export function photoSize(entry) {
  const measured = [...entry.results].reverse().find((r) => r.measures);
  if (!measured) return { measures: null, missing: 'measures', modelVersion: null };
  const measures = scaledMeasures(measured.measures, entry.scale ?? null);
  return { measures, missing: measures.mmPerPixel == null ? 'scale' : null, modelVersion: measured.modelVersion };
}

function medianOf(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const half = sorted.length >> 1;
  return sorted.length % 2 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
}

/** A visit's size: the median over its photos that have both a scale and outline measures (one photo: its own),
 * in the shape growth() compares: {measures {areaMm2, diameterMm, mmPerPixel} or null, sized (photos counted),
 * photos, missing: null | 'scale' | 'measures' (what its photos lack when none is sized)}. */
export function visitSize(visit) {
  const sizes = visit.entries.map(photoSize);
  const sized = sizes.filter((s) => !s.missing).map((s) => s.measures);
  const base = { sized: sized.length, photos: visit.entries.length };
  if (!sized.length) {
    return { ...base, measures: null, missing: sizes.some((s) => s.missing === 'scale') ? 'scale' : 'measures' };
  }
  const median = (key) => medianOf(sized.map((m) => m[key]));
  return { ...base, missing: null,
    measures: { areaMm2: median('areaMm2'), diameterMm: median('diameterMm'), mmPerPixel: median('mmPerPixel') } };
}

const sizeMm = (value) => `${value.toFixed(1)} mm`;
const sizeMm2 = (value) => `${value.toFixed(1)} mm²`;
const percentOf = (fraction, digits = 1) => `${(fraction * 100).toFixed(digits)}%`;
// whole per cent, but one decimal below 10% so that a change near a limit (8.3%) is not rounded across it
const signedChange = (fraction) => `${fraction >= 0 ? '+' : '−'}${percentOf(Math.abs(fraction), Math.abs(fraction) < 0.1 ? 1 : 0)}`;

/** "Longest diameter 5.2 mm", "area 21.2 mm²" of lesionMeasures-shaped ``measures`` in millimetres. */
export function sizeText(measures) {
  return `longest diameter ${sizeMm(measures.diameterMm)}, area ${sizeMm2(measures.areaMm2)}`;
}

// Where the limit comes from, in one sentence (docs/lesion-measures.md, "Growth and its repeatability").
export const GROWTH_SOURCE = 'Limit: 1.96 × √2 × the relative error of repeated photos of unchanged lesions ' +
  `(${percentOf(RELATIVE_ERROR.area, 0)} area, ${percentOf(RELATIVE_ERROR.diameter, 0)} longest diameter; ` +
  'Gutkowicz-Krusin et al., Melanoma Research 2000).';

/** The size change from ``before`` to ``after`` (photoSize or visitSize results) of ``unit`` ('photo' or 'visit'):
 * {comparable, lines (the two sizes with their change), verdict, detail (the meaning and the limit's source), flagged};
 * when either has no size, the reason in ``verdict`` and ``detail``, no lines, and ``flagged`` null. growthLine is
 * verdict and detail as one line. */
export function sizeChange(before, after, unit) {
  if (before.missing || after.missing) {
    const which = [['earlier', before], ['later', after]].filter(([, s]) => s.missing)
      .map(([when, s]) => `the ${when} ${unit} has ${MISSING_WORDS[s.missing]}`).join(' and ');
    const unscaled = [before, after].some((s) => s.missing === 'scale') ? `${MEANINGS.unscaled} ` : '';
    return withLine({ comparable: false, lines: [], flagged: null, verdict: `Sizes cannot be compared: ${which}.`,
      detail: `${unscaled}Sizes compare between photos only when both have a scale (the field of view, mm across ` +
        'the photo) and the outline\'s measures.' });
  }
  const change = growth(before.measures, after.measures);
  const lines = [
    `Longest diameter ${sizeMm(before.measures.diameterMm)} → ${sizeMm(after.measures.diameterMm)} (${signedChange(change.diameterChange)})`,
    `Area ${sizeMm2(before.measures.areaMm2)} → ${sizeMm2(after.measures.areaMm2)} (${signedChange(change.areaChange)})`,
  ];
  const beyond = [
    change.areaChange > GROWTH_LIMIT.area && `area ${signedChange(change.areaChange)} (limit ${percentOf(GROWTH_LIMIT.area)})`,
    change.diameterChange > GROWTH_LIMIT.diameter
      && `longest diameter ${signedChange(change.diameterChange)} (limit ${percentOf(GROWTH_LIMIT.diameter)})`,
  ].filter(Boolean);
  return withLine(change.flagged
    ? { comparable: true, lines, flagged: true, verdict: `Growth flagged: ${beyond.join(', ')}.`,
      detail: `${MEANINGS.growth} ${GROWTH_SOURCE}` }
    : { comparable: true, lines, flagged: false, verdict: 'No growth beyond the repeatability limit (area ' +
        `${percentOf(GROWTH_LIMIT.area)}, longest diameter ${percentOf(GROWTH_LIMIT.diameter)}).`,
      detail: `${GROWTH_SOURCE} Handheld photos and a model's outline are likely less repeatable: an unflagged ` +
        'change is not proof that the lesion is unchanged.' });
}

function withLine(change) {
  return { ...change, growthLine: `${change.verdict} ${change.detail}` };
}
