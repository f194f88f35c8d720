// "Save to my lesions" on the classify page: pick the photos (one card, or a whole batch), the patient (by
// Patient ID; none: Unassigned), one of that patient's lesions (or create one) and the date each was taken; the
// entries (and a new lesion, a new or completed patient) go to the history in one transaction. Photos combined
// as one lesion are saved as one visit: one date for all of them.
import { markField, refusedInForm } from '../records/form-check.js';
import { imageHash } from '../records/history-records.js';
import { FIRST_DAY, LAST_DAY } from '../records/history-schema.js';
import {
  HistoryUnavailable, newLesion, openHistory, requestPersistence, StorageFullError,
} from '../records/history-store.js';
import { ContextProblem } from '../records/patient.js';
import {
  findPatient, mergePatient, newPatient, parsePatientFields, PatientConflict, patientLabel, UNASSIGNED,
} from '../records/patient-record.js';
import { BadLock, WrongPassphrase } from '../records/vault.js';
import { $, el, option, showAlert } from '../ui.js';

const NEW = 'new';
const PATIENT_INPUTS = { patientId: 'save-patient-id', name: 'save-patient-name', birthYear: 'save-patient-birth-year' };
let history = null;
// what the history holds, read when the dialog opens (or the history is unlocked in it)
let keptPatients = [];
let keptLesions = [];

function itemRow(item, index, oneVisit) {
  const li = el('li');
  const pick = el('input', { type: 'checkbox', id: `save-item-${index}` });
  pick.checked = true;
  if (oneVisit) {
    li.append(pick, el('label', { for: pick.id }, item.name));
    return li;
  }
  const date = el('input', { type: 'date', id: `save-date-${index}`, required: '', min: FIRST_DAY, max: LAST_DAY });
  date.value = item.taken;
  li.append(pick, el('label', { for: pick.id }, item.name), ' ',
    el('label', { for: date.id }, 'taken on'), ' ', date,
    el('span', { class: 'hint' }, item.takenSource === 'exif' ? ' (from the photo)' : ' (today: the photo has no date)'));
  return li;
}

async function readHistory() {
  keptPatients = history?.readable ? await history.patients() : [];
  keptLesions = history?.readable ? await history.lesions() : [];
  $('save-patient-ids').replaceChildren(...keptPatients.map((p) => option(p.patientId, p.patientId)));
}

// The patient the dialog's fields name: {given (what they say, null without an ID), kept (the patient record
// with that ID, or null)}; ContextProblem for a value that cannot be kept.
function dialogPatient() {
  const given = parsePatientFields(Object.fromEntries(Object.entries(PATIENT_INPUTS).map(([f, id]) => [f, $(id).value])));
  return { given, kept: given && findPatient(keptPatients, given.patientId) };
}

function readDialogPatient() {
  try {
    return dialogPatient();
  } catch (err) {
    if (err instanceof ContextProblem) return { problem: err };
    throw err;
  }
}

// Says whom the Patient ID names, and lists that patient's lesions only: a photo is filed in a lesion of the
// patient named, never in another patient's. A new patient has none yet.
function showDialogPatient() {
  const { given, kept, problem } = readDialogPatient();
  const owner = kept?.id ?? null;
  const lesions = problem || (given && !kept) ? [] : keptLesions.filter((l) => (l.patient ?? null) === owner);
  $('save-patient-match').textContent = problem ? problem.message
    : !given ? `No patient ID: the photos go to “${UNASSIGNED}”. Type the patient's ID to file them in their record.`
      : kept ? `Patient ${patientLabel(kept)}, kept on this device, with ${lesions.length} lesion(s).`
        : `A new patient: ${patientLabel(given)}.`;
  const select = $('save-lesion');
  const chosen = select.value;
  // the name isolated (FSI ... PDI): a right-to-left name must not reorder the site after it
  select.replaceChildren(option(NEW, 'A new lesion…'), ...lesions.map((l) => option(l.id, `\u2068${l.name}\u2069 (${l.site})`)));
  select.value = lesions.some((l) => l.id === chosen) ? chosen : lesions[0]?.id ?? NEW;
  $('save-new').hidden = select.value !== NEW;
}

