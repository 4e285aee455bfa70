"""The run folder's files as runs/folder.py writes and reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from csxa_lightning.metrics.paper import PUBLISHED_TABLE1
from csxa_lightning.runs.folder import (
    CHECKPOINT_DIR,
    METRICS_FILE,
    PREDICTIONS_FILE,
    checkpoint_candidates,
    default_title,
    is_finished,
    predictions_frame,
    read_metrics,
    recorded_checkpoint,
    run_title,
    write_run,
)
from tests.helpers import compose_train_config


def test_predictions_come_back_in_frame_order_with_the_decision_rule():
    frame = pd.DataFrame({"case_id": [1, 2, 3], "stem": ["0001130", "0002130", "0003130"],
                          "label": [0, 1, 1]})  # fmt: skip
    rows = predictions_frame(frame, torch.tensor([2, 0, 1]), torch.tensor([0.7, 0.2, 0.5]))
    assert rows["case_id"].tolist() == [1, 2, 3]
    assert rows["prob_diseased"].tolist() == pytest.approx([0.2, 0.5, 0.7])
    assert rows["pred"].tolist() == [0, 1, 1]
    with pytest.raises(RuntimeError, match="exactly once"):
        predictions_frame(frame, torch.tensor([0, 0, 1]), torch.tensor([0.1, 0.1, 0.9]))


def test_a_run_without_a_tested_checkpoint_records_null(tmp_path):
    predictions = pd.DataFrame({"case_id": [1], "stem": ["0001130"], "label": [1],
                                "prob_diseased": [0.9], "pred": [1]})  # fmt: skip
    assert not is_finished(tmp_path)
    path = write_run(tmp_path, predictions, {"accuracy": 1.0, "checkpoint": None})
    assert path == tmp_path / METRICS_FILE and is_finished(tmp_path)
    assert (tmp_path / PREDICTIONS_FILE).exists()
    assert '"checkpoint": null' in path.read_text()
    assert recorded_checkpoint(read_metrics(tmp_path)) is None
    assert checkpoint_candidates(tmp_path, read_metrics(tmp_path)) == [
        tmp_path / CHECKPOINT_DIR / "last.ckpt"
    ]


def test_checkpoints_are_looked_up_in_the_run_folder_first(tmp_path):
    # Folders written before null was recorded hold the string "None": the same meaning.
    assert recorded_checkpoint({"checkpoint": "None"}) is None
    assert recorded_checkpoint({}) is None
    named = {"checkpoint": "/elsewhere/checkpoints/epoch003.ckpt"}
    assert checkpoint_candidates(tmp_path, named) == [
        tmp_path / CHECKPOINT_DIR / "epoch003.ckpt",
        Path("/elsewhere/checkpoints/epoch003.ckpt"),
    ]


def test_metrics_json_that_holds_no_object_reads_as_empty(tmp_path):
    (tmp_path / METRICS_FILE).write_text(json.dumps([1, 2]))
    assert read_metrics(tmp_path) == {}


VARIANTS = sorted(p.stem for p in (Path(__file__).parents[2] / "conf" / "variant").glob("*.yaml"))


@pytest.mark.parametrize("model", ["resnet50", "resnet18"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_a_variant_names_itself_as_the_paper_does(variant, model):
    """variant.title (conf/variant/*.yaml) gives the report the paper's name, the one the
    crop and color would give it (default_title), model included."""
    cfg = compose_train_config([f"+variant={variant}", f"model={model}"])
    arch, crop, color = str(cfg.model.arch), str(cfg.crop.name), str(cfg.color.name)
    assert run_title(cfg.variant.title, arch, crop, color) == default_title(arch, crop, color)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_variant_saves_its_row_of_the_papers_table_one_first(variant):
    """variant.order, saved with the run's config, is the variant's row in the paper's Table 1
    (metrics/paper.py): find_runs sorts by it, and runs saved before it by that row."""
    rows = [row.variant for row in PUBLISHED_TABLE1]
    cfg = compose_train_config([f"+variant={variant}", "model=resnet18"])
    # a variant on predicted landmarks (conf/variant/*_predicted.yaml) takes its row's place
    assert cfg.variant.order == rows.index(variant.removesuffix("_predicted")) + 1


@pytest.mark.parametrize("key", ["seed", "model.arch", "data.root"])
def test_a_saved_config_calling_the_phantom_generator_is_refused_before_it_writes(tmp_path, key):
    """Reading a value resolves it: an edited saved config must not make the report generate
    files (here: a phantom set under tmp_path/planted)."""
    import yaml

    from csxa_lightning.runs.folder import RunFolderError, load_run
    from tests.unit.test_report import fake_run

    fake_run(tmp_path, "run", "resnet50", "none", "none", 1, 1)
    config_file = tmp_path / "run" / ".hydra" / "config.yaml"
    config = yaml.safe_load(config_file.read_text())
    section, _, leaf = key.rpartition(".")
    node = config.setdefault(section, {}) if section else config
    node[leaf] = f"${{csxa_phantom_root:{tmp_path / 'planted'},4,1,0.5}}"
    config_file.write_text(yaml.safe_dump(config))
    with pytest.raises(RunFolderError, match=rf"{key} calls the resolver \$\{{csxa_phantom_root"):
        load_run(tmp_path / "run")
    assert not (tmp_path / "planted").exists()


def test_a_phantom_runs_saved_data_root_is_read_without_generating_anything(tmp_path):
    import yaml

    from csxa_lightning.runs.folder import load_run
    from tests.unit.test_report import fake_run

    fake_run(tmp_path, "run", "resnet50", "none", "none", 1, 1)
    config_file = tmp_path / "run" / ".hydra" / "config.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["data"] = {"phantom": {"n": 4, "seed": 1, "healthy_fraction": 0.5},
                      "root": f"${{csxa_phantom_root:{tmp_path / 'planted'},4,1,0.5}}"}  # fmt: skip
    config_file.write_text(yaml.safe_dump(config))
    assert load_run(tmp_path / "run").arch == "resnet50"
    assert not (tmp_path / "planted").exists()
