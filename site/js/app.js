// The classify page: wires file picker, drag-and-drop, paste and camera to the inference core.
import { captureFrame, cameraAvailable, startCamera, stopCamera } from './capture/camera.js';
import { checkFile, imageWarnings, InputProblem } from './capture/checks.js';
import { decodeImage, ImageDecodeError, sha256Hex } from './inference/classifier.js';
import { combineResults, ruleName } from './inference/combine.js';
import { cropSquare } from './capture/cropper.js';
import { currentContext, fillPatientFields, resetSite, shownContext, wireContextForm } from './views/context-form.js';
import { csvRow } from './records/csv.js';
import { refuseFramedUse, sharedOriginWarning } from './records/origin.js';
import { exifDate } from './capture/exif.js';
import { CENTRE_SQUARE, centreSquareCanvas, classMap, drawOverlay, heatmapLegend, peak } from './inference/heatmap.js';
import { resultRecord, storedCopy, today } from './records/history-records.js';
import { ContextProblem, contextLine } from './records/patient.js';
import { patientLabel } from './records/patient-record.js';
import { ABOVE, referral, referralBlock, riskMessage, verdictWords } from './inference/referral.js';
import { printReport, visitReport } from './print/report.js';
import { openSaveDialog, visitDate } from './views/save-dialog.js';
import { measuredOutline, outlineBlock, outlineReportFields, outlineToggle, startingScale } from './views/outline-card.js';
import { loadSiteClassifier, loadSiteMetadata, registerServiceWorker } from './inference/site-model.js';
import { $, classNames, el, option, percent, probabilityBars, score, showAlert } from './ui.js';

const results = []; // photos shown with a result (including those classified anyway), for the table, CSV and saving
// Every photo given this session, in order: {name, state: 'shown' | 'rejected' | 'unreadable' | 'repeated', item}.
// The combined answer uses the shown ones and names the rest.
const photos = [];
const seenFiles = new Map(); // sha256 of each file chosen on this page -> its name: the same file twice is said
let combined = null; // {result, used, leftOut} while "one lesion" is on and at least two photos are usable
const EXPLAIN_SIDE = 256;
let classifier;
const queued = []; // photos chosen while the model loads, classified as soon as it is ready
let newest = null; // the card of the photo classified last, where the focus goes after a batch

function showError(message, kind = 'error') {
  showAlert($('errors'), message, kind);
}

// The probabilities are calibrated: say how well, from the test split (metadata), once per card.
function calibrationNote(metadata) {
  const ece = Object.values(metadata.metrics?.test ?? {}).map((m) => m.ece).filter((v) => v != null);
  const measured = ece.length ? ` On the test images the stated probabilities were off by ${percent(Math.max(...ece))} ` +
    'on average (expected calibration error).' : '';
  return el('p', { class: 'hint calibration' }, `Probabilities are calibrated on the validation split.${measured} ` +
    'Classes marked “few test images” had too few test cases to judge how often the model is right about them.');
}

// Each card has an id, so that the combined card can link to the photos it names.
let cardCount = 0;

// The heatmap of where the model found evidence for a class, over the square it classified, with an
// opacity slider, a class picker and the lesion outline (``measured``: the card's measuredOutline) on request.
// Everything comes from the single on-device run (no request).
function explanationFigure(square, result, topIndex, measured) {
  const { metadata } = classifier;
  const figure = document.createElement('figure');
  figure.className = 'explanation';
  const canvas = document.createElement('canvas');
  canvas.className = 'heatmap';
  canvas.width = EXPLAIN_SIDE;
  canvas.height = EXPLAIN_SIDE;
  canvas.setAttribute('role', 'img');
  const picker = document.createElement('select');
  picker.className = 'explain-class';
  metadata.classes.forEach((c, i) => picker.append(option(String(i), c.name, i === topIndex)));
  const slider = document.createElement('input');
  slider.type = 'range';
  slider.className = 'explain-opacity';
  slider.min = '0';
  slider.max = '1';
  slider.step = '0.05';
  slider.value = '0.5';
  const outline = outlineToggle(measured, () => draw());
  const draw = () => {
    const index = Number(picker.value);
    const grid = classMap(result.cams, index);
    drawOverlay(canvas, square, grid, result.cams.width, Number(slider.value));
    outline?.draw(canvas);
    const where = peak(grid, result.cams.width);
    canvas.dataset.classCode = metadata.classes[index].code;
    canvas.dataset.peak = `${where.x.toFixed(3)},${where.y.toFixed(3)}`;
    canvas.setAttribute('aria-label', `Heatmap of the regions that raised the score for ${metadata.classes[index].name}`);
  };
  picker.addEventListener('change', draw);
  slider.addEventListener('input', draw);
  const caption = document.createElement('figcaption');
  const classLabel = document.createElement('label');
  classLabel.append('Explain: ', picker);
  const opacityLabel = document.createElement('label');
  opacityLabel.append('Heatmap opacity ', slider);
  const help = document.createElement('span');
  help.className = 'hint';
  help.textContent = `${CENTRE_SQUARE} Brighter colours mark the regions that raised this class's score most (class ` +
    'activation map, computed on this device). It shows where the model looked, not why the lesion is what it is.';
  caption.append(classLabel, opacityLabel, ...(outline ? [outline.label] : []), heatmapLegend(), help);
  figure.append(canvas, caption);
  draw();
  return figure;
}

