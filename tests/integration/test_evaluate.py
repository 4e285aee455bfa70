"""evaluate: a checkpoint judged on a labelled set. On its own run's test split it reproduces
the run's metrics.json; on an external set it writes complete files; a labels CSV works and
its mistakes end as one line."""

from __future__ import annotations

import importlib.metadata
import json
import shutil

import cv2
import pandas as pd
import pytest

from csxa_lightning.inference.inputs import MissingAnnotationError
from csxa_lightning.inference.labelled_films import LabelledSetError
from csxa_lightning.phantom import generate_phantom
from csxa_lightning.results.evaluation import evaluate
from csxa_lightning.utils.errors import ConfigValueError
from tests.helpers import compose_config, run_module

# Counts must agree exactly; probabilities are float32 sums over batches of another size.
COUNTS = ("n", "n_diseased", "n_healthy", "tp", "tn", "fp", "fn")


def evaluate_config(*overrides: str):
    return compose_config("evaluate", list(overrides))


@pytest.mark.parametrize("model", ["ckpt", "run"])  # the checkpoint, or its run folder
def test_evaluate_on_the_runs_own_test_split_gives_its_metrics_json(model, tiny_run, tmp_path):
    given = tiny_run.checkpoint if model == "ckpt" else tiny_run.folder
    metrics = evaluate(
        evaluate_config(
            f"{model}={given}",
            f"data.root={tiny_run.dataset}",
            "subset=test",
            f"out={tmp_path / 'own'}",
            "batch_size=3",
        )
    )
    recorded = json.loads((tiny_run.folder / "metrics.json").read_text())
    for key in COUNTS:
        assert metrics[key] == recorded[key], key
    for key, value in recorded.items():
        if key in metrics and isinstance(value, float):
            assert metrics[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key
    assert metrics["bootstrap_seed"] == recorded["bootstrap_seed"]
    assert metrics["checkpoint"] == str(tiny_run.checkpoint)
    written = pd.read_csv(tmp_path / "own" / "predictions.csv", dtype={"stem": str})
    assert sorted(written["stem"]) == sorted(tiny_run.predictions["stem"])


def test_evaluate_on_an_external_phantom_writes_complete_files(tiny_run, tmp_path):
    external = generate_phantom(tmp_path / "external", n=24, seed=123, healthy_fraction=0.5)
    out = tmp_path / "external_eval"
    metrics = evaluate(
        evaluate_config(f"ckpt={tiny_run.checkpoint}", f"data.root={external.root}", f"out={out}")
    )
    predictions = pd.read_csv(out / "predictions.csv", dtype={"stem": str})
    assert len(predictions) == metrics["n"] == 24 and metrics["n_healthy"] == 12
    assert list(predictions.columns) == ["case_id", "stem", "label", "prob_diseased", "pred"]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["subset"] == "all" and saved["films_from"] == str(external.root)
    env = saved["environment"]  # what scored it
    assert env["opencv"] == cv2.__version__ and env["accelerator"] == "cpu"
    assert env["scikit-learn"] == importlib.metadata.version("scikit-learn")
    assert 0 <= saved["brier_score"] <= 1 and 0 <= saved["ece"] <= 1
    assert saved["threshold"] == 0.5
    assert saved["threshold_rule"] == "the checkpoint's: threshold=0.5"
    report = (out / "report.md").read_text()
    for section in ("## Metrics", "## Calibration", "## ROC and precision-recall", "## Subgroups"):
        assert section in report
    assert f"{saved['n']} scored" in report and f"{saved['brier_score']:.4f}" in report
    assert "accelerator cpu" in report and f"opencv {cv2.__version__}" in report
    assert (out / "figures" / "reliability.png").stat().st_size > 1000
    assert "data:image/png;base64," in (out / "report.html").read_text()


def labelled_copy(tiny_run, tmp_path, rows: int = 6) -> tuple:
    """A folder of the run's PNGs without CSXA's layout, their landmarks in another folder."""
    images, annotations = tmp_path / "films", tmp_path / "landmarks"
    images.mkdir()
    annotations.mkdir()
    chosen = tiny_run.predictions.head(rows)
    for stem in chosen["stem"]:
        shutil.copy(tiny_run.png(stem), images / f"{stem}.png")
        shutil.copy(tiny_run.annotation(stem), annotations / f"{stem}.json")
    table = pd.DataFrame({"file": [f"{s}.png" for s in chosen["stem"]], "label": chosen["label"]})
    return images, annotations, table, chosen


def test_a_labels_csv_scores_the_same_films_as_the_run(tiny_run, tmp_path):
    images, annotations, table, chosen = labelled_copy(tiny_run, tmp_path)
    table.to_csv(tmp_path / "labels.csv", index=False)
    out = tmp_path / "csv_eval"
    metrics = evaluate(
        evaluate_config(
            f"ckpt={tiny_run.checkpoint}",
            f"labels={tmp_path / 'labels.csv'}",
            f"images={images}",
            f"annotations={annotations}",
            f"out={out}",
        )
    )
    written = pd.read_csv(out / "predictions.csv", dtype={"stem": str}).set_index("stem")
    expected = chosen.set_index("stem")
    assert metrics["n"] == len(chosen)
    assert (written.loc[expected.index, "label"] == expected["label"]).all()
    assert written.loc[expected.index, "prob_diseased"].to_numpy() == pytest.approx(
        expected["prob_diseased"].to_numpy(), abs=1e-5
    )


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        (lambda t: t.assign(label=t["label"].astype(object).where(t.index != 2, None)),
         LabelledSetError, r"row 4 \(.*\.png\): the label is nothing; every film needs 0"),
        (lambda t: t.assign(label=t["label"].where(t.index != 1, 2)),
         LabelledSetError, r"row 3 .*label 2 is outside \{0, 1\}"),
        (lambda t: t.assign(file=t["file"].where(t.index != 0, "nope.png")),
         LabelledSetError, r"row 2: .*nope\.png does not exist"),
        (lambda t: t.drop(columns="label"), LabelledSetError, r"no column 'label'"),
    ],
)  # fmt: skip
def test_labels_csv_mistakes_are_one_line(tiny_run, tmp_path, damage, error, message):
    images, annotations, table, _ = labelled_copy(tiny_run, tmp_path)
    damage(table).to_csv(tmp_path / "labels.csv", index=False)
    cfg = evaluate_config(
        f"ckpt={tiny_run.checkpoint}",
        f"labels={tmp_path / 'labels.csv'}",
        f"images={images}",
        f"annotations={annotations}",
        f"out={tmp_path / 'out'}",
    )
    with pytest.raises(error, match=message):
        evaluate(cfg)
    assert not (tmp_path / "out").exists()  # nothing written before the films are checked


