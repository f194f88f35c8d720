// The "My lesions" page: the on-device lesion history (history-store.js) as a list of patients (searchable by
// ID or name), each patient's lesions with their due checks and body map, a timeline with a score chart per
// lesion, a side-by-side comparison of two photos, re-scoring with the shipped model, export/import (of one
// patient or of all), deletion and the passphrase lock. No history action makes a network request.
import { changeReasons, describeChange, steadyMessage } from './inference/change.js';
import { decodeImage } from './inference/classifier.js';
import { visitMargin } from './inference/combine.js';
import { mapDots, mapPart, mapPicker } from './views/body-map.js';
import { icsCalendar } from './follow-up/calendar.js';
import { checkEvents } from './follow-up/check-events.js';
import { cropSquare } from './capture/cropper.js';
import { addMonths, dueState, FOLLOW_UP_MONTHS } from './follow-up/follow-up.js';
import { checkFileSize, parseHistoryFile } from './records/history-file.js';
import { markField, refusedInForm } from './records/form-check.js';
import { FIRST_DAY, LAST_DAY } from './records/history-schema.js';
import { refuseFramedUse, sharedOriginWarning } from './records/origin.js';
import { dataUrlBlob, latestResult, resultBy, resultRecord, today, topProbability } from './records/history-records.js';
import {
  deleteEverything, HistoryUnavailable, openHistory, requestPersistence, storageSummary,
} from './records/history-store.js';
import { verdictWords } from './inference/referral.js';
import { scoreChart } from './views/score-chart.js';
import { sizeChart } from './views/size-chart.js';
import { sizeChangeBox } from './views/size-change.js';
import { scaleField } from './views/scale-field.js';
import { photoSize, sizeChange, visitSize } from './records/visit-sizes.js';
import { storedOutline } from './records/stored-outline.js';
import { loadSiteClassifier, registerServiceWorker } from './inference/site-model.js';
import { $, classNames, confirmDialog, el, option, percent, probabilityBars, score, showAlert } from './ui.js';
import { ContextProblem, contextParts, parseAge, parseSex, sexOptions, siteText } from './records/patient.js';
import { bornText, filterPatients, patientHref, patientItem, showCrumbs } from './views/patient-list.js';
import {
  findPatient, newPatient, parsePatientFields, parsePatientId, parsePersonName, patientLabel, UNASSIGNED,
} from './records/patient-record.js';
import { printReport } from './print/report.js';
import { PBKDF2_ITERATIONS } from './records/vault.js';
import { savedVisitReport } from './print/visit-report.js';
import { comparableRecords, visitResult, visitsOf } from './records/visits.js';

const VIEWS = ['unlock-view', 'list-view', 'patient-view', 'lesion-view', 'compare-view', 'manage-view'];
let classifier;
let history = null; // null until something is saved (a visit alone stores nothing)
let editMap = null; // the lesion form's body map, wired once

// The status line describes the view: every caller updates the view first, so whoever reads the status
// (a screen reader, a test) meets the view it describes.
function say(message) {
  $('history-status').textContent = message;
}

function report(err) {
  showAlert($('history-errors'), err.message);
}

// The trail that says whose record is shown stays hidden until the view that shows it sets it (showCrumbs).
function show(...views) {
  for (const id of VIEWS) $(id).hidden = !views.includes(id);
  $('crumbs').hidden = true;
}

// The side and part picked on the body map ("left forearm"), as stored; a lesion saved before it was stored has
// only the map point, which the lesion form's map reads it back from. Null without either.
function partOf(lesion) {
  return lesion.bodyPart ?? mapPart($('edit-map'), lesion.mapPoint, lesion.site);
}

// The patient a lesion is filed under (null: Unassigned).
async function ownerOf(lesion) {
  return lesion.patient ? history.patient(lesion.patient) : null;
}

function className(code) {
  return classNames(classifier.metadata)[code] ?? code;
}

function verdict(record) {
  return verdictWords(record.flagged);
}

function resultLine(record) {
  const guard = record.guard?.outOfDistribution ? ' Not recognised as a lesion close-up (shown on request).' : '';
  return `Model ${record.modelVersion}: ${className(record.topClass)} ${percent(topProbability(record))}, ` +
    `malignancy score ${score(record.malignancyScore)} (${verdict(record)}).${guard}`;
}

// The page's model, for checking stored and imported records against its classes and body sites.
function model() {
  const { metadata } = classifier;
  return { codes: metadata.classes.map((c) => c.code), sites: metadata.dataset.localizations,
    malignant: metadata.operating_point.classes };
}

async function ensureHistory() {
  history ??= await openHistory({ model: model() });
  return history;
}

// ---- the patients, and one patient's lesions

function nextCheckText(lesion, day = today()) {
  const state = dueState(lesion.nextCheck, day);
  if (state === 'overdue') return `check overdue since ${lesion.nextCheck}`;
  if (state === 'due') return 'check due today';
  return state ? `next check ${lesion.nextCheck}` : '';
}

function lesionLink(lesion) {
  return el('a', { href: `#lesion/${lesion.id}`, class: 'user-text' }, lesion.name);
}

// Every patient with their lesions, then the lesions of no patient ("Unassigned", when there are any): [{patient
// (null: Unassigned), lesions}].
async function patientGroups() {
  const patients = history ? await history.patients() : [];
  const lesions = history ? await history.lesions() : [];
  const unassigned = lesions.filter((l) => !l.patient);
  return [...patients.map((patient) => ({ patient, lesions: lesions.filter((l) => l.patient === patient.id) })),
    ...(unassigned.length ? [{ patient: null, lesions: unassigned }] : [])];
}