// ---- patient context and the printed report

const CONTEXT_INVALID = 'Patient: a value given above cannot be kept; correct it (see the message beside it).';

function contextText() {
  const context = shownContext();
  if (!context) return CONTEXT_INVALID;
  return contextLine(context, context.patient && patientLabel(context.patient));
}

function contextParagraph() {
  return el('p', { class: 'context-line user-text' }, contextText());
}

function refreshContext() {
  for (const line of document.querySelectorAll('.context-line')) line.textContent = contextText();
}

// The context for an action, or null (the message is beside the field) when a value cannot be kept.
function contextOrStop(what) {
  try {
    return currentContext();
  } catch (err) {
    if (!(err instanceof ContextProblem)) throw err;
    $('status').textContent = `${what}: ${err.message}`;
    return null;
  }
}

// A photo as the report shows it: beside the heatmap its card shows now (the class the user chose to explain).
function reportPhoto(item) {
  const canvas = $(item.cardId)?.querySelector('canvas.heatmap');
  return {
    name: item.name,
    taken: item.taken,
    takenSource: item.takenSource,
    src: item.url,
    score: item.result.malignancyScore,
    heatmap: canvas ? { src: canvas.toDataURL('image/png'), code: canvas.dataset.classCode } : null,
    guard: { outOfDistribution: item.result.outOfDistribution, distance: item.result.oodDistance, forced: item.forced },
    ...outlineReportFields(item, item.square),
  };
}

// ``dated``: {taken, takenSource}, the date the report gives the photos.
function printItems(title, items, result, combinedResult, dated) {
  const context = contextOrStop('Nothing printed');
  if (!context) return;
  const { metadata } = classifier;
  const codes = metadata.classes.map((c) => c.code);
  printReport(visitReport({ title, context, ...dated, photos: items.map(reportPhoto),
    result: { ...result, classes: codes }, combined: combinedResult }, metadata));
  $('status').textContent = 'The report is in the print dialog: print it, or choose “Save as PDF” to file it.';
}