// The patient record the photos go to ({patient, write: the record to write, or null}), null without a patient
// ID; false (the field marked with what to correct) when a value cannot be kept or differs from the record kept.
function patientToSave() {
  const { given, kept, problem } = readDialogPatient();
  for (const id of Object.values(PATIENT_INPUTS)) markField($(id), null);
  const refuse = (field, message) => {
    markField($(PATIENT_INPUTS[field]), message);
    $(PATIENT_INPUTS[field]).focus();
    return false;
  };
  if (problem) return refuse(problem.field, problem.message);
  if (!given) return null;
  let found;
  try {
    found = kept ? mergePatient(kept, given) : { record: newPatient(given), changed: true };
  } catch (err) {
    if (err instanceof PatientConflict) return refuse(err.field, err.message);
    throw err;
  }
  const inputs = Object.fromEntries(Object.entries(PATIENT_INPUTS).map(([f, id]) => [f, $(id)]));
  if (refusedInForm('patient', found.record, inputs)) return false;
  return { patient: found.record, write: found.changed ? found.record : null };
}

/** A visit's date: the earliest date a photo carries, else today's. */
export function visitDate(items) {
  const dated = items.filter((i) => i.takenSource === 'exif').map((i) => i.taken).sort();
  return dated.length ? { taken: dated[0], takenSource: 'exif' } : { taken: items[0].taken, takenSource: items[0].takenSource };
}

// The ticked photos as entries, each with the date field it takes its date from: {entry, dateInput}; each keeps
// the page's age and "examined by".
async function entriesFor(items, rows, visit, { age, examinedBy }) {
  const chosen = items.map((item, i) => ({ item, row: rows[i] })).filter(({ row }) => row.querySelector('[type=checkbox]').checked);
  return Promise.all(chosen.map(async ({ item, row }) => {
    const given = visit ?? item;
    const dateInput = visit ? $('save-visit-date') : row.querySelector('[type=date]');
    const taken = dateInput.value;
    return { dateInput, entry: {
      hash: await imageHash(item.copy),
      name: item.name,
      taken,
      takenSource: taken === given.taken ? given.takenSource : 'edited',
      added: new Date().toISOString(),
      image: item.copy,
      results: [item.record],
      ...(item.scale ? { scale: item.scale } : {}),
      ...(age == null ? {} : { age }),
      ...(examinedBy ? { examinedBy } : {}),
    } };
  }));
}

// The lesion the photos go to, with the page's sex and site where the lesion had none; a known value that
// differs from the page's is refused (the photos may belong to another lesion or patient).
function withContext(lesion, context) {
  const updated = { ...lesion };
  for (const [field, what] of [['sex', 'sex'], ['site', 'body site']]) {
    const given = context[field];
    const recorded = lesion[field] && lesion[field] !== 'unknown' ? lesion[field] : null;
    if (given && recorded && given !== recorded) {
      throw new Error(`“${lesion.name}” is recorded with ${what} ${recorded}, but the page says ${given}. Pick the ` +
        `right lesion, or correct the ${what} on the page.`);
    }
    if (given && !recorded) updated[field] = given;
  }
  if (updated.site !== lesion.site && context.mapPoint) updated.mapPoint = context.mapPoint;
  if (updated.site !== lesion.site && context.part) updated.bodyPart = context.part;
  return updated;
}

async function save(items, rows, visit, context) {
  if (history.locked && !history.readable) {
    await history.unlock($('save-passphrase').value);
    await readHistory();
  }
  const filed = patientToSave();
  if (filed === false) return null;
  const patient = filed?.patient ?? null;
  const chosen = await entriesFor(items, rows, visit, context);
  if (!chosen.length) throw new Error('No photo is ticked: tick at least one to save.');
  // every date field is checked (and marked), not only the first one the schema refuses
  const refusedDates = chosen.filter(({ entry, dateInput }) => refusedInForm('entry', entry, { taken: dateInput }));
  const entries = chosen.map(({ entry }) => entry);
  const isNew = $('save-lesion').value === NEW;
  let lesion;
  if (isNew) {
    if (!$('new-lesion-site').value) throw new Error('Pick the body site of the new lesion, or “unknown”.');
    const site = $('new-lesion-site').value;
    // the map's point and part belong to the site the page gives, not to another one picked here
    const mapped = site === context.site;
    lesion = newLesion({ name: $('new-lesion-name').value.trim(), site, note: $('new-lesion-note').value.trim(),
      patient: patient?.id, sex: context.sex, mapPoint: mapped ? context.mapPoint : null, bodyPart: mapped ? context.part : null });
    if (refusedInForm('lesion', lesion, { name: $('new-lesion-name'), note: $('new-lesion-note') })) return null;
  } else {
    lesion = keptLesions.find((l) => l.id === $('save-lesion').value);
    if ((lesion.patient ?? null) !== (patient?.id ?? null)) {
      throw new Error(`“${lesion.name}” is not a lesion of ${patient ? `patient ${patient.patientId}` : UNASSIGNED}: ` +
        'pick one of theirs, or a new lesion.');
    }
  }
  if (refusedDates.length) return null;
  const updated = isNew ? lesion : withContext(lesion, context);
  const changed = isNew || JSON.stringify(updated) !== JSON.stringify(lesion);
  const outcome = await history.addEntries(updated, entries, changed, filed?.write ?? null);
  await requestPersistence();
  return { lesion: updated, patient, ...outcome };
}

