// The scale of one photo on its result card (issue #46): the dermatoscope's field of view (mm across the whole
// photo), or two points a known length apart on the whole photo (a ruler is usually outside the centre square the
// model classified), plus a field of view kept on this device as the default for new photos. A value that is no
// scale is named beside its field and nothing is applied: a wrong millimetre figure is worse than none.
import { MAX_FIELD_MM, mmPerPixelFromField, mmPerPixelFromPoints, ScaleError } from '../inference/lesion-measures.js';
import { el } from '../ui.js';
import { mmText } from './measure-text.js';

const DEFAULT_FIELD_KEY = 'lesionlens.defaultFieldOfViewMm';
const FIELD_TOO_WIDE = `A field of view above ${MAX_FIELD_MM} mm is no photo's width: check the number (a ` +
  'dermatoscope sees about 10-25 mm across).';
// the ruler canvas is drawn at most this wide: enough to click single pixels of a phone photo when zoomed
const RULER_CANVAS_MAX = 1600;

/** Millimetres as typed: digits with one optional decimal point or comma, nothing else (no sign, exponent or
 * words: "1e999" and "-3" are typing errors, not scales); NaN otherwise, which the scale rules refuse. */
function typedMm(text) {
  const t = text.trim();
  return /^(\d+([.,]\d*)?|[.,]\d+)$/.test(t) ? Number(t.replace(',', '.')) : NaN;
}

/** The saved default field of view as a scale ({mmAcross, source: 'field'}), or null; a kept value that is no
 * longer a valid scale is dropped rather than applied. */
export function savedDefaultScale() {
  const mm = typedMm(localStorage.getItem(DEFAULT_FIELD_KEY) ?? '');
  if (Number.isFinite(mm) && mm > 0 && mm <= MAX_FIELD_MM) return { mmAcross: mm, source: 'field' };
  localStorage.removeItem(DEFAULT_FIELD_KEY);
  return null;
}

function defaultNote() {
  const saved = savedDefaultScale();
  return saved ? `Saved default for new photos: ${mmText(saved.mmAcross)} mm across (field of view).`
    : 'No saved default: new photos start without a scale.';
}

// A text field with its label and the message box beside it (a live region, present while empty).
function mmField(id, labelText) {
  const input = el('input', { id, type: 'text', inputmode: 'decimal', autocomplete: 'off', size: '6',
    'aria-describedby': `${id}-error` });
  const message = el('span', { class: 'field-error scale-error', id: `${id}-error`, 'aria-live': 'assertive' });
  const show = (text) => {
    message.textContent = text ? `${text} Nothing was applied.` : '';
    input.setAttribute('aria-invalid', String(Boolean(text)));
  };
  return { input, show, nodes: [el('label', { for: id }, labelText), ' ', input, ' mm', message] };
}

/** Runs ``compute`` (which returns a scale or throws ScaleError) and applies its scale, or shows why not. */
function applyChecked(field, compute, apply) {
  let scale;
  try {
    scale = compute();
  } catch (err) {
    if (!(err instanceof ScaleError)) throw err;
    field.show(err.message);
    field.input.focus();
    return;
  }
  field.show('');
  apply(scale);
}

function fieldOfViewPart(prefix, photoWidth, apply) {
  const field = mmField(`${prefix}-fov`, 'Field of view (mm across the whole photo)');
  const keep = el('input', { type: 'checkbox', id: `${prefix}-fov-default` });
  const saved = savedDefaultScale();
  keep.checked = saved != null;
  // a card that starts with the default shows its number, ready to correct for this photo
  if (saved) field.input.value = mmText(saved.mmAcross);
  const note = el('span', { class: 'hint scale-default-note' }, defaultNote());
  const button = el('button', { type: 'button', class: 'secondary apply-field' }, 'Apply field of view');
  button.addEventListener('click', () => applyChecked(field, () => {
    const mm = typedMm(field.input.value);
    mmPerPixelFromField(mm, photoWidth); // the shared rule: a positive number of millimetres
    if (mm > MAX_FIELD_MM) throw new ScaleError(FIELD_TOO_WIDE);
    return { mmAcross: mm, source: 'field' };
  }, (scale) => {
    if (keep.checked) localStorage.setItem(DEFAULT_FIELD_KEY, String(scale.mmAcross));
    else localStorage.removeItem(DEFAULT_FIELD_KEY);
    note.textContent = defaultNote();
    apply(scale);
  }));
  const part = el('div', { class: 'scale-part scale-field' });
  part.append(...field.nodes, el('label', { for: keep.id, class: 'scale-keep' }), ' ', button, note);
  part.querySelector('.scale-keep').append(keep, ' use for new photos');
  return { part, field };
}