function renderResult(item, url, size, square) {
  const { name, result, forced } = item;
  const { metadata } = classifier;
  const codes = metadata.classes.map((c) => c.code);
  const parts = referral(result.probabilities, codes, metadata);
  const top = metadata.classes[codes.indexOf(parts.top.code)];
  const card = document.createElement('article');
  card.className = `result ${result.flagged ? 'flagged' : 'low'}${forced ? ' forced' : ''}`;
  card.id = item.cardId;
  card.tabIndex = -1;
  card.setAttribute('aria-label', `Result for ${name}`);
  const img = document.createElement('img');
  img.src = url;
  img.alt = `Submitted image ${name}`;
  const heading = document.createElement('h3');
  heading.textContent = `${forced ? 'Unreliable: ' : ''}${top.name} (${percent(parts.top.p)})`;
  const desc = document.createElement('p');
  desc.textContent = top.description;
  const risk = document.createElement('p');
  risk.className = 'risk';
  risk.textContent = riskMessage(result.flagged, metadata);
  const bars = probabilityBars(codes, result.probabilities, metadata);
  const foot = document.createElement('p');
  foot.className = 'small';
  foot.textContent = `Not a diagnosis. Image ${size.width}x${size.height} px. Model ${metadata.model_version}, ` +
    `backend ${classifier.backend}${classifier.simd ? ' (SIMD)' : ''}, computed on this device.`;
  card.append(img, el('p', { class: 'file-name' }, name), heading);
  if (item.repeats) {
    card.append(el('p', { class: 'repeat-note warning' }, `The same file as ${item.repeats}, already classified on ` +
      'this page: this card repeats its result, and a combined answer counts the photo once.'));
  }
  if (forced) {
    const note = document.createElement('p');
    note.className = 'forced-note';
    note.textContent = 'Shown on request: this image did not look like a close-up of a skin lesion, so this ' +
      'result is unreliable.';
    card.append(note);
  }
  const saveButton = el('button', { type: 'button', class: 'secondary save-entry' }, 'Save to my lesions');
  saveButton.addEventListener('click', () => saveItems([item]));
  const printButton = el('button', { type: 'button', class: 'secondary print-entry' }, 'Print / save as PDF');
  printButton.addEventListener('click', () => printItems('result', [item], result, null, item));
  card.append(risk, referralBlock(parts), contextParagraph(), desc, bars, calibrationNote(metadata),
    explanationFigure(square, result, codes.indexOf(parts.top.code), item.measured), outlineBlock(item, size),
    saveButton, ' ', printButton, foot);
  return card;
}

// Out-of-distribution: no diagnosis-like output unless the user asks for it.
function renderRejection({ name, url, cardId }, onAnyway) {
  const card = document.createElement('article');
  card.className = 'result rejected';
  card.id = cardId;
  card.tabIndex = -1;
  card.setAttribute('aria-label', `Result for ${name}`);
  const img = document.createElement('img');
  img.src = url;
  img.alt = `Submitted image ${name}`;
  const heading = document.createElement('h3');
  heading.textContent = 'Not recognised as a skin-lesion close-up';
  const message = document.createElement('p');
  message.className = 'ood-message';
  message.textContent = 'This does not look like a close-up of a skin lesion: it is unlike every image the ' +
    'model learnt from, so its answer would be meaningless. Take a sharp, well-lit photo of one lesion that ' +
    'fills most of the frame (through a dermatoscope if you have one).';
  const anyway = document.createElement('button');
  anyway.type = 'button';
  anyway.className = 'secondary classify-anyway';
  anyway.textContent = 'Classify anyway';
  anyway.addEventListener('click', () => onAnyway(card));
  card.append(img, el('p', { class: 'file-name' }, name), heading, message, anyway);
  return card;
}

function addSummaryRow(item) {
  const { name, result, forced } = item;
  const { metadata } = classifier;
  const best = result.probabilities.indexOf(Math.max(...result.probabilities));
  results.push(item);
  const row = document.createElement('tr');
  for (const text of [name, metadata.classes[best].code, percent(result.probabilities[best]), score(result.malignancyScore),
    verdictWords(result.flagged) +
    `${forced ? ' (unreliable: not a lesion close-up?)' : ''}`]) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  }
  $('summary-table').tBodies[0].append(row);
  $('summary').hidden = results.length < 2;
}

// ---- several photos of one lesion, one answer

const LEFT_OUT_REASONS = {
  rejected: 'not recognised as a skin-lesion close-up, so left out (choose “Classify anyway” on its card to include it)',
  unreadable: 'could not be read as an image, so left out',
  repeated: 'the same file as an earlier photo, so left out (it would count twice)',
};

function leftOutList(leftOut) {
  const list = el('ul', { class: 'left-out' });
  list.append(...leftOut.map((p) => el('li', {}, `${p.name}: ${LEFT_OUT_REASONS[p.state]}.`)));
  return list;
}

