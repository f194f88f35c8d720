// A minimal iCalendar (RFC 5545) writer for the follow-up dates, so that each reminder lives in the user's own
// calendar, not on a server. Hand-written because the page loads nothing from outside and has no build step:
// the browser iCalendar libraries (ical.js) are parsers first and weigh more than this page's own code; the
// writer needs only all-day events. Tested against the Python `icalendar` parser.
import { nextDay } from './follow-up.js';
import { isCalendarDay } from '../records/history-schema.js';

const CRLF = '\r\n';
/** The local hour of the day on which an event's reminder fires. */
export const REMINDER_HOUR = 9;
const MAX_OCTETS = 75; // 3.1: lines longer than 75 octets are folded

// 3.3.11: backslash, semicolon, comma and line breaks (a bare CR too) are escaped in TEXT values; 3.1 allows
// no other control character in a content line (NUL, VT, FF, ESC, DEL...): they are dropped, or a parser that
// breaks lines at one would read what follows it as a property of its own (an injected ATTACH:)
function text(value) {
  return String(value).replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,')
    .replace(/\r\n|\r|\n/g, '\\n')
    .replace(/[\x00-\x08\x0B-\x1F\x7F]/g, '');
}

// 3.1: fold at 75 octets of UTF-8, never inside a character; each continuation starts with one space
function fold(line) {
  const encoder = new TextEncoder();
  const out = [];
  let current = '';
  let octets = 0;
  for (const ch of line) {
    const size = encoder.encode(ch).length;
    const limit = out.length ? MAX_OCTETS - 1 : MAX_OCTETS;
    if (octets + size > limit) {
      out.push(current);
      current = '';
      octets = 0;
    }
    current += ch;
    octets += size;
  }
  out.push(current);
  return out.join(`${CRLF} `);
}

const compactDay = (day) => day.replaceAll('-', '');
const stamp = (date) => `${date.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;

/** The .ics text of ``events`` ({uid, day, summary, description}), one all-day event each, with a reminder
 * at REMINDER_HOUR on the day. */
export function icsCalendar(events, now = new Date()) {
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//LesionLens//Follow-up checks//EN', 'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH'];
  for (const event of events) {
    // a DATE is four digits of year (3.3.4); the schema's range keeps the next day one too
    if (!isCalendarDay(event.day)) throw new Error(`“${event.summary}” has no real check date (${event.day}): set it again.`);
    lines.push('BEGIN:VEVENT', `UID:${text(event.uid)}`, `DTSTAMP:${stamp(now)}`,
      `DTSTART;VALUE=DATE:${compactDay(event.day)}`, `DTEND;VALUE=DATE:${compactDay(nextDay(event.day))}`,
      `SUMMARY:${text(event.summary)}`, `DESCRIPTION:${text(event.description)}`, 'TRANSP:TRANSPARENT',
      'BEGIN:VALARM', 'ACTION:DISPLAY', `TRIGGER:PT${REMINDER_HOUR}H`, `DESCRIPTION:${text(event.summary)}`, 'END:VALARM',
      'END:VEVENT');
  }
  lines.push('END:VCALENDAR');
  return lines.map(fold).join(CRLF) + CRLF;
}
