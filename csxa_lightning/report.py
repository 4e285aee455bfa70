"""python -m csxa_lightning.report [SWEEP_DIR]  (make report: the latest sweep)

The paper's Table 1 and what the paper leaves out, computed from the run folders' files alone
(predictions.csv and the config Hydra saved), so it can be rebuilt at any time without
retraining. Writes report.md, report.csv and a self-contained report.html (figures embedded)
into the sweep folder. Its Grad-CAM section (report_cam.py) also reads each variant's tested
checkpoint and a few of its test images, and says why when they are not on this machine.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import markdown
import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from csxa_lightning.results.metrics import (
    INTERVAL_BOOTSTRAP_METRICS,
    bootstrap_seed,
    compute_metrics,
    metrics_with_intervals,
)
from csxa_lightning.results.paper import PUBLISHED_N_TEST, decode_paper_table, published_table
from csxa_lightning.results.stats import (
    holm,
    mcnemar_exact,
    mean_sd,
    paired_bootstrap,
    paired_ttest,
    two_proportion_ztest,
)

# The paper's reference (original images, ResNet50), used to find the baseline only in sweeps
# written before variants carried their own marker (variant.baseline in conf/variant/).
LEGACY_BASELINE = ("resnet50", "none", "none")
PACKAGES = (
    "torch",
    "torchvision",
    "lightning",
    "hydra-core",
    "torchmetrics",
    "albumentations",
    "opencv-python-headless",
    "imbalanced-learn",
    "statsmodels",
    "scikit-learn",
    "numpy",
    "grad-cam",
)


@dataclass
class Run:
    """One finished run folder."""

    path: Path
    arch: str
    crop: str
    color: str
    seed: int
    fold: int  # cross-validation fold, -1 without cross-validation
    title: str
    overrides: list[str]
    predictions: pd.DataFrame
    metrics: dict = field(default_factory=dict)
    variant: str | None = None  # the +variant name (conf/variant/), None for a plain run
    is_baseline: bool | None = None  # variant.baseline; None when the run has no marker
    recorded: dict = field(default_factory=dict)  # what train.py wrote into metrics.json

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.arch, self.crop, self.color)

    @property
    def test_ids(self) -> np.ndarray:
        return self.predictions["case_id"].to_numpy()

    @property
    def repeat(self) -> tuple[int, int]:
        """Which repetition: runs of one (seed, fold) share a test set and pair up."""
        return (self.seed, self.fold)

    @property
    def correct(self) -> np.ndarray:
        return (self.predictions["pred"] == self.predictions["label"]).to_numpy()


TITLES = {
    ("none", "none"): "Original",
    ("tight", "none"): "Cropped",
    ("wide", "none"): "Wide cropped",
    ("none", "enhanced"): "Colored",
    ("tight", "enhanced"): "Colored, cropped",
    ("wide", "enhanced"): "Colored, wide cropped",
}
MODEL_NAMES = {"resnet50": "ResNet50", "vgg19": "VGG19", "resnet18": "ResNet18"}


def default_title(arch: str, crop: str, color: str) -> str:
    """The paper's name of a variant; the model is named for the originals and non-ResNet50."""
    title = TITLES.get((crop, color), f"crop={crop}, color={color}")
    if (crop, color) == ("none", "none") or arch != "resnet50":
        title += f" ({MODEL_NAMES.get(arch, arch)})"
    return title


