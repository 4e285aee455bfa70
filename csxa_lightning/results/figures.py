"""The reports' figures as PNG bytes, drawn from numbers computed before (comparisons.py):
ROC curves, confusion matrices, balanced accuracy with its intervals, reliability diagrams;
png_bytes turns any matplotlib figure into PNG bytes (the Grad-CAM section's too). matplotlib
is imported when a figure is drawn, not with this module: a report without figures, and every
import of the package, stays fast."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from csxa_lightning.results.formatting import row_label
from csxa_lightning.utils.labels import CLASS_NAMES


def sweep_figures(table: pd.DataFrame, roc_curves: tuple) -> dict[str, bytes]:
    """ROC curves, confusion matrices and balanced accuracy with CIs, as PNG bytes by file
    name. table: the run table (run_table); roc_curves: (fpr, tpr) of each of its rows."""
    return {
        "roc.png": roc_figure(table, roc_curves),
        "confusion.png": confusion_figure(table),
        "balanced_accuracy.png": balanced_accuracy_figure(table),
    }


def roc_figure(table: pd.DataFrame, roc_curves: tuple) -> bytes:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    for label, auroc, (fpr, tpr) in zip(row_labels(table), table["auroc"], roc_curves, strict=True):
        ax.plot(fpr, tpr, label=f"{label} (AUROC {auroc:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="chance")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity (diseased)", title="ROC, test split")
    ax.legend(fontsize=7, loc="lower right")
    return png_bytes(fig)


def confusion_figure(table: pd.DataFrame) -> bytes:
    """One confusion matrix per run, four to a row."""
    plt = pyplot()
    cols = min(4, len(table))
    rows_n = int(np.ceil(len(table) / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(3 * cols, 2.8 * rows_n), squeeze=False)
    for ax, label, m in zip(axes.flat, row_labels(table), table.to_dict("records"), strict=False):
        matrix = np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]])
        ax.imshow(matrix, cmap="Blues", vmin=0)
        for (i, j), v in np.ndenumerate(matrix):
            color = "white" if v > matrix.max() / 2 else "black"
            ax.text(j, i, str(v), ha="center", va="center", color=color)
        ax.set_xticks([0, 1], list(CLASS_NAMES))
        ax.set_yticks([0, 1], list(CLASS_NAMES))
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
    for ax in list(axes.flat)[len(table) :]:
        ax.axis("off")
    fig.tight_layout()
    return png_bytes(fig)


def balanced_accuracy_figure(table: pd.DataFrame) -> bytes:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    values = table["balanced_accuracy"].to_numpy()
    errors = np.array(
        [values - table["balanced_accuracy_ci_low"], table["balanced_accuracy_ci_high"] - values]
    )
    ax.barh(row_labels(table), values, xerr=errors, color="#4c72b0", capsize=3)
    ax.axvline(0.5, color="k", ls=":", lw=1, label="majority class / chance (0.5)")
    ax.set(xlim=(0, 1), xlabel="balanced accuracy (95 % CI)", title="Balanced accuracy")
    ax.invert_yaxis()
    ax.legend(fontsize=7)
    fig.tight_layout()
    return png_bytes(fig)


def reliability_figure(tables: dict[str, dict], title: str) -> bytes:
    """Observed diseased share against mean prob_diseased per equal-width bin, one line per
    reliability table ({label: calibration.reliability_table}, all of the same bins); with a
    single table, its films per bin below."""
    plt = pyplot()
    bins = len(next(iter(tables.values()))["count"])
    single = len(tables) == 1
    if single:
        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=(5, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
        )
    else:
        fig, top = plt.subplots(figsize=(6, 5))
    top.plot([0, 1], [0, 1], "k:", lw=1, label="perfectly calibrated")
    for name, table in tables.items():
        filled = table["count"] > 0
        top.plot(table["mean_prob"][filled], table["observed"][filled], "o-",
                 ms=6 if single else 3, label=name)  # fmt: skip
    top.set(ylabel="observed diseased share", title=f"{title} ({bins} equal-width bins)")
    top.legend(fontsize=7)
    if single:
        bottom.bar(table["low"], table["count"], width=1 / bins, align="edge", color="#4c72b0")
        bottom.set(xlabel="predicted probability of diseased", ylabel="films", xlim=(0, 1))
    else:
        top.set(xlabel="predicted probability of diseased", xlim=(0, 1), ylim=(0, 1))
    fig.tight_layout()
    return png_bytes(fig)


def png_bytes(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend: a report is built without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def row_labels(table: pd.DataFrame) -> list[str]:
    """Each run's name as the tables write it (formatting.row_label): the baseline marked, the
    repetition named when the table holds several."""
    return [row_label(table, row) for row in table.to_dict("records")]
