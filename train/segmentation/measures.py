"""What a dermatologist reads from a lesion's outline (issue #46): size, longest diameter, asymmetry, border
compactness and dermoscopic colours, the scale that turns pixels into millimetres, and the growth rule.

They describe the outline; they are not a second score: the referral stays the model's. The page computes
the same numbers in site/js/inference/lesion-measures.js (tests/test_lesion_measures.py checks both agree), so every
rule here is one a few lines of JavaScript can repeat exactly: pixel counts, scikit-image's Crofton perimeter
(four directions, which puts a digital disc's compactness within 2% of 1 where the 4-neighbour border count is
10% off), a convex hull of pixel corners, and nearest-colour assignment in CIELAB (scikit-image's rgb2lab,
written out so that the page repeats it step for step).

Pixel units are pixels of the photo: the mask must cover the photo's centre square at the photo's own
resolution (the outline model's 160x160 mask resized, nearest neighbour, to the square's side), so that a
millimetre scale measured on the photo applies to it.

Colours: the six colours of dermoscopy's ABCD rule (Stolz et al., 1994) with the reference RGB values of Kasmi
R, Mokrani K, "Classification of malignant melanoma and benign skin lesions: implementation of automatic ABCD
rule", IET Image Processing 10(6):448-455, 2016 (their colour table, in 0-1 units there), converted to CIELAB.
Each lesion pixel takes the nearest reference in CIELAB (CIE76 delta E); a pixel nearest to white counts only
where it is lighter (higher L*) than the surrounding skin (the per-channel median of the photo's pixels outside
the outline), as dermoscopy's white is "whiter than surrounding normal skin" (scar-like depigmentation,
Kittler H, dermoscopedia.org, "Regression structures"): pale lesion no lighter than the skin counts towards no
colour. A colour is present when it covers at least 5% of the lesion (our choice: enough that
a few stray pixels of glare, hair or shadow are not a colour). python -m train.studies.colour_rule chose this on
HAM10000's validation split over the earlier nearest-in-RGB rule, which called pink, skin-like pixels red in
~99% of lesions of every diagnosis. Photos are not colour-calibrated, so a colour cast still reads as lesion
colour (docs/lesion-measures.md says by how much, with every definition and the plain line of meaning the page
shows for each).

Growth: repeated imaging of unchanged lesions measured relative errors (standard deviation over mean) of 6%
for area and 3% for greatest diameter (Gutkowicz-Krusin D et al., "Precision of automatic measurements of
pigmented skin lesion parameters with a MelaFind multispectral digital dermoscope", Melanoma Research
10(6):563-570, 2000; 10 image sequences of each of 12 lesions). Two measurements of an unchanged lesion then
differ by more than 1.96 * sqrt(2) times that error in only 5% of cases (the repeatability coefficient, Bland
& Altman 1986): 16.6% for area, 8.3% for diameter. Growth beyond either is flagged.
"""
from __future__ import annotations

import math
from numbers import Real

import numpy as np
from scipy.spatial import ConvexHull
from scipy.spatial.distance import pdist
from skimage.measure import regionprops

from train.data.loading import DataError

# Reference RGB of the six dermoscopic colours, Kasmi & Mokrani 2016 (x 255); the order breaks ties.
COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "red": (204, 51, 51),
    "light brown": (153, 102, 0),
    "dark brown": (51, 0, 0),
    "blue-grey": (51, 153, 153),
    "black": (0, 0, 0),
}
COLOUR_PRESENT_SHARE = 0.05
# sRGB (D65) to CIE XYZ and the D65 white, 2-degree observer: scikit-image's rgb2lab constants.
XYZ_FROM_RGB = ((0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169), (0.019334, 0.119193, 0.950227))
D65_WHITE = (0.95047, 1.0, 1.08883)
# Relative error of one measurement of an unchanged lesion (Gutkowicz-Krusin et al. 2000) and the growth a
# second one must exceed to be more than that noise (95% repeatability coefficient of a difference of two).
RELATIVE_ERROR = {"area": 0.06, "diameter": 0.03}
GROWTH_LIMIT = {name: 1.96 * math.sqrt(2) * error for name, error in RELATIVE_ERROR.items()}