// Shows the patients whose ID or name holds the search text, and says how many (its own live region: the status
// line describes the view, and the search is a part of it).
function searchPatients(groups) {
  const query = $('patient-search').value;
  const shown = filterPatients($('patient-list'), groups, query);
  $('patient-search-none').hidden = shown > 0 || !query.trim();
  $('patient-search-count').textContent = query.trim() ? ` ${shown} of ${groups.length} patient(s) shown.` : '';
}

async function renderPatients() {
  const groups = await patientGroups();
  const day = today();
  $('patients-empty').hidden = groups.length > 0;
  $('patient-search-row').hidden = groups.length === 0;
  $('patient-list').replaceChildren(...groups.map((group) => patientItem(group, day)));
  $('patient-search').oninput = () => searchPatients(groups);
  searchPatients(groups);
  $('calendar-row').hidden = !groups.some((g) => g.lesions.some((l) => l.nextCheck));
  $('export-calendar').onclick = () => act(async () => {
    const withId = $('calendar-include-id').checked;
    exportCalendar(groups, withId);
    say(`Exported the check dates as a calendar file: open it with your calendar app. ${withId
      ? 'Each event carries its patient\'s ID (not the name).' : 'No event names a patient.'}`);
  });
  show('list-view', 'manage-view');
  await renderManage();
}

function exportCalendar(groups, withId) {
  const checks = groups.flatMap(({ patient, lesions }) => lesions.filter((l) => l.nextCheck)
    .map((lesion) => ({ lesion, patient })));
  download(new Blob([icsCalendar(checkEvents(checks, { withId }))], { type: 'text/calendar' }), 'lesionlens-checks.ics');
}

// The lesions due or overdue for a check, the earliest first.
function renderDue(lesions) {
  const day = today();
  const due = lesions.filter((l) => ['due', 'overdue'].includes(dueState(l.nextCheck, day)))
    .sort((a, b) => a.nextCheck.localeCompare(b.nextCheck));
  $('due').hidden = due.length === 0;
  $('due-list').replaceChildren(...due.map((lesion) => {
    const li = el('li', { class: dueState(lesion.nextCheck, day) });
    li.append(lesionLink(lesion), ` — ${lesion.site}: ${nextCheckText(lesion, day)}`);
    return li;
  }));
}

// A patient's view (``id`` null: the lesions of no patient): who, their details, export and delete, then their
// due checks, lesions and body map.
async function renderPatient(id) {
  const patient = id && await history?.patient(id);
  const lesions = (history ? await history.lesions() : []).filter((l) => (l.patient ?? null) === (id ?? null));
  if ((id && !patient) || (!id && !lesions.length)) {
    location.hash = ''; // gone (deleted here or in another tab): the list of patients, at once
    await renderPatients();
    return;
  }
  $('patient-title').textContent = patient ? patientLabel(patient) : UNASSIGNED;
  $('patient-meta').textContent = patient
    ? [bornText(patient) ?? 'year of birth not given', `${lesions.length} lesion(s)`].join(' · ')
    : `${lesions.length} lesion(s) saved without a patient ID (or from an export made before patients). Give one a ` +
      'patient in its details (“Patient ID”).';
  $('patient-edit').hidden = !patient;
  $('delete-patient').hidden = !patient;
  $('export-patient').textContent = patient ? 'Export this patient (one file)' : 'Export these lesions (one file)';
  $('export-patient').onclick = () => act(async () => {
    const name = patient ? `patient-${patient.patientId.replace(/[^A-Za-z0-9_-]+/g, '_')}` : 'unassigned';
    download(new Blob([JSON.stringify(await history.exportData(id ?? null))], { type: 'application/json' }),
      `lesionlens-${name}-${today()}.json`);
    say(`Exported ${patient ? `patient ${patient.patientId}` : 'the lesions of no patient'} to one file ` +
      '(unencrypted: keep it private).');
  });
  if (patient) wirePatientForm(patient, lesions);
  const rows = await renderLesions(lesions);
  show('patient-view');
  showCrumbs($('crumbs'), patient);
  // after show(): the map measures its regions to place dots without a marked point
  renderMap(rows);
}

// The lesion list and due checks; returns the rows ({lesion, entries, visit, latest}) for the map.
async function renderLesions(lesions) {
  $('list-empty').hidden = lesions.length > 0;
  const rows = await Promise.all(lesions.map(async (lesion) => {
    const entries = await history.entries(lesion.id);
    const [visit] = visitsOf(entries);
    return { lesion, entries, visit, latest: visit && visitAnswer(visit).result };
  }));
  $('lesion-list').replaceChildren(...rows.map(({ lesion, entries, visit, latest }) => {
    const li = el('li');
    const check = lesion.nextCheck ? `; ${nextCheckText(lesion)}` : '';
    const summary = latest ? ` — ${lesion.site}, ${entries.length} photo(s), latest visit ${visit.day}` +
      `${visit.entries.length > 1 ? ` (${visit.entries.length} photos combined)` : ''}: ` +
      `${className(latest.topClass)}, ${verdictWords(latest.flagged)}${check}`
      : ` — ${lesion.site}, no photos${check}`;
    li.append(lesionLink(lesion), summary);
    return li;
  }));
  renderDue(lesions);
  // below the due list and its heading, the whole list gets its own, so that it does not read as due
  $('all-lesions-heading').hidden = $('due').hidden;
  return rows;
}

