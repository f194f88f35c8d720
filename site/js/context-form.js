// The classify page's patient context: age, sex and body site (a list, and the body map beside it), each
// optional. A value that cannot be kept gets its message next to its field, and the action that wanted it
// (save, print, CSV) stops: nothing is kept with a bad value.
import { mapPicker } from './body-map.js';
import { ContextProblem, parseAge, parseSex, sexOptions } from './patient.js';
import { $, option } from './ui.js';

const FIELDS = ['age', 'sex'];
let picker = null;

function mark(field, message) {
  const box = $(`patient-${field}-error`);
  box.textContent = message ?? ''; // a live region stays in place, empty, so that screen readers announce it
  $(`patient-${field}`).setAttribute('aria-invalid', String(Boolean(message)));
}

function read() {
  const site = $('patient-site').value;
  const known = site !== 'unknown';
  return { age: parseAge($('patient-age').value), sex: parseSex($('patient-sex').value), site: known ? site : null,
    part: known ? picker.part : null, mapPoint: known ? picker.point : null };
}

/** Fills the site list with the model's ``sites`` and wires the fields; ``onChange`` runs after any change. */
export function wireContextForm(sites, onChange) {
  $('patient-site').replaceChildren(...sites.map((s) => option(s, s === 'unknown' ? 'unknown (not given)' : s,
    s === 'unknown')));
  $('patient-sex').replaceChildren(...sexOptions());
  picker = mapPicker($('patient-map'), $('patient-site'), onChange);
  $('patient-age').addEventListener('input', () => {
    try {
      parseAge($('patient-age').value);
      mark('age', null);
    } catch (err) {
      if (!(err instanceof ContextProblem)) throw err;
      mark('age', err.message);
    }
    onChange();
  });
  $('patient-sex').addEventListener('change', onChange);
}

/** The context as given ({age, sex, site, part, mapPoint}, null where unknown; part: the map's side and part). A value that cannot be kept throws
 * ContextProblem, after showing its message next to the field and moving the focus there. */
export function currentContext() {
  try {
    const context = read();
    FIELDS.forEach((f) => mark(f, null));
    return context;
  } catch (err) {
    if (err instanceof ContextProblem) {
      mark(err.field, err.message);
      $(`patient-${err.field}`).focus();
    }
    throw err;
  }
}

/** The context for showing beside results, or null while a field holds a value that cannot be kept. */
export function shownContext() {
  try {
    return read();
  } catch (err) {
    if (err instanceof ContextProblem) return null;
    throw err;
  }
}

/** A new lesion starts with an unknown site; age and sex stay (the same patient). */
export function resetSite() {
  picker.set('unknown');
}
