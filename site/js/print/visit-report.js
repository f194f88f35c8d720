// A saved visit as a printable report (report.js): its photos with heatmaps and outlines recomputed on this device
// from the stored copies (the history keeps neither) and their outline measures, the visit's combined answer, the
// patient and the context the lesion and its photos carry (who examined the patient included), the next check date, and the previous visit
// with the change flag and the size change (growth line) My lesions shows.
import { changeReasons, describeChange, steadyMessage } from '../inference/change.js';
import { decodeImage } from '../inference/classifier.js';
import { visitMargin } from '../inference/combine.js';
import { centreSquareCanvas, classMap, drawOverlay } from '../inference/heatmap.js';
import { dataUrlBlob } from '../records/history-records.js';
import { verdictWords } from '../inference/referral.js';
import { visitReport } from './report.js';
import { classNames, percent, score } from '../ui.js';
import { comparableRecords, visitResult } from '../records/visits.js';
import { photoSize, sizeChange, visitSize } from '../records/visit-sizes.js';
import { drawOutline } from '../inference/photo-measures.js';
import { storedOutline } from '../records/stored-outline.js';

const HEATMAP_SIDE = 256;

// A picture of the classified square (the stored copy's centre square), drawn on by ``draw``.
function squarePicture(bitmap, draw) {
  const canvas = document.createElement('canvas');
  canvas.width = HEATMAP_SIDE;
  canvas.height = HEATMAP_SIDE;
  draw(canvas, centreSquareCanvas(bitmap, HEATMAP_SIDE));
  return canvas.toDataURL('image/png');
}

// The heatmap of class ``code`` and the outline, recomputed from the stored copy (one classification for both).
// The outline is drawn only when the photo's printed measures are this model's (photoSize's ``modelVersion``): the
// report says the measures are taken inside the outline it shows, true only for the same model on the same copy.
async function storedPictures(entry, code, size, classifier) {
  const { metadata } = classifier;
  const index = metadata.classes.findIndex((c) => c.code === code);
  const bitmap = await decodeImage(dataUrlBlob(entry.image));
  try {
    const { cams, outline } = await classifier.classify(bitmap);
    const note = `recomputed on this device from the stored copy by model ${metadata.model_version}`;
    const heatmap = index < 0 ? null // an older model's class this one lacks
      : { src: squarePicture(bitmap, (canvas, square) => drawOverlay(canvas, square, classMap(cams, index), cams.width, 0.5)),
        code, note };
    const mask = size.modelVersion === metadata.model_version ? storedOutline(bitmap, outline)?.mask : null;
    return { heatmap, outline: mask ? { src: squarePicture(bitmap, (canvas, square) => {
      canvas.getContext('2d').drawImage(square, 0, 0);
      drawOutline(canvas, mask);
    }), note } : null };
  } finally {
    bitmap.close();
  }
}

function answerText(result, names) {
  return `${names[result.topClass] ?? result.topClass} ${percent(Math.max(...result.probabilities))}, malignancy ` +
    `score ${score(result.malignancyScore)} (${verdictWords(result.flagged)})` +
    `${result.photos > 1 ? `, ${result.photos} photos combined` : ''}; model ${result.modelVersion}.`;
}

function changeText(previous, visit, metadata) {
  const { records, sameModel } = comparableRecords([previous.entries, visit.entries]);
  const [before, after] = records.map((r) => visitResult(r, metadata));
  const margin = visitMargin(metadata, previous.entries.length, visit.entries.length);
  const change = describeChange(before, after, margin?.margin);
  const names = classNames(metadata);
  const models = sameModel ? '' : ' (the two visits were scored by different models: re-score them for a ' +
    'like-for-like comparison)';
  const scores = `Malignancy score ${score(change.scoreBefore)} → ${score(change.scoreAfter)}`;
  // the compare view's words for the size, so that the paper and the screen never disagree
  const size = sizeChange(visitSize(previous), visitSize(visit), 'visit');
  const sizes = `${size.lines.map((line) => `${line}. `).join('')}${size.growthLine}`;
  return {
    text: answerText(before, names),
    changeText: change.flagged
      ? `CHANGE FLAG: a reason to refer to a dermatologist: ${changeReasons(change, margin?.margin, 'visit', names).join('; ')}. ` +
        `${scores}${models}. ${sizes}`
      : `No change flag. ${steadyMessage('visit', after)} ${scores}${models}. ${sizes}`,
  };
}

/** The report of ``visit`` ({day, entries}) of ``lesion`` (with ``part``, its body map's side and part) of
 * ``patient`` (null: Unassigned); ``previous`` is the visit before it, or null. */
export async function savedVisitReport(visit, previous, lesion, patient, classifier) {
  const { metadata } = classifier;
  const { records: [records] } = comparableRecords([visit.entries]);
  const result = visitResult(records, metadata);
  const photos = await Promise.all(visit.entries.map(async (entry, i) => {
    const size = photoSize(entry);
    return {
      name: entry.name || `photo ${i + 1}`,
      taken: entry.taken,
      takenSource: entry.takenSource,
      src: entry.image,
      score: records[i].malignancyScore,
      guard: records[i].guard,
      ...await storedPictures(entry, result.topClass, size, classifier),
      // the outline's measures (report.js: in mm with the photo's scale, else the unscaled line)
      measures: size.measures,
      scale: entry.scale ?? null,
    };
  }));
  const age = visit.entries.map((e) => e.age).find((a) => a != null) ?? null;
  // each photo of the visit keeps who examined; photos saved apart on one day may name two examiners
  const examinedBy = [...new Set(visit.entries.map((e) => e.examinedBy).filter(Boolean))].join('; ') || null;
  return visitReport({
    title: 'visit report',
    lesionName: lesion.name,
    context: { patient, age, sex: lesion.sex ?? null, site: lesion.site, part: lesion.part ?? null, examinedBy },
    taken: visit.day,
    // the day a photo was loaded, when no photo of the visit had a date of its own (or an edited one)
    takenSource: visit.entries.every((e) => e.takenSource === 'added') ? 'added' : null,
    nextCheck: lesion.nextCheck ?? null,
    photos,
    result,
    combined: result.photos > 1 ? result : null,
    previous: previous ? { day: previous.day, ...changeText(previous, visit, metadata) } : null,
  }, metadata);
}