function renderMap(rows) {
  $('lesion-map-section').hidden = rows.length === 0;
  const offMap = mapDots($('lesion-map'), rows.map(({ lesion, latest }) => ({ ...lesion, flagged: Boolean(latest?.flagged) })),
    (lesion) => `#lesion/${lesion.id}`);
  $('off-map').hidden = offMap.length === 0;
  $('off-map').replaceChildren(...(offMap.length ? ['Not on the map (body site without a place on it): ',
    ...offMap.flatMap((l, i) => [i ? ', ' : '', lesionLink(l), ` (${l.site})`])] : []));
}

// The patient's details, checked as the reader checks them; an ID another patient has is refused (one person,
// one record).
function wirePatientForm(patient, lesions) {
  const inputs = { patientId: $('edit-patient-code'), name: $('edit-patient-name'), birthYear: $('edit-patient-birth-year') };
  for (const [field, input] of Object.entries(inputs)) {
    input.value = patient[field] ?? '';
    markField(input, null);
  }
  $('patient-form').onsubmit = (event) => {
    event.preventDefault();
    act(async () => {
      Object.values(inputs).forEach((input) => markField(input, null));
      if (!inputs.patientId.value.trim()) {
        markField(inputs.patientId, `A patient needs an ID. To keep ${lesions.length} lesion(s) without one, move each ` +
          'to Unassigned (its details, an empty Patient ID).');
        return;
      }
      let given;
      try {
        given = parsePatientFields(Object.fromEntries(Object.entries(inputs).map(([f, input]) => [f, input.value])));
      } catch (err) {
        if (!(err instanceof ContextProblem)) throw err;
        markField(inputs[err.field], err.message);
        return;
      }
      const other = findPatient((await history.patients()).filter((p) => p.id !== patient.id), given.patientId);
      if (other) {
        markField(inputs.patientId, `Another patient has the ID ${other.patientId}. Give this patient another ID, or ` +
          'move its lesions to that patient one by one (each lesion\'s details).');
        return;
      }
      const updated = { id: patient.id, ...given, ...(patient.created ? { created: patient.created } : {}) };
      if (refusedInForm('patient', updated, inputs)) return;
      await history.savePatient(updated);
      await render();
      say(`Patient ${patientLabel(updated)} saved.`);
    });
  };
  $('delete-patient').onclick = () => act(async () => {
    const photos = (await Promise.all(lesions.map((l) => history.entries(l.id)))).flat().length;
    if (!await confirmDialog($('confirm-dialog'), `Delete patient ${patientLabel(patient)} with ${lesions.length} ` +
      `lesion(s) and ${photos} photo(s)? This cannot be undone (export the patient first for a copy).`)) return;
    await history.deletePatient(patient.id);
    location.hash = ''; // its hashchange renders the list again, with the same content
    await render();
    say(`Patient ${patient.patientId} deleted, with their lesions and photos.`);
  });
}

async function renderManage() {
  $('lock-iterations').textContent = (history?.iterations ?? PBKDF2_ITERATIONS).toLocaleString('en');
  $('lock-set').hidden = Boolean(history?.locked);
  $('export').disabled = !history?.readable;
  $('lock-remove').hidden = !history?.locked || !history.readable;
  $('lock-locked').hidden = !history?.locked || history.readable; // never an empty "Passphrase lock" section
  await renderUnreadable();
  const storage = await storageSummary();
  $('storage-usage').textContent = storage
    ? `This site stores ${(storage.usage / 1e6).toFixed(1)} MB on this device (the model and offline copy ` +
      `included). Persistent storage: ${storage.persisted ? 'granted, the browser will not clear it to free space'
        : 'not granted, the browser may clear it when the disk is nearly full: export a copy'}.`
    : 'This browser does not say how much it stores.';
}

async function renderUnreadable() {
  const bad = history?.readable ? await history.unreadable() : [];
  $('unreadable').hidden = bad.length === 0;
  $('unreadable-list').replaceChildren(...bad.map((record) => {
    const remove = el('button', { type: 'button', class: 'secondary delete-record' }, 'Delete this record');
    remove.addEventListener('click', () => act(async () => {
      const moved = await history.deleteRecord(record.store, record.id);
      await render();
      say({ lesions: 'The unreadable lesion was deleted, with its photos.',
        patients: `The unreadable patient record was deleted; its ${moved} readable lesion(s) are now under ` +
          `“${UNASSIGNED}”.` }[record.store] ?? 'The unreadable record was deleted.');
    }));
    const kind = { patients: 'Patient', lesions: 'Lesion', entries: 'Photo' }[record.store];
    const li = el('li', {}, `${kind} ${record.id}: ${record.problem}. `);
    li.dataset.id = String(record.id); // a crafted database's key may be a number or a date
    li.append(remove);
    return li;
  }));
  $('export-unreadable').onclick = () => act(async () => {
    download(new Blob([JSON.stringify(await history.unreadableFile())], { type: 'application/json' }),
      `lesionlens-unreadable-${today()}.json`);
    say('Exported the records this page cannot read to one file (unencrypted: keep it private). Correct what its ' +
      '“problems” list names, then import it.');
  });
}

// ---- one lesion: chart and timeline

