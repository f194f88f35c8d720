"""Awkward real-world inputs: each gets a specific message or is handled, and the page stays usable."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.test_site import IMAGES, INPUT, open_app, shown_probabilities
from train.data.preprocess import read_rgb

pytestmark = pytest.mark.browser
FIXTURE = Image.open(IMAGES[0]).convert("RGB")  # 200x150


def jpeg_bytes(image: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=95, **kwargs)
    return buf.getvalue()


def exif_rotated(image: Image.Image) -> bytes:
    """Pixels stored landscape with EXIF orientation 6: viewers must show it rotated 90 degrees clockwise."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return jpeg_bytes(image, exif=exif.tobytes())


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("odd")
    files = {
        "iphone.heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200),
        "tiny.jpg": jpeg_bytes(FIXTURE.resize((40, 30))),
        "grey.jpg": jpeg_bytes(FIXTURE.convert("L")),
        "cmyk.jpg": jpeg_bytes(FIXTURE.convert("CMYK")),
        "rotated.jpg": exif_rotated(FIXTURE),
    }
    rgba = FIXTURE.convert("RGBA")
    alpha = np.full((150, 200), 255, np.uint8)
    alpha[:, :40] = 0
    rgba.putalpha(Image.fromarray(alpha))
    buf = io.BytesIO()
    rgba.save(buf, "PNG")
    files["transparent.png"] = buf.getvalue()
    big = FIXTURE.resize((8000, 8000), Image.BILINEAR)
    files["huge.jpg"] = jpeg_bytes(big)
    for name, data in files.items():
        (d / name).write_bytes(data)
    return d


def choose(page, path) -> None:
    page.set_input_files(INPUT, str(path))


def assert_classified(page, n_results: int = 1) -> dict[str, float]:
    probs = shown_probabilities(page, n_results)
    assert len(probs) == 7 and sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    return probs


def test_heic_says_unsupported_and_how_to_export_jpeg(page, site_url, odd_files):
    open_app(page, site_url)
    choose(page, odd_files / "iphone.heic")
    alert = page.locator("[role=alert]").first
    alert.wait_for()
    assert "HEIC" in alert.inner_text() and "JPEG" in alert.inner_text()
    choose(page, IMAGES[0])
    assert_classified(page)


def test_tiny_image_warns_but_classifies(page, site_url, odd_files):
    open_app(page, site_url)
    choose(page, odd_files / "tiny.jpg")
    assert_classified(page)
    assert "only 40x30 pixels" in page.locator("[role=alert]").first.inner_text()


@pytest.mark.parametrize("name", ["grey.jpg", "cmyk.jpg", "transparent.png"])
def test_unusual_colour_formats_classify(page, site_url, odd_files, name):
    open_app(page, site_url)
    choose(page, odd_files / name)
    assert_classified(page)
    assert page.locator(".error").count() == 0


def test_enormous_image_is_downscaled_without_crashing(page, site_url, odd_files):
    open_app(page, site_url)
    choose(page, odd_files / "huge.jpg")
    assert_classified(page)
    choose(page, IMAGES[0])
    assert_classified(page, 2)


def test_exif_orientation_is_honoured_in_browser_and_python(page, site_url, odd_files):
    assert read_rgb(odd_files / "rotated.jpg").shape == (200, 150, 3)
    open_app(page, site_url)
    choose(page, odd_files / "rotated.jpg")
    assert_classified(page)
    assert "150x200 px" in page.locator(".result .small").first.inner_text()


def test_fifty_images_leave_no_tensors_behind(page, site_url):
    open_app(page, site_url)
    before = page.evaluate("() => tf.memory().numTensors")
    files = [str(IMAGES[i % len(IMAGES)]) for i in range(50)]
    page.set_input_files(INPUT, files)
    page.locator(".result").nth(49).wait_for(timeout=120_000)
    assert page.evaluate("() => tf.memory().numTensors") == before




@pytest.mark.parametrize("width", [1280, 360])
def test_a_portrait_phone_photo_turned_away_keeps_its_thumbnail_inside_its_card(browser, site_url, tmp_path, width):
    import skimage.data

    # a 4032x3024 phone photo stored landscape with an EXIF rotation (shown portrait), of something that is not
    # a lesion: its card has a tall thumbnail and little text
    phone = tmp_path / "IMG_0001.jpg"
    phone.write_bytes(exif_rotated(Image.fromarray(skimage.data.chelsea()).resize((4032, 3024))))
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    open_app(page, site_url)
    choose(page, IMAGES[0])
    assert_classified(page)
    choose(page, phone)
    card = page.locator(".result.rejected")
    card.wait_for()
    page.wait_for_function("() => document.querySelector('.result.rejected img').complete")
    boxes = page.evaluate("""() => {
      const card = document.querySelector('.result.rejected');
      const box = (e) => e.getBoundingClientRect().toJSON();
      return {card: box(card), img: box(card.querySelector('img')), next: box(card.nextElementSibling)};
    }""")
    assert boxes["img"]["height"] > boxes["img"]["width"]  # shown upright, as the EXIF says
    assert boxes["img"]["bottom"] <= boxes["card"]["bottom"] + 0.5
    assert boxes["next"]["top"] >= boxes["img"]["bottom"]
    context.close()
