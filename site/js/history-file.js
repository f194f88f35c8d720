// The one-file export of the lesion history, and the checks an imported file must pass before anything is
// written (a foreign, damaged or edited file changes nothing).
import { imageHash } from './history-records.js';

export const FILE_FORMAT = 'lesionlens-history';
export const FILE_VERSION = 1;

export class ImportError extends Error {}

/** The export file's content: every lesion with its entries, images as data URLs. */
export function historyFile(lesions) {
  return { format: FILE_FORMAT, version: FILE_VERSION, exported: new Date().toISOString(), lesions };
}

function need(condition, message) {
  if (!condition) throw new ImportError(message);
}

const isText = (v) => typeof v === 'string';
const isDay = (v) => isText(v) && /^\d{4}-\d{2}-\d{2}$/.test(v);

function checkResult(result, where) {
  need(result && isText(result.modelVersion), `${where}: a result has no model version.`);
  need(Array.isArray(result.classes) && Array.isArray(result.probabilities)
    && result.classes.length === result.probabilities.length && result.classes.length > 1,
  `${where}: a result's classes and probabilities do not match.`);
  need(result.probabilities.every((p) => typeof p === 'number' && p >= 0 && p <= 1)
    && Math.abs(result.probabilities.reduce((s, p) => s + p, 0) - 1) < 1e-3,
  `${where}: a result's probabilities are not probabilities.`);
  need(['malignancyScore', 'threshold'].every((k) => typeof result[k] === 'number') && typeof result.flagged === 'boolean',
    `${where}: a result has no malignancy score, threshold or flag.`);
}

async function checkEntry(entry, where) {
  need(entry && isText(entry.id) && isText(entry.hash) && isDay(entry.taken), `${where}: an entry lacks its id, hash or date.`);
  need(isText(entry.image) && /^data:image\/(jpeg|png);base64,[A-Za-z0-9+/=]+$/.test(entry.image),
    `${where}: an entry's image is missing or not a JPEG/PNG data URL.`);
  need((await imageHash(entry.image)) === entry.hash,
    `${where}: an image does not match its content hash (the file was damaged or edited).`);
  need(Array.isArray(entry.results) && entry.results.length > 0, `${where}: an entry has no result.`);
  entry.results.forEach((r) => checkResult(r, where));
}

/** The lesions of an export file's text, fully checked; ImportError with the reason otherwise. */
export async function parseHistoryFile(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ImportError('This file is not a LesionLens history export (it is not JSON). Choose a file that ' +
      '"Export everything" saved.');
  }
  need(data && data.format === FILE_FORMAT, 'This file is not a LesionLens history export. Choose a file that ' +
    '"Export everything" saved.');
  need(data.version === FILE_VERSION, `This export has format version ${data.version}; this page reads version ` +
    `${FILE_VERSION}. Update the site, then import it again.`);
  need(Array.isArray(data.lesions), 'The export has no list of lesions: the file is damaged.');
  for (const [i, lesion] of data.lesions.entries()) {
    const where = `Lesion ${i + 1}`;
    need(lesion && isText(lesion.id) && isText(lesion.name) && lesion.name.trim(), `${where} has no id or name.`);
    need(Array.isArray(lesion.entries), `${where} has no list of entries.`);
    for (const entry of lesion.entries) await checkEntry(entry, `${where} (${lesion.name})`);
  }
  return data.lesions;
}