def test_a_landmark_checkpoint_without_landmarks_and_a_validation_rule_are_refused(
    tiny_run, tmp_path
):
    images, _, table, _ = labelled_copy(tiny_run, tmp_path)
    table.to_csv(tmp_path / "labels.csv", index=False)
    base = [f"ckpt={tiny_run.checkpoint}", f"labels={tmp_path / 'labels.csv'}", f"images={images}"]
    with pytest.raises(MissingAnnotationError, match="crop=tight crops to the landmarks"):
        evaluate(evaluate_config(*base, f"out={tmp_path / 'o1'}"))
    with pytest.raises(ConfigValueError, match="threshold=youden: evaluate scores"):
        evaluate(evaluate_config(*base, "threshold=youden", f"out={tmp_path / 'o2'}"))


def test_the_command_line_ends_a_labels_mistake_with_one_error_line(tiny_run, tmp_path):
    images, annotations, table, _ = labelled_copy(tiny_run, tmp_path)
    table.assign(label=table["label"].where(table.index != 1, 7)).to_csv(
        tmp_path / "labels.csv", index=False
    )
    result = run_module(
        "csxa_lightning.evaluate",
        f"ckpt={tiny_run.checkpoint}",
        f"labels={tmp_path / 'labels.csv'}",
        f"images={images}",
        f"annotations={annotations}",
        "out=evaluated",
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "row 3" in lines[0] and "label 7 is outside {0, 1}" in lines[0]
    assert "Traceback" not in result.stderr and not (tmp_path / "evaluated").exists()


def test_the_command_line_refuses_an_output_in_the_runs_folder_in_one_line(tiny_run, tmp_path):
    """python -m, not the function: the output check reads data.root at the command line."""
    result = run_module(
        "csxa_lightning.evaluate",
        f"ckpt={tiny_run.checkpoint}",
        f"data.root={tiny_run.dataset}",
        f"out={tiny_run.folder / 'evaluated'}",
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "lies inside the training run folder" in lines[0]
    assert not (tiny_run.folder / "evaluated").exists()
