// The classify page's patient context: the patient (Patient ID, name, year of birth), age, sex, body site (a
// list, and the body map beside it) and who examined the patient, each optional. A value that cannot be kept
// gets its message next to its field, and the action that wanted it (save, print, CSV) stops: nothing is kept
// with a bad value.
import { mapPicker } from './body-map.js';
import { ContextProblem, parseAge, parseSex, sexOptions } from '../records/patient.js';
import { parseBirthYear, parsePatientFields, parsePatientId, parsePersonName } from '../records/patient-record.js';
import { $, option } from '../ui.js';

// field -> its input; each has a message box `patient-<field>-error`
const INPUTS = { patientId: 'patient-id', name: 'patient-name', birthYear: 'patient-birth-year', age: 'patient-age',
  sex: 'patient-sex', examinedBy: 'examined-by' };
// what each typed field alone must be, checked as it is typed
const FIELD_CHECKS = { patientId: parsePatientId, name: parsePersonName, birthYear: parseBirthYear, age: parseAge,
  examinedBy: (text) => parsePersonName(text, 'examinedBy') };
const PATIENT_FIELDS = ['patientId', 'name', 'birthYear'];
let picker = null;

function mark(field, message) {
  const box = $(`patient-${field}-error`);
  box.textContent = message ?? ''; // a live region stays in place, empty, so that screen readers announce it
  $(INPUTS[field]).setAttribute('aria-invalid', String(Boolean(message)));
}

function read() {
  const site = $('patient-site').value;
  const known = site !== 'unknown';
  const patient = parsePatientFields(Object.fromEntries(PATIENT_FIELDS.map((f) => [f, $(INPUTS[f]).value])));
  const age = parseAge($('patient-age').value);
  // an age at a photo is at most the years since the year of birth (an older photo's is less)
  const year = new Date().getFullYear();
  if (age != null && patient?.birthYear && age > year - patient.birthYear) {
    throw new ContextProblem('age', `Age ${age} is more than a patient born in ${patient.birthYear} can be (at most ` +
      `${year - patient.birthYear} in ${year}): correct the age or the year of birth.`);
  }
  return { patient, age, sex: parseSex($('patient-sex').value), site: known ? site : null,
    part: known ? picker.part : null, mapPoint: known ? picker.point : null,
    examinedBy: FIELD_CHECKS.examinedBy($('examined-by').value) };
}

/** Fills the site list with the model's ``sites`` and wires the fields; ``onChange`` runs after any change. */
export function wireContextForm(sites, onChange) {
  $('patient-site').replaceChildren(...sites.map((s) => option(s, s === 'unknown' ? 'unknown (not given)' : s,
    s === 'unknown')));
  $('patient-sex').replaceChildren(...sexOptions());
  picker = mapPicker($('patient-map'), $('patient-site'), onChange);
  for (const [field, check] of Object.entries(FIELD_CHECKS)) {
    $(INPUTS[field]).addEventListener('input', () => {
      try {
        check($(INPUTS[field]).value);
        mark(field, null);
      } catch (err) {
        if (!(err instanceof ContextProblem)) throw err;
        mark(field, err.message);
      }
      onChange();
    });
  }
  $('patient-sex').addEventListener('change', onChange);
}

/** The context as given ({patient {patientId, name, birthYear} or null, age, sex, site, part, mapPoint,
 * examinedBy}, null where unknown; part: the map's side and part). A value that cannot be kept throws
 * ContextProblem, after showing its message next to the field and moving the focus there. */
export function currentContext() {
  try {
    const context = read();
    Object.keys(INPUTS).forEach((f) => mark(f, null));
    return context;
  } catch (err) {
    if (err instanceof ContextProblem) {
      mark(err.field, err.message);
      $(INPUTS[err.field]).focus();
    }
    throw err;
  }
}

/** The context for showing beside results, or null while a field holds a value that cannot be kept. */
export function shownContext() {
  try {
    return read();
  } catch (err) {
    if (err instanceof ContextProblem) return null;
    throw err;
  }
}

/** Shows ``patient`` (the one the photos were just filed under) in the patient fields. */
export function fillPatientFields(patient) {
  for (const field of PATIENT_FIELDS) {
    $(INPUTS[field]).value = patient?.[field] ?? '';
    mark(field, null);
  }
}

/** A new lesion starts with an unknown site; the patient, age and sex stay (the same patient). */
export function resetSite() {
  picker.set('unknown');
}
