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
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import markdown
import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from csxa_lightning.metrics import compute_metrics, metrics_with_intervals
from csxa_lightning.stats import (
    mcnemar_exact,
    mean_sd,
    paired_bootstrap,
    paired_ttest,
    two_proportion_ztest,
)

BASELINE = ("resnet50", "none", "none")  # the paper's reference: original images, ResNet50
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

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.arch, self.crop, self.color)

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
    )
    run.metrics = metrics_with_intervals(
        predictions["label"].to_numpy(), predictions["prob_diseased"].to_numpy(), seed=0
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


def _baseline_for(run: Run, runs: list[Run]) -> Run | None:
    for other in runs:
        if other.key == BASELINE and other.repeat == run.repeat:
            same_images = other.predictions["case_id"].equals(run.predictions["case_id"])
            return other if same_images else None
    return None


def comparisons(run: Run, runs: list[Run]) -> dict:
    """The paper's z-test and the paired tests against the baseline of the same seed."""
    base = _baseline_for(run, runs)
    if base is None or base is run:
        return {
            "z_p": np.nan,
            "mcnemar_p": np.nan,
            "d_bal_acc": np.nan,
            "d_bal_acc_ci": (np.nan, np.nan),
        }
    n = len(run.predictions)
    _, z_p = two_proportion_ztest(
        int(run.correct.sum()), n, int(base.correct.sum()), n, alternative="larger"
    )
    boot = paired_bootstrap(
        run.predictions["label"].to_numpy(),
        run.predictions["prob_diseased"].to_numpy(),
        base.predictions["prob_diseased"].to_numpy(),
        metric="balanced_accuracy",
        seed=0,
    )
    return {
        "z_p": z_p,
        "mcnemar_p": mcnemar_exact(run.correct, base.correct)["p"],
        "d_bal_acc": boot["diff"],
        "d_bal_acc_ci": boot["diff_ci"],
    }


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
                        "tp",
                        "tn",
                        "fp",
                        "fn",
                    )
                },
                "p_ztest_vs_baseline": c["z_p"],
                "p_mcnemar_vs_baseline": c["mcnemar_p"],
                "d_balanced_accuracy_vs_baseline": c["d_bal_acc"],
                "d_balanced_accuracy_ci_low": c["d_bal_acc_ci"][0],
                "d_balanced_accuracy_ci_high": c["d_bal_acc_ci"][1],
                "folder": str(run.path),
            }
        )
    return pd.DataFrame(rows)


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
        "| precision (macro) | recall (macro) | F1 (macro) | p (z-test) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.variant}{seed_tag(table, r.repeat)} | {r.model} | {pct(r.accuracy)} "
            f"| {pct(r.precision_weighted)} | {pct(r.accuracy)} | {pct(r.f1_weighted)} "
            f"| {pct(r.precision_macro)} | {pct(r.recall_macro)} | {pct(r.f1_macro)} "
            f"| {pval(r.p_ztest_vs_baseline)} |"
        )
    title, m = majority_row(table)
    lines.append(
        f"| {title} | — | {pct(m['accuracy'])} "
        f"| {pct(m['precision_weighted'])} | {pct(m['accuracy'])} | {pct(m['f1_weighted'])} "
        f"| {pct(m['precision_macro'])} | {pct(m['recall_macro'])} | {pct(m['f1_macro'])} | — |"
    )
    return "\n".join(lines)


def seed_tag(table: pd.DataFrame, repeat: str) -> str:
    """'(seed 1, fold 2)' when the table holds several repetitions, else nothing."""
    return f" ({repeat})" if table["repeat"].nunique() > 1 else ""


def table2_markdown(table: pd.DataFrame) -> str:
    lines = [
        "| variant | balanced accuracy [95 % CI] | sensitivity | specificity | AUROC | AUPRC "
        "| McNemar p | Δ balanced accuracy vs baseline [95 % CI] | test healthy / diseased |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():

        def with_ci(name: str, r=r) -> str:
            value = getattr(r, name)
            return pct(value) + ci(getattr(r, f"{name}_ci_low"), getattr(r, f"{name}_ci_high"))

        lines.append(
            f"| {r.variant}{seed_tag(table, r.repeat)} | {with_ci('balanced_accuracy')} "
            f"| {with_ci('sensitivity')} | {with_ci('specificity')} | {with_ci('auroc')} "
            f"| {pct(r.auprc)} "
            f"| {pval(r.p_mcnemar_vs_baseline)} "
            f"| {pct(r.d_balanced_accuracy_vs_baseline)}"
            f"{ci(r.d_balanced_accuracy_ci_low, r.d_balanced_accuracy_ci_high)} "
            f"| {r.n_healthy} / {r.n_diseased} |"
        )
    title, m = majority_row(table)
    lines.append(
        f"| {title} | {pct(m['balanced_accuracy'])} "
        f"| {pct(m['sensitivity'])} | {pct(m['specificity'])} | {pct(m['auroc'])} "
        f"| {pct(m['auprc'])} | — | — | {m['n_healthy']} / {m['n_diseased']} |"
    )
    return "\n".join(lines)


def seeds_markdown(table: pd.DataFrame) -> str | None:
    """Mean ± sd over repetitions (seeds and/or cross-validation folds), and the paired t-test
    across them against the baseline (the paper's caption: a paired t-test across folds)."""
    if table["repeat"].nunique() < 2:
        return None
    base = table[
        (table["model"] == BASELINE[0])
        & (table["crop"] == BASELINE[1])
        & (table["color"] == BASELINE[2])
    ].set_index("repeat")
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


def markdown_report(
    sweep_dir: Path,
    runs: list[Run],
    table: pd.DataFrame,
    images: dict[str, str],
    cam_markdown: str | None = None,
) -> str:
    n = table.iloc[0]
    seeds = seeds_markdown(table)
    parts = [
        "# CSXA preprocessing ablation — report",
        f"{len(runs)} run(s) from `{sweep_dir}`. Test split: {n['n']} images "
        f"({n['n_healthy']} healthy, {n['n_diseased']} diseased). Positive class: diseased.",
        "## Table 1 (the paper's layout)",
        "Precision, recall and F1 are support-weighted averages over both classes (the "
        "paper's published values appear to be these) and macro averages. Recall (weighted) "
        "equals accuracy. — : undefined (e.g. the precision of a class never predicted). "
        "p: the paper's one-sided two-proportion z-test of accuracy "
        "(variant larger than the ResNet50 original baseline of the same seed), n = test "
        "images each. Its independence assumption is wrong here — every variant is scored "
        "on the same images — so see McNemar's paired test below.",
        table1_markdown(table),
        "## What the paper does not show",
        'The majority-class row answers "diseased" for every image. McNemar: exact test on '
        "per-image correctness paired with the baseline of the same seed. Intervals: 95 % "
        "stratified bootstrap (Wilson for accuracy in report.csv); Δ: paired bootstrap of the "
        "difference in balanced accuracy to the baseline.",
        table2_markdown(table),
    ]
    if seeds:
        parts += ["## Across seeds and folds (mean ± sd)", seeds]
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
