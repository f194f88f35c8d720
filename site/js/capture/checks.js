// Input checks that give each kind of bad file its own, actionable message.

export const MIN_SIDE = 64;

export class InputProblem extends Error {}

// HEIC/HEIF (iPhone default) is an ISO-BMFF file whose 'ftyp' box names a heic-family brand (AVIF, which
// Chromium decodes, uses the 'avif' brand and is not caught here).
const HEIF_BRANDS = ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'];

export async function looksLikeHeif(file) {
  if (/\.(heic|heif)$/i.test(file.name || '') || /image\/hei[cf]/i.test(file.type)) return true;
  const head = new Uint8Array(await file.slice(0, 12).arrayBuffer());
  const text = String.fromCharCode(...head);
  return text.slice(4, 8) === 'ftyp' && HEIF_BRANDS.includes(text.slice(8, 12));
}

/** Throws InputProblem for files that cannot be classified, before any decoding is attempted. */
export async function checkFile(file) {
  if (file.size === 0) throw new InputProblem('the file is empty (0 bytes). Choose the photo again.');
  if (await looksLikeHeif(file)) {
    throw new InputProblem(
      'HEIC/HEIF photos (the iPhone default) are not supported by this browser. On the iPhone, share or ' +
        'export the photo as JPEG (or set Settings › Camera › Formats › Most Compatible) and choose it again.',
    );
  }
}

/** Warnings for images that can be classified but with less confidence in the result. */
export function imageWarnings(bitmap) {
  const warnings = [];
  if (Math.min(bitmap.width, bitmap.height) < MIN_SIDE) {
    warnings.push(
      `the image is only ${bitmap.width}x${bitmap.height} pixels; below ${MIN_SIDE} px the result is unreliable. ` +
        'Use a sharper, closer photo.',
    );
  }
  return warnings;
}
