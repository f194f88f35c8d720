// The patient a lesion belongs to: a Patient ID as the clinic writes it (free text), and optionally a name and a
// year of birth. Here: reading what was typed (one message per bad value, saying what to do), matching an ID
// against the patients kept, merging what a form or an import file says into the record kept, and how every
// screen and printed page names the patient. The record's shape is checked by history-schema.js.
import {
  FIRST_BIRTH_YEAR, HIDDEN_IN_ID, HIDDEN_IN_NAME, isBirthYear, MAX_PATIENT_ID, MAX_PERSON_NAME,
} from './history-schema.js';
import { ContextProblem } from './patient.js';

/** What the lesions without a patient are called on every screen. */
export const UNASSIGNED = 'Unassigned';

// A value quoted back in a message, shortened: a pasted page of text must not become a page of error.
function quoted(text) {
  const chars = [...text];
  return `“${chars.length > 40 ? `${chars.slice(0, 39).join('')}…` : text}”`;
}

function codePoint(ch) {
  return `U+${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

// ``hidden``: the characters the field refuses; ``max``: its length. Null for an empty field (not given).
function personText(field, label, text, hidden, max) {
  const value = String(text ?? '').normalize('NFC').trim();
  if (!value) return null;
  const bad = value.match(hidden);
  if (bad) {
    throw new ContextProblem(field, `The ${label} holds an invisible or control character (${codePoint(bad[0])}), ` +
      'perhaps pasted with it: type it again without it.');
  }
  if (value.length > max) {
    throw new ContextProblem(field, `The ${label} is ${value.length} characters long; at most ${max} are kept. ` +
      'Shorten it.');
  }
  if (!/[^\s\p{Cf}]/u.test(value)) throw new ContextProblem(field, `The ${label} has no visible character: type it again.`);
  return value;
}

/** The Patient ID typed, NFC and trimmed; null when empty (the lesion goes to Unassigned). */
export function parsePatientId(text) {
  return personText('patientId', 'patient ID', text, HIDDEN_IN_ID, MAX_PATIENT_ID);
}

/** A person's name typed (the patient's, ``field`` 'name', or the examiner's, 'examinedBy'); null when empty. */
export function parsePersonName(text, field = 'name') {
  return personText(field, field === 'name' ? 'patient\'s name' : '“examined by” name', text, HIDDEN_IN_NAME,
    MAX_PERSON_NAME);
}

/** The year of birth typed, as a number; null when empty. */
export function parseBirthYear(text) {
  const value = String(text ?? '').trim();
  if (!value) return null;
  const year = new Date().getFullYear();
  if (!/^\d{4}$/.test(value)) {
    throw new ContextProblem('birthYear', `Year of birth ${quoted(value)} is not a year: type its four digits ` +
      '(e.g. 1970), or leave it empty.');
  }
  const number = Number(value);
  if (number > year) throw new ContextProblem('birthYear', `Year of birth ${number} is in the future: correct it.`);
  if (!isBirthYear(number)) {
    throw new ContextProblem('birthYear', `Year of birth ${number} is before ${FIRST_BIRTH_YEAR}: correct it.`);
  }
  return number;
}

/** What a form gives of a patient ({patientId, name, birthYear}), or null without a Patient ID; a name or year
 * without an ID is refused (it would be saved nowhere). ``read`` maps each field to its text. */
export function parsePatientFields(read) {
  const patientId = parsePatientId(read.patientId);
  const name = parsePersonName(read.name);
  const birthYear = parseBirthYear(read.birthYear);
  if (!patientId && (name || birthYear)) {
    throw new ContextProblem('patientId', 'A name or year of birth is given without a patient ID: type the ' +
      'patient ID too, or clear them.');
  }
  return patientId ? { patientId, ...(name ? { name } : {}), ...(birthYear ? { birthYear } : {}) } : null;
}

/** The form of an ID two patients must not share: full-width digits, case and NFKC variants are one ID. */
export function patientKey(patientId) {
  return patientId.normalize('NFKC').toUpperCase();
}

export function findPatient(patients, patientId) {
  const key = patientKey(patientId);
  return patients.find((p) => patientKey(p.patientId) === key) ?? null;
}

/** A conflict between what is given and the patient kept; ``field`` names what differs. */
export class PatientConflict extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

/** The record of ``kept`` with what ``given`` adds to it (a name or year it lacked): {record, changed}. A name or
 * year that differs from the one kept is a conflict: the ID may be mistyped, so nothing is guessed. */
export function mergePatient(kept, given) {
  const record = { ...kept };
  for (const [field, what] of [['name', 'name'], ['birthYear', 'year of birth']]) {
    const value = given[field];
    if (value == null) continue;
    if (kept[field] != null && kept[field] !== value) {
      throw new PatientConflict(field, `Patient ${kept.patientId} is kept with the ${what} “${kept[field]}”, not ` +
        `“${value}”: check the patient ID, or correct the ${what} (or the patient's details in My lesions).`);
    }
    record[field] = value;
  }
  return { record, changed: JSON.stringify(record) !== JSON.stringify(kept) };
}

/** A new patient record with a fresh id. */
export function newPatient(given) {
  return { id: crypto.randomUUID(), ...given, created: new Date().toISOString() };
}

/** "55–56 years" in ``year`` (a year of birth gives the age to within a year), "0 years" in the year of birth. */
export function ageFromBirthYear(birthYear, year = new Date().getFullYear()) {
  const oldest = year - birthYear;
  return oldest <= 0 ? '0 years' : `${oldest - 1}–${oldest} years`;
}

/** "P-1001 (Jane Doe, born 1970)": the patient as printed pages and screens name them; "no patient ID" for none. */
export function patientLabel(patient) {
  if (!patient) return 'no patient ID';
  const more = [patient.name, patient.birthYear && `born ${patient.birthYear}`].filter(Boolean);
  return `${patient.patientId}${more.length ? ` (${more.join(', ')})` : ''}`;
}

/** True when ``query`` is part of the patient's ID or name (case, width and accents aside). */
export function patientMatches(patient, query) {
  const plain = (text) => text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
  const wanted = plain(query.trim());
  return !wanted || [patient.patientId, patient.name ?? ''].some((text) => plain(text).includes(wanted));
}
