// What changed between two photos (or two visits) of one lesion, by the rules the lesion history flags:
// crossing the referral threshold upwards, a rise of the malignancy score beyond the noise that training
// measured (metadata.change, train/calibration/change_margin.py) or derived for visits (train/calibration/combine.py),
// or a change of the top class (the model now reads the lesion as something else: a finding to look at).
import { score } from '../ui.js';

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
    flagged: crossedUp || clearRise || before.topClass !== after.topClass,
  };
}

/** The reasons a flagged ``change`` is flagged, as phrases; ``unit`` is "photo" or "visit", ``names`` maps
 * class codes to names. */
export function changeReasons(change, margin, unit, names) {
  return [
    change.crossedUp && `the later ${unit} crossed the referral threshold`,
    change.clearRise && `the malignancy score rose by ${score(change.delta)}, more than ${unit}-to-${unit} noise ` +
      `(${score(margin)})`,
    change.topChanged && `the top class changed from ${names[change.topBefore] ?? change.topBefore} to ` +
      `${names[change.topAfter] ?? change.topAfter}`,
  ].filter(Boolean);
}

/** What to say when a change is not flagged. The later result decides the referral whatever changed: a lesion
 * above the referral threshold at its latest photo or visit is referred, never "kept under monitoring". */
export function steadyMessage(unit, after) {
  const steady = `No change beyond what two ${unit}s of an unchanged lesion usually show`;
  return after.flagged
    ? `${steady}, but the later ${unit} is above the referral threshold: refer to a dermatologist.`
    : `${steady}. The later ${unit} is below the referral threshold, which is not an all-clear: keep monitoring.`;
}
