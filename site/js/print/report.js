// The printable visit report, for the patient's record: what was seen (the photos with their heatmaps), what the
// model said (the seven calibrated probabilities, the risk message and the operating point it came from, the
// guard's verdict), who and where (the patient context), and the figures it rests on, all from metadata.json.
// The print stylesheet lays it out for A4 and US Letter in black and white; the browser's own print dialog
// prints it or saves it as PDF. Nothing is uploaded and no PDF library is loaded.
import { ruleName } from '../inference/combine.js';
import { CENTRE_SQUARE, heatmapLegend } from '../inference/heatmap.js';
import { contextParts } from '../records/patient.js';
import { patientLabel } from '../records/patient-record.js';
import { ABOVE, BELOW, CONDITION_NAMES, referral, riskMessage, scoreLine } from '../inference/referral.js';
import { $, classNames, el, percent, score } from '../ui.js';
import { MEANINGS } from '../inference/lesion-measures.js';
import { AT_EDGE, measureLines, scaleSentence } from '../views/measure-text.js';

function reportRow(label, value) {
  const tr = el('tr');
  tr.append(el('th', { scope: 'row' }, label), el('td', {}, value));
  return tr;
}

function reportTable(caption, head, rows, className = '') {
  const t = el('table', { class: className });
  t.append(el('caption', {}, caption));
  if (head) {
    const tr = el('tr');
    tr.append(...head.map((h) => el('th', { scope: 'col' }, h)));
    const thead = el('thead');
    thead.append(tr);
    t.append(thead);
  }
  const body = el('tbody');
  body.append(...rows);
  t.append(body);
  return t;
}

function guardText(guard, metadata) {
  if (!guard || guard.distance == null) return 'Guard: not run for this result.';
  const figures = `distance ${guard.distance.toFixed(2)}, limit ${metadata.ood.threshold.toFixed(2)}`;
  if (!guard.outOfDistribution) return `Guard: recognised as a skin-lesion close-up (${figures}).`;
  return `Guard: NOT recognised as a skin-lesion close-up (${figures}); classified on request, so this result is ` +
    'unreliable.';
}

// Every printed page says whose it is: the patient (or "no patient ID", rather than a page with no owner) and,
// for a saved visit, its lesion.
function reportLabel(report) {
  return `Patient: ${patientLabel(report.context.patient)}${report.lesionName ? ` · Lesion: ${report.lesionName}` : ''}`;
}

// The patient's rows of the report's first table: the ID always, the name and year of birth when given.
function patientRows(patient) {
  if (!patient) return [reportRow('Patient ID', 'not given')];
  return [reportRow('Patient ID', patient.patientId), ...(patient.name ? [reportRow('Name', patient.name)] : []),
    ...(patient.birthYear ? [reportRow('Year of birth', String(patient.birthYear))] : [])];
}

/** A date taken as the report prints it: a photo whose file holds no date was dated the day it was loaded. */
function takenText(taken, takenSource) {
  return takenSource === 'added' ? `${taken} (the day the photo was loaded: its file holds no date)` : taken;
}

// The outline measures of a photo, each with its unit and meaning line, under the scale they use.
function measuresBlock(photo) {
  const box = el('div', { class: 'report-measures' });
  const list = el('dl');
  for (const line of measureLines(photo.measures)) {
    list.append(el('dt', {}, line.name), el('dd', {}, line.value), el('dd', { class: 'report-meaning' }, line.meaning));
  }
  box.append(el('h3', {}, `Outline measures of ${photo.name}`), el('p', { class: 'report-scale' }, scaleSentence(photo.scale)));
  if (photo.outlineAtEdge) box.append(el('p', { class: 'report-outline-edge' }, AT_EDGE));
  box.append(list, el('p', {}, MEANINGS.notAScore));
  return box;
}

