// Age, sex and body site folded into the image's estimate by what training fitted (metadata.context,
// train/context/fusion.py): fused = softmax((log p + weight * (log q(c|context) - log q(c|nothing))) / temperature),
// q a logistic regression on the one-hot context. With no context at all the image's result is returned as it
// is, not recomputed: the same numbers. Only a fusion that passed its ship rule (metadata.context.ship) may change
// what the page shows.
import { ContextProblem, isAge } from '../records/patient.js';

// The same floor as the Python side: a float32 probability that underflowed to 0 must not give -Infinity.
const SMALLEST_PROBABILITY = 1e-12;

const logSoftmax = (values) => {
  const top = Math.max(...values);
  const total = values.reduce((s, v) => s + Math.exp(v - top), 0);
  return values.map((v) => v - top - Math.log(total));
};

/** The fields of ``context`` that are given, in the fusion's order (age, sex, site). */
export function givenFields({ age = null, sex = null, site = null } = {}) {
  return Object.entries({ age, sex, site }).filter(([, v]) => v != null && v !== 'unknown').map(([k]) => k);
}

/** The one-hot features of ``context`` ({age, sex, site}, null where unknown) in the fusion's ``encoding``;
 * ContextProblem for a value it cannot use, never a nearby guess. */
export function contextFeatures(context, encoding) {
  const ages = encoding.age_edges.length + 1;
  const row = new Array(ages + encoding.sexes.length + encoding.sites.length).fill(0);
  const given = givenFields(context);
  if (given.includes('age')) {
    if (!isAge(context.age)) throw new ContextProblem('age', `Age “${context.age}” is not a whole number of years from 0 to ${encoding.max_age}.`);
    row[encoding.age_edges.filter((edge) => edge <= context.age).length] = 1;
  }
  if (given.includes('sex')) {
    const i = encoding.sexes.indexOf(context.sex);
    if (i < 0) throw new ContextProblem('sex', `Sex “${context.sex}” is not one of ${encoding.sexes.join(', ')} or unknown.`);
    row[ages + i] = 1;
  }
  if (given.includes('site')) {
    const i = encoding.sites.indexOf(context.site);
    if (i < 0) {
      throw new ContextProblem('site', `Body site “${context.site}” is not one the training data has; choose one of ` +
        `${encoding.sites.join(', ')}, or unknown.`);
    }
    row[ages + encoding.sexes.length + i] = 1;
  }
  return row;
}

/** ``probabilities`` (the image's calibrated ones) with ``context`` folded in by ``fusion`` (metadata.context);
 * the same array when no field is given. */
export function fuseContext(probabilities, context, fusion) {
  if (!givenFields(context).length) return probabilities;
  const x = contextFeatures(context, fusion.encoding);
  const scores = fusion.coefficients.map((row, c) => fusion.intercept[c] + row.reduce((s, w, j) => s + w * x[j], 0));
  const evidence = logSoftmax(scores);
  const nothing = logSoftmax(fusion.intercept);
  const z = probabilities.map((p, c) =>
    (Math.log(Math.max(p, SMALLEST_PROBABILITY)) + fusion.weight * (evidence[c] - nothing[c])) / fusion.temperature);
  return logSoftmax(z).map(Math.exp);
}
