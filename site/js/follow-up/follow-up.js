// When to look at a lesion again: a "next check" date per lesion, the quick picks, and which lesions are due.
// Days are local calendar days as YYYY-MM-DD text, like the photos' dates.

export const FOLLOW_UP_MONTHS = [3, 6, 12];

/** ``day`` plus ``months`` calendar months; the 31st of a shorter month becomes its last day. */
export function addMonths(day, months) {
  const [y, m, d] = day.split('-').map(Number);
  const first = new Date(Date.UTC(y, m - 1 + months, 1));
  const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  first.setUTCDate(Math.min(d, last));
  return first.toISOString().slice(0, 10);
}

/** 'overdue' (before today), 'due' (today), 'later', or null without a date. */
export function dueState(nextCheck, today) {
  if (!nextCheck) return null;
  if (nextCheck < today) return 'overdue';
  return nextCheck === today ? 'due' : 'later';
}

/** The day after ``day`` (an all-day event ends the next day, RFC 5545 3.6.1). */
export function nextDay(day) {
  const [y, m, d] = day.split('-').map(Number);
  const next = new Date(0);
  next.setUTCFullYear(y, m - 1, d + 1); // Date.UTC would read year 50 as 1950
  return next.toISOString().slice(0, 10);
}