SCALE_MESSAGE = ("The scale must be a positive number of millimetres: enter the dermatoscope's field of view (mm "
                 "across the photo) or the real length between the two ruler points, above 0.")


class ScaleError(DataError):
    """A scale that cannot turn pixels into millimetres."""


def _checked_mm(value: float) -> float:
    if not (isinstance(value, Real) and math.isfinite(value) and value > 0):
        raise ScaleError(SCALE_MESSAGE)
    return float(value)


def mm_per_pixel_from_field(width_mm: float, image_width_px: int) -> float:
    """Millimetres per photo pixel from the dermatoscope's field of view across the whole photo's width."""
    width_mm = _checked_mm(width_mm)
    if not (isinstance(image_width_px, Real) and math.isfinite(image_width_px) and image_width_px > 0):
        raise ScaleError("The photo's width must be a positive number of pixels: load the photo again.")
    return width_mm / image_width_px


def mm_per_pixel_from_points(p1: tuple[float, float], p2: tuple[float, float], length_mm: float) -> float:
    """Millimetres per photo pixel from two clicks ``p1``, ``p2`` (x, y in photo pixels) ``length_mm`` apart on a
    ruler or another known length."""
    length_mm = _checked_mm(length_mm)
    if not all(isinstance(v, Real) and math.isfinite(v) for v in (*p1, *p2)):
        raise ScaleError("A ruler point is not a position on the photo: click both points on the photo.")
    pixels = math.hypot(p2[0] - p1[0], p2[1] - p1[1])
    if pixels == 0:
        raise ScaleError("The two ruler points are the same pixel: click two points a known length apart.")
    return length_mm / pixels


def _asymmetry(mask: np.ndarray, centre: tuple[float, float], axis: tuple[float, float]) -> float:
    """Share of the lesion's pixels whose mirror image across the line through ``centre`` along ``axis`` (row,
    column unit vector) falls outside the lesion: the share of the area its mirror image does not cover."""
    rows, cols = np.nonzero(mask)
    dr, dc = rows - centre[0], cols - centre[1]
    along = dr * axis[0] + dc * axis[1]
    # floor(x + 0.5), not numpy's round-half-to-even, because it is what the page's Math.floor(x + 0.5) does
    mr = np.floor(centre[0] + 2 * along * axis[0] - dr + 0.5).astype(np.int64)
    mc = np.floor(centre[1] + 2 * along * axis[1] - dc + 0.5).astype(np.int64)
    inside = (mr >= 0) & (mr < mask.shape[0]) & (mc >= 0) & (mc < mask.shape[1])
    covered = np.zeros(rows.size, dtype=bool)
    covered[inside] = mask[mr[inside], mc[inside]]
    return float(1 - covered.mean())


def _longest_diameter(mask: np.ndarray) -> float:
    """The largest distance between two points of the lesion's pixels (as unit squares): the convex hull of the
    corners of each row's first and last pixel holds every pixel corner's hull, and its farthest pair is it."""
    rows = np.flatnonzero(mask.any(axis=1))
    first = mask[rows].argmax(axis=1)
    last = mask.shape[1] - 1 - mask[rows][:, ::-1].argmax(axis=1)
    corners = np.concatenate([np.stack([rows + dr, cols + dc], axis=1)
                              for dr in (0, 1) for cols, dc in ((first, 0), (last, 1))]).astype(float)
    hull = corners[ConvexHull(corners).vertices]
    return float(pdist(hull).max())


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L*, a*, b*) of sRGB colours 0..255 (..., 3), step for step as scikit-image's rgb2lab and the page's
    rgbToLab compute it (float64)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = [(linear[..., 0] * m[0] + linear[..., 1] * m[1] + linear[..., 2] * m[2]) / white
           for m, white in zip(XYZ_FROM_RGB, D65_WHITE)]
    fx, fy, fz = (np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16.0 / 116.0) for t in xyz)
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


COLOUR_LAB = rgb_to_lab(np.array(list(COLOURS.values())))
WHITE = list(COLOURS).index("white")


