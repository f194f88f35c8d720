"""Who else can reach the lesion history (#31): pages framed by another origin refuse to run, and a copy served
from a sub-path, whose origin other pages share, says so where history is introduced."""
from __future__ import annotations

import pytest

from export.browser import serve
from tests.test_history import LOW_RISK, classify_and_save, dated_photo, open_history, open_patient
from tests.test_site import open_app

pytestmark = pytest.mark.browser
REFUSAL = "does not run inside another site's page"


@pytest.fixture
def other_origin(tmp_path):
    """A second loopback server (another port, so another origin) whose page frames a URL given as ?src=."""
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "frame.html").write_text("<!doctype html><title>someone else's page</title><iframe id=f width=800 "
                                       "height=600></iframe><script>document.getElementById('f').src = "
                                       "new URLSearchParams(location.search).get('src');</script>")
    with serve(folder) as url:
        yield url


@pytest.mark.parametrize("name", ["history.html", "index.html"])
def test_a_page_framed_by_another_origin_does_not_run(page, site_url, other_origin, tmp_path, name):
    open_app(page, site_url)
    classify_and_save(page, [dated_photo(LOW_RISK, tmp_path, "2025-03-01")], lesion="Private mole")
    page.goto(f"{other_origin}frame.html?src={site_url}{name}")
    frame = page.frame_locator("#f")
    frame.locator(".framed").wait_for()
    assert REFUSAL in frame.locator("main").inner_text()
    assert frame.locator("a[target=_top]").get_attribute("href") == f"{site_url}{name}"
    assert "Private mole" not in frame.locator("body").inner_text()
    assert frame.locator("body[data-ready]").count() == 0 and frame.locator("#file-input, #lesion-list").count() == 0
    # the same page opened on its own runs, and a frame of its own origin is not refused
    open_history(page, site_url)
    open_patient(page)
    assert "Private mole" in page.locator("#lesion-list").inner_text()
    page.set_content(f"<iframe id=f src='{site_url}history.html' width=800 height=600></iframe>")
    assert page.frame_locator("#f").locator(".framed").count() == 0


def test_a_sub_path_copy_warns_that_its_origin_is_shared(page, built_site, site_url):
    with serve(built_site, prefix="/lesionlens/") as url:
        open_history(page, url)
        warning = page.locator("#shared-origin")
        assert warning.is_visible()
        text = warning.inner_text()
        assert "/lesionlens/" in text and url.removesuffix("/lesionlens/") in text and "passphrase" in text
        assert "no one else can see" not in page.locator("main").inner_text()
        open_app(page, url)
        assert "/lesionlens/" in page.locator("#save-shared-origin").text_content()
    # at the root of its own origin there is nothing to warn about
    open_history(page, site_url)
    assert page.locator("#shared-origin").is_hidden()
    open_app(page, site_url)
    assert page.locator("#save-shared-origin").is_hidden()
