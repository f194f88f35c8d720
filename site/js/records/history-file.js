// The one-file export of the lesion history (all of it, or one patient's), and the checks an imported file must
// pass before anything is written (a foreign, damaged or edited file changes nothing).
// Version 2: {patients: [{...patient, lesions: [...]}], lesions: [...]}, each lesion with its photos nested in
// "entries"; the top-level "lesions" are those of no patient (Unassigned). Version 1, written before patients,
// has only the top-level "lesions": they import as Unassigned.
import { dataUrlBlob, imageHash } from './history-records.js';
import { entryProblem, lesionProblem, patientProblem } from './history-schema.js';
import { patientKey } from './patient-record.js';

export const FILE_FORMAT = 'lesionlens-history';
export const FILE_VERSION = 2;
const READABLE_VERSIONS = [1, FILE_VERSION];

export class ImportError extends Error {}

/** The export file's content: ``patients`` with their lesions nested, and ``lesions`` of no patient, each lesion
 * with its entries, images as data URLs. */
export function historyFile(patients, lesions) {
  return { format: FILE_FORMAT, version: FILE_VERSION, exported: new Date().toISOString(), patients, lesions };
}

// Limits a real history stays far below (a photo is ~60-150 kB): a file past them is not one this page wrote.
export const MAX_FILE_BYTES = 100e6;
export const MAX_LESIONS = 1000;
export const MAX_PATIENTS = MAX_LESIONS; // a patient is kept for their lesions
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

// Checks one file lesion (``where`` names it in a message) and its photos; ``ids`` holds every id seen so far.
async function checkLesion(lesion, where, ids, model, counted) {
  need(lesion !== null && typeof lesion === 'object' && !Array.isArray(lesion), `${where} is not a record. ${DAMAGED}`);
  // the file nests a lesion's photos in it, and the lesion in its patient: the record kept has neither
  const { entries: photos, ...record } = lesion;
  need(!Object.hasOwn(record, 'patient'), `${where} (${lesion.name}) names a patient in “patient”: a file lists a ` +
    `lesion under its patient instead. ${DAMAGED}`);
  const problem = lesionProblem(record, model);
  need(!problem, `${where}: ${problem}. ${DAMAGED}`);
  need(Array.isArray(photos), `${where} (${lesion.name}) has no list of photos. ${DAMAGED}`);
  counted.entries += photos.length;
  need(counted.entries <= MAX_ENTRIES, `The export holds more than ${MAX_ENTRIES} photos. ${DAMAGED}`);
  need(!ids.has(lesion.id), `${where} (${lesion.name}) has the id of another lesion in the file. ${DAMAGED}`);
  ids.add(lesion.id);
  for (const [j, entry] of photos.entries()) {
    const place = `${where} (${lesion.name}), photo ${j + 1}`;
    await checkEntry(entry, place, model);
    need(!ids.has(entry.id), `${place} has the id of another record in the file. ${DAMAGED}`);
    ids.add(entry.id);
  }
}

/** The patients (each with its ``lesions``) and the lesions of no patient of an export file's text, as
 * {patients, lesions}, every field checked against the history's schema (history-schema.js) and the page's
 * ``model`` ({codes, sites, malignant}); ImportError with the reason otherwise. */
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
  need(READABLE_VERSIONS.includes(data.version), `This export has format version ${data.version}; this page reads ` +
    `versions ${READABLE_VERSIONS.join(' and ')}. Update the site, then import it again.`);
  const patients = data.version === 1 ? [] : data.patients;
  need(Array.isArray(patients), 'The export has no list of patients: the file is damaged.');
  need(Array.isArray(data.lesions), 'The export has no list of lesions: the file is damaged.');
  need(patients.length <= MAX_PATIENTS, `The export lists ${patients.length} patients, more than the ` +
    `${MAX_PATIENTS} a history can hold here. ${DAMAGED}`);
  const ids = new Set();
  const keys = new Map(); // patient ID (patientKey) -> where it was first seen
  const counted = { lesions: data.lesions.length, entries: 0 };
  for (const [i, patient] of patients.entries()) {
    const where = `Patient ${i + 1}`;
    need(patient !== null && typeof patient === 'object' && !Array.isArray(patient), `${where} is not a record. ${DAMAGED}`);
    const { lesions, ...record } = patient;
    const problem = patientProblem(record);
    need(!problem, `${where}: ${problem}. ${DAMAGED}`);
    const key = patientKey(record.patientId);
    need(!keys.has(key), `${where} has the patient ID ${record.patientId}, as ${keys.get(key)} has: one patient ` +
      `is listed twice. ${DAMAGED}`);
    keys.set(key, where);
    need(!ids.has(record.id), `${where} (${record.patientId}) has the id of another record in the file. ${DAMAGED}`);
    ids.add(record.id);
    need(Array.isArray(lesions), `${where} (${record.patientId}) has no list of lesions. ${DAMAGED}`);
    counted.lesions += lesions.length;
  }
  need(counted.lesions <= MAX_LESIONS, `The export lists ${counted.lesions} lesions, more than the ` +
    `${MAX_LESIONS} a history can hold here. ${DAMAGED}`);
  for (const [i, patient] of patients.entries()) {
    for (const [j, lesion] of patient.lesions.entries()) {
      await checkLesion(lesion, `Patient ${i + 1} (${patient.patientId}), lesion ${j + 1}`, ids, model, counted);
    }
  }
  for (const [i, lesion] of data.lesions.entries()) await checkLesion(lesion, `Lesion ${i + 1}`, ids, model, counted);
  return { patients, lesions: data.lesions };
}
