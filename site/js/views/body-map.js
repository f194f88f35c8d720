// The body map (templates/body-map.html.j2): a tap, click or key press on a region picks its HAM10000 body site
// in the list beside it, marks the point and keeps the region itself (side and part: "left forearm", which the
// coarser HAM10000 site "upper extremity" loses); picking in the list highlights that site's regions (and forgets
// the point). My lesions draws each lesion as a dot that links to it. Points are fractions of their figure, so a
// redrawn outline keeps them, and the region a stored point falls in gives back its side and part.

import { siteText } from '../records/patient.js';
import { svgNode } from '../ui.js';

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

// A region's outline as a canvas path: hit-testing on a canvas works for a map that is not shown (the lesion
// form's map sits in a closed <details>), where SVG's own isPointInFill and getBBox see nothing.
const probe = document.createElement('canvas').getContext('2d');

function outline(region) {
  if (region.tagName === 'path') return new Path2D(region.getAttribute('d'));
  const n = (name) => Number(region.getAttribute(name));
  const shape = new Path2D();
  if (region.tagName === 'rect') shape.rect(n('x'), n('y'), n('width'), n('height'));
  else shape.ellipse(n('cx'), n('cy'), n('rx'), n('ry'), 0, 0, 2 * Math.PI);
  return shape;
}

/** The region that ``point`` ({view, x, y}) falls in, the one drawn on top where regions overlap; null off the
 * drawing. */
export function regionAt(root, point) {
  if (!point) return null;
  const regions = [...figureOf(root, point.view).querySelectorAll('.region')];
  return regions.reverse().find((r) => probe.isPointInPath(outline(r), point.x * FIGURE.width,
    point.y * FIGURE.height)) ?? null;
}

/** The side and part ("left forearm") of a map point stored with ``site``, or null (no point, or one whose
 * region is not of that site). */
export function mapPart(root, point, site) {
  const region = regionAt(root, point);
  return region?.dataset.site === site ? region.dataset.part : null;
}

/** The centre of the first region of ``site`` (the front figure first), as a point; null for a site the map
 * does not draw (acral, trunk, unknown). */
export function regionCentre(root, site) {
  const region = [...root.querySelectorAll('.region')].find((r) => r.dataset.site === site);
  return region ? centreOf(region) : null;
}

// A picker's regions are buttons: reached by Tab, picked by Enter or Space, named by their part and site.
function focusableRegions(root) {
  for (const figure of root.querySelectorAll('.figure')) figure.removeAttribute('aria-hidden');
  for (const r of root.querySelectorAll('.region')) {
    r.setAttribute('tabindex', '0');
    r.setAttribute('role', 'button');
    r.setAttribute('aria-label', `${r.dataset.part} (${r.dataset.site}), ${r.closest('.figure').dataset.view} view`);
  }
}

function centreOf(region) {
  const box = region.getBBox();
  return { view: region.closest('.figure').dataset.view, x: round((box.x + box.width / 2) / FIGURE.width),
    y: round((box.y + box.height / 2) / FIGURE.height) };
}

/** Wires the map ``root`` to the body-site ``select``; ``onPick`` runs after either changes. Returns
 * {point, part, set(site, point)}. */
export function mapPicker(root, select, onPick = () => {}) {
  let point = null;
  let picked = null; // the region picked on the map; null when the site came from the list
  const marker = svgNode('circle', { r: 5, class: 'marker', 'aria-hidden': 'true' });
  focusableRegions(root);
  const draw = () => {
    // a region picked on the map lights up alone; a site picked in the list lights up all its regions
    for (const r of root.querySelectorAll('.region')) {
      const on = picked ? r === picked : r.dataset.site === select.value;
      r.classList.toggle('picked', on);
      r.setAttribute('aria-pressed', String(r === picked));
    }
    marker.remove();
    if (point) {
      const { cx, cy } = drawingXY(root, point);
      marker.setAttribute('cx', cx);
      marker.setAttribute('cy', cy);
      root.querySelector('.dots').append(marker);
    }
    root.dataset.site = select.value;
    root.dataset.point = point ? `${point.view} ${point.x} ${point.y}` : '';
    root.dataset.part = picked?.dataset.part ?? '';
  };
  const pick = (region, at) => {
    select.value = region.dataset.site;
    picked = region;
    point = at;
    draw();
    onPick();
  };
  root.querySelector('svg').addEventListener('click', (event) => {
    const region = event.target.closest('.region');
    if (region) pick(region, pointIn(region.closest('.figure'), event));
  });
  root.querySelector('svg').addEventListener('keydown', (event) => {
    const region = event.target.closest('.region');
    if (!region || (event.key !== 'Enter' && event.key !== ' ')) return;
    event.preventDefault(); // Space would scroll the page
    pick(region, centreOf(region));
  });
  select.addEventListener('change', () => {
    point = null;
    picked = null;
    draw();
    onPick();
  });
  draw();
  return {
    get point() {
      return point;
    },
    get part() {
      return picked?.dataset.part ?? null;
    },
    set(site, at = null) {
      select.value = site;
      point = at;
      picked = mapPart(root, at, site) ? regionAt(root, at) : null;
      draw();
    },
  };
}

/** Draws ``lesions`` ({id, name, site, mapPoint, bodyPart, flagged}) as dots linking to ``href(lesion)``; returns the
 * lesions whose site the map does not draw. Call it while the map is shown (the region centres are measured). */
export function mapDots(root, lesions, href) {
  const offMap = [];
  const dots = lesions.flatMap((lesion) => {
    const at = lesion.mapPoint ?? regionCentre(root, lesion.site);
    if (!at) {
      offMap.push(lesion);
      return [];
    }
    const part = lesion.bodyPart ?? mapPart(root, lesion.mapPoint, lesion.site);
    const label = `${lesion.name} (${siteText(lesion.site, part)}` +
      `${lesion.flagged ? ', latest visit above the referral threshold' : ''})`;
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
