// Why a result refers or not, in the words a clinician checks: the malignancy score (the sum of the operating
// point's classes, classifier.js riskDecision) against the referral threshold, which classes carry it, a plain
// sentence when the referral and the top class disagree, and a below-threshold message worded from the miss
// rate the test split measured. Every figure comes from metadata.json.
import { el, percent, score, svgNode } from '../ui.js';

/** The referral's parts for one probability vector over ``codes``. */
export function referral(probabilities, codes, metadata) {
  const info = Object.fromEntries(metadata.classes.map((c) => [c.code, c]));
  const { threshold, classes } = metadata.operating_point;
  const parts = classes.map((code) => ({ code, name: info[code]?.name ?? code, p: probabilities[codes.indexOf(code)] }))
    .sort((a, b) => b.p - a.p);
  const value = parts.reduce((s, part) => s + part.p, 0);
  const topIndex = probabilities.indexOf(Math.max(...probabilities));
  const topCode = codes[topIndex];
  return {
    score: value,
    threshold,
    flagged: value >= threshold,
    parts,
    top: { code: topCode, name: info[topCode]?.name ?? topCode, p: probabilities[topIndex],
      malignant: classes.includes(topCode) },
  };
}

/** The test condition in which the model caught the fewest melanomas at the operating point (the figure a
 * below-threshold message must not overstate), with its interval; null for a model shipped without test figures. */
export function measuredMelanomaSensitivity(metadata) {
  const rows = Object.entries(metadata.metrics?.test ?? {}).filter(([, m]) => m.melanoma)
    .map(([condition, m]) => ({ condition, sensitivity: m.melanoma.sensitivity, n: m.n_images,
      interval: m.confidence_intervals?.melanoma_sensitivity ?? null }));
  return rows.sort((a, b) => a.sensitivity - b.sensitivity)[0] ?? null;
}

export const CONDITION_NAMES = { low: 'the 200x150 test copies', sharp: 'the sharp test crops',
  external: 'the images from other clinics (ISIC Archive)' };

// The one vocabulary of a referral, on every page, list and report: "above / below the referral threshold",
// never a word that turns "below" into an all-clear.
export const ABOVE = 'above the referral threshold';
export const BELOW = 'below the referral threshold';

/** A result's referral in a few words, for lists and tables. */
export function verdictWords(flagged) {
  return flagged ? `${ABOVE}: refer` : `${BELOW} (not an all-clear)`;
}

/** The risk message of a result: above the threshold, a referral; below it, what the threshold misses. The
 * page's readers are clinicians: it advises them, not the patient. */
export function riskMessage(flagged, metadata) {
  if (flagged) return 'Above the referral threshold: features associated with skin cancer — refer to a dermatologist.';
  const measured = measuredMelanomaSensitivity(metadata);
  const visit = 'A lesion that changes, bleeds, itches or hurts, or that worries the patient, needs examination ' +
    'whatever this says.';
  if (!measured) return `Below the referral threshold. This is not an all-clear. ${visit}`;
  const missed = 1 - measured.sensitivity;
  const range = measured.interval
    ? ` (95% interval ${percent(1 - measured.interval[1])} to ${percent(1 - measured.interval[0])})` : '';
  const oneIn = missed > 0 ? `, about 1 in ${Math.round(1 / missed)},` : '';
  return `Below the referral threshold, which is not an all-clear: at this threshold the model missed ` +
    `${percent(missed)}${oneIn} of the melanomas in ${CONDITION_NAMES[measured.condition] ?? measured.condition}` +
    `${range}. ${visit}`;
}

/** A 0..1 scale with the score as a bar and the threshold as a marked line (black-and-white safe). */
export function scoreScale(value, threshold) {
  const W = 300;
  const H = 34;
  const x = (v) => 4 + (W - 8) * Math.min(1, Math.max(0, v));
  const svg = svgNode('svg', { viewBox: `0 0 ${W} ${H}`, class: 'score-scale', role: 'img',
    'aria-label': `Malignancy score ${score(value)} on a scale from 0 to 1; referral threshold ${score(threshold)}` });
  svg.append(
    svgNode('rect', { x: 4, y: 6, width: W - 8, height: 12, class: 'track' }),
    svgNode('rect', { x: 4, y: 6, width: x(value) - 4, height: 12, class: 'fill' }),
    svgNode('line', { x1: x(threshold), x2: x(threshold), y1: 1, y2: 23, class: 'threshold' }),
  );
  for (const [v, text, anchor] of [[0, '0', 'start'], [threshold, `threshold ${score(threshold)}`, 'middle'], [1, '1', 'end']]) {
    const label = svgNode('text', { x: x(v), y: 32, 'text-anchor': anchor, class: 'axis' });
    label.textContent = text;
    svg.append(label);
  }
  return svg;
}

/** One sentence when the referral and the top class point different ways; null when they agree. */
export function disagreement(parts) {
  const { top, flagged, score: value, threshold } = parts;
  if (flagged && !top.malignant) {
    return `The top class, ${top.name} (${percent(top.p)}), is benign, but the page refers: the malignant classes ` +
      `together score ${score(value)}, at or above the referral threshold ${score(threshold)}. The referral rests ` +
      'on their sum, not on the top class.';
  }
  if (!flagged && top.malignant) {
    return `The top class, ${top.name} (${percent(top.p)}), is malignant, but the malignant classes together score ` +
      `${score(value)}, below the referral threshold ${score(threshold)}, so the page does not refer. A malignant ` +
      'top class is a reason to look closely.';
  }
  return null;
}

/** The sentence that makes the malignancy score and sets it against the threshold. */
export function scoreLine(parts) {
  const sum = parts.parts.map((part) => `${part.code} ${score(part.p)}`).join(' + ');
  return `Malignancy score ${score(parts.score)} = ${sum} (the malignant classes' probabilities added up), ` +
    `${parts.flagged ? 'at or above' : 'below'} the referral threshold ${score(parts.threshold)}.`;
}

/** The block every result card shows: the scale, the sum that makes the score, and the disagreement if any. */
export function referralBlock(parts) {
  const box = el('div', { class: `referral ${parts.flagged ? 'flagged' : 'low'}` });
  box.dataset.score = String(parts.score);
  box.dataset.threshold = String(parts.threshold);
  box.append(el('p', { class: 'score-line' }, scoreLine(parts)), scoreScale(parts.score, parts.threshold));
  const sentence = disagreement(parts);
  if (sentence) box.append(el('p', { class: 'disagreement warning' }, sentence));
  return box;
}
