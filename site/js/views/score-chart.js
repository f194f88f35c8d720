// A small SVG line chart of a lesion's scores over time, with the referral threshold as a line.
import { score, svgNode } from '../ui.js';
import { dayAxis, dayLabels } from './chart-axis.js';

const W = 320;
const H = 160;
const PAD = { left: 30, right: 10, top: 10, bottom: 24 };

// Runs of consecutive points with the same top class: the top-class line is drawn per run, so it never joins
// the probability of one class to another's.
function classRuns(points) {
  const runs = [];
  points.forEach((p, i) => {
    if (i && p.code === points[i - 1].code) runs.at(-1).push(i);
    else runs.push([i]);
  });
  return runs;
}

/** ``points``: [{day: 'YYYY-MM-DD', score, top, code}] oldest first (``top``: the probability of the top class
 * ``code``); ``threshold``: the referral threshold. */
export function scoreChart(points, threshold) {
  const svg = svgNode('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img' });
  const x = dayAxis(points.map((p) => p.day), PAD.left, W - PAD.right);
  const y = (v) => PAD.top + (H - PAD.top - PAD.bottom) * (1 - v);
  for (const v of [0, 0.5, 1]) {
    svg.append(svgNode('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: 'grid' }));
    const label = svgNode('text', { x: PAD.left - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' });
    label.textContent = v.toFixed(1);
    svg.append(label);
  }
  svg.append(svgNode('line', { x1: PAD.left, x2: W - PAD.right, y1: y(threshold), y2: y(threshold), class: 'operating-point' }));
  svg.append(svgNode('polyline', { points: points.map((p, i) => `${x(i)},${y(p.score)}`).join(' '), class: 'score-line' }));
  points.forEach((p, i) => svg.append(svgNode('circle', { cx: x(i), cy: y(p.score), r: 3, class: 'score-line' })));
  const runs = classRuns(points);
  for (const run of runs) {
    svg.append(svgNode('polyline', { points: run.map((i) => `${x(i)},${y(points[i].top)}`).join(' '), class: 'top-line' }));
    run.forEach((i) => svg.append(svgNode('circle', { cx: x(i), cy: y(points[i].top), r: 3, class: 'top-line' })));
    // right of its point in the chart's left half, left of it in the right half: inside the chart either way
    const right = x(run[0]) < W / 2;
    const label = svgNode('text', { x: x(run[0]) + (right ? 4 : -4), y: y(points[run[0]].top) - 5,
      'text-anchor': right ? 'start' : 'end', class: 'axis class-label' });
    label.textContent = points[run[0]].code;
    svg.append(label);
  }
  dayLabels(svg, points.map((p) => p.day), x, H - 6);
  const last = points[points.length - 1];
  svg.setAttribute('aria-label', `Malignancy score over ${points.length} photo(s), from ` +
    `${score(points[0].score)} on ${points[0].day} to ${score(last.score)} on ${last.day}; referral threshold ` +
    `${score(threshold)}. Top class ${runs.length > 1 ? `changed: ${runs.map((r) => points[r[0]].code).join(' → ')}`
      : `${points[0].code} throughout`}.`);
  svg.dataset.classRuns = String(runs.length);
  return svg;
}
