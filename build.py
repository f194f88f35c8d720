"""Render templates/ + site/ into a deployable static folder (dist/ by default); --serve serves it.

Every URL in the output is relative, so the folder works at / and under a sub-path (GitHub Pages).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

ROOT = Path(__file__).resolve().parent
PAGES = ("index.html",)


class BuildError(RuntimeError):
    pass


def load_metadata(site: Path) -> dict:
    path = site / "model" / "metadata.json"
    if not path.is_file():
        raise BuildError(f"{path} not found: export a model first (python -m export), or restore site/model from git.")
    return json.loads(path.read_text())


def build(out: Path, site: Path = ROOT / "site", templates: Path = ROOT / "templates") -> Path:
    """Copy the static assets and render every page; returns the output folder."""
    metadata = load_metadata(site)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(site, out, ignore=shutil.ignore_patterns("refresh.sh"))
    env = Environment(loader=FileSystemLoader(templates), autoescape=True, undefined=StrictUndefined)
    for page in PAGES:
        (out / page).write_text(env.get_template(f"{page}.j2").render(metadata=metadata))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python build.py", description=__doc__)
    p.add_argument("--out", type=Path, default=ROOT / "dist")
    p.add_argument("--serve", action="store_true", help="serve the built folder on 127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    args = p.parse_args(argv)
    try:
        out = build(args.out)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"built {out}")
    if args.serve:
        from export.browser import serve

        with serve(out, port=args.port) as url:
            print(f"serving {out} at {url} (Ctrl+C to stop)", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
