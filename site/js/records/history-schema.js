// The one schema of the lesion history's records, checked on import (history-file.js) and on every read from
// the database (history-store.js), so that neither a crafted file nor an old or damaged record can reach a
// sort or a view that would throw. A hand-written table rather than a validator library: three record kinds
// with a dozen fields each, and a library would have to be vendored (the page loads nothing from outside).
// Each check returns null when the value is fine, else what is wrong, in words a user can act on.
// Four record kinds: a patient, a lesion (of a patient, or of none: "Unassigned"), a photo ("entry") of a lesion,
// and the results of a photo.
import { COLOURS, MAX_FIELD_MM } from '../inference/lesion-measures.js';
import { isAge, SEXES } from './patient.js';

// Ids end up in the page's address (#lesion/<id>/...), which the router splits on "/".
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
// the type the data URL names and its first bytes agree: JPEG's FF D8 FF, PNG's 8-byte signature (in base64)
const IMAGE = /^data:image\/(?:jpeg;base64,\/9j\/|png;base64,iVBORw0KGgo)[A-Za-z0-9+/=]+$/;
const TAKEN_SOURCES = ['exif', 'added', 'edited'];
export const MAX_NAME = 200;
// Dates a photo or a check can plausibly carry; outside them a typo (a five-digit year) is refused, not kept.
export const FIRST_DAY = '1900-01-01';
export const LAST_DAY = '2100-12-31';
// A character that shows: not white space and not an invisible format character (zero-width space, BOM,
// direction marks), so that a name made only of those cannot be saved and then be impossible to click.
const VISIBLE = /[^\s\p{Cf}]/u;

const isText = (v) => typeof v === 'string';
const isNumber = (v) => typeof v === 'number' && Number.isFinite(v);
const optional = (check) => (v) => v === undefined || check(v);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const only = (v, names) => Object.keys(v).every((k) => names.includes(k));
// Date.parse('2025-02-30') is 2 March in Chromium: the day is rebuilt from its parts and must come back the same.
export const isCalendarDay = (v) => isText(v) && DAY.test(v) && v >= FIRST_DAY && v <= LAST_DAY
  && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v);
const isFraction = (v) => isNumber(v) && v >= 0 && v <= 1;
const isMapPoint = (v) => isObject(v) && only(v, ['view', 'x', 'y']) && ['front', 'back'].includes(v.view)
  && isFraction(v.x) && isFraction(v.y);
const isName = (v) => isText(v) && VISIBLE.test(v) && v.length <= MAX_NAME;

// A patient ID is typed from a chart or a label and matched against the IDs already kept: an invisible character
// (zero-width space, BOM, a direction mark) would make two IDs that look the same differ, a control character has
// no place in it, and the length of a hospital number is far below MAX_PATIENT_ID.
export const MAX_PATIENT_ID = 40;
// A person's name (the patient's, the examiner's) may need joiners (Persian, Indic scripts), but never a control
// character nor one that overrides the direction of the text around it (it could reverse the page's own words).
export const MAX_PERSON_NAME = 100;
export const FIRST_BIRTH_YEAR = 1900;
export const HIDDEN_IN_ID = /[\p{Cc}\p{Cf}]/u;
export const HIDDEN_IN_NAME = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/u;
const isPatientId = (v) => isText(v) && v === v.trim() && v.length <= MAX_PATIENT_ID && VISIBLE.test(v)
  && !HIDDEN_IN_ID.test(v);
const isPersonName = (v) => isText(v) && v === v.trim() && v.length <= MAX_PERSON_NAME && VISIBLE.test(v)
  && !HIDDEN_IN_NAME.test(v);
// this year on the device's clock: a year of birth after it is a typo
export const isBirthYear = (v) => Number.isInteger(v) && v >= FIRST_BIRTH_YEAR && v <= new Date().getFullYear();
// The body map's side and part ("left forearm", "back of the head"): lower-case words, as the map names them.
const isBodyPart = (v) => isText(v) && /^[a-z]+(?: [a-z]+){0,4}$/.test(v) && v.length <= 40;
// A photo's scale, independent of the resolution it is kept at: the real width of the whole photo in millimetres,
// from the dermatoscope's field of view or from two points on a ruler in the photo.
const SCALE_SOURCES = ['field', 'ruler'];
const isScale = (v) => isObject(v) && only(v, ['mmAcross', 'source']) && isNumber(v.mmAcross) && v.mmAcross > 0
  && v.mmAcross <= MAX_FIELD_MM && SCALE_SOURCES.includes(v.source);
