"""What the command-line tools share: the run/data options and one way of reporting a DataError."""
from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

from train.data.loading import DataError


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=Path("models/ham10000"), help="training run folder")
    p.add_argument("--data", type=Path, default=None, help="HAM10000 folder (default: the one in config.json)")


def parse_run_arguments(prog: str, doc: str, argv: list[str] | None) -> argparse.Namespace:
    """The command line of a tool that reads a training run and, optionally, its data folder."""
    p = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(p)
    return p.parse_args(argv)


def named_path(text: str) -> tuple[str, Path]:
    """``NAME=PATH`` on the command line (an evaluation condition and its folder or file)."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH (e.g. low=../shared/data/ham10000/images), got {text!r}")
    return name, Path(path)


def reports_data_errors(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """A DataError anywhere in ``main`` becomes one 'error: ...' line on stderr and exit status 2."""
    @functools.wraps(main)
    def wrapped(argv: list[str] | None = None) -> int:
        try:
            return main(argv)
        except DataError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return wrapped