function photoFigure(photo, metadata) {
  const figure = el('figure', { class: 'report-photo' });
  const pair = el('div', { class: 'report-images' });
  pair.append(el('img', { src: photo.src, alt: `Photo ${photo.name}` }));
  if (photo.heatmap) pair.append(el('img', { src: photo.heatmap.src, alt: `Heatmap of ${photo.name}` }));
  if (photo.outline) pair.append(el('img', { src: photo.outline.src, alt: `Lesion outline of ${photo.name}` }));
  const caption = el('figcaption');
  const heat = photo.heatmap ? ` ${photo.outline ? 'Middle' : 'Right'}: where the model found evidence for ` +
    `${classNames(metadata)[photo.heatmap.code]}${photo.heatmap.note ? ` (${photo.heatmap.note})` : ''}.` : '';
  const outline = photo.outline ? ' Right: the lesion outline the model drew, in white cased in black, on the ' +
    'square it classified; the measures below are taken inside it.' : '';
  caption.append(el('strong', {}, photo.name), ` · taken ${takenText(photo.taken, photo.takenSource)}` +
    `${photo.score == null ? '' : ` · malignancy score ${score(photo.score)}`}.${heat}${outline} `,
  guardText(photo.guard, metadata));
  figure.append(pair, caption);
  return figure;
}

// A photo and then its measures: two blocks, each kept whole on its page, so that a page break may fall between
// them (one block for both left most of the first page empty and a report of one photo on three pages).
function photoBlocks(photo, metadata) {
  return photo.measures ? [photoFigure(photo, metadata), measuresBlock(photo)] : [photoFigure(photo, metadata)];
}

function probabilityTable(result, metadata) {
  const info = Object.fromEntries(metadata.classes.map((c) => [c.code, c]));
  const order = result.probabilities.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]);
  const rows = order.map(([p, i]) => {
    const code = result.classes[i];
    const tr = el('tr', { class: 'report-probability' });
    tr.dataset.code = code;
    tr.append(el('td', {}, code), el('td', {}, info[code]?.name ?? code),
      el('td', {}, info[code]?.risk === 'malignant' ? 'malignant' : ''), el('td', { class: 'number' }, percent(p)));
    return tr;
  });
  return reportTable('Calibrated probabilities of the seven classes', ['Code', 'Class', '', 'Probability'], rows);
}

// The operating point's figures: validation (where it was chosen) and every test condition training measured.
function evidenceTable(metadata) {
  const op = metadata.operating_point;
  const interval = (ci) => (ci ? ` (${percent(ci[0])}–${percent(ci[1])})` : '');
  const rows = [el('tr')];
  rows[0].append(el('th', { scope: 'row' }, 'validation (threshold chosen here)'),
    el('td', {}, String(metadata.metrics?.validation?.n_images ?? '')), el('td', {}, percent(op.validation_sensitivity)),
    el('td', {}, percent(op.validation_specificity)),
    el('td', {}, op.validation_melanoma_sensitivity == null ? '' : percent(op.validation_melanoma_sensitivity)));
  for (const [condition, m] of Object.entries(metadata.metrics?.test ?? {})) {
    if (!m.malignant) continue;
    const ci = m.confidence_intervals ?? {};
    const tr = el('tr');
    tr.append(el('th', { scope: 'row' }, `test: ${CONDITION_NAMES[condition] ?? condition}`),
      el('td', {}, String(m.n_images)),
      el('td', {}, percent(m.malignant.sensitivity) + interval(ci.malignant_sensitivity)),
      el('td', {}, m.malignant.specificity == null ? '' : percent(m.malignant.specificity) + interval(ci.malignant_specificity)),
      el('td', {}, m.melanoma ? percent(m.melanoma.sensitivity) + interval(ci.melanoma_sensitivity) : ''));
    rows.push(tr);
  }
  return reportTable('What the referral threshold achieved (95% lesion-bootstrap intervals)',
    ['Images', 'n', 'Malignant sensitivity', 'Malignant specificity', 'Melanoma sensitivity'], rows, 'evidence');
}

