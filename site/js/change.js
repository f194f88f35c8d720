// What changed between two photos (or two visits) of one lesion, by the rules the lesion history flags:
// crossing the operating point upwards, a rise of the malignancy score beyond the noise that training
// measured (metadata.change, train/calibration/change_margin.py) or derived for visits (train/calibration/combine.py),
// or a change of the top class (the model now reads the lesion as something else: a finding to look at).

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