// The photos on the other side of the threshold from the combined answer, each named with its thumbnail and
// linked to its own card: one photo above the threshold is a reason to look, whatever the combination says.
function straddleNote(result, used) {
  const others = used.filter((item) => item.result.flagged !== result.flagged);
  const box = el('div', { class: 'combined-disagree warning' });
  const list = el('ul', { class: 'straddling' });
  list.append(...others.map((item) => {
    const link = el('a', { href: `#${item.cardId}` });
    link.append(el('img', { src: item.url, alt: '', class: 'thumb' }), `${item.name} (malignancy score ` +
      `${score(item.result.malignancyScore)})`);
    const li = el('li');
    li.append(link);
    return li;
  }));
  const lead = result.flagged
    ? `The single photos fall on different sides of the referral threshold: ${result.above} of ${result.photos} on ` +
      `their own are above it, and the combined answer refers. Below the threshold on its own:`
    : `The single photos fall on different sides of the referral threshold: ${result.above} of ${result.photos} on ` +
      'their own are above it, although the combined answer is below it. Above the threshold on ' +
      'its own:';
  const after = result.flagged ? '' : 'One photo above the threshold is a reason to look: examine the lesion, or take ' +
    'more photos of it, before relying on the combined answer.';
  box.append(el('p', {}, lead), list);
  if (after) box.append(el('p', {}, after));
  return box;
}

// The combined card's headline: a photo above the referral threshold is said first, before the combined class,
// so that a reassuring combined answer never hides it.
function combinedHeadline(result, names) {
  const heading = el('h3');
  const alert = result.flagged ? `Combined answer ${ABOVE}: refer.`
    : result.above ? `${result.above} of ${result.photos} photos ${ABOVE}; the combined answer is below it.` : '';
  if (alert) heading.append(el('span', { class: 'headline-alert' }, alert), ' ');
  heading.append(`One lesion, ${result.photos} photos combined: ${names[result.topClass]} ` +
    `(${percent(Math.max(...result.probabilities))})`);
  return heading;
}

function combinedCard({ result, used, leftOut }) {
  const { metadata } = classifier;
  const names = classNames(metadata);
  const codes = metadata.classes.map((c) => c.code);
  const parts = referral(result.probabilities, codes, metadata);
  const card = el('article', { class: `result combined ${result.flagged ? 'flagged' : 'low'}`,
    'aria-label': 'Combined result for one lesion', tabindex: '-1' });
  card.dataset.photos = String(result.photos);
  card.append(combinedHeadline(result, names));
  // the photos on the other side of the threshold come straight after the headline that counts them
  if (result.straddles) card.append(straddleNote(result, used));
  card.append(
    el('p', { class: 'risk' }, riskMessage(result.flagged, metadata)),
    referralBlock(parts),
    el('p', { class: 'combined-photos' }, `Combines ${result.photos} photos (${used.map((i) => i.name).join(', ')}) by ` +
      `${ruleName(metadata.combination.rule)}, the rule chosen on the validation lesions; the calibration and the ` +
      'referral threshold are those of a single photo.'),
    el('p', { class: 'combined-spread' }, `Single photos' malignancy scores range from ${score(result.lowestScore)} ` +
      `to ${score(result.highestScore)}; the combined score is ${score(result.malignancyScore)} (referral ` +
      `threshold ${score(metadata.operating_point.threshold)}).`),
  );
  if (result.singleTopClasses.length > 1) {
    card.append(el('p', { class: 'combined-classes warning' }, `The single photos' top classes differ ` +
      `(${result.singleTopClasses.map((c) => names[c]).join('; ')}). If these photos show different lesions, ` +
      'untick “one lesion” and read each photo on its own.'));
  }
  if (leftOut.length) card.append(el('p', {}, 'Not in the combined answer:'), leftOutList(leftOut));
  const save = el('button', { type: 'button', class: 'secondary save-visit' }, 'Save as one visit to my lesions');
  save.addEventListener('click', () => saveItems(used, { oneVisit: true }));
  const print = el('button', { type: 'button', class: 'secondary print-visit' }, 'Print / save as PDF');
  print.addEventListener('click', () => printItems('one-lesion report', used, result, result, visitDate(used)));
  card.append(contextParagraph(), probabilityBars(codes, result.probabilities, metadata), calibrationNote(metadata), save,
    ' ', print,
    el('p', { class: 'small' }, `Not a diagnosis. Model ${metadata.model_version}, computed on this device.`));
  return card;
}

