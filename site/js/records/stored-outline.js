// The model's outline measured on a stored copy in My lesions (re-scoring keeps its measures, the visit report
// draws it): photo-measures.js measurePhoto, with an empty outline read as no outline, so that one photo whose
// outline marks nothing never stops the others' re-scoring or printing.
import { DataError } from '../inference/lesion-measures.js';
import { measurePhoto } from '../inference/photo-measures.js';

/** measurePhoto(bitmap, outline, null) of a stored copy, or null when the model drew no outline or an empty one. */
export function storedOutline(bitmap, outline) {
  try {
    return measurePhoto(bitmap, outline, null);
  } catch (err) {
    if (err instanceof DataError) return null;
    throw err;
  }
}
