// Several photos of one lesion, one answer: combined by the rule training chose on validation
// (metadata.combination, train/calibration/combine.py), from the calibrated probabilities alone. For the mean of logits,
// softmax(mean log p) equals softmax((mean logits + class_bias) / temperature), because log p differs from the
// calibrated logits by one constant per photo: the combination keeps the single photo's calibration.
import { riskDecision } from './classifier.js';

// Same floor as train/calibration/combine.py: a float32 probability that underflowed to 0 must not make log p infinite.
const SMALLEST_PROBABILITY = 1e-12;

const average = (values) => values.reduce((s, v) => s + v, 0) / values.length;

/** One probability vector from several photos' calibrated probability vectors. */
export function combineProbabilities(rows, rule) {
  const columns = rows[0].map((_, c) => rows.map((r) => r[c]));
  if (rule === 'mean_probabilities') return columns.map(average);
  if (rule === 'mean_logits') {
    const logs = columns.map((col) => average(col.map((p) => Math.log(Math.max(p, SMALLEST_PROBABILITY)))));
    const top = Math.max(...logs);
    const exps = logs.map((v) => Math.exp(v - top));
    const total = exps.reduce((s, v) => s + v, 0);
    return exps.map((v) => v / total);
  }
  throw new Error(`Unknown combination rule “${rule}”: this page is older than its model. Reload the page.`);
}

/** How a page names a combination rule. */
export function ruleName(rule) {
  return { mean_logits: 'the mean of their logits', mean_probabilities: 'the mean of their probabilities' }[rule] ?? rule;
}

const argmaxIndex = (probabilities) => probabilities.indexOf(Math.max(...probabilities));

/**
 * The combined answer of ``results`` ({probabilities, malignancyScore, flagged}), all over ``classes``
 * (codes), decided at ``operatingPoint``; with how far the single photos disagree.
 */
export function combineResults(results, rule, classes, operatingPoint) {
  const probabilities = combineProbabilities(results.map((r) => r.probabilities), rule);
  const scores = results.map((r) => r.malignancyScore);
  const above = results.filter((r) => r.flagged).length;
  return {
    probabilities,
    ...riskDecision(probabilities, classes, operatingPoint),
    topClass: classes[argmaxIndex(probabilities)],
    photos: results.length,
    lowestScore: Math.min(...scores),
    highestScore: Math.max(...scores),
    above,
    straddles: above > 0 && above < results.length,
    singleTopClasses: [...new Set(results.map((r) => classes[argmaxIndex(r.probabilities)]))],
  };
}

/** How far the malignancy score moves between two visits of an unchanged lesion with ``photosA`` and
 * ``photosB`` photos: the single-photo figures training measured, or, when both visits have several photos,
 * the combined-visit figures it derived for the smaller of the two (the noisier visit sets the margin). */
export function visitMargin(metadata, photosA, photosB) {
  const k = Math.min(photosA, photosB);
  const single = metadata.change && { ...metadata.change, photos: 1, derived: false };
  const table = metadata.combination?.visit_change ?? [];
  if (k < 2 || !table.length) return single;
  const row = table.filter((r) => r.photos <= k).at(-1);
  return row.photos < 2 ? single : { ...row, derived: true };
}