function noCombinationCard(usable, leftOut) {
  const card = el('article', { class: 'result combined none', 'aria-label': 'Combined result for one lesion',
    tabindex: '-1' });
  const why = usable === 0
    ? `None of the ${leftOut.length} photo(s) could be used, so there is no combined answer.`
    : 'One usable photo so far: add more photos of the same lesion (another angle, zoom or light) to combine them.';
  card.append(el('h3', {}, 'One lesion: no combined answer yet'), el('p', { class: 'combined-none' }, why));
  if (leftOut.length) card.append(leftOutList(leftOut));
  return card;
}

// The combined card leads the results while "one lesion" is on; it covers every photo on the page.
function renderCombined() {
  combined = null;
  if (!$('one-lesion').checked || !photos.length) {
    $('combined').replaceChildren();
    return;
  }
  const used = photos.filter((p) => p.state === 'shown').map((p) => p.item);
  const leftOut = photos.filter((p) => p.state !== 'shown');
  if (used.length < 2) {
    $('combined').replaceChildren(noCombinationCard(used.length, leftOut));
    return;
  }
  const { metadata } = classifier;
  const result = combineResults(used.map((i) => i.result), metadata.combination.rule,
    metadata.classes.map((c) => c.code), metadata.operating_point);
  combined = { result, used, leftOut };
  $('combined').replaceChildren(combinedCard(combined));
}

// What the status line announces of the newest result (the status is a polite live region).
function newestSummary() {
  const photo = newest && photos.find((p) => p.item?.cardId === newest.id);
  if (!photo) return '';
  const { item } = photo;
  if (photo.state === 'rejected') return ` ${item.name}: not recognised as a skin-lesion close-up.`;
  const { metadata } = classifier;
  const top = item.result.probabilities.indexOf(Math.max(...item.result.probabilities));
  return ` ${item.name}: ${metadata.classes[top].name} (${percent(item.result.probabilities[top])}), ` +
    `${verdictWords(item.result.flagged)}.`;
}

// After new results: the combined card first, then the status that describes the page, and the focus on the new
// answer (the combined card, else the newest photo's), scrolled to the top of the window: the results sit below
// the form, out of sight on most screens.
function showNewResults() {
  renderCombined();
  const together = combined ? ` Combined answer from ${combined.result.photos} photos of one lesion first.` : '';
  $('status').textContent = `Classified ${results.length} image(s) on this device.${together}${newestSummary()}`;
  const target = $('combined').firstElementChild ?? newest;
  if (target) {
    target.scrollIntoView({ block: 'start' });
    target.focus({ preventScroll: true });
  }
}

function clearResults() {
  results.length = 0;
  photos.length = 0;
  seenFiles.clear();
  for (const id of ['results', 'errors', 'combined']) $(id).replaceChildren();
  $('summary-table').tBodies[0].replaceChildren();
  $('summary').hidden = true;
  renderCombined();
  resetSite();
  $('status').textContent = 'Results cleared: choose the photos of the next lesion (its body site is unknown again; ' +
    'the patient, age and sex are kept).';
}

function downloadCsv() {
  const { metadata } = classifier;
  const codes = metadata.classes.map((c) => c.code);
  const context = contextOrStop('No CSV written');
  if (!context) return;
  // unknown context stays an empty cell, never a guessed value; the patient ID goes through csvCell like every
  // cell (typed text: "=..." in it is made inert)
  const patient = [context.patient?.patientId ?? '', context.age ?? '', context.sex ?? '', context.site ?? '',
    context.part ?? ''];
  // body_site: the HAM10000 site the model knows; body_part: the map's region, with its side
  const lines = [csvRow(['image', ...codes.map((c) => `p_${c}`), 'malignancy_score', 'flagged', 'ood_distance',
    'out_of_distribution', 'patient_id', 'age', 'sex', 'body_site', 'body_part', 'model_version'])];
  for (const { name, result } of results) {
    lines.push(csvRow([name, ...result.probabilities.map((p) => p.toFixed(6)), result.malignancyScore.toFixed(6),
      result.flagged, result.oodDistance?.toFixed(4) ?? '', result.outOfDistribution, ...patient, metadata.model_version]));
  }
  if (combined) {
    const { result, used } = combined;
    lines.push(csvRow([`combined: one lesion, ${used.length} photos (${used.map((i) => i.name).join('; ')})`,
      ...result.probabilities.map((p) => p.toFixed(6)), result.malignancyScore.toFixed(6), result.flagged, '', '',
      ...patient, metadata.model_version]));
  }
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([`${lines.join('\n')}\n`], { type: 'text/csv' }));
  link.download = 'lesion-results.csv';
  link.click();
  URL.revokeObjectURL(link.href);
}

