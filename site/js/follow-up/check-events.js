// The follow-up checks as calendar events (calendar.js writes the file). A calendar file is imported into
// calendars that sync to cloud services, so by default an event names no patient: a neutral title and the
// lesion's short label; the patient ID only when the user ticks the box for it, the patient's name never.
// And an event whose reminder time has passed never alerts: a check that is overdue (or due today, after the
// reminder hour) becomes an event on the first day whose reminder is still ahead, titled as overdue since its date.
import { REMINDER_HOUR } from './calendar.js';
import { nextDay } from './follow-up.js';
import { today } from '../records/history-records.js';
import { siteText } from '../records/patient.js';

const LABEL_LENGTH = 40;

const words = (text) => text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().split(/[^\p{L}\p{N}]+/u)
  .filter(Boolean);

// The lesion's name, shortened; its body site instead when the name holds the patient's ID or a word of their
// name ("Smith's back mole" would carry the patient into the calendar).
function calendarLabel(lesion, patient) {
  const name = words(lesion.name);
  const id = patient && words(patient.patientId).join(' ');
  const identifying = patient && ((id && ` ${name.join(' ')} `.includes(` ${id} `))
    || words(patient.name ?? '').some((w) => w.length > 1 && name.includes(w)));
  const label = identifying ? siteText(lesion.site, lesion.bodyPart) : lesion.name;
  const chars = [...label];
  return chars.length > LABEL_LENGTH ? `${chars.slice(0, LABEL_LENGTH - 1).join('')}…` : label;
}

/** The day a check of ``checkDay`` goes in the calendar at ``now``: its own, or, when its reminder is past,
 * the first day whose reminder (REMINDER_HOUR, local time) is still ahead. */
function alertDay(checkDay, now = new Date()) {
  const first = now.getHours() < REMINDER_HOUR ? today(now) : nextDay(today(now));
  return checkDay >= first ? checkDay : first;
}

/** The events ({uid, day, summary, description}) of ``checks`` ([{lesion, patient (null: none)}], lesions
 * with a next check); ``withId``: each event carries its patient's ID. */
export function checkEvents(checks, { withId = false, now = new Date() } = {}) {
  return checks.map(({ lesion, patient }) => {
    const day = alertDay(lesion.nextCheck, now);
    const late = day !== lesion.nextCheck;
    const label = calendarLabel(lesion, patient);
    const who = withId && patient ? ` (patient ${patient.patientId})` : '';
    return {
      uid: `${lesion.id}@lesionlens`,
      day,
      summary: `${late ? `Skin check overdue since ${lesion.nextCheck}` : 'Skin check'}: ${label}${who}`,
      description: `${late ? 'Overdue check' : 'Next check'} of “${label}” (body site: ${lesion.site})${who}, ` +
        `${late ? 'due since' : 'on'} ${lesion.nextCheck}, set in LesionLens, My lesions. Its photos and results ` +
        'stay in that browser.',
    };
  });
}
