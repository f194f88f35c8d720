// The classify page: wires file picker, drag-and-drop, paste and camera to the inference core.
import { captureFrame, cameraAvailable, startCamera, stopCamera } from './camera.js';
import { checkFile, imageWarnings, InputProblem } from './checks.js';
import { decodeImage, ImageDecodeError, loadClassifier } from './classifier.js';
import { cropSquare } from './cropper.js';
import { centreSquareCanvas, classMap, drawOverlay, peak } from './heatmap.js';

const $ = (id) => document.getElementById(id);
const results = [];
const EXPLAIN_SIDE = 256;
let classifier;

function showError(message, kind = 'error') {
  const alert = document.createElement('p');
  alert.className = kind;
  alert.setAttribute('role', 'alert');
  alert.textContent = message;
  $('errors').append(alert);
}

function percent(p) {
  return `${(p * 100).toFixed(1)}%`;
}

function riskMessage(result) {
  return result.flagged
    ? 'Features associated with skin cancer — please see a dermatologist.'
    : 'Low risk — keep monitoring; see a doctor if it changes.';
}

function option(value, text, selected) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  o.selected = selected;
  return o;
}

// The heatmap of where the model found evidence for a class, over the square it classified, with an
// opacity slider and a class picker. Everything comes from the single on-device run (no request).
function explanationFigure(square, result, topIndex) {
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
  const draw = () => {
    const index = Number(picker.value);
    const grid = classMap(result.cams, index);
    drawOverlay(canvas, square, grid, result.cams.width, Number(slider.value));
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
  help.textContent = 'Warm colours mark the regions that raised this class\'s score most (class activation map, ' +
    'computed on this device). It shows where the model looked, not why the lesion is what it is.';
  caption.append(classLabel, opacityLabel, help);
  figure.append(canvas, caption);
  draw();
  return figure;
}

function renderResult(name, url, size, result, square, forced) {
  const { metadata } = classifier;
  const order = result.probabilities.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]);
  const top = metadata.classes[order[0][1]];
  const card = document.createElement('article');
  card.className = `result ${result.flagged ? 'flagged' : 'low'}${forced ? ' forced' : ''}`;
  card.setAttribute('aria-label', `Result for ${name}`);
  const img = document.createElement('img');
  img.src = url;
  img.alt = `Submitted image ${name}`;
  const heading = document.createElement('h3');
  heading.textContent = `${forced ? 'Unreliable: ' : ''}${top.name} (${percent(order[0][0])})`;
  const desc = document.createElement('p');
  desc.textContent = top.description;
  const risk = document.createElement('p');
  risk.className = 'risk';
  risk.textContent = riskMessage(result);
  const bars = document.createElement('ul');
  bars.className = 'bars';
  for (const [p, i] of order) {
    const li = document.createElement('li');
    li.dataset.code = metadata.classes[i].code;
    li.dataset.probability = String(p);
    const label = document.createElement('span');
    label.textContent = `${metadata.classes[i].code} — ${metadata.classes[i].name}`;
    const meter = document.createElement('meter');
    meter.min = 0;
    meter.max = 1;
    meter.value = p;
    meter.setAttribute('aria-label', `${metadata.classes[i].name} probability`);
    const value = document.createElement('span');
    value.textContent = percent(p);
    li.append(label, meter, value);
    bars.append(li);
  }
  const foot = document.createElement('p');
  foot.className = 'small';
  foot.textContent = `Not a diagnosis. Image ${size.width}x${size.height} px. Model ${metadata.model_version}, ` +
    `backend ${classifier.backend}${classifier.simd ? ' (SIMD)' : ''}, computed on this device.`;
  card.append(img, heading);
  if (forced) {
    const note = document.createElement('p');
    note.className = 'forced-note';
    note.textContent = 'Shown on request: this image did not look like a close-up of a skin lesion, so this ' +
      'result is unreliable.';
    card.append(note);
  }
  card.append(desc, risk, bars, explanationFigure(square, result, order[0][1]), foot);
  return card;
}

// Out-of-distribution: no diagnosis-like output unless the user asks for it.
function renderRejection(name, url, onAnyway) {
  const card = document.createElement('article');
  card.className = 'result rejected';
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
  card.append(img, heading, message, anyway);
  return card;
}

function addSummaryRow(name, result, forced) {
  const { metadata } = classifier;
  const best = result.probabilities.indexOf(Math.max(...result.probabilities));
  results.push({ name, result });
  const row = document.createElement('tr');
  for (const text of [name, metadata.classes[best].code, percent(result.probabilities[best]),
    `${result.flagged ? 'see a dermatologist' : 'low'}${forced ? ' (unreliable: not a lesion close-up?)' : ''}`]) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  }
  $('summary-table').tBodies[0].append(row);
  $('summary').hidden = results.length < 2;
}