// Draws the photo, the two points (a white cross cased in black, visible on any skin or ruler) and the keyboard
// cursor while the photo has the focus.
function drawRuler(canvas, image, photo, points, cursor) {
  const ctx = canvas.getContext('2d');
  const k = canvas.width / photo.width;
  ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  const cross = ([x, y], size) => {
    const cx = (x + 0.5) * k;
    const cy = (y + 0.5) * k;
    for (const [colour, width] of [['#000', 5], ['#fff', 2]]) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.beginPath();
      ctx.moveTo(cx - size, cy);
      ctx.lineTo(cx + size, cy);
      ctx.moveTo(cx, cy - size);
      ctx.lineTo(cx, cy + size);
      ctx.stroke();
    }
  };
  // about 12 px on the screen, however much the layout shrinks the photo (a phone shows it at half size or less)
  const size = (12 * canvas.width) / (canvas.clientWidth || canvas.width);
  points.forEach((p) => cross(p, size));
  if (cursor) {
    ctx.setLineDash([4, 3]);
    cross(cursor, size * 1.5);
    ctx.setLineDash([]);
  }
}

function rulerPart(prefix, photoUrl, photo, apply) {
  const field = mmField(`${prefix}-ruler`, 'Real length between the two points');
  const open = el('button', { type: 'button', class: 'secondary open-ruler', 'aria-expanded': 'false' },
    'Measure on a ruler…');
  const canvas = el('canvas', { class: 'ruler-photo', tabindex: '0', role: 'application',
    'aria-label': 'The whole photo: click two points a known length apart, or move the cross with the arrow keys ' +
      'and press Enter at each point.' });
  const said = el('p', { class: 'ruler-points', 'aria-live': 'polite' }, 'No point placed yet.');
  const button = el('button', { type: 'button', class: 'secondary apply-ruler' }, 'Apply ruler');
  const body = el('div', { class: 'ruler-body' });
  body.hidden = true;
  body.append(el('p', { class: 'hint' }, 'Click the two ends of a known length on the photo (for example the 0 and ' +
    '10 mm ticks of a ruler beside the lesion), then type that length. Keyboard: focus the photo, move the cross ' +
    'with the arrow keys (with Shift: 10 pixels at a time) and press Enter for each point. A third point starts ' +
    'again.'), canvas, said, ...field.nodes, ' ', button);
  const points = [];
  let image = null;
  let cursor = null;
  const redraw = () => image && drawRuler(canvas, image, photo, points, cursor);
  const place = (p) => {
    if (points.length === 2) points.length = 0;
    points.push(p);
    said.textContent = points.map((q, i) => `Point ${i + 1}: x ${q[0]}, y ${q[1]}`).join('; ') +
      (points.length === 1 ? '. Now the other end of the known length.' : ' (photo pixels).');
    redraw();
  };
  open.addEventListener('click', async () => {
    body.hidden = !body.hidden;
    open.setAttribute('aria-expanded', String(!body.hidden));
    if (body.hidden || image) return;
    image = new Image();
    image.src = photoUrl;
    await image.decode();
    const k = Math.min(1, RULER_CANVAS_MAX / photo.width);
    canvas.width = Math.round(photo.width * k);
    canvas.height = Math.round(photo.height * k);
    redraw();
    canvas.dataset.ready = 'true';
  });
  // photo pixel under a click: whole pixels, so that two clicks on one pixel are the same point
  canvas.addEventListener('click', (event) => {
    const k = photo.width / canvas.clientWidth;
    place([Math.min(photo.width - 1, Math.floor(event.offsetX * k)), Math.min(photo.height - 1, Math.floor(event.offsetY * k))]);
  });
  canvas.addEventListener('focus', () => {
    cursor ??= [Math.floor(photo.width / 2), Math.floor(photo.height / 2)];
    redraw();
  });
  canvas.addEventListener('blur', () => {
    cursor = null;
    redraw();
  });
  const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  canvas.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      place([...cursor]);
      return;
    }
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    const step = event.shiftKey ? 10 : 1;
    cursor = [Math.max(0, Math.min(photo.width - 1, cursor[0] + move[0] * step)),
      Math.max(0, Math.min(photo.height - 1, cursor[1] + move[1] * step))];
    redraw();
  });
  button.addEventListener('click', () => applyChecked(field, () => {
    if (points.length < 2) throw new ScaleError('Place two points on the photo first: click both ends of the known length.');
    const mmAcross = mmPerPixelFromPoints(points[0], points[1], typedMm(field.input.value)) * photo.width;
    if (mmAcross > MAX_FIELD_MM) {
      throw new ScaleError(`These points and this length make the photo ${mmText(mmAcross)} mm across, above ` +
        `${MAX_FIELD_MM} mm: check the length and click the points again.`);
    }
    return { mmAcross, source: 'ruler' };
  }, apply));
  const part = el('div', { class: 'scale-part scale-ruler' });
  part.append(open, body);
  return { part, field };
}

/**
 * The scale form of one card: ``prefix`` makes its ids unique, ``photoUrl`` and ``photo`` ({width, height}) are the
 * whole photo as classified, ``onScale(scale or null)`` hears a scale applied or removed.
 */
export function scaleForm(prefix, photoUrl, photo, onScale) {
  const form = el('fieldset', { class: 'scale-form' });
  const fov = fieldOfViewPart(prefix, photo.width, onScale);
  const ruler = rulerPart(prefix, photoUrl, photo, onScale);
  const remove = el('button', { type: 'button', class: 'secondary remove-scale' }, 'Remove the scale');
  remove.addEventListener('click', () => {
    fov.field.show('');
    ruler.field.show('');
    onScale(null);
  });
  form.append(el('legend', {}, 'Scale of this photo'), fov.part, ruler.part, remove);
  return form;
}
