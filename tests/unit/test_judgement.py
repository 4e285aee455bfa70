"""The sweep report's clinical sections, answered from the run files: the checklist's counts
are split.csv's, the calibration table's numbers the kernels' on predictions.csv, a rule's
threshold the one metrics.json records, and the subgroup counts add up."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from csxa_lightning.metrics.calibration import brier_score, expected_calibration_error
from csxa_lightning.results.clinical import calibration_rows, table_label
from csxa_lightning.results.document import build_report
from csxa_lightning.results.judgement import checklist_markdown
from csxa_lightning.runs.folder import find_runs
from tests.unit.test_report import N_DISEASED, N_HEALTHY, fake_run


@pytest.fixture
def sweep(tmp_path):
    base = {"protocol": "strict", "epochs": 7, "dataset_root": "/data/CSXA"}
    wide = {"threshold": 0.85, "threshold_rule": "youden", "temperature": 1.7}
    fake_run(tmp_path, "base", "resnet50", "none", "none", 10, 5, variant=("original", True),
             recorded=base)  # fmt: skip
    fake_run(tmp_path, "wide", "resnet50", "wide", "none", 4, 2, variant=("wide_cropped", False),
             recorded=wide)  # fmt: skip
    split = pd.DataFrame(
        {
            "case_id": range(1, 501),
            "label": [0] * 50 + [1] * 450,
            "split": ["train"] * 30
            + ["val"] * 5
            + ["test"] * 15
            + ["train"] * 400
            + ["val"] * 20
            + ["test"] * 30,
        }
    )
    split.to_csv(tmp_path / "base" / "split.csv", index=False)
    pd.DataFrame({"stem": ["0999130"], "problem": ["truncated"]}).to_csv(
        tmp_path / "base" / "skipped_files.csv", index=False
    )
    return tmp_path


def test_the_checklist_counts_are_split_csv_s(sweep):
    text = checklist_markdown(find_runs(sweep))
    assert "500 films: train 430 (30 healthy), val 25 (5 healthy), test 45 (15 healthy)" in text
    assert "| Exclusions | 1 unusable file(s) left out (skipped_files.csv) |" in text
    assert "`/data/CSXA`" in text and "protocol strict" in text and "epochs 7" in text


def test_calibration_rows_are_the_kernels_on_predictions_and_keep_the_recorded_rule(sweep):
    runs = find_runs(sweep)
    rows = {row["label"]: row for row in calibration_rows(runs)}
    base = next(r for r in runs if r.crop == "none")
    y, prob = base.predictions["label"], base.predictions["prob_diseased"]
    assert table_label(base, runs) == "Original (ResNet50) (baseline)"  # named as in the tables
    assert rows[table_label(base, runs)]["brier"] == pytest.approx(brier_score(y, prob))
    assert rows[table_label(base, runs)]["ece"] == pytest.approx(
        expected_calibration_error(y, prob)
    )
    wide = next(r for r in runs if r.crop == "wide")
    row = rows[table_label(wide, runs)]
    assert (row["threshold"], row["rule"], row["temperature"]) == (0.85, "youden", 1.7)
    # fake_run's diseased films score 0.9 and its 4 wrong healthy 0.8: at 0.85 the 4 healthy
    # become right, the 2 diseased at 0.3 stay wrong
    n = N_HEALTHY + N_DISEASED
    assert row["accuracy"] == pytest.approx((n - 2) / n)
    assert row["accuracy_half"] == pytest.approx((n - 6) / n)
    # the report's own metrics of that run are read at its threshold, too
    assert wide.metrics["threshold"] == 0.85 and wide.metrics["fp"] == 0


def test_the_report_has_the_sections_and_subgroups_add_up(sweep):
    paths = build_report(sweep, cam_examples=0)
    text = paths["md"].read_text()
    for section in ("## Calibration and decision rule", "## Subgroups", "## Reporting checklist"):
        assert section in text
    assert (sweep / "figures" / "reliability.png").stat().st_size > 1000
    # fake_run's stems are <case>1<30>: every film is gender 1 and under 40
    assert f"gender 1 (n {N_HEALTHY + N_DISEASED}, healthy {N_HEALTHY})" in text
    assert f"<40 (n {N_HEALTHY + N_DISEASED}, healthy {N_HEALTHY})" in text
    assert json.loads((sweep / "wide" / "metrics.json").read_text())["threshold"] == 0.85


BALANCE_DIR = Path(__file__).resolve().parents[2] / "conf" / "balance"


def saved_balance(name):
    """The balance block a run of balance=name saves (its conf/balance/ file's)."""
    return {"balance": yaml.safe_load((BALANCE_DIR / f"{name}.yaml").read_text())}


@pytest.mark.parametrize(
    ("balance", "words"),
    [
        ("smote", "SMOTE (k_neighbors 5)"),
        ("oversample", "random oversampling"),
        ("weighted", "class weighting (weighted cross-entropy)"),
        ("none", "none"),
    ],
)
def test_the_checklist_names_the_balance_each_run_recorded(tmp_path, balance, words):
    fake_run(tmp_path, "base", "resnet50", "none", "none", 10, 5, variant=("original", True),
             saved=saved_balance(balance))  # fmt: skip
    assert f", balance {words}, seeds 42;" in checklist_markdown(find_runs(tmp_path))


def test_the_checklist_names_each_balance_when_the_runs_differ_and_old_runs_say_so(tmp_path):
    fake_run(tmp_path, "base", "resnet50", "none", "none", 10, 5, variant=("original", True),
             saved=saved_balance("smote"))  # fmt: skip
    fake_run(tmp_path, "wide", "resnet50", "wide", "none", 4, 2, variant=("wide_cropped", False),
             saved=saved_balance("weighted"))  # fmt: skip
    fake_run(tmp_path, "old", "resnet50", "tight", "none", 4, 2, variant=("cropped", False))
    text = checklist_markdown(find_runs(tmp_path))
    assert (
        "balance SMOTE (k_neighbors 5) (Original (ResNet50)); not recorded (Cropped); class "
        "weighting (weighted cross-entropy) (Wide cropped)," in text
    )