function entryItem(entry, lesion) {
  const latest = latestResult(entry);
  const li = el('li', { class: `entry ${latest.flagged ? 'flagged' : 'low'}` });
  li.dataset.entryId = entry.id;
  li.dataset.hash = entry.hash;
  const img = el('img', { src: entry.image, alt: `Photo of ${lesion.name} taken ${entry.taken}` });
  const enlarge = el('button', { type: 'button', class: 'thumb-button', 'aria-label': `Enlarge the photo of ${entry.taken}` });
  enlarge.append(img);
  enlarge.addEventListener('click', () => showPhoto(entry, lesion));
  const date = el('input', { type: 'date', id: `taken-${entry.id}` });
  date.value = entry.taken;
  Object.assign(date, { min: FIRST_DAY, max: LAST_DAY });
  date.addEventListener('change', () => act(async () => {
    if (!date.value) return;
    const updated = { ...entry, taken: date.value, takenSource: 'edited' };
    if (refusedInForm('entry', updated, { taken: date })) return;
    await history.saveEntry(updated);
    await render();
  }));
  const source = { exif: 'from the photo', added: 'the day it was saved', edited: 'edited' }[entry.takenSource] ?? '';
  const pick = el('input', { type: 'checkbox', class: 'compare-pick', id: `pick-${entry.id}` });
  pick.addEventListener('change', updateCompareButton);
  const remove = el('button', { type: 'button', class: 'secondary delete-entry' }, 'Delete this photo');
  remove.addEventListener('click', () => act(async () => {
    if (!await confirmDialog($('confirm-dialog'), `Delete the photo of ${entry.taken} and its results?`)) return;
    await history.deleteEntry(entry.id);
    await render();
    say('Photo deleted.');
  }));
  const results = el('ul', { class: 'entry-results' });
  results.append(...entry.results.map((r) => el('li', {}, resultLine(r))));
  const dated = el('p');
  dated.append(el('label', { for: date.id }, 'Taken on '), date, el('span', { class: 'hint' }, ` (${source})`));
  li.append(enlarge, dated, ageField(entry, lesion), scaleField(entry, (updated, message) => act(async () => {
    await history.saveEntry(updated);
    await render();
    say(message);
  })));
  const controls = el('p', { class: 'entry-controls' });
  controls.append(pick, el('label', { for: pick.id }, ' Compare'), ' ', remove);
  li.append(results, controls);
  return li;
}

// The patient's age at this photo, optional; a value that cannot be kept is refused beside the field.
function ageField(entry, lesion) {
  const input = el('input', { type: 'text', inputmode: 'numeric', size: '4', id: `age-${entry.id}`,
    class: 'entry-age', 'aria-describedby': `age-error-${entry.id}` });
  input.value = entry.age ?? '';
  const error = el('span', { class: 'field-error', id: `age-error-${entry.id}`, 'aria-live': 'assertive' });
  input.addEventListener('change', () => act(async () => {
    let age;
    try {
      age = parseAge(input.value);
    } catch (err) {
      if (!(err instanceof ContextProblem)) throw err;
      error.textContent = `${err.message} Nothing was saved.`;
      input.setAttribute('aria-invalid', 'true');
      return;
    }
    const { age: _old, ...rest } = entry;
    await history.saveEntry(age == null ? rest : { ...rest, age });
    await render();
    say(age == null ? 'Age at this photo cleared (unknown).' : `Age at this photo saved: ${age} years.`);
  }));
  const p = el('p');
  p.append(el('label', { for: input.id }, 'Patient\'s age at this photo '), input,
    el('span', { class: 'hint' }, ' years (optional)'), error);
  return p;
}

// The stored copy at full size (up to 768 px), in a dialog that Escape or "Close" closes.
function showPhoto(entry, lesion) {
  $('photo-title').textContent = `${lesion.name}, ${entry.taken}${entry.name ? ` · ${entry.name}` : ''}`;
  $('photo-large').src = entry.image;
  $('photo-large').alt = `Photo of ${lesion.name} taken ${entry.taken}, enlarged`;
  $('photo-dialog').showModal();
}

function visitAnswer(visit) {
  const { records, sameModel } = comparableRecords([visit.entries]);
  return { result: visitResult(records[0], classifier.metadata), sameModel };
}

function visitSummary(visit, { result, sameModel }) {
  const n = visit.entries.length;
  const top = `${className(result.topClass)} ${percent(Math.max(...result.probabilities))}, malignancy score ` +
    `${score(result.malignancyScore)} (${verdict(result)})`;
  if (n === 1) return `One photo: ${top}.`;
  const spread = ` Single photos ${score(result.lowestScore)} to ${score(result.highestScore)}` +
    (result.straddles ? ', on both sides of the referral threshold.' : '.');
  const models = sameModel ? '' : ' Scored by different models: re-score them for a like-for-like answer.';
  return `Combined answer of ${n} photos (model ${result.modelVersion}): ${top}.${spread}${models}`;
}

// Who examined the patient at this visit, kept on each of its photos; checked as the reader checks it.
function examinerField(visit, lesion) {
  const input = el('input', { type: 'text', id: `examined-${visit.day}`, class: 'visit-examiner', autocomplete: 'off' });
  input.value = [...new Set(visit.entries.map((e) => e.examinedBy).filter(Boolean))].join('; ');
  input.addEventListener('change', () => act(async () => {
    let examinedBy;
    try {
      examinedBy = parsePersonName(input.value, 'examinedBy');
    } catch (err) {
      if (!(err instanceof ContextProblem)) throw err;
      markField(input, err.message);
      return;
    }
    const updated = visit.entries.map(({ examinedBy: _old, ...entry }) => (examinedBy ? { ...entry, examinedBy } : entry));
    if (refusedInForm('entry', updated[0], { examinedBy: input })) return;
    await history.saveEntries(updated);
    await render();
    say(examinedBy ? `Visit of ${visit.day}: examined by ${examinedBy}.` : `Visit of ${visit.day}: no examiner given.`);
  }));
  const p = el('p', { class: 'visit-examiner-row' });
  p.append(el('label', { for: input.id }, 'Examined by '), input, el('span', { class: 'hint' }, ' (optional; printed on ' +
    'the visit report)'));
  return p;
}

