// The classify page: wires file picker, drag-and-drop, paste and camera to the inference core.
import { captureFrame, cameraAvailable, startCamera, stopCamera } from './camera.js';
import { checkFile, imageWarnings, InputProblem } from './checks.js';
import { decodeImage, ImageDecodeError, loadClassifier } from './classifier.js';
import { cropSquare } from './cropper.js';

const $ = (id) => document.getElementById(id);
const results = [];
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

function renderResult(name, url, size, result) {
  const { metadata } = classifier;
  const order = result.probabilities.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]);
  const top = metadata.classes[order[0][1]];
  const card = document.createElement('article');
  card.className = `result ${result.flagged ? 'flagged' : 'low'}`;
  card.setAttribute('aria-label', `Result for ${name}`);
  const img = document.createElement('img');
  img.src = url;
  img.alt = `Submitted image ${name}`;
  const heading = document.createElement('h3');
  heading.textContent = `${top.name} (${percent(order[0][0])})`;
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
  card.append(img, heading, desc, risk, bars, foot);
  $('results').prepend(card);
}

function addSummaryRow(name, result) {
  const { metadata } = classifier;
  const best = result.probabilities.indexOf(Math.max(...result.probabilities));
  results.push({ name, result });
  const row = document.createElement('tr');
  for (const text of [name, metadata.classes[best].code, percent(result.probabilities[best]),
    result.flagged ? 'see a dermatologist' : 'low']) {
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
  const lines = [['image', ...codes.map((c) => `p_${c}`), 'malignancy_score', 'flagged', 'model_version'].join(',')];
  for (const { name, result } of results) {
    lines.push([csvField(name), ...result.probabilities.map((p) => p.toFixed(6)),
      result.malignancyScore.toFixed(6), result.flagged, classifier.metadata.model_version].join(','));
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
  renderResult(name, shown, { width: input.width, height: input.height }, result);
  addSummaryRow(name, result);
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
