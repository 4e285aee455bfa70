"""The report's figures as PNG bytes: ROC curves, confusion matrices, balanced accuracy with
its intervals; png_bytes turns any matplotlib figure into PNG bytes (the Grad-CAM section's
too). matplotlib is imported when a figure is drawn, not with this module."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from csxa_lightning.metrics.calibration import reliability_table
from csxa_lightning.results.tables import seed_tag
from csxa_lightning.runs.folder import Run, run_repeat
from csxa_lightning.utils.labels import CLASS_NAMES


def figures(runs: list[Run], table: pd.DataFrame) -> dict[str, bytes]:
    """ROC curves, confusion matrices and balanced accuracy with CIs, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    out = {}
    fig, ax = plt.subplots(figsize=(6, 5))
    for run in runs:
        fpr, tpr, _ = roc_curve(run.predictions["label"], run.predictions["prob_diseased"])
        ax.plot(
            fpr,
            tpr,
            label=f"{run.title}{seed_tag(table, run_repeat(run))} "
            f"(AUROC {run.metrics['auroc']:.3f})",
        )
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="chance")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity (diseased)", title="ROC, test split")
    ax.legend(fontsize=7, loc="lower right")
    out["roc.png"] = png_bytes(fig)

    cols = min(4, len(runs))
    rows_n = int(np.ceil(len(runs) / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(3 * cols, 2.8 * rows_n), squeeze=False)
    for ax, run in zip(axes.flat, runs, strict=False):
        m = run.metrics
        matrix = np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]])
        ax.imshow(matrix, cmap="Blues", vmin=0)
        for (i, j), v in np.ndenumerate(matrix):
            ax.text(
                j,
                i,
                str(v),
                ha="center",
                va="center",
                color="white" if v > matrix.max() / 2 else "black",
            )
        ax.set_xticks([0, 1], list(CLASS_NAMES))
        ax.set_yticks([0, 1], list(CLASS_NAMES))
        ax.set_title(f"{run.title}{seed_tag(table, run_repeat(run))}", fontsize=8)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
    for ax in list(axes.flat)[len(runs) :]:
        ax.axis("off")
    fig.tight_layout()
    out["confusion.png"] = png_bytes(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [
        f"{t}{seed_tag(table, s)}" for t, s in zip(table["variant"], table["repeat"], strict=True)
    ]
    values = table["balanced_accuracy"].to_numpy()
    errors = np.array(
        [values - table["balanced_accuracy_ci_low"], table["balanced_accuracy_ci_high"] - values]
    )
    ax.barh(labels, values, xerr=errors, color="#4c72b0", capsize=3)
    ax.axvline(0.5, color="k", ls=":", lw=1, label="majority class / chance (0.5)")
    ax.set(xlim=(0, 1), xlabel="balanced accuracy (95 % CI)", title="Balanced accuracy")
    ax.invert_yaxis()
    ax.legend(fontsize=7)
    fig.tight_layout()
    out["balanced_accuracy.png"] = png_bytes(fig)
    return out


def reliability_figure(curves: dict[str, tuple], bins: int, title: str) -> bytes:
    """Observed diseased share against mean prob_diseased per equal-width bin, one line per
    curve ({label: (labels, prob_diseased)}); with a single curve, its films per bin below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    single = len(curves) == 1
    if single:
        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=(5, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
        )
    else:
        fig, top = plt.subplots(figsize=(6, 5))
    top.plot([0, 1], [0, 1], "k:", lw=1, label="perfectly calibrated")
    for name, (y, prob) in curves.items():
        table = reliability_table(y, prob, bins)
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
