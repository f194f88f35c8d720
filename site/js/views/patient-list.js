// The patients of My lesions: the list (one item per patient, and one for the lesions of no patient) with its
// search by ID or name, and the trail at the top of a patient's, a lesion's or a comparison's view that says
// whose record it shows and leads back.
import { dueState } from '../follow-up/follow-up.js';
import { ageFromBirthYear, patientLabel, patientMatches, UNASSIGNED } from '../records/patient-record.js';
import { el } from '../ui.js';

/** The address of a patient's view (null: the lesions of no patient). */
export function patientHref(patient) {
  return patient ? `#patient/${patient.id}` : '#unassigned';
}

/** "born 1970, 55–56 years old" of a patient with a year of birth, else null. */
export function bornText(patient) {
  return patient?.birthYear ? `born ${patient.birthYear}, ${ageFromBirthYear(patient.birthYear)} old` : null;
}

/** One item of the list: ``group`` {patient (null: Unassigned), lesions}; ``day`` is today. */
export function patientItem({ patient, lesions }, day) {
  const li = el('li', { class: 'patient-item' });
  li.dataset.patient = patient?.id ?? '';
  li.append(el('a', { href: patientHref(patient), class: 'user-text patient-link' }, patient ? patient.patientId : UNASSIGNED));
  if (patient?.name) li.append(' ', el('span', { class: 'user-text patient-name' }, patient.name));
  const due = lesions.filter((l) => ['due', 'overdue'].includes(dueState(l.nextCheck, day))).length;
  const facts = [patient ? bornText(patient) : 'lesions saved without a patient ID', `${lesions.length} lesion(s)`,
    due ? `${due} check(s) due or overdue` : null].filter(Boolean);
  li.append(el('span', { class: `patient-facts${due ? ' due' : ''}` }, ` — ${facts.join(' · ')}`));
  return li;
}

/** Shows the items of ``list`` whose patient matches ``query`` (all when empty); returns how many are shown.
 * ``groups`` are the items' groups, in order. */
export function filterPatients(list, groups, query) {
  let shown = 0;
  [...list.children].forEach((li, i) => {
    const { patient } = groups[i];
    li.hidden = !(patient ? patientMatches(patient, query) : patientMatches({ patientId: UNASSIGNED }, query));
    shown += li.hidden ? 0 : 1;
  });
  return shown;
}

/** Fills ``nav`` with "All patients › Patient P-1001 (Jane Doe, born 1970) › ...": ``patient`` (null: Unassigned),
 * then ``trail`` [{text, href}] (the last one is the view shown, not a link). */
export function showCrumbs(nav, patient, trail = []) {
  const steps = [{ text: 'All patients', href: '#' },
    { text: patient ? `Patient ${patientLabel(patient)}` : `${UNASSIGNED} (no patient ID)`, href: patientHref(patient) },
    ...trail];
  nav.replaceChildren(...steps.flatMap(({ text, href }, i) => {
    const last = i === steps.length - 1;
    const step = last ? el('span', { class: 'user-text', 'aria-current': 'page' }, text)
      : el('a', { href, class: 'user-text' }, text);
    return i ? [' › ', step] : [step];
  }));
  nav.hidden = false;
}
