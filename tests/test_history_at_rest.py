"""Nothing readable outlives the lock on disk (#45): a real Chromium profile is written, locked, closed and its
IndexedDB files read byte by byte. Also: the page finds the history wherever the last lock moved it, upgrades
a history saved by the earlier page (one database of a fixed name), and loses nothing when a move stops half-way."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from export.browser import BrowserNotFound, launch_options
from tests.test_history import (
    LOW_RISK, HIGH_RISK, back_to_patients, dated_photo, export_file, open_history, open_lesion,
)
from tests.test_site import INPUT, open_app

pytestmark = pytest.mark.browser

# Distinctive, so that a hit in the profile's files can only be this record (no 4-byte run shared with the
# page's own words, so LevelDB's Snappy compression cannot split them either).
NAME = "Quokkafinch Wexmoor 7Q"
NOTE = "Zirconbiopsy Jubbleworth 93X"
PASSPHRASE = "correct horse battery"


def save_with_note(page, photo: Path, name: str = NAME, note: str = NOTE) -> None:
    before = page.locator(".result").count()
    page.set_input_files(INPUT, str(photo))
    page.wait_for_function("(n) => document.querySelectorAll('.result').length === n && "
                           "/^Classified/.test(document.getElementById('status').textContent)", arg=before + 1)
    page.locator(".result .save-entry").first.click()
    page.locator("#save-dialog").wait_for()
    page.select_option("#save-lesion", "new")
    page.fill("#new-lesion-name", name)
    page.fill("#new-lesion-note", note)
    page.select_option("#new-lesion-site", "back")
    page.click("#save-confirm")
    page.locator("#status a[href^='history.html#lesion/']").wait_for()


def lock(page, passphrase: str = PASSPHRASE) -> None:
    page.fill("#lock-passphrase", passphrase)
    page.fill("#lock-confirm", passphrase)
    page.click("#lock-form button[type=submit]")
    page.wait_for_function("() => /Locked/.test(document.getElementById('history-status').textContent)")


def unlock(page, passphrase: str = PASSPHRASE) -> None:
    page.locator("#unlock-view").wait_for()
    page.fill("#unlock-passphrase", passphrase)
    page.click("#unlock-form button[type=submit]")
    page.wait_for_function("() => /Unlocked/.test(document.getElementById('history-status').textContent)")


def photo_runs(data_url: str) -> list[bytes]:
    """Runs of the stored photo as the database could hold it: its base64 text (as stored today) and its raw
    bytes. Several short runs, not one long one: Snappy (LevelDB's compression) can replace a few bytes inside a
    long run by a back-reference, which would hide the run from a plain search."""
    text = data_url.split(",", 1)[1]
    raw = base64.b64decode(text)
    runs = [text[i:i + 24].encode() for i in range(len(text) // 10, len(text) * 9 // 10, len(text) // 10)]
    return runs + [raw[i:i + 24] for i in range(len(raw) // 10, len(raw) * 9 // 10, len(raw) // 10)]


def findings(profile: Path, secrets: dict[str, list[bytes]], folders: list[Path]) -> dict[str, list[str]]:
    """{secret's label: every file under ``folders`` of the profile that holds it}."""
    found: dict[str, list[str]] = {}
    for folder in folders:
        for file in (f for f in folder.rglob("*") if f.is_file()):
            data = file.read_bytes()
            for label, needles in secrets.items():
                if any(n in data for n in needles):
                    found.setdefault(label, []).append(str(file.relative_to(profile)))
    return found


def saved_then(playwright, site_url, tmp_path, action) -> tuple[Path, str]:
    """In a browser with a profile on disk: save a lesion with a name, a note and a photo, run ``action(page)``
    on My lesions, close the browser. Returns the profile and the stored photo (a data URL)."""
    try:
        options = launch_options()
    except BrowserNotFound as err:
        pytest.fail(str(err))
    profile = tmp_path / "profile"
    context = playwright.chromium.launch_persistent_context(str(profile), **options)
    try:
        page = context.new_page()
        open_app(page, site_url)
        save_with_note(page, dated_photo(LOW_RISK, tmp_path, "2025-03-01"))
        open_history(page, site_url)
        stored = json.loads(export_file(page, tmp_path).read_text())
        image = stored["lesions"][0]["entries"][0]["image"]
        assert stored["lesions"][0]["name"] == NAME and image.startswith("data:image/jpeg;base64,")
        action(page)
    finally:
        context.close()  # the browser closes: what is in the files now is what a thief of the disk reads
    return profile, image


def assert_nothing_readable(profile: Path, image: str) -> None:
    secrets = {"name": [NAME.encode(), NAME.encode("utf-16-le")], "note": [NOTE.encode(), NOTE.encode("utf-16-le")],
               "photo": photo_runs(image)}
    # the profile's IndexedDB folders (the default storage's and every storage bucket's), then every file of the
    # profile (caches, session-restore files, local storage, preferences): the photo, name and note are nowhere
    indexeddb = [d for d in profile.rglob("IndexedDB") if d.is_dir()]
    assert indexeddb, f"no IndexedDB folder in the profile {profile}"
    assert findings(profile, secrets, indexeddb) == {}
    assert findings(profile, secrets, [profile]) == {}


def test_nothing_saved_before_the_lock_is_readable_in_the_profiles_files(playwright, site_url, tmp_path):
    def lock_and_reload(page):
        lock(page)
        page.reload()  # the lock is what the page now finds
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        assert page.locator("#unlock-view").is_visible()

    assert_nothing_readable(*saved_then(playwright, site_url, tmp_path, lock_and_reload))


def test_nothing_deleted_is_readable_in_the_profiles_files(playwright, site_url, tmp_path):
    def delete_everything(page):
        page.click("#delete-everything")
        page.locator("#confirm-dialog").wait_for()
        page.click("#confirm-dialog button[value=confirm]")
        page.wait_for_function("() => /Everything deleted/.test(document.getElementById('history-status').textContent)")

    assert_nothing_readable(*saved_then(playwright, site_url, tmp_path, delete_everything))


def test_after_the_lock_the_page_unlocks_lists_adds_and_exports(page, site_url, tmp_path):
    open_app(page, site_url)
    save_with_note(page, dated_photo(LOW_RISK, tmp_path, "2025-03-01"))
    open_history(page, site_url)
    lock(page)
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    unlock(page)
    open_lesion(page, NAME)
    assert page.locator("#timeline .entry").count() == 1
    # a photo added to the locked history from the classify page lands in the moved history
    open_app(page, site_url)
    before = page.locator(".result").count()
    page.set_input_files(INPUT, str(dated_photo(HIGH_RISK, tmp_path, "2025-06-01")))
    page.wait_for_function("(n) => document.querySelectorAll('.result').length === n && "
                           "/^Classified/.test(document.getElementById('status').textContent)", arg=before + 1)
    page.locator(".result .save-entry").first.click()
    page.locator("#save-dialog").wait_for()
    page.locator("#save-unlock").wait_for()  # the page found the locked history where the lock moved it
    page.fill("#save-passphrase", PASSPHRASE)
    page.click("#save-unlock-button")
    option = page.wait_for_function("(name) => [...document.querySelectorAll('#save-lesion option')]"
                                    ".find((o) => o.textContent.includes(name))?.value", arg=NAME).json_value()
    page.select_option("#save-lesion", option)
    page.click("#save-confirm")
    page.locator("#status a[href^='history.html#lesion/']").wait_for()
    open_history(page, site_url)
    unlock(page)
    exported = json.loads(export_file(page, tmp_path).read_text())
    assert [(l["name"], l["note"], len(l["entries"])) for l in exported["lesions"]] == [(NAME, NOTE, 2)]


# The stored records as they are (sealed or not), to put back under another name or home.
RAW_RECORDS = """async () => {
  const db = await (await import('./js/records/history-store.js')).currentDatabase();
  const all = (store) => new Promise((ok) => { const r = db.transaction(store).objectStore(store).getAll(); r.onsuccess = () => ok(r.result); });
  const out = { lesions: await all('lesions'), entries: await all('entries'), meta: await all('meta') };
  db.close();
  return out;
}"""
# ``records`` written into a database of the earlier page's layout: in the default storage under ``name``, or
# (``bucket``) in a storage bucket of that name; ``clear``: first delete every home the page would find.
WRITE_HOME = """async ({ records, name, bucket, clear }) => {
  if (clear) await (await import('./js/records/history-store.js')).deleteEverything(null);
  const factory = bucket ? (await navigator.storageBuckets.open(bucket)).indexedDB : indexedDB;
  const db = await new Promise((ok, fail) => {
    const r = factory.open(name, 1);
    r.onupgradeneeded = () => {
      r.result.createObjectStore('lesions', { keyPath: 'id' });
      r.result.createObjectStore('entries', { keyPath: 'id' }).createIndex('lesionId', 'lesionId');
      r.result.createObjectStore('meta', { keyPath: 'key' });
    };
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
  const tx = db.transaction(['lesions', 'entries', 'meta'], 'readwrite');
  for (const store of ['lesions', 'entries', 'meta']) (records[store] ?? []).forEach((r) => tx.objectStore(store).put(r));
  await new Promise((ok) => { tx.oncomplete = ok; });
  db.close();
}"""
BUCKETS = "() => navigator.storageBuckets.keys()"
DEFAULT_DATABASES = "() => indexedDB.databases().then((d) => d.map((x) => x.name))"


def reload_history(page) -> None:
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)


def test_a_history_saved_by_the_earlier_page_is_found_and_the_lock_moves_it(page, site_url, tmp_path):
    open_app(page, site_url)
    save_with_note(page, dated_photo(LOW_RISK, tmp_path, "2025-03-01"))
    open_history(page, site_url)
    # the earlier page kept everything in one database, "lesionlens-history", in the default storage
    page.evaluate(WRITE_HOME, {"records": page.evaluate(RAW_RECORDS), "name": "lesionlens-history", "bucket": None,
                               "clear": True})
    assert page.evaluate(BUCKETS) == [] and page.evaluate(DEFAULT_DATABASES) == ["lesionlens-history"]
    reload_history(page)
    open_lesion(page, NAME)
    assert page.locator("#timeline .entry").count() == 1
    back_to_patients(page)
    lock(page)
    assert page.evaluate(DEFAULT_DATABASES) == [] and page.evaluate(BUCKETS) == ["lesionlens-history-1"]
    reload_history(page)
    unlock(page)
    open_lesion(page, NAME)
    assert page.locator("#timeline .entry").count() == 1


def test_a_move_stopped_half_way_loses_nothing(page, site_url, tmp_path):
    open_app(page, site_url)
    save_with_note(page, dated_photo(LOW_RISK, tmp_path, "2025-03-01"))
    open_history(page, site_url)
    plain = page.evaluate(RAW_RECORDS)
    assert page.evaluate(BUCKETS) == ["lesionlens-history-1"]
    # stopped after copying, before the copy was checked and marked: the copy (here with only the lesion) is
    # dropped, the history is read from where it was
    partial = {"lesions": plain["lesions"]}
    page.evaluate(WRITE_HOME, {"records": partial, "name": "lesionlens-history", "bucket": "lesionlens-history-2",
                               "clear": False})
    reload_history(page)
    open_lesion(page, NAME)
    assert page.locator("#timeline .entry").count() == 1
    assert page.evaluate(BUCKETS) == ["lesionlens-history-1"]
    back_to_patients(page)
    lock(page)
    assert page.evaluate(BUCKETS) == ["lesionlens-history-2"]
    # stopped after the locked copy was marked complete, before the unencrypted home was deleted: the locked one
    # is the history, and the unencrypted leftover is deleted on the next visit
    page.evaluate(WRITE_HOME, {"records": {**plain, "meta": [{"key": "home", "generation": 1}]},
                               "name": "lesionlens-history", "bucket": "lesionlens-history-1", "clear": False})
    reload_history(page)
    assert page.locator("#unlock-view").is_visible()
    assert page.evaluate(BUCKETS) == ["lesionlens-history-2"]
    unlock(page)
    open_lesion(page, NAME)
    assert page.locator("#timeline .entry").count() == 1