// One visit: its combined answer, who examined, a tick box to compare it, and its photos.
function visitItem(visit, answer, lesion, patient, previous) {
  const li = el('li', { class: `visit ${answer.result.flagged ? 'flagged' : 'low'}` });
  li.dataset.day = visit.day;
  li.dataset.photos = String(visit.entries.length);
  li.dataset.score = String(answer.result.malignancyScore);
  const pick = el('input', { type: 'checkbox', class: 'visit-pick', id: `visit-pick-${visit.day}` });
  pick.addEventListener('change', updateCompareButton);
  const controls = el('p', { class: 'visit-controls' });
  const print = el('button', { type: 'button', class: 'secondary print-visit' }, 'Print / save as PDF');
  print.addEventListener('click', () => act(async () => {
    printReport(await savedVisitReport(visit, previous, { ...lesion, part: partOf(lesion) }, patient, classifier));
    say('The visit report is in the print dialog: print it, or choose “Save as PDF” to file it.');
  }));
  controls.append(pick, el('label', { for: pick.id }, ' Compare this visit'), ' ', print);
  const photos = el('ol', { class: 'visit-photos', 'aria-label': `Photos of ${visit.day}` });
  photos.append(...visit.entries.map((e) => entryItem(e, lesion)));
  li.append(el('h3', {}, `Visit of ${visit.day} · ${visit.entries.length} photo(s)`),
    el('p', { class: 'visit-result' }, visitSummary(visit, answer)), examinerField(visit, lesion), controls, photos);
  return li;
}

function ticked(selector) {
  return [...document.querySelectorAll(`${selector}:checked`)];
}

// Two visits, or two single photos: not one of each.
function updateCompareButton() {
  const visits = ticked('.visit-pick').length;
  const photos = ticked('.compare-pick').length;
  $('compare-button').disabled = !((visits === 2 && photos === 0) || (photos === 2 && visits === 0));
}

async function renderLesion(id) {
  const lesion = await history?.lesion(id);
  if (!lesion) {
    location.hash = '';
    return;
  }
  const entries = await history.entries(id);
  const visits = visitsOf(entries);
  const patient = await ownerOf(lesion);
  $('lesion-title').textContent = lesion.name;
  $('lesion-meta').replaceChildren(`Body site ${siteText(lesion.site, partOf(lesion))} · sex ${contextParts(lesion).sex} · `,
    ...(lesion.note ? [el('span', { class: 'user-text' }, lesion.note), ' · '] : []),
    `${entries.length} photo(s) in ${visits.length} visit(s)`);
  renderFollowUp(lesion);
  const answers = visits.map(visitAnswer);
  const points = answers.map(({ result }, i) => ({ day: visits[i].day, score: result.malignancyScore,
    top: Math.max(...result.probabilities), code: result.topClass })).reverse();
  $('chart').replaceChildren(...(points.length ? [scoreChart(points, classifier.metadata.operating_point.threshold)] : []));
  $('size-chart-figure').hidden = visits.length === 0;
  $('size-chart').replaceChildren(sizeChart(visits.map((v) => ({ day: v.day, size: visitSize(v) })).reverse()));
  const version = classifier.metadata.model_version;
  const stale = entries.filter((e) => !resultBy(e, version));
  $('rescore').hidden = stale.length === 0;
  $('rescore').textContent = `Re-score ${stale.length} photo(s) with the current model ${version}`;
  $('rescore').onclick = () => act(() => rescore(stale, lesion.id));
  $('timeline').replaceChildren(...visits.map((v, i) => visitItem(v, answers[i], lesion, patient, visits[i + 1] ?? null)));
  updateCompareButton();
  $('compare-button').onclick = () => {
    const visitDays = ticked('.visit-pick').map((p) => p.closest('.visit').dataset.day);
    if (visitDays.length === 2) {
      location.hash = `#visits/${id}/${visitDays[0]}/${visitDays[1]}`;
      return;
    }
    const [a, b] = ticked('.compare-pick').map((p) => p.closest('.entry').dataset.entryId);
    location.hash = `#compare/${id}/${a}/${b}`;
  };
  await wireLesionForm(lesion, patient);
  $('delete-lesion').onclick = () => act(async () => {
    if (!await confirmDialog($('confirm-dialog'), `Delete “${lesion.name}” and all ${entries.length} of its photos?`)) return;
    await history.deleteLesion(id);
    location.hash = patientHref(patient); // its hashchange renders the patient's lesions again, with the same content
    await render();
    say(`“${lesion.name}” deleted.`);
  });
  show('lesion-view');
  showCrumbs($('crumbs'), patient, [{ text: lesion.name }]);
}

// The patient a lesion form's Patient ID names: {patient (null: none), created (a new patient's record, to write
// with the lesion)}; null when the field is marked with what to correct.
async function formPatient(input) {
  let patientId;
  try {
    patientId = parsePatientId(input.value);
  } catch (err) {
    if (!(err instanceof ContextProblem)) throw err;
    markField(input, err.message);
    return null;
  }
  markField(input, null);
  if (!patientId) return { patient: null, created: null };
  const kept = findPatient(await history.patients(), patientId);
  if (kept) return { patient: kept, created: null };
  const created = newPatient({ patientId });
  return refusedInForm('patient', created, { patientId: input }) ? null : { patient: created, created };
}

