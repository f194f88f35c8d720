"""Age, sex and body site as the fusion model reads them: one-hot blocks, all zeros for a field that is absent.

Absent is first-class: an empty or NaN age, and sex or site "unknown" (HAM10000's word for not recorded) or
empty, encode as zeros, never as a guess. A value that is given but cannot be used (an age outside 0-120, a
sex other than female/male, a site the training split never had) is a ``ContextError`` naming the value and
what to do, never mapped to something near it.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from dataclasses import dataclass

import numpy as np
import pandas as pd

from train.data.loading import DataError

# Decade bins from 30 up: HAM10000 records ages in steps of 5, and few lesions are younger than 30.
AGE_EDGES: tuple[int, ...] = (30, 40, 50, 60, 70, 80)
SEXES: tuple[str, ...] = ("female", "male")
MAX_AGE = 120
ABSENT_WORDS = ("", "unknown")
FIELDS: tuple[str, ...] = ("age", "sex", "site")
# the columns a context file names each field by (HAM10000's metadata)
COLUMNS: dict[str, str] = {"age": "age", "sex": "sex", "site": "localization"}


class ContextError(DataError):
    """A patient-context value that is given but cannot be used; the message says which and what to do."""


@dataclass(frozen=True)
class Encoding:
    """The one-hot layout: age bins (by ``age_edges``), then ``sexes``, then ``sites``."""

    age_edges: tuple[int, ...]
    sexes: tuple[str, ...]
    sites: tuple[str, ...]

    @property
    def blocks(self) -> dict[str, slice]:
        ages = len(self.age_edges) + 1
        return {"age": slice(0, ages), "sex": slice(ages, ages + len(self.sexes)),
                "site": slice(ages + len(self.sexes), ages + len(self.sexes) + len(self.sites))}

    @property
    def width(self) -> int:
        return self.blocks["site"].stop

    def to_json(self) -> dict:
        return {"age_edges": list(self.age_edges), "sexes": list(self.sexes), "sites": list(self.sites),
                "max_age": MAX_AGE, "absent": list(ABSENT_WORDS)}

    @classmethod
    def from_json(cls, data: dict) -> "Encoding":
        return cls(tuple(data["age_edges"]), tuple(data["sexes"]), tuple(data["sites"]))


def encoding_for(sites: Iterable[str]) -> Encoding:
    """The layout for the body sites the training split has (HAM10000's ``unknown`` is absence, not a site)."""
    return Encoding(AGE_EDGES, SEXES, tuple(sorted({s for s in sites if not is_absent(s)})))


def is_absent(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in ABSENT_WORDS


def checked_context(encoding: Encoding, age: object = None, sex: object = None, site: object = None
                    ) -> dict[str, float | str | None]:
    """The three fields as the fusion reads them (None: absent); ContextError for a value it cannot use."""
    out: dict[str, float | str | None] = {"age": None, "sex": None, "site": None}
    if not is_absent(age):
        try:
            years = float(age)
        except (TypeError, ValueError):
            years = math.nan
        if not 0 <= years <= MAX_AGE:
            raise ContextError(f"age {age!r} is not a number of years from 0 to {MAX_AGE}; correct it or leave it empty.")
        out["age"] = years
    if not is_absent(sex):
        if sex not in encoding.sexes:
            raise ContextError(f"sex {sex!r} is not one of {', '.join(encoding.sexes)} or unknown.")
        out["sex"] = sex
    if not is_absent(site):
        if site not in encoding.sites:
            raise ContextError(f"body site {site!r} is not one the training data has ({', '.join(encoding.sites)}); "
                               "give one of those, or unknown.")
        out["site"] = site
    return out


def encode(encoding: Encoding, context: dict) -> np.ndarray:
    """One row of features from a checked context (``checked_context``)."""
    row = np.zeros(encoding.width)
    blocks = encoding.blocks
    if context.get("age") is not None:
        row[blocks["age"].start + int(np.searchsorted(encoding.age_edges, context["age"], side="right"))] = 1.0
    if context.get("sex") is not None:
        row[blocks["sex"].start + encoding.sexes.index(context["sex"])] = 1.0
    if context.get("site") is not None:
        row[blocks["site"].start + encoding.sites.index(context["site"])] = 1.0
    return row


def context_matrix(encoding: Encoding, frame: pd.DataFrame, fields: tuple[str, ...] = FIELDS) -> np.ndarray:
    """Features for every row of ``frame`` (HAM10000's columns age, sex, localization), only ``fields`` kept;
    a bad value is a ContextError naming its image."""
    rows = []
    for record in frame.to_dict("records"):
        given = {f: record.get(COLUMNS[f]) for f in fields}
        try:
            rows.append(encode(encoding, checked_context(encoding, **given)))
        except ContextError as err:
            raise ContextError(f"image {record.get('image_id', '?')}: {err}") from None
    return np.array(rows).reshape(len(rows), encoding.width)


def read_context_file(path: Path) -> pd.DataFrame:
    """A CSV with ``image_id`` and HAM10000's ``age``, ``sex``, ``localization`` columns, one row per image."""
    path = Path(path)
    if not path.is_file():
        raise ContextError(f"context file {path} not found; pass HAM10000's metadata CSV (image_id, age, sex, localization).")
    frame = pd.read_csv(path)
    missing = [c for c in ("image_id", *COLUMNS.values()) if c not in frame.columns]
    if missing:
        raise ContextError(f"context file {path} has no {', '.join(missing)} column; it needs image_id, age, sex and "
                           "localization, as HAM10000's metadata has.")
    return frame.drop_duplicates("image_id").set_index("image_id", drop=False)


def absent_rates(frame: pd.DataFrame) -> dict[str, float]:
    """The share of rows whose field is absent, per field: how often real records lack it."""
    return {f: float(frame[COLUMNS[f]].map(is_absent).mean()) for f in FIELDS}
