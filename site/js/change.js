// What changed between two photos of one lesion, by the rules the lesion history flags: crossing the
// operating point upwards, or a rise of the malignancy score beyond the photo-to-photo noise that training
// measured (metadata.change, train/calibration/change_margin.py).
import { latestResult, resultBy } from './history-records.js';

/** The results to compare: both by the same model when one scored both photos (the newest such), else each
 * photo's newest result. */
export function comparableResults(older, newer) {
  const shared = [...newer.results].reverse().find((r) => resultBy(older, r.modelVersion));
  if (shared) return { before: resultBy(older, shared.modelVersion), after: shared, sameModel: true };
  return { before: latestResult(older), after: latestResult(newer), sameModel: false };
}

/** ``before``/``after`` results -> the change and whether it is a reason to see a dermatologist. */
export function describeChange(before, after, margin) {
  const delta = after.malignancyScore - before.malignancyScore;
  const crossedUp = !before.flagged && after.flagged;
  const clearRise = margin != null && delta >= margin;
  return {
    topBefore: before.topClass,
    topAfter: after.topClass,
    topChanged: before.topClass !== after.topClass,
    scoreBefore: before.malignancyScore,
    scoreAfter: after.malignancyScore,
    delta,
    crossedUp,
    crossedDown: before.flagged && !after.flagged,
    clearRise,
    flagged: crossedUp || clearRise,
  };
}