async function wireLesionForm(lesion, patient) {
  const id = lesion.id;
  $('edit-lesion-patient').value = patient?.patientId ?? '';
  markField($('edit-lesion-patient'), null);
  $('patient-ids').replaceChildren(...(await history.patients()).map((p) => option(p.patientId, p.patientId)));
  $('edit-name').value = lesion.name;
  $('edit-site').replaceChildren(...classifier.metadata.dataset.localizations.map((site) => option(site, site, site === lesion.site)));
  editMap.set(lesion.site, lesion.mapPoint ?? null);
  $('edit-sex').replaceChildren(...sexOptions(lesion.sex));
  $('edit-note').value = lesion.note ?? '';
  $('lesion-form').onsubmit = (event) => {
    event.preventDefault();
    act(async () => {
      const owner = await formPatient($('edit-lesion-patient'));
      if (!owner) return;
      const { patient: _patient, sex: _sex, mapPoint: _point, bodyPart: _part, ...rest } = lesion;
      const sex = parseSex($('edit-sex').value);
      const updated = { ...rest, ...(owner.patient ? { patient: owner.patient.id } : {}), name: $('edit-name').value.trim(),
        site: $('edit-site').value, note: $('edit-note').value.trim(), ...(sex ? { sex } : {}),
        ...(editMap.point ? { mapPoint: editMap.point } : {}), ...(editMap.part ? { bodyPart: editMap.part } : {}) };
      if (refusedInForm('lesion', updated, { name: $('edit-name'), note: $('edit-note') })) return;
      await history.saveLesion(updated, owner.created);
      await render();
      const moved = (owner.patient?.id ?? null) !== (patient?.id ?? null);
      say(`Lesion details saved.${moved ? ` It is now filed under ${owner.patient ? `patient ${owner.patient.patientId}` +
        `${owner.created ? ' (a new patient)' : ''}` : UNASSIGNED}.` : ''}`);
    });
  };
}

// ---- follow-up: the lesion's next check date

async function setNextCheck(lesion, day) {
  const { nextCheck: _old, ...rest } = lesion;
  const updated = day ? { ...rest, nextCheck: day } : rest;
  if (refusedInForm('lesion', updated, { nextCheck: $('next-check') })) return;
  await history.saveLesion(updated);
  await render();
  say(day ? `Next check of “${lesion.name}” set for ${day}.` : `No next check set for “${lesion.name}”.`);
}

function renderFollowUp(lesion) {
  const day = today();
  const state = dueState(lesion.nextCheck, day);
  const text = nextCheckText(lesion, day);
  $('follow-up-state').textContent = state ? `${text[0].toUpperCase()}${text.slice(1)}.` : 'No next check set.';
  $('follow-up-state').className = state ?? '';
  $('follow-up-picks').replaceChildren(...FOLLOW_UP_MONTHS.map((months) => {
    const target = addMonths(day, months);
    const button = el('button', { type: 'button', class: 'secondary follow-up-pick', 'aria-label':
      `Next check in ${months} months, on ${target}` }, `${months} months`);
    button.dataset.months = String(months);
    button.addEventListener('click', () => act(() => setNextCheck(lesion, target)));
    return button;
  }));
  $('next-check').value = lesion.nextCheck ?? '';
  Object.assign($('next-check'), { min: FIRST_DAY, max: LAST_DAY });
  $('next-check').onchange = () => act(() => setNextCheck(lesion, $('next-check').value || null));
  $('clear-next-check').hidden = !lesion.nextCheck;
  $('clear-next-check').onclick = () => act(() => setNextCheck(lesion, null));
}

// Old entries keep their original result; the new model's result is added next to it.
async function rescore(entries, lesionId) {
  for (const entry of entries) {
    const bitmap = await decodeImage(dataUrlBlob(entry.image));
    try {
      const result = await classifier.classify(bitmap);
      const record = resultRecord(result, classifier.metadata, result.outOfDistribution,
        storedOutline(bitmap, result.outline)?.stored); // its outline's measures, kept with it (#46)
      await history.saveEntry({ ...entry, results: [...entry.results, record] });
    } finally {
      bitmap.close();
    }
  }
  await render();
  say(`Re-scored ${entries.length} photo(s) with model ${classifier.metadata.model_version}; their earlier ` +
    'results are kept.');
}

// ---- comparing two photos

// ``unit`` names what is compared ("photo" or "visit"); ``margin`` is the noise between two of them.
function changeSummary(change, sameModel, before, after, margin, unit) {
  const box = el('div', { class: `change ${change.flagged ? 'flagged' : 'steady'}` });
  box.dataset.delta = change.delta.toFixed(4);
  box.dataset.flagged = String(change.flagged);
  box.dataset.margin = String(margin?.margin ?? '');
  if (change.flagged) {
    const reasons = changeReasons(change, margin?.margin, unit, classNames(classifier.metadata));
    box.append(el('p', { class: 'change-flag', role: 'alert' },
      `This change is a reason to refer to a dermatologist: ${reasons.join('; ')}.`));
  } else {
    box.append(el('p', { class: `change-steady${after.flagged ? ' change-flag' : ''}` }, steadyMessage(unit, after)));
  }
  const sign = change.delta >= 0 ? '+' : '−';
  const list = el('ul');
  list.append(
    el('li', {}, change.topChanged ? `Top class changed: ${className(change.topBefore)} → ${className(change.topAfter)}.`
      : `Top class unchanged: ${className(change.topAfter)}.`),
    el('li', { class: 'score-change' }, `Malignancy score ${score(change.scoreBefore)} → ${score(change.scoreAfter)} ` +
      `(${change.delta >= 0 ? 'up' : 'down'} ${sign}${score(Math.abs(change.delta))}).`),
    el('li', {}, change.crossedUp ? `Crossed the referral threshold upwards: the later ${unit} refers.`
      : change.crossedDown ? 'Crossed the referral threshold downwards.'
        : `Stayed ${after.flagged ? 'above' : 'below'} the referral threshold.`),
  );
  box.append(list);
  if (!sameModel) {
    box.append(el('p', { class: 'warning' }, `These ${unit}s were scored by different models (${before.modelVersion}; ` +
      `${after.modelVersion}). Re-score them with the current model for a like-for-like comparison.`));
  }
  if (margin) box.append(el('p', { class: 'hint noise' }, noiseNote(margin)));
  return box;
}