function csvField(value) {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function downloadCsv() {
  const codes = classifier.metadata.classes.map((c) => c.code);
  const lines = [['image', ...codes.map((c) => `p_${c}`), 'malignancy_score', 'flagged', 'ood_distance',
    'out_of_distribution', 'model_version'].join(',')];
  for (const { name, result } of results) {
    lines.push([csvField(name), ...result.probabilities.map((p) => p.toFixed(6)),
      result.malignancyScore.toFixed(6), result.flagged, result.oodDistance?.toFixed(4) ?? '',
      result.outOfDistribution, classifier.metadata.model_version].join(','));
  }
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([`${lines.join('\n')}\n`], { type: 'text/csv' }));
  link.download = 'lesion-results.csv';
  link.click();
  URL.revokeObjectURL(link.href);
}

// Classify one decoded image (ImageBitmap or canvas), letting the user crop it first if they asked to.
async function classifySource(name, source, url) {
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
  if (!result.outOfDistribution) {
    $('results').prepend(renderResult(name, shown, size, result, square, false));
    addSummaryRow(name, result, false);
    return;
  }
  $('results').prepend(renderRejection(name, shown, (card) => {
    card.replaceWith(renderResult(name, shown, size, result, square, true));
    addSummaryRow(name, result, true);
  }));
}

async function classifyFile(file) {
  const name = file.name || 'pasted image';
  let bitmap;
  try {
    await checkFile(file);
    bitmap = await decodeImage(file);
  } catch (err) {
    if (err instanceof InputProblem) return showError(`${name}: ${err.message}`);
    if (err instanceof ImageDecodeError) {
      return showError(`${name}: this is not an image this browser can read (damaged, truncated or not a ` +
        'picture). Use a JPEG or PNG photo.');
    }
    throw err;
  }
  try {
    for (const warning of imageWarnings(bitmap)) showError(`${name}: ${warning}`, 'warning');
    await classifySource(name, bitmap, URL.createObjectURL(file));
  } finally {
    bitmap.close();
  }
  return undefined;
}

async function classifyFiles(files) {
  if (!classifier) {
    showError('The model is still loading; try again in a moment.');
    return;
  }
  $('errors').replaceChildren();
  for (const file of files) await classifyFile(file);
  $('status').textContent = `Classified ${results.length} image(s) on this device.`;
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
  $('errors').replaceChildren();
  await classifySource('camera photo', frame, frame.toDataURL('image/jpeg'));
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
  $('camera-button').hidden = !cameraAvailable();
  $('camera-button').addEventListener('click', openCamera);
  $('shutter').addEventListener('click', shoot);
  $('camera-cancel').addEventListener('click', closeCamera);
}

// file:// pages cannot fetch: the model comes from a script bundle and WASM (which fetches its binary) is skipped.
function loadBundle() {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = 'model/model-bundle.js';
    script.onload = () => resolve(globalThis.LESIONLENS_MODEL_BUNDLE);
    script.onerror = () => reject(new Error('model/model-bundle.js is missing; rebuild the site with build.py.'));
    document.head.append(script);
  });
}

async function classifierOptions() {
  const options = { modelUrl: 'model/', vendorUrl: 'vendor/tfjs/' };
  // ?backend=webgl (or cpu, wasm) forces one TF.js backend: for troubleshooting and the benchmark.
  const forced = new URLSearchParams(location.search).get('backend');
  if (forced) options.backends = [forced];
  if (location.protocol === 'file:') return { ...options, bundle: await loadBundle(), backends: ['webgl', 'cpu'] };
  return options;
}

function registerServiceWorker() {
  if ('serviceWorker' in navigator && location.protocol !== 'file:') {
    navigator.serviceWorker.register('sw.js').catch((err) => console.warn(`Offline mode unavailable: ${err.message}`));
  }
}

async function start() {
  wireInputs();
  registerServiceWorker();
  try {
    classifier = await loadClassifier(await classifierOptions());
    const m = classifier.metadata;
    $('status').textContent = `Model ${m.model_version} ready (backend ${classifier.backend}` +
      `${classifier.simd ? ' with SIMD' : ''}). Your images stay on this device.`;
    globalThis.lesionlens = classifier; // for the benchmark and for inspection in DevTools
    document.body.dataset.ready = 'true';
  } catch (err) {
    $('status').textContent = 'The model could not be loaded.';
    showError(err.message);
  }
}

start();