def load_run(folder: Path) -> Run:
    config = OmegaConf.load(folder / ".hydra" / "config.yaml")
    overrides_file = folder / ".hydra" / "overrides.yaml"
    overrides = list(OmegaConf.load(overrides_file)) if overrides_file.exists() else []
    predictions = pd.read_csv(folder / "predictions.csv", dtype={"stem": str}).sort_values(
        "case_id", ignore_index=True
    )  # stems keep their leading zeros (0001035): they name the images
    arch = str(config.model.arch)
    crop, color = str(config.crop.name), str(config.color.name)
    title = default_title(arch, crop, color)
    cv = config.get("cv") or {}
    variant = config.get("variant") or {}
    recorded = json.loads((folder / "metrics.json").read_text())
    run = Run(
        folder,
        arch,
        crop,
        color,
        int(config.seed),
        int(cv.get("fold", 0)) if cv.get("folds", 0) else -1,
        str(title),
        [str(o) for o in overrides],
        predictions,
        variant=variant.get("name"),
        is_baseline=bool(variant["baseline"]) if "baseline" in variant else None,
        recorded=recorded if isinstance(recorded, dict) else {},
    )
    # The seed training used for metrics.json's intervals: the report's are the same numbers.
    seed = run.recorded.get("bootstrap_seed", bootstrap_seed(run.seed))
    run.metrics = metrics_with_intervals(
        predictions["label"].to_numpy(), predictions["prob_diseased"].to_numpy(), seed=seed
    )
    return run


def find_runs(sweep_dir: Path) -> list[Run]:
    folders = sorted(
        p.parent
        for p in sweep_dir.rglob("predictions.csv")
        if (p.parent / "metrics.json").exists() and (p.parent / ".hydra" / "config.yaml").exists()
    )
    if not folders:
        raise FileNotFoundError(
            f"{sweep_dir}: no finished run folders (predictions.csv, metrics.json and "
            ".hydra/config.yaml); run a sweep first, e.g. python -m csxa_lightning.train "
            "experiment=table1"
        )
    order = [
        default_title(*key) for key in (("resnet50", "none", "none"), ("vgg19", "none", "none"))
    ]
    order += [t for k, t in TITLES.items() if k != ("none", "none")]
    runs = [load_run(f) for f in folders]
    runs.sort(
        key=lambda r: (order.index(r.title) if r.title in order else len(order), r.title, r.repeat)
    )
    return runs


def run_repeat(run: Run) -> str:
    return f"seed {run.seed}" + (f", fold {run.fold}" if run.fold >= 0 else "")


def is_baseline(run: Run, runs: list[Run]) -> bool:
    """The run of the variant marked as baseline in its own yaml (conf/variant/). Only a sweep
    in which no run carries a marker (written before the markers existed) falls back to the
    paper's reference, ResNet50 on the original images."""
    if any(r.is_baseline is not None for r in runs):
        return bool(run.is_baseline)
    return run.key == LEGACY_BASELINE


def baseline_for(run: Run, runs: list[Run]) -> tuple[Run | None, str]:
    """(the baseline run of the same repetition, "") or (None, why there is none)."""
    bases = [r for r in runs if is_baseline(r, runs) and r.repeat == run.repeat]
    if not bases:
        return None, (
            f"no run of {run_repeat(run)} is marked as the baseline (variant.baseline: true "
            "in conf/variant/original.yaml; run +variant=original in the same sweep)"
        )
    base = bases[0]
    if base is run:
        return None, ""
    if not np.array_equal(np.sort(base.test_ids), np.sort(run.test_ids)):
        only_run = np.setdiff1d(run.test_ids, base.test_ids)
        only_base = np.setdiff1d(base.test_ids, run.test_ids)
        return None, (
            f"its test images differ from the baseline's ({run.path.name}: {len(run.test_ids)} "
            f"images, {len(only_run)} not in the baseline's; {base.path.name}: "
            f"{len(base.test_ids)}, {len(only_base)} not in this run's), so they cannot be "
            "paired. Runs share their test images when they share data.split_seed, the "
            "fractions, cv.fold and the usable image set (see each run's split.csv and "
            "skipped_files.csv)."
        )
    return base, ""


NO_COMPARISON = {
    "z_p": np.nan,
    "mcnemar_p": np.nan,
    "mcnemar_p_one_sided": np.nan,
    "d_bal_acc": np.nan,
    "d_bal_acc_ci": (np.nan, np.nan),
}


