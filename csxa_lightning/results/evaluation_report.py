"""The one-model report of `evaluate`: how one checkpoint does on one labelled set, judged as a
clinical reader would: metrics with intervals, calibration, the ROC and precision-recall
curves, and subgroups. Every number is read from the predictions and metrics evaluate wrote,
or computed from them first (write_evaluation_report); the markdown only writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from csxa_lightning.data.csxa import stem_patients
from csxa_lightning.metrics.calibration import reliability_table
from csxa_lightning.metrics.subgroups import DEFAULT_MIN_COUNT, subgroup_table
from csxa_lightning.results.degenerate import constant_answer, degenerate_meaning
from csxa_lightning.results.figures import png_bytes, pyplot, reliability_figure
from csxa_lightning.results.formatting import (
    Column,
    counts,
    field_of,
    markdown_table,
    pct,
    pct_ci,
    ratio,
    with_interval,
)
from csxa_lightning.results.html_page import html_report
from csxa_lightning.runs.environment import NOT_RECORDED, recorded_environment
from csxa_lightning.runs.summary import AT_DEFAULT, DEFAULT_THRESHOLD
from csxa_lightning.utils.whole_files import write_bytes_whole, write_text_whole

METRIC_COLUMNS = (
    Column("accuracy % [95 % CI]", with_interval("accuracy"), pct_ci),
    Column("balanced accuracy %", with_interval("balanced_accuracy"), pct_ci),
    Column("sensitivity %", with_interval("sensitivity"), pct_ci),
    Column("specificity %", with_interval("specificity"), pct_ci),
    Column("AUROC", with_interval("auroc"), lambda v: f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]"),
    Column("AUPRC", field_of("auprc"), ratio),
    Column("Cohen's kappa", field_of("cohen_kappa"), ratio),
)
SUBGROUP_COLUMNS = (
    Column("group", field_of("group")),
    Column(
        "films (diseased / healthy)",
        lambda r: (r["n"], r["n_diseased"], r["n_healthy"]),
        lambda v: f"{v[0]} ({v[1]} / {v[2]})",
    ),  # fmt: skip
    Column("accuracy %", with_interval("accuracy"), pct_ci),
    Column("sensitivity %", with_interval("sensitivity"), pct_ci),
    Column("specificity %", with_interval("specificity"), pct_ci),
    Column("AUROC", field_of("auroc"), ratio),
)
ATTRIBUTE_TITLES = {"gender": "gender code", "age_band": "age band", "all": "all films"}


def write_evaluation_report(
    folder: Path, predictions: pd.DataFrame, metrics: dict, min_count: int = DEFAULT_MIN_COUNT
) -> dict[str, Path]:
    """report.md, report.html and figures/ in folder; returns the report paths."""
    y, prob = predictions["label"], predictions["prob_diseased"]
    reliability = reliability_table(y, prob, int(metrics["calibration_bins"]))
    subgroups = subgroup_table(
        predictions, stem_patients(predictions["stem"]), metrics["threshold"], min_count=min_count
    )
    pictures = {
        "reliability.png": reliability_figure({"this model": reliability}, "Reliability"),
        "curves.png": curves_figure(model_curves(predictions)),
    }
    figure_dir = folder / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    for name, data in pictures.items():
        write_bytes_whole(figure_dir / name, data)
    text = evaluation_markdown(metrics, subgroups, {n: f"figures/{n}" for n in pictures}, min_count)
    paths = {"md": folder / "report.md", "html": folder / "report.html"}
    write_text_whole(paths["md"], text)
    write_text_whole(paths["html"], html_report(text, pictures))
    return paths


@dataclass(frozen=True)
class Curves:
    """The ROC and precision-recall curves of one model's predictions (diseased positive)."""

    fpr: np.ndarray
    tpr: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    diseased_share: float  # the precision of guessing: where the chance line lies


def model_curves(predictions: pd.DataFrame) -> Curves:
    from sklearn.metrics import precision_recall_curve, roc_curve  # slow to import: when needed

    y, prob = predictions["label"], predictions["prob_diseased"]
    fpr, tpr, _ = roc_curve(y, prob)
    precision, recall, _ = precision_recall_curve(y, prob)
    return Curves(fpr, tpr, precision, recall, float(np.mean(y)))


def curves_figure(curves: Curves) -> bytes:
    """The ROC curve beside the precision-recall curve (diseased positive)."""
    plt = pyplot()
    fig, (roc, pr) = plt.subplots(1, 2, figsize=(10, 4.2))
    roc.plot(curves.fpr, curves.tpr)
    roc.plot([0, 1], [0, 1], "k:", lw=1, label="chance")
    roc.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC")
    pr.plot(curves.recall, curves.precision)
    pr.axhline(curves.diseased_share, color="k", ls=":", lw=1, label="diseased share (chance)")
    pr.set(xlabel="recall (sensitivity)", ylabel="precision", title="Precision-recall")
    for ax in (roc, pr):
        ax.legend(fontsize=7, loc="lower right" if ax is roc else "lower left")
    fig.tight_layout()
    return png_bytes(fig)