// The photos of a combined answer that fall on the other side of the threshold, named as the card names them: one
// photo above the threshold is a reason to look, whatever the combination says.
function straddleParagraph(photos, parts) {
  const others = photos.filter((p) => p.score != null && (p.score >= parts.threshold) !== parts.flagged);
  if (!others.length) return null;
  const names = others.map((p) => `${p.name} (malignancy score ${score(p.score)})`).join('; ');
  return el('p', { class: 'report-straddle' }, `${others.length} of ${photos.length} photos ` +
    `${parts.flagged ? BELOW : ABOVE} on their own: ${names}.${parts.flagged ? '' : ' One photo above the ' +
      'threshold is a reason to look: examine the lesion before relying on the combined answer.'}`);
}

/**
 * The report of one result, one combined lesion or one saved visit. ``report``: {title, lesionName, context
 * {patient {patientId, name, birthYear} or null, age, sex, site, part, examinedBy}, taken, takenSource,
 * nextCheck, photos [{name, taken, takenSource, src, heatmap {src, code, note}, score, guard, outline, measures,
 * scale}], result {classes, probabilities, flagged, malignancyScore}, combined {photos, lowestScore, highestScore}
 * or null, previous {day, text, changeText} or null}.
 * A photo's outline fields (issue #46), each optional: ``outline`` {src: an image (data URL) of the classified
 * square with the outline drawn on it (photo-measures.js drawOutline)}, printed beside the heatmap; ``measures``:
 * the outline's measures in lesion-measures.js scaledMeasures' shape (or lesionMeasures' with widthPx added:
 * widthPx, areaPx, diameterPx, asymmetry, compactness, coloursPresent, and areaMm2/diameterMm, null without a
 * scale; asymmetryMajor/asymmetryMinor when known), printed with their units and meaning lines; ``scale`` the
 * photo's {mmAcross, source: 'field' | 'ruler'} the millimetres use, or null (the unscaled line is printed);
 * ``outlineAtEdge`` true when the outline reaches the square's edge (measure-text.js touchesEdge of the mask: the
 * lesion may go on beyond it, AT_EDGE is printed). For a
 * saved entry: measures = scaledMeasures(result.measures, entry.scale ?? null), scale = entry.scale ?? null.
 */
export function visitReport(report, metadata) {
  const { result } = report;
  const codes = result.classes;
  const parts = referral(result.probabilities, codes, metadata);
  const top = parts.top;
  const patient = contextParts(report.context);
  const op = metadata.operating_point;
  const root = el('article', { class: 'report' });
  const printed = localDateTime(new Date());
  root.dataset.label = reportLabel(report);
  root.dataset.printed = printed;
  root.append(
    el('p', { class: 'report-label' }, `${root.dataset.label} · printed ${printed}`),
    el('h1', {}, `LesionLens ${report.title}`),
    el('p', { class: 'report-disclaimer' }, 'Decision support, not a diagnosis: this report supports, and never ' +
      'replaces, examination by a doctor.'),
    reportTable('Patient and lesion', null, [
      ...patientRows(report.context.patient),
      ...(report.lesionName ? [reportRow('Lesion', report.lesionName)] : []),
      reportRow('Age', patient.age), reportRow('Sex', patient.sex), reportRow('Body site', patient.site),
      reportRow('Date taken', takenText(report.taken, report.takenSource)),
      ...(report.context.examinedBy ? [reportRow('Examined by', report.context.examinedBy)] : []),
      ...(report.nextCheck !== undefined ? [reportRow('Next check', report.nextCheck ?? 'not set')] : []),
    ], 'report-patient'),
    el('h2', {}, 'Result'),
    verdictBox(parts.flagged),
    el('p', { class: 'report-top' }, `Top class: ${top.name} (${top.code}), ${percent(top.p)}.`),
    el('p', { class: 'report-risk' }, riskMessage(parts.flagged, metadata)),
    el('p', {}, scoreLine(parts)),
    el('p', { class: 'report-operating-point' }, `Referral threshold: refer when the malignant classes ` +
      `(${op.classes.join(', ')}) together reach ${score(op.threshold)}, chosen on the validation split for ` +
      `${percent(op.target_sensitivity)} sensitivity to malignant lesions.`),
  );
  if (report.combined) {
    const c = report.combined;
    root.append(el('p', { class: 'report-combined' }, `Combined answer of ${c.photos} photos of one lesion, by ` +
      `${ruleName(metadata.combination.rule)}; the single photos' malignancy scores range from ` +
      `${score(c.lowestScore)} to ${score(c.highestScore)}.`));
    const straddle = straddleParagraph(report.photos, parts);
    if (straddle) root.append(straddle);
  }
  root.append(probabilityTable(result, metadata), el('h2', {}, report.photos.length > 1 ? 'Photos' : 'Photo'));
  if (report.photos.some((p) => p.heatmap)) {
    const key = el('div', { class: 'report-heatmap-key' });
    key.append(el('p', {}, `${CENTRE_SQUARE} The heatmap's scale:`), heatmapLegend());
    root.append(key);
  }
  root.append(...report.photos.flatMap((p) => photoBlocks(p, metadata)));
  if (report.previous) {
    root.append(el('h2', {}, 'Previous visit'), el('p', { class: 'report-previous' }, `${report.previous.day}: ` +
      `${report.previous.text}`), el('p', { class: 'report-change' }, report.previous.changeText));
  }
  root.append(el('h2', {}, 'What this rests on'));
  if (result.modelVersion && result.modelVersion !== metadata.model_version) {
    root.append(el('p', { class: 'report-older-model' }, `The result above was computed by model ` +
      `${result.modelVersion}; the figures below are those of the current model: re-score the photos in My lesions ` +
      'for a like-for-like report.'));
  }
  root.append(evidenceTable(metadata),
    el('p', { class: 'report-model' }, `Model ${metadata.model_version}, weights sha256 ` +
      `${metadata.weights_sha256.slice(0, 12)}; trained on ${metadata.dataset.name}. Computed on this device; the ` +
      `photos were not uploaded. Report printed ${printed}.`));
  return root;
}