def comparisons(run: Run, runs: list[Run]) -> dict:
    """The paper's z-test and the paired tests against the baseline of the same repetition;
    "why_not" says why there are none."""
    base, why_not = baseline_for(run, runs)
    if base is None:
        return {**NO_COMPARISON, "why_not": why_not}
    n = len(run.predictions)
    _, z_p = two_proportion_ztest(
        int(run.correct.sum()), n, int(base.correct.sum()), n, alternative="larger"
    )
    # Both are sorted by case id (load_run) and hold the same ids: the pairs are images.
    boot = paired_bootstrap(
        run.predictions["label"].to_numpy(),
        run.predictions["prob_diseased"].to_numpy(),
        base.predictions["prob_diseased"].to_numpy(),
        metric="balanced_accuracy",
        seed=bootstrap_seed(run.seed),
    )
    return {
        "z_p": z_p,
        "mcnemar_p": mcnemar_exact(run.correct, base.correct)["p"],
        # Like the paper's z-test: the variant better than the baseline.
        "mcnemar_p_one_sided": mcnemar_exact(run.correct, base.correct, alternative="larger")["p"],
        "d_bal_acc": boot["diff"],
        "d_bal_acc_ci": boot["diff_ci"],
        "why_not": "",
    }


def with_holm(table: pd.DataFrame) -> pd.DataFrame:
    """Holm-adjusted p-values beside the raw ones. The family is one repetition's comparisons
    against its baseline (six variants in Table 1): each test is one of several looks at the
    same question, "does preprocessing beat the original?"."""
    table = table.copy()
    for raw in ("p_ztest_vs_baseline", "p_mcnemar_vs_baseline", "p_mcnemar_one_sided"):
        table[f"{raw}_holm"] = np.nan
        for _, rows in table.groupby("repeat", sort=False):
            table.loc[rows.index, f"{raw}_holm"] = holm(rows[raw].to_numpy())
    return table


def run_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run: every number of both tables (report.csv)."""
    rows = []
    for run in runs:
        m, c = run.metrics, comparisons(run, runs)
        rows.append(
            {
                "variant": run.title,
                "model": run.arch,
                "crop": run.crop,
                "color": run.color,
                "variant_name": run.variant,
                "baseline": is_baseline(run, runs),
                "protocol": run.recorded.get("protocol"),
                "train_samples": run.recorded.get("train_samples"),
                "optimizer_steps": run.recorded.get("optimizer_steps"),
                "seed": run.seed,
                "fold": run.fold,
                "repeat": run_repeat(run),
                "n": m["n"],
                "n_healthy": m["n_healthy"],
                "n_diseased": m["n_diseased"],
                **{
                    k: m[k]
                    for k in (
                        "accuracy",
                        "precision_weighted",
                        "recall_macro",
                        "f1_weighted",
                        "precision_macro",
                        "f1_macro",
                        "balanced_accuracy",
                        "sensitivity",
                        "specificity",
                        "auroc",
                        "auprc",
                        "accuracy_ci_low",
                        "accuracy_ci_high",
                        "balanced_accuracy_ci_low",
                        "balanced_accuracy_ci_high",
                        "sensitivity_ci_low",
                        "sensitivity_ci_high",
                        "specificity_ci_low",
                        "specificity_ci_high",
                        "auroc_ci_low",
                        "auroc_ci_high",
                        "auprc_ci_low",
                        "auprc_ci_high",
                        "tp",
                        "tn",
                        "fp",
                        "fn",
                    )
                },
                "bootstrap_resamples": m["bootstrap_resamples"],
                **{
                    f"{name}_undefined_resamples": m[f"{name}_undefined_resamples"]
                    for name in INTERVAL_BOOTSTRAP_METRICS
                },
                "p_ztest_vs_baseline": c["z_p"],
                "p_mcnemar_vs_baseline": c["mcnemar_p"],
                "p_mcnemar_one_sided": c["mcnemar_p_one_sided"],
                "d_balanced_accuracy_vs_baseline": c["d_bal_acc"],
                "d_balanced_accuracy_ci_low": c["d_bal_acc_ci"][0],
                "d_balanced_accuracy_ci_high": c["d_bal_acc_ci"][1],
                "not_compared_because": c["why_not"],
                "folder": str(run.path),
            }
        )
    return with_holm(pd.DataFrame(rows))


def pct(x: float) -> str:
    return "—" if pd.isna(x) else f"{100 * x:.2f}"


def pval(p: float) -> str:
    return "—" if pd.isna(p) else ("<0.0001" if p < 1e-4 else f"{p:.4f}")


def ci(low: float, high: float) -> str:
    return "" if pd.isna(low) else f" [{100 * low:.1f}, {100 * high:.1f}]"


def majority_row(table: pd.DataFrame) -> tuple[str, dict]:
    """Title and metrics of always answering the test split's larger class."""
    first = table.iloc[0]
    n_pos, n = int(first["n_diseased"]), int(first["n"])
    labels = np.r_[np.ones(n_pos), np.zeros(n - n_pos)].astype(int)
    answer = 1 if n_pos >= n - n_pos else 0
    title = f'Majority class (always "{"diseased" if answer else "healthy"}")'
    return title, compute_metrics(labels, np.full(n, float(answer)))


