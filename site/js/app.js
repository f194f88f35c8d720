// The classify page: wires file picker, drag-and-drop and paste to the inference core and renders results.
import { decodeImage, ImageDecodeError, loadClassifier } from './classifier.js';

const $ = (id) => document.getElementById(id);
const results = [];
let classifier;

function showError(message) {
  const alert = document.createElement('p');
  alert.className = 'error';
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

function renderResult(name, url, result) {
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
  foot.textContent = `Not a diagnosis. Model ${metadata.model_version}, backend ${classifier.backend}` +
    `${classifier.simd ? ' (SIMD)' : ''}, computed on this device.`;
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

async function classifyFile(file) {
  const name = file.name || 'pasted image';
  if (file.size === 0) {
    showError(`${name}: the file is empty (0 bytes). Choose the photo again.`);
    return;
  }
  let bitmap;
  try {
    bitmap = await decodeImage(file);
  } catch (err) {
    if (!(err instanceof ImageDecodeError)) throw err;
    showError(`${name}: this is not an image this browser can read. Use a JPEG or PNG photo.`);
    return;
  }
  try {
    const result = await classifier.classify(bitmap);
    renderResult(name, URL.createObjectURL(file), result);
    addSummaryRow(name, result);
  } finally {
    bitmap.close();
  }
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

function wireInputs() {
  $('file-input').addEventListener('change', (event) => {
    classifyFiles([...event.target.files]);
    event.target.value = '';
  });
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
  zone.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      $('file-input').click();
    }
  });
  document.addEventListener('paste', (event) => {
    const files = [...event.clipboardData.files];
    if (files.length) classifyFiles(files);
  });
  $('download-csv').addEventListener('click', downloadCsv);
}

async function start() {
  wireInputs();
  try {
    classifier = await loadClassifier({ modelUrl: 'model/', vendorUrl: 'vendor/tfjs/' });
    const m = classifier.metadata;
    $('status').textContent = `Model ${m.model_version} ready (backend ${classifier.backend}` +
      `${classifier.simd ? ' with SIMD' : ''}). Your images stay on this device.`;
    document.body.dataset.ready = 'true';
  } catch (err) {
    $('status').textContent = 'The model could not be loaded.';
    showError(err.message);
  }
}

start();
