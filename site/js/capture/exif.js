// The date a JPEG photo was taken, from its EXIF block (DateTimeOriginal, else DateTime). Only the few tags
// needed are read; anything unexpected means "no date", never an error.

const TAG_EXIF_IFD = 0x8769;
const TAG_DATETIME = 0x0132;
const TAG_DATETIME_ORIGINAL = 0x9003;

function tiffTags(view, tiff, ifdOffset, little) {
  const tags = new Map();
  const count = view.getUint16(tiff + ifdOffset, little);
  for (let i = 0; i < count; i += 1) {
    const entry = tiff + ifdOffset + 2 + i * 12;
    tags.set(view.getUint16(entry, little), entry);
  }
  return tags;
}

function asciiAt(view, tiff, entry, little) {
  const length = view.getUint32(entry + 4, little);
  const start = length > 4 ? tiff + view.getUint32(entry + 8, little) : entry + 8;
  let text = '';
  for (let i = 0; i < length - 1; i += 1) text += String.fromCharCode(view.getUint8(start + i));
  return text;
}

// "2024:05:01 10:30:00" -> "2024-05-01"
function isoDay(text) {
  const match = /^(\d{4}):(\d{2}):(\d{2})/.exec(text);
  if (!match || match[1] === '0000') return null;
  return `${match[1]}-${match[2]}-${match[3]}`;
}

function dateInApp1(view, start) {
  const tiff = start + 8; // after the segment length and "Exif\0\0"
  const little = view.getUint16(tiff) === 0x4949;
  const ifd0 = tiffTags(view, tiff, view.getUint32(tiff + 4, little), little);
  if (ifd0.has(TAG_EXIF_IFD)) {
    const exif = tiffTags(view, tiff, view.getUint32(ifd0.get(TAG_EXIF_IFD) + 8, little), little);
    if (exif.has(TAG_DATETIME_ORIGINAL)) return isoDay(asciiAt(view, tiff, exif.get(TAG_DATETIME_ORIGINAL), little));
  }
  return ifd0.has(TAG_DATETIME) ? isoDay(asciiAt(view, tiff, ifd0.get(TAG_DATETIME), little)) : null;
}

/** "YYYY-MM-DD" when the file is a JPEG with an EXIF date, else null. */
export async function exifDate(file) {
  const view = new DataView(await file.slice(0, 256 * 1024).arrayBuffer());
  try {
    if (view.getUint16(0) !== 0xffd8) return null;
    let offset = 2;
    while (offset + 4 < view.byteLength) {
      const marker = view.getUint16(offset);
      const length = view.getUint16(offset + 2);
      if (marker === 0xffe1 && view.getUint32(offset + 4) === 0x45786966) return dateInApp1(view, offset + 2);
      if (marker === 0xffda || (marker & 0xff00) !== 0xff00) return null; // image data: no EXIF before it
      offset += 2 + length;
    }
  } catch (err) {
    if (!(err instanceof RangeError)) throw err; // a truncated or odd EXIF block: no date
  }
  return null;
}