def table1_markdown(table: pd.DataFrame) -> str:
    lines = [
        "| variant | model | accuracy | precision (weighted) | recall (weighted) | F1 (weighted) "
        "| precision (macro) | recall (macro) | F1 (macro) | p (z-test) | p (z-test, Holm) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.variant}{seed_tag(table, r.repeat)} | {r.model} | {pct(r.accuracy)} "
            f"| {pct(r.precision_weighted)} | {pct(r.accuracy)} | {pct(r.f1_weighted)} "
            f"| {pct(r.precision_macro)} | {pct(r.recall_macro)} | {pct(r.f1_macro)} "
            f"| {pval(r.p_ztest_vs_baseline)} | {pval(r.p_ztest_vs_baseline_holm)} |"
        )
    title, m = majority_row(table)
    lines.append(
        f"| {title} | — | {pct(m['accuracy'])} "
        f"| {pct(m['precision_weighted'])} | {pct(m['accuracy'])} | {pct(m['f1_weighted'])} "
        f"| {pct(m['precision_macro'])} | {pct(m['recall_macro'])} | {pct(m['f1_macro'])} "
        "| — | — |"
    )
    return "\n".join(lines)


def seed_tag(table: pd.DataFrame, repeat: str) -> str:
    """'(seed 1, fold 2)' when the table holds several repetitions, else nothing."""
    return f" ({repeat})" if table["repeat"].nunique() > 1 else ""


