// A saved photo's scale in My lesions (issue #46): the field of view, millimetres across the whole photo, which
// photos saved before scales (or without one) can be given later, and removed again. The value is checked by the
// schema the reader applies (history-schema.js) before anything is written; a refused one is named beside the
// field and nothing is saved.
import { markField } from '../records/form-check.js';
import { fieldFailure } from '../records/history-schema.js';
import { MAX_FIELD_MM } from '../inference/lesion-measures.js';
import { MISSING_WORDS, photoSize, sizeText } from '../records/visit-sizes.js';
import { el } from '../ui.js';

const FIELD_MESSAGE = 'Enter the field of view as a number of millimetres across the whole photo, above 0 and at ' +
  `most ${MAX_FIELD_MM} (a dermatoscope sees about 10-25 mm), e.g. 18 or 18.5.`;

// Only a plain decimal: Number() would also read "", "  ", "0x10" and "1e3" as numbers a clinician did not type.
function typedMm(text) {
  const trimmed = text.trim();
  return /^(?:\d+\.?\d*|\.\d+)$/.test(trimmed) ? Number(trimmed) : NaN;
}

// What the outline measured on this photo, in millimetres when it has a scale.
function sizeHint(entry) {
  const { measures, missing } = photoSize(entry);
  if (!missing) return `Outline: ${sizeText(measures)}.`;
  return missing === 'scale' ? `Outline: ${measures.diameterPx.toFixed(0)} px across (${MISSING_WORDS.scale}).`
    : `No size: ${MISSING_WORDS.measures} (scored before outlines were measured, or by a model without one).`;
}

/** The scale field of ``entry``; ``save(updated, message)`` writes the entry with its new scale (or none). */
export function scaleField(entry, save) {
  const input = el('input', { type: 'text', inputmode: 'decimal', size: '6', id: `scale-${entry.id}`,
    class: 'entry-scale', autocomplete: 'off' });
  // a ruler's scale is a long decimal: two places are what a field of view is read to
  input.value = entry.scale ? String(Number(entry.scale.mmAcross.toFixed(2))) : '';
  const { scale: _old, ...rest } = entry;
  input.addEventListener('change', () => {
    const mmAcross = typedMm(input.value);
    const scale = { mmAcross, source: 'field' };
    if (fieldFailure('entry', 'scale', scale)) {
      markField(input, FIELD_MESSAGE);
      return;
    }
    markField(input, null);
    save({ ...rest, scale }, `Scale of the photo of ${entry.taken} saved: ${mmAcross} mm across the photo.`);
  });
  const p = el('p', { class: 'entry-scale-row' });
  const ruler = entry.scale?.source === 'ruler' ? ' (measured on a ruler in the photo)' : '';
  p.append(el('label', { for: input.id }, 'Field of view '), input, el('span', { class: 'hint' }, ` mm across the photo${ruler}`));
  if (entry.scale) {
    const remove = el('button', { type: 'button', class: 'secondary remove-scale' }, 'Remove the scale');
    remove.addEventListener('click', () => save(rest, `Scale of the photo of ${entry.taken} removed: its sizes are ` +
      'in pixels again.'));
    p.append(' ', remove);
  }
  p.append(el('span', { class: 'hint entry-size' }, ` ${sizeHint(entry)}`));
  return p;
}
