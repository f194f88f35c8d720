// The forms of both pages check a record with the schema the reader uses (history-schema.js) before writing
// it: a value the reader would refuse is named beside its field (aria-invalid and a live message, like the
// classify page's age field) and nothing is written, rather than saved and then listed as unreadable.
import { fieldFailure } from './history-schema.js';
import { el } from '../ui.js';

/** Shows ``problem`` beside ``input`` (null clears it), in a message box made once per field. */
export function markField(input, problem) {
  const id = `${input.id}-error`;
  let box = document.getElementById(id);
  if (!box) {
    box = el('span', { class: 'field-error', id, 'aria-live': 'assertive' });
    input.after(box); // a live region stays in place, empty, so that screen readers announce it
    input.setAttribute('aria-describedby', id);
  }
  box.textContent = problem ? `${problem} Nothing was saved.` : '';
  input.setAttribute('aria-invalid', String(Boolean(problem)));
}

/** True when ``record`` (``kind`` 'lesion' or 'entry') has a value the reader would refuse in one of the
 * form's ``inputs`` ({field: input element}): each such field is marked, the others cleared. A refused field
 * without an input is left to the store, which refuses the write with its own message. */
export function refusedInForm(kind, record, inputs) {
  let refused = false;
  for (const [field, input] of Object.entries(inputs)) {
    const must = fieldFailure(kind, field, record[field]);
    markField(input, must && `Needs ${must}.`);
    refused ||= Boolean(must);
  }
  return refused;
}
