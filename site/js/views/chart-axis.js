// The time axis the lesion view's charts share (score-chart.js, size-chart.js): visits placed by their dates,
// and the first and last dates written under the chart.
import { svgNode } from '../ui.js';

/** x of the i-th of ``days`` ('YYYY-MM-DD', oldest first) between ``left`` and ``right``. */
export function dayAxis(days, left, right) {
  const times = days.map((d) => Date.parse(d));
  const first = Math.min(...times);
  const span = Math.max(...times) - first;
  // photos of the same day are spread evenly instead of stacking on one x
  return (i) => left + (right - left)
    * (days.length === 1 ? 0.5 : span ? (times[i] - first) / span : i / (days.length - 1));
}

/** The first and last of ``days`` as labels at height ``y`` under their points (x from dayAxis). */
export function dayLabels(svg, days, x, y) {
  for (const i of new Set([0, days.length - 1])) {
    // the first date starts at its point and the last ends at its own, so neither sticks out of the chart
    const anchor = days.length === 1 ? 'middle' : i === 0 ? 'start' : 'end';
    const label = svgNode('text', { x: x(i), y, 'text-anchor': anchor, class: 'axis' });
    label.textContent = days[i];
    svg.append(label);
  }
}