// The measures of the model's outline (lesion-measures.js storedMeasures): sizes in pixels of a photo widthPx wide.
const isMeasures = (v) => isObject(v)
  && only(v, ['widthPx', 'areaPx', 'diameterPx', 'asymmetry', 'compactness', 'colours'])
  && Number.isInteger(v.widthPx) && v.widthPx > 0 && Number.isInteger(v.areaPx) && v.areaPx > 0
  && isNumber(v.diameterPx) && v.diameterPx > 0 && isFraction(v.asymmetry) && isNumber(v.compactness)
  && v.compactness > 0 && (v.colours === null || (Array.isArray(v.colours)
    && v.colours.every((c) => Object.hasOwn(COLOURS, c)) && new Set(v.colours).size === v.colours.length));
const DATE_RANGE = `a real date from ${FIRST_DAY} to ${LAST_DAY}`;
// The guard's verdict as the page records it; the report prints the distance with toFixed.
const isGuard = (v) => isObject(v) && only(v, ['outOfDistribution', 'distance', 'forced'])
  && typeof v.outOfDistribution === 'boolean' && (v.distance === null || v.distance === undefined || isNumber(v.distance))
  && optional((f) => typeof f === 'boolean')(v.forced);

// field -> [check, what it must be]
const RECORD_ID = [(v) => isText(v) && ID.test(v), 'an id of 1-64 letters, digits, "-" or "_"'];
const PERSON_NAME = `a name of 1 to ${MAX_PERSON_NAME} characters, with no control or direction-changing character`;
const PATIENT = {
  id: RECORD_ID,
  patientId: [isPatientId, `a patient ID of 1 to ${MAX_PATIENT_ID} characters, with no control or invisible ` +
    'character (zero-width space, direction mark)'],
  name: [optional(isPersonName), PERSON_NAME],
  birthYear: [optional(isBirthYear), `a year of birth from ${FIRST_BIRTH_YEAR} to this year (or none, when unknown)`],
  created: [optional(isText), 'a creation time as text'],
};
const LESION = {
  id: RECORD_ID,
  // the patient record's id; none: the lesion is "Unassigned" (saved without a patient ID, or before patients)
  patient: [optional((v) => isText(v) && ID.test(v)), "its patient's id"],
  name: [isName, `a name of 1 to ${MAX_NAME} characters, at least one of them visible`],
  site: [isText, 'a body site (text)'],
  note: [optional(isText), 'a note as text'],
  created: [optional(isText), 'a creation time as text'],
  sex: [optional((v) => SEXES.includes(v)), `a sex of ${SEXES.join(' or ')} (or none, when unknown)`],
  mapPoint: [optional(isMapPoint), 'a body-map point {view: front or back, x and y from 0 to 1}'],
  // the region picked on the map; a record from before it was kept has only the map point to find it from
  bodyPart: [optional(isBodyPart), 'the body map\'s side and part, e.g. "left forearm" (lower-case words)'],
  nextCheck: [optional(isCalendarDay), `the next check date, ${DATE_RANGE} (YYYY-MM-DD)`],
};
const ENTRY = {
  id: RECORD_ID,
  // kept in the database, left out of the export file (a photo there sits under its lesion)
  lesionId: [optional((v) => isText(v) && ID.test(v)), "its lesion's id"],
  hash: [(v) => isText(v) && /^[0-9a-f]{64}$/.test(v), 'a sha256 content hash'],
  name: [optional(isText), 'a file name as text'],
  taken: [isCalendarDay, `the date taken, ${DATE_RANGE} (YYYY-MM-DD)`],
  age: [optional(isAge), 'the age at the photo, a whole number of years from 0 to 120 (or none, when unknown)'],
  takenSource: [(v) => TAKEN_SOURCES.includes(v), `where the date came from (${TAKEN_SOURCES.join(', ')})`],
  added: [(v) => isText(v) && !Number.isNaN(Date.parse(v)), 'the time it was added'],
  image: [(v) => isText(v) && IMAGE.test(v), 'the photo as a JPEG or PNG data URL whose bytes are that image type'],
  results: [(v) => Array.isArray(v) && v.length > 0, 'at least one result'],
  // who examined the patient at this photo's visit (kept on each photo of the visit), printed on its report
  examinedBy: [optional(isPersonName), `who examined the patient: ${PERSON_NAME}`],
  scale: [optional(isScale), `the photo's scale {mmAcross: its width in mm, above 0 and at most ${MAX_FIELD_MM}; ` +
    `source: ${SCALE_SOURCES.join(' or ')}}`],
};
const RESULT = {
  modelVersion: [isText, 'the model version'],
  scoredAt: [optional(isText), 'the scoring time as text'],
  classes: [(v) => Array.isArray(v) && v.length > 1 && v.every(isText), 'its class codes'],
  probabilities: [(v) => Array.isArray(v) && v.every((p) => isNumber(p) && p >= 0 && p <= 1)
    && Math.abs(v.reduce((s, p) => s + p, 0) - 1) < 1e-3, 'probabilities that add up to 1'],
  topClass: [isText, 'its top class'],
  malignancyScore: [(v) => isNumber(v) && v >= 0 && v <= 1, 'a malignancy score between 0 and 1'],
  threshold: [(v) => isNumber(v) && v >= 0 && v <= 1, 'the referral threshold it used'],
  flagged: [(v) => typeof v === 'boolean', 'whether it referred (true/false)'],
  guard: [optional(isGuard), "the guard's verdict {outOfDistribution: true/false, distance: a number or null, forced: true/false}"],
  measures: [optional(isMeasures), "the outline's measures {widthPx, areaPx, diameterPx, asymmetry from 0 to 1, " +
    'compactness above 0, colours: dermoscopic colour names or null}'],
};