function noiseNote(margin) {
  const within = `differ by up to ${score(margin.margin)} in malignancy score in ${Math.round(margin.quantile * 100)}% ` +
    `of cases and fall on different sides of the referral threshold in ${percent(margin.crossing_rate)}`;
  const source = margin.derived
    ? `Two visits of ${margin.photos} photos each of the same unchanged lesion, each combined, ${within} (derived ` +
      'from the photo-to-photo spread of HAM10000 validation lesions; see the model card).'
    : `Two photos of the same unchanged lesion, taken at one visit, ${within} (${margin.n_pairs} pairs of HAM10000 photos).`;
  return `How noisy is this? ${source} A single crossing is a reason to look, not proof of change.`;
}

function comparePane(entry, record, label) {
  const figure = el('figure', { class: 'compare-pane' });
  const frame = el('div', { class: 'compare-image' });
  const img = el('img', { src: entry.image, alt: `${label} photo, taken ${entry.taken}` });
  frame.append(img);
  const align = el('button', { type: 'button', class: 'secondary align' }, 'Align (crop)');
  align.addEventListener('click', () => act(async () => {
    const bitmap = await decodeImage(dataUrlBlob(entry.image));
    try {
      const crop = await cropSquare(bitmap, $('crop-dialog'));
      if (crop) img.src = crop.toDataURL('image/jpeg');
    } finally {
      bitmap.close();
    }
  }));
  const caption = el('figcaption');
  caption.append(el('strong', {}, `${label}: ${entry.taken}`), ' ', el('span', { class: 'hint' }, `model ${record.modelVersion}`));
  figure.append(frame, caption, align, probabilityBars(record.classes, record.probabilities, classifier.metadata));
  return figure;
}

async function renderCompare(lesionId, aId, bId) {
  const entries = await history?.entries(lesionId) ?? [];
  const pair = entries.filter((e) => e.id === aId || e.id === bId);
  if (pair.length !== 2) {
    location.hash = `#lesion/${lesionId}`;
    return;
  }
  const [newer, older] = pair; // entries() lists newest first
  const { records: [[before], [after]], sameModel } = comparableRecords([[older], [newer]]);
  const margin = classifier.metadata.change;
  const change = describeChange(before, after, margin?.margin);
  await showComparison(lesionId, 'Compare two photos', [changeSummary(change, sameModel, before, after, margin, 'photo'),
    sizeChangeBox(sizeChange(photoSize(older), photoSize(newer), 'photo'))], [comparePane(older, before, 'Earlier'), comparePane(newer, after, 'Later')]);
}

// ``summaries``: the answers' change, then the size's.
async function showComparison(lesionId, title, summaries, panes) {
  const lesion = await history.lesion(lesionId);
  if (!lesion) {
    location.hash = ''; // its lesion is not shown (deleted, or set apart as unreadable)
    return;
  }
  $('compare-back').href = `#lesion/${lesionId}`;
  $('compare-title').textContent = title;
  $('change-summary').replaceChildren(...summaries);
  $('compare-panes').replaceChildren(...panes);
  show('compare-view');
  showCrumbs($('crumbs'), await ownerOf(lesion), [{ text: lesion.name, href: `#lesion/${lesionId}` }, { text: title }]);
  say(`${title} of this lesion: the earlier on the left, the later on the right.`); // not the last view's status
}

function visitPane(visit, result, label) {
  const figure = el('figure', { class: 'compare-pane visit-pane' });
  const frame = el('div', { class: 'compare-image visit-grid' });
  frame.append(...visit.entries.map((e, i) => el('img', { src: e.image,
    alt: `${label} visit, photo ${i + 1} of ${visit.entries.length}, taken ${visit.day}` })));
  const caption = el('figcaption');
  caption.append(el('strong', {}, `${label}: ${visit.day}`), ' ', el('span', { class: 'hint' },
    `${visit.entries.length > 1 ? `${visit.entries.length} photos combined` : 'one photo'} · model ${result.modelVersion}`));
  figure.append(frame, caption, probabilityBars(result.classes, result.probabilities, classifier.metadata));
  return figure;
}

// Two visits by their combined answers, against the noise of two combined visits of an unchanged lesion.
async function renderVisits(lesionId, dayA, dayB) {
  const entries = await history?.entries(lesionId) ?? [];
  const pair = visitsOf(entries).filter((v) => v.day === dayA || v.day === dayB);
  if (pair.length !== 2) {
    location.hash = `#lesion/${lesionId}`;
    return;
  }
  const [newer, older] = pair; // newest first
  const { records, sameModel } = comparableRecords([older.entries, newer.entries]);
  const [before, after] = records.map((r) => visitResult(r, classifier.metadata));
  const margin = visitMargin(classifier.metadata, older.entries.length, newer.entries.length);
  const change = describeChange(before, after, margin?.margin);
  await showComparison(lesionId, 'Compare two visits', [changeSummary(change, sameModel, before, after, margin, 'visit'),
    sizeChangeBox(sizeChange(visitSize(older), visitSize(newer), 'visit'))], [visitPane(older, before, 'Earlier'), visitPane(newer, after, 'Later')]);
}

