"""Headless Chromium + a loopback static server: shared by browser scoring, benchmarks and tests."""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
import threading
from collections.abc import Iterator
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


class _Handler(SimpleHTTPRequestHandler):
    """Static files from ``directory``; ``routes`` maps exact URLs to files and '/'-ended prefixes to folders."""

    routes: dict[str, Path] = {}
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

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep test output quiet
        pass

    def handle(self) -> None:
        # A page closed mid-download (end of a test or benchmark) is normal, not a server error.
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextlib.contextmanager
def serve(root: Path, routes: dict[str, Path] | None = None, prefix: str = "/", port: int = 0) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (threaded; ``port`` 0 = a free one); yields the base URL ending in '/'.

    ``prefix`` serves the site under a sub-path (as GitHub Pages project sites do).
    """
    mounted = {prefix: Path(root)} if prefix != "/" else {}
    if not prefix.endswith("/"):
        raise ValueError("prefix must end with '/'")
    handler = type("Handler", (_Handler,), {"routes": {**(routes or {}), **mounted}})
    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(handler, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        server.server_close()