// The first field of ``record`` that ``fields`` refuses, as {field, must}, or a field it does not know (a stray
// field is refused, not kept: a "sealed" one would make an unlocked record look encrypted); null when all pass.
function firstFailure(record, fields) {
  for (const [field, [check, must]] of Object.entries(fields)) {
    if (!check(record[field])) return { field, must };
  }
  const stray = Object.keys(record).find((k) => !Object.hasOwn(fields, k));
  return stray === undefined ? null : { field: stray, must: 'no such field (this page does not keep it)' };
}

function fieldProblem(record, fields, what) {
  if (!isObject(record)) return `${what} is not a record`;
  const failure = firstFailure(record, fields);
  return failure && `${what} needs ${failure.must} in “${failure.field}”`;
}

const KINDS = { patient: PATIENT, lesion: LESION, entry: ENTRY };

/** What ``field`` of a patient (``kind`` 'patient'), a lesion ('lesion') or a photo ('entry') must hold when the
 * reader would refuse ``value`` there, for a form to say beside the field before anything is written; null when
 * it would be read. */
export function fieldFailure(kind, field, value) {
  const [check, must] = KINDS[kind][field];
  return check(value) ? null : must;
}

/** What is wrong with a patient record. */
export function patientProblem(patient) {
  return fieldProblem(patient, PATIENT, 'the patient');
}

// ``model``: {codes (class codes, in order), sites (body sites), malignant (the classes the malignancy score
// adds up)} of the page's model, checked when given; without it, every check that needs no model.

/** What is wrong with a lesion record. */
export function lesionProblem(lesion, model = null) {
  const problem = fieldProblem(lesion, LESION, 'the lesion');
  if (problem) return problem;
  const sites = model?.sites;
  return sites && !sites.includes(lesion.site)
    ? `the lesion's body site “${lesion.site}” is not one of the model's (${sites.join(', ')})` : null;
}

// The page computes score and referral from the probabilities in one go, so a stored result that disagrees
// with itself was edited: showing it would print "0.950, see a dermatologist" beside "0.010, below".
const SCORE_ROUNDING = 1e-6;

/** What is wrong with one result. */
export function resultProblem(result, model = null) {
  const problem = fieldProblem(result, RESULT, 'a result');
  if (problem) return problem;
  if (result.classes.length !== result.probabilities.length) return "a result's classes and probabilities differ in number";
  const codes = model?.codes;
  if (codes && result.classes.join() !== codes.join()) {
    return `a result's classes (${result.classes.join(', ')}) are not this model's (${codes.join(', ')})`;
  }
  const top = result.classes[result.probabilities.indexOf(Math.max(...result.probabilities))];
  if (result.topClass !== top) return `a result's top class “${result.topClass}” is not its most probable class`;
  if (model?.malignant) {
    const sum = model.malignant.reduce((s, c) => s + (result.probabilities[result.classes.indexOf(c)] ?? NaN), 0);
    if (!(Math.abs(sum - result.malignancyScore) <= SCORE_ROUNDING)) {
      return `a result's malignancy score ${result.malignancyScore} is not the sum of its malignant classes' ` +
        `(${model.malignant.join(', ')}) probabilities, ${sum}`;
    }
  }
  return result.flagged === (result.malignancyScore >= result.threshold) ? null
    : `a result's referral (“flagged”: ${result.flagged}) disagrees with its malignancy score ` +
      `${result.malignancyScore} against its threshold ${result.threshold}`;
}

/** What is wrong with an entry (a saved photo) and its results. */
export function entryProblem(entry, model = null) {
  const problem = fieldProblem(entry, ENTRY, 'the photo');
  if (problem) return problem;
  for (const result of entry.results) {
    const wrong = resultProblem(result, model);
    if (wrong) return wrong;
  }
  return null;
}
