// The lesion's size at each visit in My lesions (issue #46): longest diameter (mm) and area (mm²) over time, two
// small SVG charts beside the score chart. A visit without a size in millimetres (no scale, or no outline
// measures) is not plotted but named under the charts, so no visit silently drops out.
import { el, svgNode } from '../ui.js';
import { dayAxis, dayLabels } from './chart-axis.js';
import { MISSING_WORDS } from '../records/visit-sizes.js';

// as wide as the score chart's (320), so that its labels print at the same size; the two stack
const SIZE_W = 320;
const SIZE_H = 130;
const SIZE_PAD = { left: 34, right: 14, top: 24, bottom: 24 };
const SIZE_INSET = 16; // the first and last points sit inside the axes, so their value labels clear the tick labels

// The smallest of 1, 2, 5 x a power of ten at or above ``value``: an axis top that reads as a round number.
function roundTop(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((top) => top >= value);
}

// One measure's chart: ``values`` in ``unit`` at ``days`` (oldest first), each point labelled with its value.
function measureChart(title, unit, days, values) {
  const svg = svgNode('svg', { viewBox: `0 0 ${SIZE_W} ${SIZE_H}`, class: 'chart size-panel', role: 'img' });
  const top = roundTop(Math.max(...values) * 1.15);
  const x = dayAxis(days, SIZE_PAD.left + SIZE_INSET, SIZE_W - SIZE_PAD.right - SIZE_INSET);
  const y = (v) => SIZE_PAD.top + (SIZE_H - SIZE_PAD.top - SIZE_PAD.bottom) * (1 - v / top);
  const heading = svgNode('text', { x: SIZE_PAD.left, y: 12, class: 'axis size-title' });
  heading.textContent = `${title} (${unit})`;
  svg.append(heading);
  for (const v of [0, top / 2, top]) {
    svg.append(svgNode('line', { x1: SIZE_PAD.left, x2: SIZE_W - SIZE_PAD.right, y1: y(v), y2: y(v), class: 'grid' }));
    const label = svgNode('text', { x: SIZE_PAD.left - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' });
    label.textContent = String(v);
    svg.append(label);
  }
  svg.append(svgNode('polyline', { points: values.map((v, i) => `${x(i)},${y(v)}`).join(' '), class: 'size-line' }));
  values.forEach((v, i) => {
    svg.append(svgNode('circle', { cx: x(i), cy: y(v), r: 3, class: 'size-line' }));
    const label = svgNode('text', { x: x(i), y: y(v) - 6, 'text-anchor': 'middle', class: 'axis size-value' });
    label.textContent = v.toFixed(1);
    svg.append(label);
  });
  dayLabels(svg, days, x, SIZE_H - 6);
  svg.setAttribute('aria-label', `${title} in ${unit} at ${values.length} visit(s): ` +
    `${values.map((v, i) => `${v.toFixed(1)} ${unit} on ${days[i]}`).join(', ')}.`);
  return svg;
}

/** ``sized``: [{day, size (visit-sizes.js visitSize)}], oldest first -> the charts of the visits with a size and
 * the names of those without one. */
export function sizeChart(sized) {
  const plotted = sized.filter((v) => !v.size.missing);
  const unplotted = sized.filter((v) => v.size.missing);
  const box = el('div', { class: 'size-charts' });
  if (plotted.length) {
    const days = plotted.map((v) => v.day);
    box.append(
      measureChart('Longest diameter', 'mm', days, plotted.map((v) => v.size.measures.diameterMm)),
      measureChart('Area', 'mm²', days, plotted.map((v) => v.size.measures.areaMm2)));
  } else {
    box.append(el('p', { class: 'size-none' }, 'No visit has a size in millimetres yet: give a photo its scale (the ' +
      'field of view, mm across the photo) below it in the timeline.'));
  }
  if (unplotted.length) {
    box.append(el('p', { class: 'size-unplotted' }, `Not plotted: ${unplotted.map((v) => `${v.day} ` +
      `(${MISSING_WORDS[v.size.missing]})`).join('; ')}.`));
  }
  const partly = plotted.filter((v) => v.size.sized < v.size.photos);
  if (partly.length) {
    box.append(el('p', { class: 'size-partly' }, `Sized from some photos only: ${partly.map((v) => `${v.day} ` +
      `(median of ${v.size.sized} of its ${v.size.photos} photos)`).join('; ')}.`));
  }
  return box;
}
