// The size part of the compare view (two photos or two visits of one lesion): both sizes with their change in mm
// and %, and the growth line (visit-sizes.js sizeChange), or why the sizes cannot be compared.
import { el } from '../ui.js';

/** ``change``: a sizeChange result. */
export function sizeChangeBox(change) {
  const box = el('div', { class: `size-change${change.flagged ? ' growth-flagged' : ''}` });
  box.dataset.comparable = String(change.comparable);
  box.dataset.flagged = String(change.flagged);
  box.append(el('h3', {}, 'Size, from the model\'s outline'));
  if (change.lines.length) {
    const list = el('ul');
    list.append(...change.lines.map((line) => el('li', {}, `${line}.`)));
    box.append(list);
  }
  // the verdict stands out (red when flagged); its meaning and source follow in plain text, on the same line
  const line = el('p', { class: 'growth-line' });
  line.append(el('strong', { class: change.flagged ? 'change-flag' : '' }, change.verdict), ` ${change.detail}`);
  box.append(line);
  return box;
}
