// The one-file export of the lesion history, and the checks an imported file must pass before anything is
// written (a foreign, damaged or edited file changes nothing).
import { dataUrlBlob, imageHash } from './history-records.js';
import { entryProblem, lesionProblem } from './history-schema.js';

export const FILE_FORMAT = 'lesionlens-history';
export const FILE_VERSION = 1;

export class ImportError extends Error {}

/** The export file's content: every lesion with its entries, images as data URLs. */
export function historyFile(lesions) {
  return { format: FILE_FORMAT, version: FILE_VERSION, exported: new Date().toISOString(), lesions };
}

// Limits a real history stays far below (a photo is ~60-150 kB): a file past them is not one this page wrote.
export const MAX_FILE_BYTES = 100e6;
export const MAX_LESIONS = 1000;
export const MAX_ENTRIES = 20000;

function need(condition, message) {
  if (!condition) throw new ImportError(message);
}

/** Refuses a file too large to be a history export before its text is read. */
export function checkFileSize(file) {
  need(file.size <= MAX_FILE_BYTES, `This file is ${(file.size / 1e6).toFixed(0)} MB, more than the ` +
    `${MAX_FILE_BYTES / 1e6} MB a history export can be: it is not one. Choose a file that "Export everything" saved.`);
}

const DAMAGED = 'Nothing was imported: the file was edited or damaged. Import the file as "Export everything" saved it.';

async function checkEntry(entry, where, model) {
  const problem = entryProblem(entry, model);
  need(!problem, `${where}: ${problem}. ${DAMAGED}`);
  need((await imageHash(entry.image)) === entry.hash,
    `${where}: the photo does not match its content hash. ${DAMAGED}`);
  need(await decodes(entry.image), `${where}: the photo's bytes are not an image the browser can decode. ${DAMAGED}`);
}

// The schema checks the image's first bytes; only a decode shows the rest is an image too.
async function decodes(dataUrl) {
  try {
    (await createImageBitmap(dataUrlBlob(dataUrl))).close();
    return true;
  } catch {
    return false;
  }
}

/** The lesions of an export file's text, every field checked against the history's schema
 * (history-schema.js) and the page's ``model`` ({codes, sites, malignant}); ImportError with the reason otherwise. */
export async function parseHistoryFile(text, model) {
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
  need(data.lesions.length <= MAX_LESIONS, `The export lists ${data.lesions.length} lesions, more than the ` +
    `${MAX_LESIONS} a history can hold here. ${DAMAGED}`);
  const ids = new Set();
  let entries = 0;
  for (const [i, lesion] of data.lesions.entries()) {
    const where = `Lesion ${i + 1}`;
    need(lesion !== null && typeof lesion === 'object' && !Array.isArray(lesion), `${where} is not a record. ${DAMAGED}`);
    // the file nests a lesion's photos in it; the record the database keeps has no "entries"
    const { entries: photos, ...record } = lesion;
    const problem = lesionProblem(record, model);
    need(!problem, `${where}: ${problem}. ${DAMAGED}`);
    need(Array.isArray(photos), `${where} (${lesion.name}) has no list of photos. ${DAMAGED}`);
    entries += photos.length;
    need(entries <= MAX_ENTRIES, `The export holds more than ${MAX_ENTRIES} photos. ${DAMAGED}`);
    need(!ids.has(lesion.id), `${where} (${lesion.name}) has the id of another lesion in the file. ${DAMAGED}`);
    ids.add(lesion.id);
    for (const [j, entry] of photos.entries()) {
      const place = `${where} (${lesion.name}), photo ${j + 1}`;
      await checkEntry(entry, place, model);
      need(!ids.has(entry.id), `${place} has the id of another record in the file. ${DAMAGED}`);
      ids.add(entry.id);
    }
  }
  return data.lesions;
}
