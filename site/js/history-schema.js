// The one schema of the lesion history's records, checked on import (history-file.js) and on every read from
// the database (history-store.js), so that neither a crafted file nor an old or damaged record can reach a
// sort or a view that would throw. A hand-written table rather than a validator library: three record kinds
// with a dozen fields each, and a library would have to be vendored (the page loads nothing from outside).
// Each check returns null when the value is fine, else what is wrong, in words a user can act on.
import { isAge, SEXES } from './patient.js';

// Ids end up in the page's address (#lesion/<id>/...), which the router splits on "/".
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const IMAGE = /^data:image\/(jpeg|png);base64,[A-Za-z0-9+/=]+$/;
const TAKEN_SOURCES = ['exif', 'added', 'edited'];

const isText = (v) => typeof v === 'string';
const isNumber = (v) => typeof v === 'number' && Number.isFinite(v);
const optional = (check) => (v) => v === undefined || check(v);
const isDay = (v) => isText(v) && DAY.test(v) && !Number.isNaN(Date.parse(v));
const isFraction = (v) => isNumber(v) && v >= 0 && v <= 1;
const isMapPoint = (v) => v !== null && typeof v === 'object' && ['front', 'back'].includes(v.view)
  && isFraction(v.x) && isFraction(v.y);

// field -> [check, what it must be]
const LESION = {
  id: [(v) => isText(v) && ID.test(v), 'an id of 1-64 letters, digits, "-" or "_"'],
  name: [(v) => isText(v) && v.trim().length > 0 && v.length <= 200, 'a name (text, up to 200 characters)'],
  site: [isText, 'a body site (text)'],
  note: [optional(isText), 'a note as text'],
  created: [optional(isText), 'a creation time as text'],
  sex: [optional((v) => SEXES.includes(v)), `a sex of ${SEXES.join(' or ')} (or none, when unknown)`],
  mapPoint: [optional(isMapPoint), 'a body-map point {view: front or back, x and y from 0 to 1}'],
  nextCheck: [optional(isDay), 'the next check date (YYYY-MM-DD)'],
};
const ENTRY = {
  id: [(v) => isText(v) && ID.test(v), 'an id of 1-64 letters, digits, "-" or "_"'],
  hash: [(v) => isText(v) && /^[0-9a-f]{64}$/.test(v), 'a sha256 content hash'],
  name: [optional(isText), 'a file name as text'],
  taken: [isDay, 'the date taken (YYYY-MM-DD)'],
  age: [optional(isAge), 'the age at the photo, a whole number of years from 0 to 120 (or none, when unknown)'],
  takenSource: [(v) => TAKEN_SOURCES.includes(v), `where the date came from (${TAKEN_SOURCES.join(', ')})`],
  added: [(v) => isText(v) && !Number.isNaN(Date.parse(v)), 'the time it was added'],
  image: [(v) => isText(v) && IMAGE.test(v), 'the photo as a JPEG or PNG data URL'],
  results: [(v) => Array.isArray(v) && v.length > 0, 'at least one result'],
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
  guard: [optional((v) => v !== null && typeof v === 'object'), "the guard's verdict as an object"],
};

function fieldProblem(record, fields, what) {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return `${what} is not a record`;
  for (const [name, [check, must]] of Object.entries(fields)) {
    if (!check(record[name])) return `${what} needs ${must} in “${name}”`;
  }
  return null;
}

/** What is wrong with a lesion record; ``sites`` (the model's body sites) is checked when given. */
export function lesionProblem(lesion, sites = null) {
  const problem = fieldProblem(lesion, LESION, 'the lesion');
  if (problem) return problem;
  return sites && !sites.includes(lesion.site)
    ? `the lesion's body site “${lesion.site}” is not one of the model's (${sites.join(', ')})` : null;
}

/** What is wrong with one result; ``codes`` (the model's class codes, in order) are checked when given. */
export function resultProblem(result, codes = null) {
  const problem = fieldProblem(result, RESULT, 'a result');
  if (problem) return problem;
  if (result.classes.length !== result.probabilities.length) return "a result's classes and probabilities differ in number";
  if (codes && result.classes.join() !== codes.join()) {
    return `a result's classes (${result.classes.join(', ')}) are not this model's (${codes.join(', ')})`;
  }
  const top = result.classes[result.probabilities.indexOf(Math.max(...result.probabilities))];
  return result.topClass === top ? null : `a result's top class “${result.topClass}” is not its most probable class`;
}

/** What is wrong with an entry (a saved photo) and its results. */
export function entryProblem(entry, codes = null) {
  const problem = fieldProblem(entry, ENTRY, 'the photo');
  if (problem) return problem;
  for (const result of entry.results) {
    const wrong = resultProblem(result, codes);
    if (wrong) return wrong;
  }
  return null;
}
