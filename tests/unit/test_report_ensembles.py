"""The sweep report's ensemble rows (results/ensembles.py): on a three-seed sweep, each variant's
ensemble is the mean of its members' saved probabilities, scored and tested against the
baseline's ensemble as a run is; seeds that tested other films get no ensemble, and the report
says why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csxa_lightning.metrics.classification import compute_metrics
from csxa_lightning.metrics.stats import mcnemar_exact
from csxa_lightning.results.document import build_report
from tests.unit.test_report import fake_run

SEEDS = (1, 2, 3)


def noisy_member(folder, seed: int, shift: float) -> np.ndarray:
    """Give a fake run's predictions.csv probabilities of its own: the label's side plus noise
    (a member that errs on other films than its siblings); returns them."""
    table = pd.read_csv(folder / "predictions.csv", dtype={"stem": str})
    rng = np.random.default_rng(seed * 10 + int(shift * 10))
    prob = np.clip(0.35 + shift * table["label"] + rng.normal(0, 0.2, len(table)), 0, 1)
    table["prob_diseased"], table["pred"] = prob, (prob >= 0.5).astype(int)
    table.to_csv(folder / "predictions.csv", index=False)
    return prob


@pytest.fixture
def three_seed_sweep(tmp_path):
    """Original (baseline) and Wide cropped, three seeds each, on the same 100 test films."""
    prob = {"base": [], "wide": []}
    for seed in SEEDS:
        for name, crop, variant, shift in (
            ("base", "none", ("original", True), 0.2),
            ("wide", "wide", ("wide_cropped", False), 0.35),
        ):
            fake_run(tmp_path, f"{name}{seed}", "resnet18", crop, "none", 0, 0, seed=seed,
                     variant=variant)  # fmt: skip
            prob[name].append(noisy_member(tmp_path / f"{name}{seed}", seed, shift))
    labels = pd.read_csv(tmp_path / "base1" / "predictions.csv")["label"].to_numpy()
    return tmp_path, labels, {k: np.mean(v, axis=0) for k, v in prob.items()}, prob


@pytest.mark.slow  # about 5 s: make test stays under 10 min
def test_each_variant_gets_the_ensemble_of_its_seeds(three_seed_sweep):
    root, labels, mean, members = three_seed_sweep
    paths = build_report(root, cam_examples=0)
    table = pd.read_csv(paths["ensembles_csv"]).set_index("variant")
    assert table["members"].tolist() == [3, 3]
    assert set(table["repeat"]) == {"ensemble of seeds 1, 2, 3"}
    for name, title in (("base", "Original (ResNet18)"), ("wide", "Wide cropped (ResNet18)")):
        by_hand = compute_metrics(labels, mean[name], 0.5)
        row = table.loc[title]
        assert row["balanced_accuracy"] == pytest.approx(by_hand["balanced_accuracy"])
        assert row["auroc"] == pytest.approx(by_hand["auroc"])
        singles = [compute_metrics(labels, p, 0.5)["balanced_accuracy"] for p in members[name]]
        assert row["members_balanced_accuracy_mean"] == pytest.approx(np.mean(singles))
    # Against the baseline's ensemble, film by film: McNemar on the two ensembles' answers.
    correct = {k: (v >= 0.5).astype(int) == labels for k, v in mean.items()}
    wide = table.loc["Wide cropped (ResNet18)"]
    assert wide["p_mcnemar_vs_baseline"] == pytest.approx(
        mcnemar_exact(correct["wide"], correct["base"])["p"]
    )
    assert np.isnan(table.loc["Original (ResNet18)", "p_mcnemar_vs_baseline"])
    markdown = paths["md"].read_text()
    assert "## Ensembles over seeds" in markdown
    assert "| Wide cropped (ResNet18) (ensemble of seeds 1, 2, 3) | 3 |" in markdown


def test_seeds_that_tested_other_films_are_not_averaged(tmp_path):
    for seed in (1, 2):
        fake_run(tmp_path, f"base{seed}", "resnet18", "none", "none", 3, 2, seed=seed,
                 variant=("original", True), first_case=1 + 100 * (seed - 1))  # fmt: skip
    paths = build_report(tmp_path, cam_examples=0)
    assert "ensembles_csv" not in paths
    assert (
        "- No ensemble: Original (ResNet18): its 2 seeds tested different films"
        in paths["md"].read_text()
    )


def test_a_sweep_of_one_seed_has_no_ensemble_section(tmp_path):
    fake_run(tmp_path, "base", "resnet18", "none", "none", 3, 2, variant=("original", True))
    fake_run(tmp_path, "wide", "resnet18", "wide", "none", 1, 2, variant=("wide_cropped", False))
    assert "Ensembles" not in build_report(tmp_path, cam_examples=0)["md"].read_text()
