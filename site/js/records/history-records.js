// What one saved photo is: a downscaled copy of the image, its content hash and every result it was given
// (one per model version), self-describing so that an entry outlives the model that scored it.
import { sha256Hex } from '../inference/classifier.js';

// Longest side of the stored copy: its centre square still covers the model input several times over, and a
// copy weighs ~60-150 kB.
export const STORED_SIDE = 768;
const JPEG_QUALITY = 0.92;

/** ``source`` (ImageBitmap or canvas) on a canvas no larger than STORED_SIDE, composited on white: the pixels
 * My lesions keeps (inference/photo-measures.js measures on them too). */
export function storedCanvas(source) {
  const scale = Math.min(1, STORED_SIDE / Math.max(source.width, source.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(source.width * scale);
  canvas.height = Math.round(source.height * scale);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.imageSmoothingQuality = 'high';
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
  return canvas;
}

/** A JPEG data URL of ``source`` (ImageBitmap or canvas) no larger than STORED_SIDE. */
export function storedCopy(source) {
  return storedCanvas(source).toDataURL('image/jpeg', JPEG_QUALITY);
}

export function dataUrlBytes(dataUrl) {
  const base64 = dataUrl.slice(dataUrl.indexOf(',') + 1);
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/** The blob of a stored copy, for decoding it again (re-scoring, cropping) without any request. */
export function dataUrlBlob(dataUrl) {
  const type = /^data:([^;,]+)/.exec(dataUrl)?.[1] ?? 'image/jpeg';
  return new Blob([dataUrlBytes(dataUrl)], { type });
}

/** The content hash that recognises an entry on import: sha256 of the stored image's bytes. */
export function imageHash(dataUrl) {
  return sha256Hex(dataUrlBytes(dataUrl).buffer);
}

/** One classification, as it is kept: with the model version and the decision settings it used, and the
 * outline's ``measures`` (lesion-measures.js storedMeasures) when there are any (left out when undefined). */
export function resultRecord(result, metadata, forced, measures) {
  const classes = metadata.classes.map((c) => c.code);
  const top = result.probabilities.indexOf(Math.max(...result.probabilities));
  return {
    modelVersion: metadata.model_version,
    scoredAt: new Date().toISOString(),
    classes,
    probabilities: result.probabilities,
    topClass: classes[top],
    malignancyScore: result.malignancyScore,
    threshold: metadata.operating_point.threshold,
    flagged: result.flagged,
    guard: { outOfDistribution: result.outOfDistribution, distance: result.oodDistance, forced },
    ...(measures === undefined ? {} : { measures }),
  };
}

export function topProbability(record) {
  return Math.max(...record.probabilities);
}

/** The newest result of an entry (the one the timeline shows). */
export function latestResult(entry) {
  return entry.results[entry.results.length - 1];
}

export function resultBy(entry, modelVersion) {
  return entry.results.find((r) => r.modelVersion === modelVersion);
}

/** The local calendar day of ``now`` as YYYY-MM-DD. */
export function today(now = new Date()) {
  return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}
