// Small DOM helpers the pages share.

export const $ = (id) => document.getElementById(id);

export function percent(p) {
  return `${(p * 100).toFixed(1)}%`;
}

// Malignancy scores and the operating point are always shown with the same three decimals, on every page
// (build.py's ``score`` filter is its twin for the static pages): with two, the shipped threshold 0.2751 read
// 0.28 here and 0.275 on the model card.
export const SCORE_DECIMALS = 3;

/** A malignancy score or referral threshold as text. */
export function score(value) {
  return value.toFixed(SCORE_DECIMALS);
}

export function option(value, text, selected = false) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  o.selected = selected;
  return o;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes. */
export function svgNode(tag, attributes = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

/** An element with text content and attributes (class, type, ...). */
export function el(tag, attributes = {}, text = '') {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

/** An alert paragraph appended to ``container`` (errors and warnings the user must see). */
export function showAlert(container, message, kind = 'error') {
  const alert = el('p', { class: kind, role: 'alert' }, message);
  container.append(alert);
  return alert;
}

/** The codes of the classes whose test figures are too uncertain to judge (a per-class lesion-bootstrap
 * interval wider than 0.3 in any evaluation condition, train/evaluation/intervals.py). */
export function uncertainClasses(metadata) {
  const conditions = Object.values(metadata.metrics?.test ?? {});
  return new Set(conditions.flatMap((m) => Object.entries(m.confidence_intervals?.per_class ?? {})
    .filter(([, ci]) => ci.too_few_images).map(([code]) => code)));
}

/**
 * The probability of every class as a labelled meter, highest first, in one neutral colour: the malignant
 * classes carry a "malignant" mark (text, so it survives black-and-white print and screen readers), and the
 * classes with too few test images to judge a mark that says so. ``codes`` are the classes the result was
 * given in (an older model's result may name classes this model lacks: they show their code alone).
 */
export function probabilityBars(codes, probabilities, metadata) {
  const info = Object.fromEntries(metadata.classes.map((c) => [c.code, c]));
  const uncertain = uncertainClasses(metadata);
  const bars = el('ul', { class: 'bars' });
  const order = probabilities.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]);
  for (const [p, i] of order) {
    const code = codes[i];
    const li = el('li', { class: info[code]?.risk === 'malignant' ? 'malignant' : 'benign' });
    li.dataset.code = code;
    li.dataset.probability = String(p);
    const meter = el('meter', { min: '0', max: '1', 'aria-label': `${info[code]?.name ?? code} probability` });
    meter.value = p;
    const label = el('span', { class: 'label' }, info[code] ? `${code} — ${info[code].name}` : code);
    if (info[code]?.risk === 'malignant') label.append(' ', el('span', { class: 'tag malignant' }, 'malignant'));
    if (uncertain.has(code)) {
      label.append(' ', el('span', { class: 'tag uncertain', title: 'Too few images of this class in the test ' +
        'split to judge how often the model is right about it (see the model card).' }, 'few test images'));
    }
    li.append(label, meter, el('span', { class: 'value' }, percent(p)));
    bars.append(li);
  }
  return bars;
}

export function classNames(metadata) {
  return Object.fromEntries(metadata.classes.map((c) => [c.code, c.name]));
}

/** Ask the user to confirm in a modal <dialog> that has a message <p> and "confirm"/"cancel" buttons. */
export function confirmDialog(dialog, message) {
  dialog.querySelector('.confirm-message').textContent = message;
  return new Promise((resolve) => {
    dialog.onclose = () => resolve(dialog.returnValue === 'confirm');
    dialog.returnValue = '';
    dialog.showModal();
    dialog.querySelector('button[value=cancel]').focus();
  });
}
