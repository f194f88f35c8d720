// The "My lesions" page: the on-device lesion history (history-store.js) as a list of lesions, a timeline
// with a score chart per lesion, a side-by-side comparison of two photos, re-scoring with the shipped model,
// export/import, deletion and the passphrase lock. No history action makes a network request.
import { describeChange } from './change.js';
import { decodeImage } from './classifier.js';
import { visitMargin } from './combine.js';
import { cropSquare } from './cropper.js';
import { checkFileSize, parseHistoryFile } from './history-file.js';
import { refuseFramedUse, sharedOriginWarning } from './origin.js';
import { dataUrlBlob, latestResult, resultBy, resultRecord, today, topProbability } from './history-records.js';
import {
  deleteEverything, HistoryUnavailable, openHistory, requestPersistence, storageSummary,
} from './history-store.js';
import { scoreChart } from './score-chart.js';
import { loadSiteClassifier, registerServiceWorker } from './site-model.js';
import { $, classNames, confirmDialog, el, option, percent, probabilityBars, score, showAlert } from './ui.js';
import { PBKDF2_ITERATIONS } from './vault.js';
import { comparableRecords, visitResult, visitsOf } from './visits.js';

const VIEWS = ['unlock-view', 'list-view', 'lesion-view', 'compare-view', 'manage-view'];
let classifier;
let history = null; // null until something is saved (a visit alone stores nothing)

// The status line describes the view: every caller updates the view first, so whoever reads the status
// (a screen reader, a test) meets the view it describes.
function say(message) {
  $('history-status').textContent = message;
}

function report(err) {
  showAlert($('history-errors'), err.message);
}

function show(...views) {
  for (const id of VIEWS) $(id).hidden = !views.includes(id);
}

function className(code) {
  return classNames(classifier.metadata)[code] ?? code;
}

function verdict(record) {
  return record.flagged ? 'above the operating point: see a dermatologist' : 'below the operating point';
}

function resultLine(record) {
  const guard = record.guard?.outOfDistribution ? ' Not recognised as a lesion close-up (shown on request).' : '';
  return `Model ${record.modelVersion}: ${className(record.topClass)} ${percent(topProbability(record))}, ` +
    `malignancy score ${score(record.malignancyScore)} (${verdict(record)}).${guard}`;
}

// The page's model, for checking stored and imported records against its classes and body sites.
function model() {
  const { metadata } = classifier;
  return { codes: metadata.classes.map((c) => c.code), sites: metadata.dataset.localizations };
}

async function ensureHistory() {
  history ??= await openHistory({ model: model() });
  return history;
}

// ---- the list of lesions

async function renderList() {
  const lesions = history ? await history.lesions() : [];
  $('list-empty').hidden = lesions.length > 0;
  const items = await Promise.all(lesions.map(async (lesion) => {
    const entries = await history.entries(lesion.id);
    const li = el('li');
    const link = el('a', { href: `#lesion/${lesion.id}` }, lesion.name);
    const [visit] = visitsOf(entries);
    const latest = visit && visitAnswer(visit).result;
    const summary = latest ? ` — ${lesion.site}, ${entries.length} photo(s), latest visit ${visit.day}` +
      `${visit.entries.length > 1 ? ` (${visit.entries.length} photos combined)` : ''}: ` +
      `${className(latest.topClass)}, ${latest.flagged ? 'see a dermatologist' : 'low risk'}` : ` — ${lesion.site}, no photos`;
    li.append(link, summary);
    return li;
  }));
  $('lesion-list').replaceChildren(...items);
  show('list-view', 'manage-view');
  await renderManage();
}

