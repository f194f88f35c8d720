"""Report figures: confusion matrix and per-class classification report."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def confusion_matrix_figure(cm: np.ndarray, classes: list[str], path: Path, title: str) -> None:
    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{cm[i, j]}\n{share[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (row-normalised share)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def classification_report_figure(per_class: dict, path: Path, title: str) -> None:
    classes = list(per_class)
    columns = ["precision", "recall", "f1", "auc"]
    values = np.array([[per_class[c][k] for k in columns] for c in classes], dtype=float)
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    ax.imshow(np.nan_to_num(values), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for i, c in enumerate(classes):
        for j in range(len(columns)):
            ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(classes)), [f"{c} (n={per_class[c]['support']})" for c in classes])
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
