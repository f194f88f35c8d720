"""python -m train.guard.ood_set --out DIR: build the out-of-distribution evaluation set from offline material.

Writes ``DIR/images/*.png`` and ``DIR/manifest.csv`` (file, expected, category, source), where
``expected`` is ``reject`` (not a dermoscopic lesion close-up) or ``accept`` (a lesion photo under a
harmless change). Nothing third-party is committed: the natural photos are the sample images bundled
inside installed packages (scikit-image, matplotlib), the rest is synthesised here.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from train.data.loading import DataError, load_labelled_images
from train.data.preprocess import read_rgb

SIZE = 300
CROPS_PER_PHOTO = 4
PER_SYNTHETIC_KIND = 25


def bundled_photos() -> Iterator[tuple[str, np.ndarray]]:
    """Natural and scientific photos shipped inside installed Python packages (RGB uint8)."""
    import matplotlib.cbook
    import skimage.data

    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "moon", "horse", "coins", "page",
                 "text", "clock", "brick", "grass", "gravel", "hubble_deep_field", "immunohistochemistry",
                 "retina", "colorwheel", "logo", "cell"):
        yield f"skimage-{name}", getattr(skimage.data, name)()
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        yield "matplotlib-grace_hopper", np.asarray(Image.open(f).convert("RGB"))
    faces = skimage.data.lfw_subset()
    for i in range(0, 100, 10):
        yield f"skimage-lfw-face-{i}", (faces[i] * 255).astype(np.uint8)


def _rgb(image: np.ndarray) -> Image.Image:
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.dtype != np.uint8:
        image = np.clip(image / max(float(image.max()), 1e-6) * 255, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return Image.fromarray(image[..., :3])


def photo_views(image: np.ndarray, rng: np.random.Generator) -> Iterator[tuple[str, Image.Image]]:
    """The whole photo and a few random square crops (a phone aimed at part of a scene)."""
    photo = _rgb(image)
    yield "whole", photo.resize((SIZE, SIZE))
    w, h = photo.size
    for i in range(CROPS_PER_PHOTO):
        side = int(min(w, h) * rng.uniform(0.35, 0.8))
        left, top = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        yield f"crop{i}", photo.crop((left, top, left + side, top + side)).resize((SIZE, SIZE))


def synthetic_images(rng: np.random.Generator) -> Iterator[tuple[str, str, Image.Image]]:
    """(category, name, image): solid colours, noise, gradients, rendered text and UI screenshots."""
    font = ImageFont.load_default(size=18)
    for i in range(PER_SYNTHETIC_KIND):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        yield "solid", f"solid{i}", Image.new("RGB", (SIZE, SIZE), colour)
        noise = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) if i % 2 else \
            np.clip(rng.normal(128, 50, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
        yield "noise", f"noise{i}", Image.fromarray(noise)
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = np.linspace(0, 1, SIZE)[:, None, None] if i % 2 else np.linspace(0, 1, SIZE)[None, :, None]
        ramp = np.broadcast_to(a * (1 - t) + b * t, (SIZE, SIZE, 3)).astype(np.uint8)
        yield "gradient", f"gradient{i}", Image.fromarray(ramp)
        yield "text", f"text{i}", _text_page(rng, font)
        yield "screenshot", f"screenshot{i}", _screenshot(rng, font)


def _text_page(rng: np.random.Generator, font: ImageFont.ImageFont) -> Image.Image:
    page = Image.new("RGB", (SIZE, SIZE), tuple(int(c) for c in rng.integers(200, 256, 3)))
    draw = ImageDraw.Draw(page)
    words = "patient lesion report follow up dermatology clinic date result normal review image".split()
    for row in range(14):
        line = " ".join(rng.choice(words, 4))
        draw.text((10, 8 + row * 21), line, fill=tuple(int(c) for c in rng.integers(0, 80, 3)), font=font)
    return page


def _screenshot(rng: np.random.Generator, font: ImageFont.ImageFont) -> Image.Image:
    shot = Image.new("RGB", (SIZE, SIZE), (245, 245, 245))
    draw = ImageDraw.Draw(shot)
    draw.rectangle((0, 0, SIZE, 36), fill=tuple(int(c) for c in rng.integers(0, 200, 3)))
    draw.text((10, 8), "LesionLens - Settings", fill=(255, 255, 255), font=font)
    for row in range(5):
        top = 50 + row * 48
        draw.rounded_rectangle((12, top, SIZE - 12, top + 38), radius=6, outline=(180, 180, 180),
                               fill=(255, 255, 255))
        draw.text((22, top + 10), f"Option {row + 1}", fill=(40, 40, 40), font=font)
        draw.ellipse((SIZE - 48, top + 9, SIZE - 28, top + 29), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return shot


def lesion_variants(path: Path, rng: np.random.Generator) -> Iterator[tuple[str, Image.Image]]:
    """Harmless changes a real photo of a lesion goes through: rotation, mild blur, brightness, contrast."""
    image = Image.fromarray(read_rgb(path))
    yield "rotated", image.rotate(float(rng.choice([90, 180, 270])), expand=True)
    yield "blurred", image.filter(ImageFilter.GaussianBlur(radius=1.0))
    yield "brighter", ImageEnhance.Brightness(image).enhance(float(rng.uniform(1.1, 1.2)))
    yield "darker", ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.8, 0.9)))
    yield "contrast", ImageEnhance.Contrast(image).enhance(float(rng.uniform(0.85, 1.15)))


def build_ood_set(out: Path, lesion_images: Path | None = None, lesion_labels: Path | None = None,
                  n_lesions: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []

    def save(image: Image.Image, name: str, expected: str, category: str, source: str) -> None:
        image.convert("RGB").save(images / f"{name}.png")
        rows.append({"file": f"images/{name}.png", "expected": expected, "category": category, "source": source})

    for source, photo in bundled_photos():
        for view_name, image in photo_views(photo, rng):
            save(image, f"{source}-{view_name}", "reject", "photo", source)
    for category, name, image in synthetic_images(rng):
        save(image, name, "reject", category, "synthetic")
    if lesion_images is not None:
        frame = load_labelled_images(lesion_images, lesion_labels).frame
        chosen = frame.sample(min(n_lesions, len(frame)), random_state=seed)
        for _, row in chosen.iterrows():
            for change, image in lesion_variants(Path(row["path"]), rng):
                save(image, f"lesion-{row['image_id']}-{change}", "accept", f"lesion-{change}", row["image_id"])
    manifest = pd.DataFrame(rows)
    manifest.to_csv(out / "manifest.csv", index=False)
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.guard.ood_set", description=__doc__)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--lesion-images", type=Path, default=None, help="folder of lesion images to transform")
    p.add_argument("--lesion-labels", type=Path, default=None, help="labels CSV choosing them (e.g. test split)")
    p.add_argument("--n-lesions", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if (args.lesion_images is None) != (args.lesion_labels is None):
        print("error: give both --lesion-images and --lesion-labels, or neither.", file=sys.stderr)
        return 2
    try:
        manifest = build_ood_set(args.out, args.lesion_images, args.lesion_labels, args.n_lesions, args.seed)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(manifest.groupby(["expected", "category"]).size().to_string())
    print(f"{len(manifest)} images -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