def subgroup_markdown(table: pd.DataFrame, min_count: int) -> str:
    parts = []
    for attribute, rows in table.groupby("attribute", sort=False):
        parts.append(f"**By {ATTRIBUTE_TITLES.get(attribute, attribute)}**")
        parts.append(markdown_table(SUBGROUP_COLUMNS, rows.to_dict("records")))
    parts.append(
        f"A metric is shown only where the films it is computed on number at least {min_count} "
        "(AUROC: of each class); otherwise — with the counts. The gender code is the file "
        "name's 0 or 1 (CSXA does not say which sex each code is); films whose names are not "
        "CSXA stems are in 'unknown'."
    )
    return "\n\n".join(parts)


def at_default_markdown(m: dict) -> str:
    """The headline metrics at 0.5 beside those at the checkpoint's threshold."""
    if m["threshold"] == DEFAULT_THRESHOLD:
        return "The threshold is the default 0.5."
    cells = [
        f"{name.replace('_', ' ')} {pct(m[name])} at {m['threshold']:g}, "
        f"{pct(m[f'{name}_at_default'])} at 0.5"
        for name in AT_DEFAULT
    ]
    return "At the checkpoint's threshold and at the default 0.5: " + "; ".join(cells) + "."


def degenerate_markdown(m: dict) -> str | None:
    """A warning above the metrics of a model that answered one class for every film."""
    answer = constant_answer(m)
    return f"**A degenerate model.** {degenerate_meaning(answer)}" if answer else None


def environment_line(env: dict) -> str:
    """The recorded environment in one line: accelerator, Python and the packages."""
    if not env:
        return NOT_RECORDED
    return ", ".join(f"{k} {v}" for k, v in env.items() if v is not None)


def temperature_text(m: dict) -> str:
    if m.get("temperature") is None:  # an ensemble whose members differ
        return "each member's own temperature, applied before combining"
    return f"temperature {m['temperature']:g} (1: uncalibrated)"


def ensemble_lines(m: dict) -> list[str]:
    """The members of an ensemble and test-time augmentation, when evaluate used them."""
    lines = []
    if m.get("ensemble"):
        members = m["ensemble"]["members"]
        lines.append(
            f"- ensemble: {m['ensemble']['method']} of {len(members)} members: "
            + ", ".join(f"`{p}`" for p in members)
        )
    if m.get("tta", "none") != "none":
        lines.append(f"- test-time augmentation: {m['tta']} (each film and its mirror image)")
    return lines


def evaluation_markdown(
    metrics: dict, subgroups: pd.DataFrame, figures: dict[str, str], min_count: int
) -> str:
    """report.md: metrics is what evaluate wrote, subgroups its subgroup_table, figures maps
    each figure's name to its link."""
    m = metrics
    parts = [
        "# Evaluation of " + ("an ensemble" if m.get("ensemble") else "one checkpoint"),
        "\n".join(
            [
                f"- checkpoint: `{m['checkpoint']}` ({m['arch']}, {m['preprocessing']})",
                f"- films: {m['films_from']} (subset {m['subset']}); {m['n']} scored, "
                f"{m['n_diseased']} diseased / {m['n_healthy']} healthy",
                f"- decision threshold: {m['threshold']:g} ({m['threshold_rule']}); "
                + temperature_text(m),
                *ensemble_lines(m),
                f"- intervals: {m['ci_level']:.0%}; Wilson for accuracy, sensitivity and "
                f"specificity, a stratified bootstrap ({m['bootstrap_resamples']} resamples, "
                f"seed {m['bootstrap_seed']}) for the others",
                f"- scored with: {environment_line(recorded_environment(m))}",
            ]
        ),
        "## Metrics",
        *filter(None, [degenerate_markdown(m)]),
        markdown_table(METRIC_COLUMNS, [m]),
        f"Confusion counts (diseased positive): TP / FN / TN / FP = "
        f"{counts((m['tp'], m['fn'], m['tn'], m['fp']))}; always answering the larger class "
        f"scores {pct(m['majority_accuracy'])} % accuracy.",
        at_default_markdown(m),
        "## Calibration",
        f"Brier score {m['brier_score']:.4f} (0 is perfect); expected calibration error "
        f"{m['ece']:.4f} over {m['calibration_bins']} equal-width bins of the predicted "
        "probability of diseased.",
        f"![reliability]({figures['reliability.png']})",
        "## ROC and precision-recall",
        f"![curves]({figures['curves.png']})",
        "## Subgroups",
        subgroup_markdown(subgroups, min_count),
    ]
    return "\n\n".join(parts) + "\n"