/** Opens the dialog for ``items`` ({name, copy, taken, takenSource, record, scale: the photo's {mmAcross, source}
 * or null}); resolves with {lesion, patient,
 * added, skipped} once saved, or null if the user cancelled. With ``oneVisit`` the photos get one date.
 * ``context`` ({patient {patientId, name, birthYear}, age, sex, site, part, mapPoint, examinedBy}, null where
 * unknown) is the page's: the dialog's patient fields start with its patient, the photos keep the age and
 * examiner, the lesion the sex, site, map point and part. */
export async function openSaveDialog(items, bodySites, { oneVisit = false, context = {} } = {}) {
  const dialog = $('save-dialog');
  const errors = $('save-errors');
  errors.replaceChildren();
  try {
    history ??= await openHistory();
  } catch (err) {
    if (err instanceof HistoryUnavailable) {
      showAlert($('errors'), err.message);
      return null;
    }
    throw err;
  }
  $('save-unlock').hidden = history.readable;
  $('save-passphrase').value = '';
  // no site until the user picks one: a silent default ("face", the first in the list) would be saved as fact
  $('new-lesion-site').replaceChildren(option('', 'Choose a body site…', !context.site),
    ...bodySites.map((s) => option(s, s, s === context.site)));
  $('new-lesion-name').value = '';
  $('new-lesion-note').value = '';
  for (const [field, id] of Object.entries(PATIENT_INPUTS)) $(id).value = context.patient?.[field] ?? '';
  // no stale marks
  for (const id of ['new-lesion-name', 'new-lesion-note', 'save-visit-date', ...Object.values(PATIENT_INPUTS)]) markField($(id), null);
  await readHistory();
  showDialogPatient();
  for (const id of Object.values(PATIENT_INPUTS)) $(id).oninput = showDialogPatient;
  $('save-unlock-button').onclick = async () => {
    errors.replaceChildren();
    try {
      await history.unlock($('save-passphrase').value);
      $('save-unlock').hidden = true;
      await readHistory();
      showDialogPatient();
    } catch (err) {
      if (!(err instanceof WrongPassphrase || err instanceof BadLock)) throw err;
      showAlert(errors, err.message);
    }
  };
  $('save-lesion').onchange = () => {
    $('save-new').hidden = $('save-lesion').value !== NEW;
  };
  const rows = items.map((item, i) => itemRow(item, i, oneVisit));
  $('save-items').replaceChildren(...rows);
  const visit = oneVisit ? visitDate(items) : null;
  $('save-title').textContent = oneVisit ? `Save as one visit (${items.length} photos of one lesion)` : 'Save to my lesions';
  $('save-visit').hidden = !oneVisit;
  if (visit) {
    Object.assign($('save-visit-date'), { value: visit.taken, min: FIRST_DAY, max: LAST_DAY });
    $('save-visit-source').textContent = visit.takenSource === 'exif' ? ' (from the photos)' : ' (today: the photos have no date)';
  }
  return new Promise((resolve) => {
    $('save-confirm').onclick = async (event) => {
      event.preventDefault();
      errors.replaceChildren();
      try {
        const outcome = await save(items, rows, visit, context);
        if (!outcome) return; // a field is marked with what to correct
        dialog.close('saved');
        resolve(outcome);
      } catch (err) {
        if (!(err instanceof Error)) throw err;
        showAlert(errors, err instanceof WrongPassphrase || err instanceof StorageFullError ? err.message
          : `Not saved: ${err.message}`);
      }
    };
    dialog.onclose = () => {
      if (dialog.returnValue !== 'saved') resolve(null);
    };
    dialog.returnValue = '';
    dialog.showModal();
  });
}
