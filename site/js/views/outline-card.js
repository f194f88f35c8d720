// A result card's lesion outline (issue #46): the "Show outline" toggle over the heatmap, the "Outline measures"
// block with each measure's meaning and the photo's scale, and what the printed report and the save take of them.
// The photo is measured once, while the classified image is still open (measuredOutline); a scale only changes the
// millimetres (scaledMeasures), so it is applied without measuring again.
import { DataError, MEANINGS, scaledMeasures } from '../inference/lesion-measures.js';
import { drawOutline, measurePhoto } from '../inference/photo-measures.js';
import { el } from '../ui.js';
import { AT_EDGE, measureLines, scaleSentence, touchesEdge } from './measure-text.js';
import { savedDefaultScale, scaleForm } from './scale-form.js';

export const NO_OUTLINE = 'This model draws no outline of the lesion, so there are no outline measures.';

/** What a card keeps of the outline of ``source`` (the whole photo as classified): null without an outline in the
 * model, {problem} when the outline is empty, else measurePhoto's result. */
export function measuredOutline(source, outline) {
  try {
    return measurePhoto(source, outline, null);
  } catch (err) {
    if (err instanceof DataError) return { problem: err.message };
    throw err;
  }
}

/** The scale a new card starts with: the saved default field of view, if any ({scale, scaleFromDefault}). */
export function startingScale() {
  const scale = savedDefaultScale();
  return { scale, scaleFromDefault: scale != null };
}

/** The "Show outline" checkbox for a heatmap whose ``redraw`` draws the outline while it is ticked; null
 * when there is no outline to show. */
export function outlineToggle(measured, redraw) {
  if (!measured?.mask) return null;
  const input = el('input', { type: 'checkbox', class: 'show-outline' });
  input.addEventListener('change', redraw);
  const label = el('label');
  label.append(input, ' Show outline');
  const draw = (canvas) => {
    if (input.checked) drawOutline(canvas, measured.mask);
  };
  return { label, input, draw };
}

/** The measures as the card shows them now: lesionMeasures' figures with the card's scale's millimetres. */
function shownMeasures(item) {
  return { ...item.measured.measures, ...scaledMeasures(item.measured.stored, item.scale) };
}

function figures(item) {
  const box = el('div', { class: 'measure-figures' });
  const m = shownMeasures(item);
  box.dataset.widthPx = String(m.widthPx);
  box.dataset.areaPx = String(m.areaPx);
  box.dataset.diameterPx = String(m.diameterPx);
  if (item.scale) box.dataset.mmAcross = String(item.scale.mmAcross);
  const list = el('dl', { class: 'measure-list' });
  for (const line of measureLines(m)) {
    const value = el('dd', { class: `measure-${line.key}` }, line.value);
    list.append(el('dt', {}, line.name), value, el('dd', { class: 'measure-meaning hint' }, line.meaning));
  }
  box.append(el('p', { class: 'scale-line' }, scaleSentence(item.scale, item.scaleFromDefault)));
  if (touchesEdge(item.measured.mask)) box.append(el('p', { class: 'outline-at-edge warning' }, AT_EDGE));
  box.append(list, el('p', { class: 'measure-not-a-score hint' }, MEANINGS.notAScore));
  return box;
}

/** The "Outline measures" block of ``item``'s card (``photo``: the whole photo's {width, height}); it keeps
 * item.scale and item.scaleFromDefault as the user sets them. */
export function outlineBlock(item, photo) {
  const block = el('section', { class: 'outline-measures', 'aria-label': 'Outline measures' });
  if (!item.measured) {
    block.append(el('p', { class: 'outline-none' }, NO_OUTLINE));
    return block;
  }
  block.append(el('h4', {}, 'Outline measures'));
  if (item.measured.problem) {
    block.append(el('p', { class: 'outline-problem warning' }, item.measured.problem));
    return block;
  }
  let shown = figures(item);
  const form = scaleForm(item.cardId, item.url, photo, (scale) => {
    item.scale = scale;
    item.scaleFromDefault = false;
    const next = figures(item);
    shown.replaceWith(next);
    shown = next;
  });
  block.append(shown, form);
  return block;
}

/** The report's fields of a photo ({outline, measures, scale}: print/report.js) from its card; none without
 * measures. ``square`` is the canvas of the square the heatmap shows. */
export function outlineReportFields(item, square) {
  if (!item.measured?.mask) return {};
  const canvas = el('canvas');
  canvas.width = square.width;
  canvas.height = square.height;
  canvas.getContext('2d').drawImage(square, 0, 0);
  drawOutline(canvas, item.measured.mask);
  return { outline: { src: canvas.toDataURL('image/png') }, measures: shownMeasures(item), scale: item.scale,
    outlineAtEdge: touchesEdge(item.measured.mask) };
}