// ---- routing and actions

// Renders run one at a time, in the order asked, and each draws the view the address names when it starts:
// a slow render, or an action's re-render (a field saved on blur as the user clicks a link away), must never
// finish after a later one and show its view over the one the user went to. Actions re-render through here.
let rendering = Promise.resolve();
function render() {
  rendering = rendering.then(renderNow, renderNow);
  return rendering;
}

async function renderNow() {
  $('history-errors').replaceChildren();
  if (history?.locked && !history.readable) {
    show('unlock-view', 'manage-view'); // "Delete everything" stays reachable if the passphrase is lost
    await renderManage();
    $('unlock-passphrase').focus();
    return;
  }
  const [view, ...ids] = location.hash.slice(1).split('/');
  if (view === 'patient') await renderPatient(ids[0]);
  else if (view === 'unassigned') await renderPatient(null);
  else if (view === 'lesion') await renderLesion(ids[0]);
  else if (view === 'compare') await renderCompare(...ids);
  else if (view === 'visits') await renderVisits(...ids);
  else await renderPatients();
}

// Runs a user action; its failure is shown as a message and the page stays usable.
async function act(action) {
  $('history-errors').replaceChildren();
  try {
    await action();
  } catch (err) {
    report(err);
  }
}

function download(blob, name) {
  const link = el('a', { download: name });
  link.href = URL.createObjectURL(blob);
  link.click();
  URL.revokeObjectURL(link.href);
}

async function importFile(file) {
  checkFileSize(file);
  const data = await parseHistoryFile(await file.text(), model());
  const target = await ensureHistory();
  if (!target.readable) throw new Error('Unlock your history before importing into it.');
  const added = await target.importHistory(data);
  const lesions = [...data.patients.flatMap((p) => p.lesions), ...data.lesions];
  const total = lesions.reduce((n, l) => n + l.entries.length, 0);
  await requestPersistence();
  await render();
  const patients = data.patients.length ? `, of ${data.patients.length} patient(s) (${added.patients} new)` : '';
  const unassigned = data.lesions.length ? ` The file's ${data.lesions.length} lesion(s) of no patient are under ` +
    `“${UNASSIGNED}”, unless already filed under a patient here.` : '';
  say(`Imported ${added.lesions} lesion(s) and ${added.entries} photo(s)${patients}; ${total - added.entries} photo(s) ` +
    `were already here.${unassigned}`);
}

function wire() {
  window.addEventListener('hashchange', () => act(render));
  editMap = mapPicker($('edit-map'), $('edit-site'));
  $('unlock-form').addEventListener('submit', (event) => {
    event.preventDefault();
    act(async () => {
      await history.unlock($('unlock-passphrase').value);
      $('unlock-passphrase').value = '';
      await render();
      say('Unlocked for this visit.');
    });
  });
  $('export').addEventListener('click', () => act(async () => {
    download(new Blob([JSON.stringify(await history.exportData())], { type: 'application/json' }),
      `lesionlens-history-${today()}.json`);
    say('Exported everything, every patient, to one file (unencrypted: keep it private).');
  }));
  $('import-file').addEventListener('change', (event) => act(async () => {
    const [file] = event.target.files;
    event.target.value = '';
    if (file) await importFile(file);
  }));
  $('delete-everything').addEventListener('click', () => act(async () => {
    const message = 'Delete every patient, lesion, photo and result kept on this device? This cannot be undone ' +
      '(export first if you want a copy).';
    if (!await confirmDialog($('confirm-dialog'), message)) return;
    await deleteEverything(history);
    history = null;
    location.hash = '';
    await renderPatients();
    say('Everything deleted: no history is left in this browser.');
  }));
  $('lock-form').addEventListener('submit', (event) => {
    event.preventDefault();
    act(async () => {
      if ($('lock-passphrase').value !== $('lock-confirm').value) throw new Error('The two passphrases differ: type the same one twice.');
      await (await ensureHistory()).setLock($('lock-passphrase').value);
      $('lock-form').reset();
      await renderManage();
      say('Locked: your history is now encrypted on this device. Do not forget the passphrase.');
    });
  });
  $('unlock-remove').addEventListener('click', () => act(async () => {
    await history.removeLock();
    await renderManage();
    say('Lock removed: your history is stored unencrypted on this device.');
  }));
}

async function start() {
  if (refuseFramedUse()) return;
  const shared = sharedOriginWarning();
  $('shared-origin').textContent = shared ?? '';
  $('shared-origin').hidden = !shared;
  wire();
  try {
    classifier = await loadSiteClassifier();
    globalThis.lesionlens = classifier; // as on the classify page: for inspection in DevTools (and tests)
    history = await openHistory({ create: false, model: model() });
    if (history) await requestPersistence();
    await render();
    say(history ? 'Your history, kept on this device.' : 'Nothing saved yet.');
    document.body.dataset.ready = 'true';
  } catch (err) {
    // Export and "Delete everything" stay reachable whatever went wrong, so no stored data can brick the page.
    show('manage-view');
    say(err instanceof HistoryUnavailable ? 'The lesion history is unavailable here.' : 'The page could not start.');
    report(err);
  }
  // Only now: on a first visit the offline copy would otherwise download the model a second time, on the same
  // slow link, while the page waits for its own (export.studies.bench); after the page's own downloads the
  // precache mostly revalidates what the HTTP cache already holds.
  registerServiceWorker();
}

start();
