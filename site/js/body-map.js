// The body map (templates/body-map.html.j2): a tap or click on a region picks its HAM10000 body site in the
// list beside it and marks the point; picking in the list highlights that site's regions (and forgets the
// point). My lesions draws each lesion as a dot that links to it. Points are fractions of their figure, so a
// redrawn outline keeps them.

import { svgNode } from './ui.js';

const FIGURE = { width: 160, height: 400 };
const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;

function figureOf(root, view) {
  return root.querySelector(`.figure[data-view="${view}"]`);
}

// Where a click fell inside its figure, in the figure's own units, as fractions.
function pointIn(figure, event) {
  const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(figure.getScreenCTM().inverse());
  return { view: figure.dataset.view, x: round(p.x / FIGURE.width), y: round(p.y / FIGURE.height) };
}

// A point of a figure in the coordinates of the whole drawing (where the dots are drawn).
function drawingXY(root, { view, x, y }) {
  const offset = figureOf(root, view).transform.baseVal.consolidate()?.matrix.e ?? 0;
  return { cx: offset + x * FIGURE.width, cy: y * FIGURE.height };
}

/** The centre of the first region of ``site`` (the front figure first), as a point; null for a site the map
 * does not draw (acral, trunk, unknown). */
export function regionCentre(root, site) {
  const region = [...root.querySelectorAll('.region')].find((r) => r.dataset.site === site);
  if (!region) return null;
  const box = region.getBBox();
  return { view: region.closest('.figure').dataset.view, x: round((box.x + box.width / 2) / FIGURE.width),
    y: round((box.y + box.height / 2) / FIGURE.height) };
}

/** Wires the map ``root`` to the body-site ``select``; ``onPick`` runs after either changes. Returns
 * {point, set(site, point)}. */
export function mapPicker(root, select, onPick = () => {}) {
  let point = null;
  const marker = svgNode('circle', { r: 5, class: 'marker', 'aria-hidden': 'true' });
  const draw = () => {
    for (const r of root.querySelectorAll('.region')) r.classList.toggle('picked', r.dataset.site === select.value);
    marker.remove();
    if (point) {
      const { cx, cy } = drawingXY(root, point);
      marker.setAttribute('cx', cx);
      marker.setAttribute('cy', cy);
      root.querySelector('.dots').append(marker);
    }
    root.dataset.site = select.value;
    root.dataset.point = point ? `${point.view} ${point.x} ${point.y}` : '';
  };
  root.querySelector('svg').addEventListener('click', (event) => {
    const region = event.target.closest('.region');
    if (!region) return;
    select.value = region.dataset.site;
    point = pointIn(region.closest('.figure'), event);
    draw();
    onPick();
  });
  select.addEventListener('change', () => {
    point = null;
    draw();
    onPick();
  });
  draw();
  return {
    get point() {
      return point;
    },
    set(site, at = null) {
      select.value = site;
      point = at;
      draw();
    },
  };
}

/** Draws ``lesions`` ({id, name, site, mapPoint, flagged}) as dots linking to ``href(lesion)``; returns the
 * lesions whose site the map does not draw. Call it while the map is shown (the region centres are measured). */
export function mapDots(root, lesions, href) {
  const offMap = [];
  const dots = lesions.flatMap((lesion) => {
    const at = lesion.mapPoint ?? regionCentre(root, lesion.site);
    if (!at) {
      offMap.push(lesion);
      return [];
    }
    const label = `${lesion.name} (${lesion.site}${lesion.flagged ? ', latest visit above the referral threshold' : ''})`;
    const link = svgNode('a', { href: href(lesion), class: `dot ${lesion.flagged ? 'flagged' : 'low'}`, 'aria-label': label });
    link.dataset.lesionId = lesion.id;
    const title = svgNode('title');
    title.textContent = label;
    link.append(title, svgNode('circle', { ...drawingXY(root, at), r: 6 }));
    return [link];
  });
  root.querySelector('.dots').replaceChildren(...dots);
  return offMap;
}