async function renderManage() {
  $('lock-iterations').textContent = (history?.iterations ?? PBKDF2_ITERATIONS).toLocaleString('en');
  $('lock-set').hidden = Boolean(history?.locked);
  $('export').disabled = !history?.readable;
  $('lock-remove').hidden = !history?.locked || !history.readable;
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
      await history.deleteRecord(record.store, record.id);
      await render();
      say('The unreadable record was deleted.');
    }));
    const li = el('li', {}, `${record.store === 'lesions' ? 'Lesion' : 'Photo'} ${record.id}: ${record.problem}. `);
    li.dataset.id = record.id;
    li.append(remove);
    return li;
  }));
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
  date.addEventListener('change', () => act(async () => {
    if (!date.value) return;
    await history.saveEntry({ ...entry, taken: date.value, takenSource: 'edited' });
    await renderLesion(lesion.id);
  }));
  const source = { exif: 'from the photo', added: 'the day it was saved', edited: 'edited' }[entry.takenSource] ?? '';
  const pick = el('input', { type: 'checkbox', class: 'compare-pick', id: `pick-${entry.id}` });
  pick.addEventListener('change', updateCompareButton);
  const remove = el('button', { type: 'button', class: 'secondary delete-entry' }, 'Delete this photo');
  remove.addEventListener('click', () => act(async () => {
    if (!await confirmDialog($('confirm-dialog'), `Delete the photo of ${entry.taken} and its results?`)) return;
    await history.deleteEntry(entry.id);
    await renderLesion(lesion.id);
    say('Photo deleted.');
  }));
  const results = el('ul', { class: 'entry-results' });
  results.append(...entry.results.map((r) => el('li', {}, resultLine(r))));
  const dated = el('p');
  dated.append(el('label', { for: date.id }, 'Taken on '), date, el('span', { class: 'hint' }, ` (${source})`));
  const controls = el('p', { class: 'entry-controls' });
  controls.append(pick, el('label', { for: pick.id }, ' Compare'), ' ', remove);
  li.append(enlarge, dated, results, controls);
  return li;
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
    (result.straddles ? ', on both sides of the operating point.' : '.');
  const models = sameModel ? '' : ' Scored by different models: re-score them for a like-for-like answer.';
  return `Combined answer of ${n} photos (model ${result.modelVersion}): ${top}.${spread}${models}`;
}

// One visit: its combined answer, a tick box to compare it, and its photos.
function visitItem(visit, answer, lesion) {
  const li = el('li', { class: `visit ${answer.result.flagged ? 'flagged' : 'low'}` });
  li.dataset.day = visit.day;
  li.dataset.photos = String(visit.entries.length);
  li.dataset.score = String(answer.result.malignancyScore);
  const pick = el('input', { type: 'checkbox', class: 'visit-pick', id: `visit-pick-${visit.day}` });
  pick.addEventListener('change', updateCompareButton);
  const controls = el('p', { class: 'visit-controls' });
  controls.append(pick, el('label', { for: pick.id }, ' Compare this visit'));
  const photos = el('ol', { class: 'visit-photos', 'aria-label': `Photos of ${visit.day}` });
  photos.append(...visit.entries.map((e) => entryItem(e, lesion)));
  li.append(el('h3', {}, `Visit of ${visit.day} · ${visit.entries.length} photo(s)`),
    el('p', { class: 'visit-result' }, visitSummary(visit, answer)), controls, photos);
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
  $('lesion-title').textContent = lesion.name;
  $('lesion-meta').textContent = `${lesion.site}${lesion.note ? ` · ${lesion.note}` : ''} · ${entries.length} ` +
    `photo(s) in ${visits.length} visit(s)`;
  const answers = visits.map(visitAnswer);
  const points = answers.map(({ result }, i) => ({ day: visits[i].day, score: result.malignancyScore,
    top: Math.max(...result.probabilities), code: result.topClass })).reverse();
  $('chart').replaceChildren(...(points.length ? [scoreChart(points, classifier.metadata.operating_point.threshold)] : []));
  const version = classifier.metadata.model_version;
  const stale = entries.filter((e) => !resultBy(e, version));
  $('rescore').hidden = stale.length === 0;
  $('rescore').textContent = `Re-score ${stale.length} photo(s) with the current model ${version}`;
  $('rescore').onclick = () => act(() => rescore(stale, lesion.id));
  $('timeline').replaceChildren(...visits.map((v, i) => visitItem(v, answers[i], lesion)));
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
  $('edit-name').value = lesion.name;
  $('edit-site').replaceChildren(...classifier.metadata.dataset.localizations.map((site) => option(site, site, site === lesion.site)));
  $('edit-note').value = lesion.note ?? '';
  $('lesion-form').onsubmit = (event) => {
    event.preventDefault();
    act(async () => {
      if (!$('edit-name').value.trim()) throw new Error('Give the lesion a name.');
      await history.saveLesion({ ...lesion, name: $('edit-name').value.trim(), site: $('edit-site').value,
        note: $('edit-note').value.trim() });
      await renderLesion(id);
      say('Lesion details saved.');
    });
  };
  $('delete-lesion').onclick = () => act(async () => {
    if (!await confirmDialog($('confirm-dialog'), `Delete “${lesion.name}” and all ${entries.length} of its photos?`)) return;
    await history.deleteLesion(id);
    location.hash = ''; // its hashchange renders the list again, with the same content
    await render();
    say(`“${lesion.name}” deleted.`);
  });
  show('lesion-view');
}