// The photos go to the on-device history only when the user asks, with the result they were shown.
async function saveItems(items, options = {}) {
  const { metadata } = classifier;
  const context = contextOrStop('Nothing saved');
  if (!context) return;
  const chosen = items.map((item) => ({ ...item,
    record: resultRecord(item.result, metadata, item.forced, item.measured?.stored) }));
  const saved = await openSaveDialog(chosen, metadata.dataset.localizations, { ...options, context });
  if (!saved) return;
  // the page names the patient the photos were filed under (the dialog may have corrected the ID)
  fillPatientFields(saved.patient);
  refreshContext();
  const skipped = saved.skipped ? ` (${saved.skipped} already there)` : '';
  const whose = saved.patient ? `of patient ${saved.patient.patientId}` : 'without a patient (Unassigned)';
  $('status').replaceChildren(`Saved ${saved.added} photo(s) to “${saved.lesion.name}” ${whose}${skipped}, on this ` +
    'device only. ', el('a', { href: `history.html#lesion/${saved.lesion.id}` }, 'Open it in My lesions'));
}

// Classify one decoded image (ImageBitmap or canvas), letting the user crop it first if they asked to.
// ``dated`` is when the photo was taken, as far as known; ``repeats`` the name of an earlier photo of the same file.
async function classifySource(name, source, url, dated = { taken: today(), takenSource: 'added' }, repeats = null) {
  let input = source;
  let shown = url;
  if ($('crop-first').checked) {
    input = await cropSquare(source, $('crop-dialog'));
    if (!input) return;
    shown = input.toDataURL('image/jpeg');
  }
  const result = await classifier.classify(input);
  const size = { width: input.width, height: input.height };
  const square = centreSquareCanvas(input, EXPLAIN_SIDE);
  cardCount += 1;
  // measured now: the decoded photo is closed once classified, before a rejected photo may be shown anyway
  const item = { name, result, forced: false, copy: storedCopy(input), url: shown, cardId: `result-${cardCount}`,
    repeats, ...dated, square, measured: measuredOutline(input, result.outline), ...startingScale() };
  const usable = repeats ? 'repeated' : 'shown';
  if (!result.outOfDistribution) {
    newest = renderResult(item, shown, size, square);
    $('results').prepend(newest);
    addSummaryRow(item);
    photos.push({ name, state: usable, item });
    return;
  }
  const photo = { name, state: 'rejected', item };
  photos.push(photo);
  newest = renderRejection(item, (card) => {
    item.forced = true;
    photo.state = usable;
    newest = renderResult(item, shown, size, square);
    card.replaceWith(newest);
    addSummaryRow(item);
    showNewResults();
  });
  $('results').prepend(newest);
}

async function classifyFile(file) {
  const name = file.name || 'pasted image';
  let bitmap;
  let repeats;
  try {
    await checkFile(file);
    bitmap = await decodeImage(file);
    const digest = await sha256Hex(await file.arrayBuffer());
    repeats = seenFiles.get(digest) ?? null;
    if (!repeats) seenFiles.set(digest, name);
  } catch (err) {
    if (!(err instanceof InputProblem || err instanceof ImageDecodeError)) throw err;
    photos.push({ name, state: 'unreadable' });
    if (err instanceof InputProblem) return showError(`${name}: ${err.message}`);
    return showError(`${name}: this is not an image this browser can read (damaged, truncated or not a ` +
      'picture). Use a JPEG or PNG photo.');
  }
  try {
    for (const warning of imageWarnings(bitmap)) showError(`${name}: ${warning}`, 'warning');
    const taken = await exifDate(file);
    const dated = taken ? { taken, takenSource: 'exif' } : undefined;
    await classifySource(name, bitmap, URL.createObjectURL(file), dated, repeats);
  } finally {
    bitmap.close();
  }
  return undefined;
}

