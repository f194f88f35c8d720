"""python -m train.studies.eda --data DIR --out DIR: data-set figures (class balance, age, sex, body site by class)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from train.data.loading import CLASSES, DataError, find_metadata  # noqa: E402


def class_distribution(meta: pd.DataFrame, out: Path) -> None:
    images = meta["dx"].value_counts().reindex(CLASSES)
    lesions = meta.drop_duplicates("lesion_id")["dx"].value_counts().reindex(CLASSES)
    fig, ax = plt.subplots(figsize=(7, 4))
    x = range(len(CLASSES))
    ax.bar([i - 0.2 for i in x], images, width=0.4, label="images")
    ax.bar([i + 0.2 for i in x], lesions, width=0.4, label="distinct lesions")
    for i, n in enumerate(images):
        ax.text(i - 0.2, n, f"{n}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(x), CLASSES)
    ax.set_ylabel("count")
    ax.set_title(f"HAM10000 class distribution ({len(meta)} images, {meta['lesion_id'].nunique()} lesions)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "class_distribution.png", dpi=120)
    plt.close(fig)


def age_by_class(meta: pd.DataFrame, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    data = [meta.loc[meta["dx"] == c, "age"].dropna() for c in CLASSES]
    ax.boxplot(data, tick_labels=CLASSES)
    ax.set_ylabel("age (years)")
    ax.set_title(f"Age by class ({int(meta['age'].isna().sum())} images without age)")
    fig.tight_layout()
    fig.savefig(out / "age_by_class.png", dpi=120)
    plt.close(fig)


def share_by_class(meta: pd.DataFrame, column: str, out: Path, top: int = 10) -> None:
    keep = meta[column].value_counts().index[:top]
    values = meta[column].where(meta[column].isin(keep), "other")
    table = pd.crosstab(meta["dx"], values, normalize="index").reindex(CLASSES)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    table.plot.bar(stacked=True, ax=ax, colormap="tab20", width=0.8)
    ax.set_ylabel("share of images")
    ax.set_title(f"{column.capitalize()} by class")
    ax.legend(bbox_to_anchor=(1.01, 1), loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / f"{column}_by_class.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.studies.eda", description=__doc__)
    p.add_argument("--data", required=True, type=Path, help="HAM10000 folder holding the metadata CSV")
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    try:
        meta = pd.read_csv(find_metadata(args.data))
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    class_distribution(meta, args.out)
    age_by_class(meta, args.out)
    share_by_class(meta, "sex", args.out)
    share_by_class(meta, "localization", args.out)
    print(f"wrote 4 figures to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