// Old entries keep their original result; the new model's result is added next to it.
async function rescore(entries, lesionId) {
  for (const entry of entries) {
    const bitmap = await decodeImage(dataUrlBlob(entry.image));
    try {
      const result = await classifier.classify(bitmap);
      const record = resultRecord(result, classifier.metadata, result.outOfDistribution);
      await history.saveEntry({ ...entry, results: [...entry.results, record] });
    } finally {
      bitmap.close();
    }
  }
  await renderLesion(lesionId);
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
    const reasons = [
      change.crossedUp && `the later ${unit} crossed the operating point`,
      change.clearRise && `the malignancy score rose by ${score(change.delta)}, more than ${unit}-to-${unit} noise ` +
        `(${score(margin.margin)})`,
      change.topChanged && `the top class changed from ${className(change.topBefore)} to ${className(change.topAfter)}`,
    ].filter(Boolean);
    box.append(el('p', { class: 'change-flag', role: 'alert' },
      `This change is a reason to see a dermatologist: ${reasons.join('; ')}.`));
  } else {
    box.append(el('p', { class: 'change-steady' }, `No change beyond what two ${unit}s of an unchanged lesion ` +
      'usually show. Keep monitoring.'));
  }
  const sign = change.delta >= 0 ? '+' : '−';
  const list = el('ul');
  list.append(
    el('li', {}, change.topChanged ? `Top class changed: ${className(change.topBefore)} → ${className(change.topAfter)}.`
      : `Top class unchanged: ${className(change.topAfter)}.`),
    el('li', { class: 'score-change' }, `Malignancy score ${score(change.scoreBefore)} → ${score(change.scoreAfter)} ` +
      `(${change.delta >= 0 ? 'up' : 'down'} ${sign}${score(Math.abs(change.delta))}).`),
    el('li', {}, change.crossedUp ? `Crossed the operating point upwards: the later ${unit} says “see a dermatologist”.`
      : change.crossedDown ? 'Crossed the operating point downwards.'
        : `Stayed ${after.flagged ? 'above' : 'below'} the operating point.`),
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
    `of cases and fall on different sides of the operating point in ${percent(margin.crossing_rate)}`;
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
  showComparison(lesionId, 'Compare two photos', changeSummary(change, sameModel, before, after, margin, 'photo'),
    [comparePane(older, before, 'Earlier'), comparePane(newer, after, 'Later')]);
}

function showComparison(lesionId, title, summary, panes) {
  $('compare-back').href = `#lesion/${lesionId}`;
  $('compare-title').textContent = title;
  $('change-summary').replaceChildren(summary);
  $('compare-panes').replaceChildren(...panes);
  show('compare-view');
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
  showComparison(lesionId, 'Compare two visits', changeSummary(change, sameModel, before, after, margin, 'visit'),
    [visitPane(older, before, 'Earlier'), visitPane(newer, after, 'Later')]);
}

// ---- routing and actions

async function render() {
  $('history-errors').replaceChildren();
  if (history?.locked && !history.readable) {
    show('unlock-view', 'manage-view'); // "Delete everything" stays reachable if the passphrase is lost
    await renderManage();
    $('unlock-passphrase').focus();
    return;
  }
  const [view, ...ids] = location.hash.slice(1).split('/');
  if (view === 'lesion') await renderLesion(ids[0]);
  else if (view === 'compare') await renderCompare(...ids);
  else if (view === 'visits') await renderVisits(...ids);
  else await renderList();
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

function download(data) {
  const link = el('a', { download: `lesionlens-history-${today()}.json` });
  link.href = URL.createObjectURL(new Blob([JSON.stringify(data)], { type: 'application/json' }));
  link.click();
  URL.revokeObjectURL(link.href);
}

async function importFile(file) {
  checkFileSize(file);
  const lesions = await parseHistoryFile(await file.text(), model());
  const target = await ensureHistory();
  if (!target.readable) throw new Error('Unlock your history before importing into it.');
  const added = await target.importLesions(lesions);
  const total = lesions.reduce((n, l) => n + l.entries.length, 0);
  await requestPersistence();
  await render();
  say(`Imported ${added.lesions} lesion(s) and ${added.entries} photo(s); ${total - added.entries} photo(s) were ` +
    'already here.');
}

function wire() {
  window.addEventListener('hashchange', () => act(render));
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
    download(await history.exportData());
    say('Exported everything to one file (unencrypted: keep it private).');
  }));
  $('import-file').addEventListener('change', (event) => act(async () => {
    const [file] = event.target.files;
    event.target.value = '';
    if (file) await importFile(file);
  }));
  $('delete-everything').addEventListener('click', () => act(async () => {
    const message = 'Delete every lesion, photo and result kept on this device? This cannot be undone (export first ' +
      'if you want a copy).';
    if (!await confirmDialog($('confirm-dialog'), message)) return;
    await deleteEverything(history);
    history = null;
    location.hash = '';
    await renderList();
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
