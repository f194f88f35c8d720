// Small DOM helpers the pages share.

export const $ = (id) => document.getElementById(id);

export function percent(p) {
  return `${(p * 100).toFixed(1)}%`;
}

export function option(value, text, selected = false) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  o.selected = selected;
  return o;
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

/**
 * The probability of every class as a labelled meter, highest first. ``names`` maps a class code to its
 * display name (codes without one, e.g. from an older model, show the code alone).
 */
export function probabilityBars(codes, probabilities, names) {
  const bars = el('ul', { class: 'bars' });
  const order = probabilities.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]);
  for (const [p, i] of order) {
    const code = codes[i];
    const li = el('li');
    li.dataset.code = code;
    li.dataset.probability = String(p);
    const meter = el('meter', { min: '0', max: '1', 'aria-label': `${names[code] ?? code} probability` });
    meter.value = p;
    li.append(el('span', { class: 'label' }, names[code] ? `${code} — ${names[code]}` : code), meter,
      el('span', { class: 'value' }, percent(p)));
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
