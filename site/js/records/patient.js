// The patient context a clinician may give with a photo: age (years), sex and the lesion's body site. Each is
// optional, and "unknown" is a value of its own, never a guess: an empty age, sex "unknown" and site "unknown"
// are stored as absent. Nothing here leaves the device.
import { option } from '../ui.js';

export const SEXES = ['female', 'male'];
export const MAX_AGE = 120;

/** A value the user typed that cannot be kept; ``field`` names the input it belongs to. */
export class ContextProblem extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

/** The age in ``text`` as whole years, or null when empty (unknown); ContextProblem otherwise. */
export function parseAge(text) {
  const value = String(text ?? '').trim();
  if (!value) return null;
  if (!/^\d{1,3}$/.test(value) || Number(value) > MAX_AGE) {
    throw new ContextProblem('age', `Age “${value}” is not a whole number of years from 0 to ${MAX_AGE}. Correct it, ` +
      'or leave it empty if unknown.');
  }
  return Number(value);
}

/** The sex as stored: one of SEXES, or null for unknown. */
export function parseSex(value) {
  if (!value || value === 'unknown') return null;
  if (!SEXES.includes(value)) throw new ContextProblem('sex', `Sex “${value}” is not one of ${SEXES.join(', ')} or unknown.`);
  return value;
}

/** The options of a sex list: unknown first (and chosen unless ``chosen`` is one of SEXES). */
export function sexOptions(chosen = null) {
  return [option('unknown', 'unknown (not given)', !SEXES.includes(chosen)), ...SEXES.map((s) => option(s, s, s === chosen))];
}

export function isAge(value) {
  return Number.isInteger(value) && value >= 0 && value <= MAX_AGE;
}

/** "upper extremity (left forearm)": the HAM10000 site the model knows, and beside it the body map's region
 * (side and part) when one was picked. */
export function siteText(site, part = null) {
  return `${site}${part && part !== site ? ` (${part})` : ''}`;
}

/** "54 years", "female", "upper extremity (left forearm)" with "not given" for what is unknown: how every page and
 * report says it. */
export function contextParts({ age = null, sex = null, site = null, part = null } = {}) {
  return {
    age: age == null ? 'not given' : `${age} years`,
    sex: sex ?? 'not given',
    site: site && site !== 'unknown' ? siteText(site, part) : 'not given',
  };
}

/** One line, e.g. "Patient: age 54 years, sex female · body site: back"; ``who`` names the patient ("Patient
 * P-1001 (Jane Doe): age ..."). */
export function contextLine(context, who = null) {
  const parts = contextParts(context);
  return `Patient${who ? ` ${who}` : ''}: age ${parts.age}, sex ${parts.sex} · body site: ${parts.site}`;
}