def table2_markdown(table: pd.DataFrame) -> str:
    lines = [
        "| variant | balanced accuracy [95 % CI] | sensitivity | specificity | AUROC | AUPRC "
        "| McNemar p (two-sided) | McNemar p (one-sided) | McNemar p (two-sided, Holm) "
        "| Δ balanced accuracy vs baseline [95 % CI] | test healthy / diseased |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():

        def with_ci(name: str, r=r) -> str:
            value = getattr(r, name)
            return pct(value) + ci(getattr(r, f"{name}_ci_low"), getattr(r, f"{name}_ci_high"))

        lines.append(
            f"| {r.variant}{seed_tag(table, r.repeat)} | {with_ci('balanced_accuracy')} "
            f"| {with_ci('sensitivity')} | {with_ci('specificity')} | {with_ci('auroc')} "
            f"| {with_ci('auprc')} "
            f"| {pval(r.p_mcnemar_vs_baseline)} | {pval(r.p_mcnemar_one_sided)} "
            f"| {pval(r.p_mcnemar_vs_baseline_holm)} "
            f"| {pct(r.d_balanced_accuracy_vs_baseline)}"
            f"{ci(r.d_balanced_accuracy_ci_low, r.d_balanced_accuracy_ci_high)} "
            f"| {r.n_healthy} / {r.n_diseased} |"
        )
    title, m = majority_row(table)
    lines.append(
        f"| {title} | {pct(m['balanced_accuracy'])} "
        f"| {pct(m['sensitivity'])} | {pct(m['specificity'])} | {pct(m['auroc'])} "
        f"| {pct(m['auprc'])} | — | — | — | — | {m['n_healthy']} / {m['n_diseased']} |"
    )
    return "\n".join(lines)


def seeds_markdown(table: pd.DataFrame) -> str | None:
    """Mean ± sd over repetitions (seeds and/or cross-validation folds), and the paired t-test
    across them against the baseline (the paper's caption: a paired t-test across folds)."""
    if table["repeat"].nunique() < 2:
        return None
    base = table[table["baseline"]].set_index("repeat")
    lines = [
        "| variant | repetitions | accuracy | balanced accuracy | AUROC "
        "| paired t-test p (balanced accuracy vs baseline) |",
        "|---|---|---|---|---|---|",
    ]
    for variant, group in table.groupby("variant", sort=False):
        cells = []
        for metric in ("accuracy", "balanced_accuracy", "auroc"):
            mean, sd = mean_sd(group[metric].to_numpy())
            cells.append(f"{100 * mean:.2f} ± {100 * sd:.2f}")
        shared = group.set_index("repeat").index.intersection(base.index)
        p = np.nan
        if len(shared) >= 2 and not group["folder"].isin(base["folder"]).all():
            _, p = paired_ttest(
                group.set_index("repeat").loc[shared, "balanced_accuracy"],
                base.loc[shared, "balanced_accuracy"],
            )
        lines.append(f"| {variant} | {len(group)} | {' | '.join(cells)} | {pval(p)} |")
    return "\n".join(lines)


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
    out["roc.png"] = _png(fig)

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
        ax.set_xticks([0, 1], ["healthy", "diseased"])
        ax.set_yticks([0, 1], ["healthy", "diseased"])
        ax.set_title(f"{run.title}{seed_tag(table, run_repeat(run))}", fontsize=8)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
    for ax in list(axes.flat)[len(runs) :]:
        ax.axis("off")
    fig.tight_layout()
    out["confusion.png"] = _png(fig)

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
    out["balanced_accuracy.png"] = _png(fig)
    return out


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def protocol_markdown(runs: list[Run]) -> str:
    """The protocol every run followed and, value by value, where it departs from the paper
    (train.py records both in metrics.json)."""
    protocols = sorted({str(r.recorded.get("protocol", "not recorded")) for r in runs})
    lines = [f"**Protocol: {', '.join(protocols)}.** " + PROTOCOL_TEXT.get(protocols[0], "")]
    if len(protocols) > 1:
        lines[0] = f"**Protocols differ between runs: {', '.join(protocols)}.**"
    departures: dict[str, list[str]] = {}
    header: list[str] | None = None
    for run in runs:
        for item in run.recorded.get("departures") or []:
            cells = [str(v) for v in item.values()] if isinstance(item, dict) else [str(item)]
            if isinstance(item, dict) and header is None:
                header = list(item)
            departures.setdefault(" | ".join(cells), []).append(run.title)
    if not departures:
        lines.append("These runs recorded no departures from the paper's method.")
        return "\n\n".join(lines)
    columns = (header or ["departure"]) + ["runs"]
    everyone = {r.title for r in runs}

    def which(titles: list[str]) -> str:
        return "all" if set(titles) == everyone else "; ".join(dict.fromkeys(titles))

    rows = [f"| {cells} | {which(titles)} |" for cells, titles in departures.items()]
    lines += [
        "Departures from the paper (value by value; the paper's values are its text's):",
        "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n" + "\n".join(rows),
    ]
    return "\n\n".join(lines)


PROTOCOL_TEXT = {
    "paper": "The paper's experiment: a plain seeded random 75/25 split (not stratified), no "
    "validation slice, the model after the last epoch tested.",
    "strict": "Our recommendation, not the paper's: a stratified split and a validation slice "
    "that selects the tested checkpoint (see the departures below).",
}


def training_markdown(table: pd.DataFrame) -> str:
    """Samples per epoch and optimizer steps: enhanced images come in two channel orders, so
    those variants train on twice the samples and take twice the steps per epoch and per
    learning-rate stage (StepLR halves the rate every 5 epochs, not every N steps)."""
    lines = [
        "| variant | samples per epoch | optimizer steps |",
        "|---|---|---|",
    ]
    for r in table.itertuples():
        samples = "—" if pd.isna(r.train_samples) else f"{int(r.train_samples)}"
        steps = "—" if pd.isna(r.optimizer_steps) else f"{int(r.optimizer_steps)}"
        lines.append(f"| {r.variant}{seed_tag(table, r.repeat)} | {samples} | {steps} |")
    return "\n".join(lines)


def undefined_markdown(table: pd.DataFrame) -> str | None:
    """Which bootstrap intervals rest on resamples whose value was undefined: a precision or F1
    where a class is never predicted (counted as 0 by the convention, and kept), or a value
    that has no definition at all (left out of the percentiles)."""
    notes = []
    for r in table.itertuples():
        counts = [
            f"{name} {getattr(r, f'{name}_undefined_resamples')}"
            for name in INTERVAL_BOOTSTRAP_METRICS
            if getattr(r, f"{name}_undefined_resamples") > 0
        ]
        if counts:
            notes.append(
                f"- {r.variant}{seed_tag(table, r.repeat)}: {', '.join(counts)} of "
                f"{r.bootstrap_resamples} resamples"
            )
    if not notes:
        return None
    return (
        "Bootstrap resamples in which a metric was undefined (precision and F1: counted as 0 "
        "by the convention above and kept; other metrics: left out of the interval):\n\n"
        + "\n".join(notes)
    )


def not_compared_markdown(table: pd.DataFrame) -> str | None:
    rows = table[table["not_compared_because"].fillna("") != ""]
    if rows.empty:
        return None
    return "\n".join(
        f"- {r.variant}{seed_tag(table, r.repeat)}: not compared with the baseline: "
        f"{r.not_compared_because}"
        for r in rows.itertuples()
    )


def decoded_paper_markdown() -> str:
    """The paper's Table 1, decoded: the confusion matrices its rounded accuracy, weighted
    precision and weighted F1 allow (paper.decode_paper_table), and what they imply. Every
    number here is computed from the published figures, which are the paper's."""
    decoded = decode_paper_table()
    found = decoded.dropna(subset=["tn"])
    lines = [
        "| published row | accuracy / precision / F1 (the paper's) | healthy test films "
        "| TN / FP / FN / TP | balanced accuracy | sensitivity | specificity "
        "| majority baseline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in decoded.itertuples():
        published = (
            f"{r.accuracy_pct:.2f} / {r.precision_weighted_pct:.2f} / {r.f1_weighted_pct:.2f}"
        )
        if pd.isna(r.tn):
            lines.append(f"| {r.title} | {published} | none of 30–65 fits | | | | | |")
            continue
        lines.append(
            f"| {r.title} | {published} | {r.healthy_n} | {r.tn} / {r.fp} / {r.fn} / {r.tp} "
            f"| {pct(r.balanced_accuracy)} | {pct(r.sensitivity)} | {pct(r.specificity)} "
            f"| {pct(r.majority_accuracy)} |"
        )
    resnet = found[found["arch"] == "resnet50"]
    counts = sorted(set(resnet["healthy_n"].astype(int)))
    below = bool((found["accuracy"] < found["majority_accuracy"]).all())
    published = published_table()
    holm_p = holm(published["p"].to_numpy())
    adjusted = ", ".join(
        f"{t} {pval(p)}" for t, p in zip(published["title"], holm_p, strict=True) if not pd.isna(p)
    )
    text = [
        "A binary confusion matrix on n test films is pinned down by accuracy, "
        "support-weighted precision and weighted F1 once the class counts are known. The paper "
        f"prints them to two decimals (n = {PUBLISHED_N_TEST}); every integer matrix whose "
        "figures round (or are cut off) to the published ones is listed, for 30 to 65 healthy "
        "test films.",
        "\n".join(lines),
        f"The ResNet50 rows fit {', '.join(map(str, counts))} healthy test films and no other "
        f"count from 30 to 65. Their models recognise {int(resnet['tn'].min())} to "
        f"{int(resnet['tn'].max())} of the healthy films: balanced accuracy "
        f"{pct(resnet['balanced_accuracy'].min())} to {pct(resnet['balanced_accuracy'].max())} %, "
        "where 50 % is chance. "
        + (
            "No published model beats always answering the larger class (its accuracy is the "
            "majority baseline column). "
            if below
            else ""
        )
        + (
            "Every claimed accuracy gain over the baseline comes from diseased films called "
            "diseased more often; no variant recognises more healthy films than the baseline. "
            if gains_from_diseased(resnet)
            else ""
        )
        + "Holm-adjusted for the five comparisons, the published p-values become: "
        f"{adjusted}.",
    ]
    return "\n\n".join(text)


def gains_from_diseased(resnet: pd.DataFrame) -> bool:
    """Whether each decoded ResNet50 variant has more true positives than the decoded baseline
    and no more true negatives (one matrix per row, as the decoding finds)."""
    base = resnet[resnet["variant"] == "original"]
    others = resnet[resnet["variant"] != "original"]
    if len(base) != 1 or others.empty:
        return False
    return bool(
        (others["tp"] > base["tp"].iloc[0]).all() and (others["tn"] <= base["tn"].iloc[0]).all()
    )


def markdown_report(
    sweep_dir: Path,
    runs: list[Run],
    table: pd.DataFrame,
    images: dict[str, str],
    cam_markdown: str | None = None,
) -> str:
    n = table.iloc[0]
    seeds = seeds_markdown(table)
    majority, _ = majority_row(table)
    baseline = table[table["baseline"]]
    baseline_name = baseline["variant"].iloc[0] if len(baseline) else "none in this sweep"
    parts = [
        "# CSXA preprocessing ablation — report",
        f"{len(runs)} run(s) from `{sweep_dir}`. Test split: {n['n']} images "
        f"({n['n_healthy']} healthy, {n['n_diseased']} diseased). Positive class: diseased. "
        f"Baseline: {baseline_name} (the variant marked baseline in its yaml).",
        protocol_markdown(runs),
        "## Table 1 (the paper's layout)",
        "Precision, recall and F1 are support-weighted averages over both classes (the "
        "paper's published values follow this convention) and macro averages. Recall "
        "(weighted) equals accuracy. The precision of a class that is never predicted counts "
        "as 0 (scikit-learn's zero_division=0), as in the paper's numbers. "
        "p: the paper's one-sided two-proportion z-test of accuracy "
        "(variant larger than the baseline of the same seed), n = test images each; Holm: "
        "adjusted for the comparisons against one baseline. The z-test's independence "
        "assumption is wrong here — every variant is scored on the same images — so see "
        "McNemar's paired test below.",
        table1_markdown(table),
        "## What the paper does not show",
        f"The row {majority} answers that class for every image. McNemar: exact test on "
        "per-image correctness paired with the baseline of the same seed, two-sided, and "
        "one-sided (variant better) to compare like with like with the paper's z-test; Holm: "
        "adjusted for the comparisons against one baseline. Intervals: Wilson for sensitivity "
        "and specificity (binomial proportions with fixed denominators) and for accuracy "
        "(report.csv), 95 % stratified bootstrap for the others, with the seed metrics.json "
        "used (the same intervals); Δ: paired bootstrap of the difference in balanced "
        "accuracy to the baseline.",
        table2_markdown(table),
    ]
    undefined = undefined_markdown(table)
    if undefined:
        parts.append(undefined)
    not_compared = not_compared_markdown(table)
    if not_compared:
        parts += ["### Comparisons not made", not_compared]
    parts += [
        "## Samples and optimizer steps",
        "Enhanced variants train on two channel orders of every film: twice the samples per "
        "epoch, so twice the optimizer steps per epoch and per learning-rate stage. A "
        "difference between colour variants mixes the colour processing with this longer "
        "training.",
        training_markdown(table),
    ]
    if seeds:
        parts += ["## Across seeds and folds (mean ± sd)", seeds]
    parts += ["## The paper's table, decoded", decoded_paper_markdown()]
    parts += ["## Figures"] + [f"![{name}]({path})" for name, path in images.items()]
    if cam_markdown:
        parts.append(cam_markdown)
    parts += [
        "## Runs and their configs",
        "| variant | repetition | overrides | config |\n|---|---|---|---|",
    ]
    for run in runs:
        config = (run.path / ".hydra" / "config.yaml").relative_to(sweep_dir)
        overrides = " ".join(run.overrides) or "—"
        parts[-1] += f"\n| {run.title} | {run_repeat(run)} | `{overrides}` | [{config}]({config}) |"
    parts += [
        "## Software",
        "| package | version |\n|---|---|\n"
        + "\n".join(f"| {k} | {v} |" for k, v in versions().items()),
    ]
    return "\n\n".join(parts) + "\n"


def html_report(markdown_text: str, pictures: dict[str, bytes]) -> str:
    """A self-contained page: the same markdown (Python-Markdown, tables extension) with the
    figures inlined as data URIs instead of links to figures/."""
    for name, data in pictures.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode()
        markdown_text = markdown_text.replace(f"](figures/{name})", f"]({uri})")
    body = markdown.markdown(markdown_text, extensions=["tables"])
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;"
        "color:#222}table{border-collapse:collapse;margin:1em 0;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}"
        "img{max-width:100%}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>CSXA report</title>"
        f"<style>{style}</style></head><body>{body}</body></html>\n"
    )


def build_report(sweep_dir: str | Path, cam_examples: int = 3) -> dict[str, Path]:
    """report.md, report.csv, report.html (and figures/) in sweep_dir; returns their paths.

    cam_examples: Grad-CAM pictures per category (true/false positives, false negatives) and
    variant, from the runs' checkpoints; 0 leaves the Grad-CAM section out."""
    sweep_dir = Path(sweep_dir)
    runs = find_runs(sweep_dir)
    table = run_table(runs)
    pictures = figures(runs, table)
    figure_names = list(pictures)
    cam_markdown = None
    if cam_examples > 0:
        from csxa_lightning.report_cam import cam_section

        cams = cam_section(runs, cam_examples)
        cam_markdown = cams.markdown
        pictures.update(cams.pictures)
    figure_dir = sweep_dir / "figures"
    figure_dir.mkdir(exist_ok=True)
    for name, data in pictures.items():
        (figure_dir / name).write_bytes(data)
    markdown_text = markdown_report(
        sweep_dir, runs, table, {n: f"figures/{n}" for n in figure_names}, cam_markdown
    )
    paths = {
        "md": sweep_dir / "report.md",
        "csv": sweep_dir / "report.csv",
        "html": sweep_dir / "report.html",
    }
    paths["md"].write_text(markdown_text)
    table.to_csv(paths["csv"], index=False)
    paths["html"].write_text(html_report(markdown_text, pictures))
    return paths


def latest_sweep(log_dir: Path) -> Path:
    candidates = [p.parent for p in log_dir.glob("**/multirun.yaml")]
    if not candidates:
        raise FileNotFoundError(f"no sweep under {log_dir}; run one with --multirun first")
    return max(candidates, key=lambda p: p.stat().st_mtime)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m csxa_lightning.report",
        description="Rebuild the report of a sweep from its files.",
    )
    parser.add_argument("sweep_dir", nargs="?", help="sweep folder (default: the latest one)")
    parser.add_argument("--log-dir", default="outputs", help="where sweeps are looked for")
    parser.add_argument(
        "--cam-examples",
        type=int,
        default=3,
        help="Grad-CAM pictures per category and variant (default 3; 0: no Grad-CAM section)",
    )
    args = parser.parse_args(argv)
    sweep = Path(args.sweep_dir) if args.sweep_dir else latest_sweep(Path(args.log_dir))
    paths = build_report(sweep, cam_examples=args.cam_examples)
    print(f"report: {paths['html']}")


if __name__ == "__main__":
    main()
