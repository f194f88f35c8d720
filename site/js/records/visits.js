// A visit is the photos of one lesion saved with the same date. Its answer combines them by the rule
// training chose (combine.js); the timeline, the chart and the comparison read visits, not single photos.
import { combineResults } from '../inference/combine.js';
import { latestResult, resultBy } from './history-records.js';

/** ``entries`` -> [{day, entries}], newest visit first. */
export function visitsOf(entries) {
  const byDay = new Map();
  for (const entry of entries) byDay.set(entry.taken, [...(byDay.get(entry.taken) ?? []), entry]);
  return [...byDay].map(([day, list]) => ({ day, entries: list })).sort((a, b) => b.day.localeCompare(a.day));
}

/** The results to compare or combine for each group of entries (oldest group first): all by the newest model
 * that scored every one of them (a like-for-like answer), else each photo's newest result. */
export function comparableRecords(groups) {
  const all = groups.flat();
  const version = [...all.at(-1).results].reverse().map((r) => r.modelVersion)
    .find((v) => all.every((entry) => resultBy(entry, v)));
  return {
    records: groups.map((group) => group.map((entry) => (version ? resultBy(entry, version) : latestResult(entry)))),
    sameModel: Boolean(version),
  };
}

/** One visit's answer from its photos' results (one photo: its own result). */
export function visitResult(records, metadata) {
  const [first] = records;
  const result = combineResults(records, metadata.combination.rule, first.classes,
    { classes: metadata.operating_point.classes, threshold: first.threshold });
  const versions = [...new Set(records.map((r) => r.modelVersion))];
  return { ...result, classes: first.classes, modelVersion: versions.join(', ') };
}