// "2026-01-10 14:03", the clinician's local time: the date a filed report carries.
function localDateTime(date) {
  const two = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:` +
    `${two(date.getMinutes())}`;
}

// REFER must read at a glance without colour: a heavy double frame and the word alone on its line, where the
// below-threshold box has a thin dashed one.
function verdictBox(flagged) {
  const box = el('div', { class: `report-verdict ${flagged ? 'refer' : 'below'}` });
  if (flagged) box.append(el('p', { class: 'refer-word' }, 'REFER'), el('p', {}, `${ABOVE[0].toUpperCase()}${ABOVE.slice(1)}.`));
  else box.append(el('p', {}, `${BELOW[0].toUpperCase()}${BELOW.slice(1)}: not an all-clear.`));
  return box;
}

const cssString = (text) => `"${text.replace(/[\\"]/g, '\\$&').replace(/[\n\r\f]/g, ' ')}"`;

// Every printed page's margins carry the report's label, the print date and "page N of M" (CSS page-margin
// boxes, counted by the browser's print engine). The page's CSP allows no inline <style>, so the label, which
// changes with each report, goes in a constructed stylesheet for as long as the report prints.
// A margin box cannot grow: a long lesion name is shortened there (the report itself prints it whole).
const MARGIN_LABEL = 80;

function pageMargins(node) {
  const sheet = new CSSStyleSheet();
  const label = [...node.dataset.label];
  const shown = label.length > MARGIN_LABEL ? `${label.slice(0, MARGIN_LABEL - 1).join('')}…` : node.dataset.label;
  sheet.replaceSync(`@page { @top-left { content: ${cssString(shown)}; } ` +
    `@top-right { content: ${cssString(`printed ${node.dataset.printed}`)}; } }`);
  return sheet;
}

/** Opens the browser's print dialog on ``node`` alone (print stylesheet: body.printing shows only the report). */
export function printReport(node) {
  $('print-report').replaceChildren(node);
  const margins = pageMargins(node);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, margins];
  document.body.classList.add('printing');
  window.addEventListener('afterprint', () => {
    document.body.classList.remove('printing');
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== margins);
  }, { once: true });
  window.print();
}
