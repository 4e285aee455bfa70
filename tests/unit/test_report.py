"""The report from run folders alone: fabricated predictions whose metrics are known exactly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from csxa_lightning.report import build_report
from csxa_lightning.stats import mcnemar_exact, two_proportion_ztest

N_HEALTHY, N_DISEASED = 20, 80


def fake_run(sweep, name, arch, crop, color, wrong_healthy, wrong_diseased, seed=42, fold=None):
    """A finished run folder whose model misclassifies the first k images of each class."""
    folder = sweep / name
    (folder / ".hydra").mkdir(parents=True)
    labels = np.r_[np.zeros(N_HEALTHY, int), np.ones(N_DISEASED, int)]
    prob = np.where(labels == 1, 0.9, 0.1)
    prob[:wrong_healthy] = 0.8  # healthy called diseased
    prob[N_HEALTHY : N_HEALTHY + wrong_diseased] = 0.3  # diseased called healthy
    pd.DataFrame(
        {
            "case_id": np.arange(1, 101),
            "stem": [f"{i:04d}130" for i in range(1, 101)],
            "label": labels,
            "prob_diseased": prob,
            "pred": (prob >= 0.5).astype(int),
        }
    ).to_csv(folder / "predictions.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps({"accuracy": None}))
    config = {
        "seed": seed,
        "model": {"arch": arch},
        "cv": {"folds": 0 if fold is None else 5, "fold": fold or 0},
        "crop": {"name": crop},
        "color": {"name": color},
    }
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"crop={crop}"]))
    return (prob >= 0.5).astype(int) == labels


@pytest.fixture
def sweep(tmp_path):
    correct = {
        "base": fake_run(tmp_path, "base", "resnet50", "none", "none", 10, 5),
        "wide": fake_run(tmp_path, "wide", "resnet50", "wide", "none", 4, 2),
        "vgg": fake_run(tmp_path, "vgg", "vgg19", "none", "none", 20, 0),
    }
    return tmp_path, correct


def test_table_numbers_are_those_of_the_predictions(sweep):
    root, correct = sweep
    paths = build_report(root)
    table = pd.read_csv(paths["csv"]).set_index("variant")
    assert list(table.index) == ["Original (ResNet50)", "Original (VGG19)", "Wide cropped"]
    wide = table.loc["Wide cropped"]
    assert wide["accuracy"] == pytest.approx(94 / 100)
    assert wide["sensitivity"] == pytest.approx(78 / 80)
    assert wide["specificity"] == pytest.approx(16 / 20)
    assert wide["balanced_accuracy"] == pytest.approx((78 / 80 + 16 / 20) / 2)
    assert wide["p_ztest_vs_baseline"] == pytest.approx(two_proportion_ztest(94, 100, 85, 100)[1])
    assert wide["p_mcnemar_vs_baseline"] == pytest.approx(
        mcnemar_exact(correct["wide"], correct["base"])["p"]
    )
    vgg = table.loc["Original (VGG19)"]  # always "diseased": the majority baseline exactly
    assert vgg["accuracy"] == 0.8 and vgg["balanced_accuracy"] == 0.5
    assert np.isnan(table.loc["Original (ResNet50)", "p_ztest_vs_baseline"])


def test_markdown_and_html_show_both_tables_the_majority_row_and_figures(sweep):
    root, _ = sweep
    paths = build_report(root)
    markdown = paths["md"].read_text()
    assert "| Wide cropped | resnet50 | 94.00 |" in markdown
    assert '| Majority class (always "diseased") | — | 80.00 |' in markdown
    assert "McNemar" in markdown and "| 20 / 80 |" in markdown
    page = paths["html"].read_text()
    assert page.count("data:image/png;base64,") == 3  # ROC, confusion matrices, bars
    assert "<table>" in page and "Majority class" in page
    for name in ("roc.png", "confusion.png", "balanced_accuracy.png"):
        assert (root / "figures" / name).stat().st_size > 1000
    assert "torch" in markdown and "statsmodels" in markdown  # software versions


def test_seeds_give_mean_and_sd(tmp_path):
    for seed, (wh, wd) in zip((1, 2), ((10, 5), (12, 3)), strict=True):
        fake_run(tmp_path, f"base{seed}", "resnet50", "none", "none", wh, wd, seed=seed)
        fake_run(tmp_path, f"wide{seed}", "resnet50", "wide", "none", wh - 6, wd - 2, seed=seed)
    markdown = build_report(tmp_path)["md"].read_text()
    # accuracies 85 and 85 for the baseline, 93 and 93 for wide: sd 0
    assert "| Wide cropped | 2 | 93.00 ± 0.00 |" in markdown


def test_folds_pair_up_with_a_paired_t_test(tmp_path):
    from scipy.stats import ttest_rel

    base_wrong, wide_wrong = [(10, 5), (12, 3), (9, 6)], [(4, 2), (8, 1), (3, 5)]
    for fold in range(3):
        fake_run(tmp_path, f"b{fold}", "resnet50", "none", "none", *base_wrong[fold], fold=fold)
        fake_run(tmp_path, f"w{fold}", "resnet50", "wide", "none", *wide_wrong[fold], fold=fold)
    table = pd.read_csv(build_report(tmp_path)["csv"])
    assert set(table["repeat"]) == {"seed 42, fold 0", "seed 42, fold 1", "seed 42, fold 2"}
    markdown = (tmp_path / "report.md").read_text()

    def bal(wh, wd):
        return ((N_HEALTHY - wh) / N_HEALTHY + (N_DISEASED - wd) / N_DISEASED) / 2

    expected = ttest_rel([bal(*w) for w in wide_wrong], [bal(*b) for b in base_wrong]).pvalue
    assert "| Wide cropped | 3 |" in markdown
    assert f"| {expected:.4f} |" in markdown
