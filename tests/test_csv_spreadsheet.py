"""The classify page's CSV opened by a real spreadsheet engine (#45): LibreOffice Calc, headless, reads the file the
page downloads, whose image names start like formulas in every way a spreadsheet might look past (leading spaces,
quotes, a BOM, zero-width characters, full-width signs), and no cell of the sheet it makes is a formula."""
from __future__ import annotations

import shutil
import subprocess
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.test_history import LOW_RISK
from tests.test_history_integrity import FORMULAS
from tests.test_site import INPUT, open_app

pytestmark = pytest.mark.browser
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
HOW_TO_GET_LIBREOFFICE = ("No LibreOffice found (`soffice`): install Debian's `sudo apt-get install --no-install-recommends "
                          "libreoffice-calc-nogui` (.ci/run does).")


def cell_text(element) -> str:
    """A cell's text as shown: ODF writes runs of spaces and tabs as <text:s text:c="n"/> and <text:tab/>."""
    out = element.text or ""
    for child in element:
        if child.tag == f"{{{TEXT}}}s":
            out += " " * int(child.get(f"{{{TEXT}}}c", "1"))
        elif child.tag == f"{{{TEXT}}}tab":
            out += "\t"
        else:
            out += cell_text(child)
        out += child.tail or ""
    return out


def sheet_cells(csv: Path, out: Path) -> list[tuple[str, str | None]]:
    """Every non-empty cell of ``csv`` as LibreOffice Calc imports it (UTF-8, comma, double quote): (text, formula
    or None), read back from the .ods it converts the file to."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        pytest.fail(HOW_TO_GET_LIBREOFFICE)
    subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation={(out / 'lo-profile').as_uri()}",
                    "--infilter=CSV:44,34,76,1", "--convert-to", "ods", "--outdir", str(out), str(csv)],
                   check=True, capture_output=True, timeout=300)
    root = ET.fromstring(zipfile.ZipFile(out / f"{csv.stem}.ods").read("content.xml"))
    cells = [(cell_text(c), c.get(f"{{{TABLE}}}formula")) for c in root.iter(f"{{{TABLE}}}table-cell")]
    return [(text, formula) for text, formula in cells if text or formula]


def test_libreoffice_reads_no_formula_in_the_pages_csv(page, site_url, tmp_path):
    # the engine does read a formula from a CSV cell (else the check below would pass for nothing)
    control = tmp_path / "control.csv"
    control.write_text('"=1+1","text"\n', encoding="utf-8")
    assert ("2", "of:=1+1") in sheet_cells(control, tmp_path)

    open_app(page, site_url)
    photo = LOW_RISK.read_bytes()
    names = [value.replace("\r", "") or "x" for value in FORMULAS] + ['=HYPERLINK("http://example.invalid","x")']
    page.set_input_files(INPUT, [{"name": name, "mimeType": "image/jpeg", "buffer": photo} for name in names])
    page.wait_for_function("(n) => document.querySelectorAll('.result').length === n && "
                           "/^Classified/.test(document.getElementById('status').textContent)", arg=len(names))
    with page.expect_download() as download:
        page.click("#download-csv")
    csv = tmp_path / "lesion-results.csv"
    download.value.save_as(csv)
    written = csv.read_text(encoding="utf-8")
    assert [n for n in names if n.replace('"', '""') not in written] == [], written  # every hostile name reached the file

    cells = sheet_cells(csv, tmp_path)
    assert [c for c in cells if c[1]] == []
    # each hostile name is one cell of text, as the page wrote it after the apostrophe that makes it inert
    texts = {text for text, _ in cells}
    assert all(f"'{name}" in texts or name in texts for name in names), sorted(texts)