async function classifyFiles(files) {
  if (!classifier) {
    queued.push(...files);
    $('status').textContent = loadingStatus();
    return;
  }
  newest = null;
  $('errors').replaceChildren();
  for (const file of files) await classifyFile(file);
  showNewResults();
}

let cameraStream = null;

async function openCamera() {
  try {
    cameraStream = await startCamera($('camera-video'));
    $('camera').hidden = false;
    $('shutter').focus();
  } catch (err) {
    showError(`The camera could not be started (${err.message}). Allow camera access or choose a photo instead.`);
  }
}

function closeCamera() {
  stopCamera(cameraStream, $('camera-video'));
  cameraStream = null;
  $('camera').hidden = true;
}

async function shoot() {
  const frame = captureFrame($('camera-video'));
  closeCamera();
  newest = null;
  $('errors').replaceChildren();
  await classifySource('camera photo', frame, frame.toDataURL('image/jpeg'));
  showNewResults();
}

function wireInputs() {
  for (const id of ['file-input', 'capture-input']) {
    $(id).addEventListener('change', (event) => {
      classifyFiles([...event.target.files]);
      event.target.value = '';
    });
  }
  const zone = $('drop-zone');
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    classifyFiles([...event.dataTransfer.files]);
  });
  document.addEventListener('paste', (event) => {
    const files = [...event.clipboardData.files];
    if (files.length) classifyFiles(files);
  });
  $('download-csv').addEventListener('click', downloadCsv);
  $('one-lesion').addEventListener('change', () => {
    if (!classifier) return;
    renderCombined();
    $('status').textContent = $('one-lesion').checked
      ? 'One lesion: the photos on this page are combined into one answer, shown first.'
      : 'Each photo is read on its own.';
  });
  $('clear-results').addEventListener('click', clearResults);
  // photos marked as one lesion are one visit, whichever save button is used
  $('save-all').addEventListener('click', () => (combined ? saveItems(combined.used, { oneVisit: true }) : saveItems(results)));
  $('camera-button').hidden = !cameraAvailable();
  $('camera-button').addEventListener('click', openCamera);
  $('shutter').addEventListener('click', shoot);
  $('camera-cancel').addEventListener('click', closeCamera);
}

// ---- loading: the form works at once, photos wait in a queue, the progress shows

let loadingStep = 'starting';

function loadingStatus() {
  const waiting = queued.length ? ` ${queued.length} photo(s) chosen: they are classified as soon as it is ready.`
    : ' The patient form works already; photos chosen now are classified as soon as it is ready.';
  return `Loading the model (${loadingStep})…${waiting}`;
}

// The status line (a live region) changes with the step only; the progress bar follows every chunk.
function showProgress(step, fraction) {
  const bar = $('model-progress');
  if (fraction == null) bar.removeAttribute('value');
  else bar.value = fraction;
  if (step === loadingStep) return;
  loadingStep = step;
  $('status').textContent = loadingStatus();
}

async function start() {
  if (refuseFramedUse()) return;
  const shared = sharedOriginWarning();
  $('save-shared-origin').textContent = shared ?? '';
  $('save-shared-origin').hidden = !shared;
  wireInputs();
  try {
    // metadata.json (34 kB) before the model (megabytes): the context form needs only the body sites
    wireContextForm((await loadSiteMetadata()).dataset.localizations, refreshContext);
    classifier = await loadSiteClassifier(showProgress);
    const m = classifier.metadata;
    $('model-progress').hidden = true;
    $('status').textContent = `Model ${m.model_version} ready (backend ${classifier.backend}` +
      `${classifier.simd ? ' with SIMD' : ''}). Your images stay on this device.`;
    globalThis.lesionlens = classifier; // for the benchmark and for inspection in DevTools
    document.body.dataset.ready = 'true';
    if (queued.length) await classifyFiles(queued.splice(0));
  } catch (err) {
    $('model-progress').hidden = true;
    $('status').textContent = 'The model could not be loaded.';
    showError(err.message);
  }
  // Only now: on a first visit the offline copy would otherwise download the model a second time, on the same
  // slow link, while the page waits for its own (export.studies.bench); after the page's own downloads the
  // precache mostly revalidates what the HTTP cache already holds.
  registerServiceWorker();
}

start();