def _skin_colour(image: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """The median of each channel over the photo's pixels outside the outline (the mean of the two middle values
    for an even count); None when the outline covers the whole photo."""
    outside = image[~mask]
    return np.median(outside, axis=0) if len(outside) else None


def _colour_shares(pixels: np.ndarray, skin: np.ndarray | None) -> dict[str, float]:
    """Share of the lesion's ``pixels`` (N x 3 RGB) nearest, in CIELAB, to each reference colour; a pixel nearest
    to white counts only where it is lighter (higher L*) than ``skin`` (the skin's RGB, when there is skin):
    pale lesion that is no lighter than the skin is no dermoscopic white, and counts towards no colour."""
    lab = rgb_to_lab(pixels)
    nearest = ((lab[:, None, :] - COLOUR_LAB[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    if skin is not None:
        nearest = nearest[(nearest != WHITE) | (lab[:, 0] > rgb_to_lab(skin)[0])]
    counts = np.bincount(nearest, minlength=len(COLOURS))
    return {name: float(count / len(pixels)) for name, count in zip(COLOURS, counts)}


def lesion_measures(mask: np.ndarray, image: np.ndarray | None = None, mm_per_pixel: float | None = None) -> dict:
    """The measures of the lesion outlined by ``mask`` (H x W bool, photo pixels; see the module docstring), its
    colours when ``image`` (H x W x 3 uint8, the same pixels) is given, and sizes in millimetres when
    ``mm_per_pixel`` is. DataError for an empty outline or an image of another size."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise DataError(f"The outline must hold one value per photo pixel (height x width); it has shape {mask.shape}.")
    if not mask.any():
        raise DataError("The lesion outline is empty: no pixel of the photo is marked as lesion. Retake the photo "
                        "with the lesion in the centre square, or draw the outline.")
    if image is not None and (image.shape != (*mask.shape, 3) or image.dtype != np.uint8):
        raise DataError(f"The photo ({'x'.join(map(str, image.shape))}, {image.dtype}) does not match the outline "
                        f"({mask.shape[0]}x{mask.shape[1]}): give the outline at the photo's resolution and the "
                        "photo as 8-bit RGB.")
    scale = None if mm_per_pixel is None else _checked_mm(mm_per_pixel)
    region = regionprops(mask.astype(np.uint8))[0]
    theta = region.orientation  # the major axis' angle from the row axis: direction (cos, sin) in (row, col)
    major, minor = (math.cos(theta), math.sin(theta)), (-math.sin(theta), math.cos(theta))
    asymmetry = (_asymmetry(mask, region.centroid, major), _asymmetry(mask, region.centroid, minor))
    area = int(mask.sum())
    diameter = _longest_diameter(mask)
    shares = None if image is None else _colour_shares(image[mask], _skin_colour(image, mask))
    return {
        "area_px": area,
        "area_mm2": None if scale is None else area * scale * scale,
        "diameter_px": diameter,
        "diameter_mm": None if scale is None else diameter * scale,
        "perimeter_px": float(region.perimeter_crofton),
        "compactness": float(region.perimeter_crofton ** 2 / (4 * math.pi * area)),
        "asymmetry_major": asymmetry[0],
        "asymmetry_minor": asymmetry[1],
        "asymmetry": (asymmetry[0] + asymmetry[1]) / 2,
        "colour_shares": shares,
        "colours_present": None if shares is None else [n for n, s in shares.items() if s >= COLOUR_PRESENT_SHARE],
        "mm_per_pixel": scale,
    }


def growth(before: dict, after: dict) -> dict:
    """The relative change of area and longest diameter from ``before`` to ``after`` (lesion_measures results),
    flagged when either grew beyond GROWTH_LIMIT. Only millimetres compare between photos: without a scale on
    both, ``comparable`` is False and nothing is flagged or computed."""
    if before["mm_per_pixel"] is None or after["mm_per_pixel"] is None:
        return {"comparable": False, "area_change": None, "diameter_change": None, "flagged": None}
    area_change = after["area_mm2"] / before["area_mm2"] - 1
    diameter_change = after["diameter_mm"] / before["diameter_mm"] - 1
    return {"comparable": True, "area_change": area_change, "diameter_change": diameter_change,
            "flagged": area_change > GROWTH_LIMIT["area"] or diameter_change > GROWTH_LIMIT["diameter"]}
