"""Headless Chromium + a loopback static server: shared by browser scoring, benchmarks and tests."""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHROMIUM_ARGS: list[str] = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOW_TO_GET_CHROMIUM = (
    "No Chromium found. Install Debian's package (`sudo apt-get install chromium`), or Playwright's own "
    "browser (`python -m playwright install chromium`), or set CHROMIUM_PATH to a Chromium/Chrome binary."
)


class BrowserNotFound(RuntimeError):
    pass


def find_chromium() -> str | None:
    """CHROMIUM_PATH, else Playwright's own Chromium if installed (None: let Playwright use it), else the
    system ``chromium``. Raises BrowserNotFound with install instructions when there is none."""
    explicit = os.environ.get("CHROMIUM_PATH")
    if explicit:
        if not Path(explicit).is_file():
            raise BrowserNotFound(f"CHROMIUM_PATH={explicit} does not exist. {HOW_TO_GET_CHROMIUM}")
        return explicit
    with contextlib.suppress(Exception):
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            if Path(p.chromium.executable_path).is_file():
                return None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise BrowserNotFound(HOW_TO_GET_CHROMIUM)


def launch_options() -> dict:
    executable = find_chromium()
    options: dict = {"headless": True, "args": CHROMIUM_ARGS}
    if executable:
        options["executable_path"] = executable
    return options


@dataclass
class Link:
    """A slow network shared by every connection to the server: each request waits ``round_trip_s`` before its
    answer and all response bytes share ``bytes_per_second``. Shaping the server, not the browser, slows
    every download (a service worker's own fetches included), which Chromium's per-page emulation does not."""

    bytes_per_second: float
    round_trip_s: float
    bytes_sent: int = 0
    _free_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, n: int) -> None:
        """Block until ``n`` more bytes fit through the link."""
        with self._lock:
            start = max(time.monotonic(), self._free_at)
            self._free_at = start + n / self.bytes_per_second
            self.bytes_sent += n
            wait = self._free_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)


class _Handler(SimpleHTTPRequestHandler):
    """Static files from ``directory``; ``routes`` maps exact URLs to files and '/'-ended prefixes to folders."""

    routes: dict[str, Path] = {}
    link: Link | None = None
    CHUNK = 16 * 1024
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm", ".js": "text/javascript",
                      ".mjs": "text/javascript", ".webmanifest": "application/manifest+json"}

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0].split("#", 1)[0]
        if clean in self.routes and self.routes[clean].is_file():
            return str(self.routes[clean])
        for prefix, target in self.routes.items():
            if prefix.endswith("/") and clean.startswith(prefix):
                return str(target / clean[len(prefix):])
        return super().translate_path(path)

    def send_head(self):
        if self.link:
            time.sleep(self.link.round_trip_s)
        return super().send_head()

    def copyfile(self, source, outputfile) -> None:
        if not self.link:
            return super().copyfile(source, outputfile)
        while chunk := source.read(self.CHUNK):
            self.link.send(len(chunk))
            outputfile.write(chunk)
        return None

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep test output quiet
        pass

    def handle(self) -> None:
        # A page closed mid-download (end of a test or benchmark) is normal, not a server error.
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextlib.contextmanager
def serve(root: Path, routes: dict[str, Path] | None = None, prefix: str = "/", port: int = 0,
          link: Link | None = None) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (threaded; ``port`` 0 = a free one); yields the base URL ending in '/'.

    ``prefix`` serves the site under a sub-path (as GitHub Pages project sites do); ``link`` slows every
    response down to a given network.
    """
    mounted = {prefix: Path(root)} if prefix != "/" else {}
    if not prefix.endswith("/"):
        raise ValueError("prefix must end with '/'")
    handler = type("Handler", (_Handler,), {"routes": {**(routes or {}), **mounted}, "link": link})
    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(handler, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        server.server_close()
