"""What a user types never destroys their work: an output that is an input (a film, the
checkpoint) or lies in a training run folder is refused before any work, with one line, and the
input is byte-identical afterwards."""

from __future__ import annotations

import shutil

import pytest

from csxa_lightning.inference.export import export
from csxa_lightning.inference.output_paths import OutputPathError
from csxa_lightning.inference.predict import predict
from csxa_lightning.results.evaluation import evaluate
from tests.helpers import compose_config, run_module


@pytest.fixture
def copies(tiny_run, tmp_path):
    """A copy of the run folder and of one film: what a refusal must leave untouched."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run.folder, run)
    film = tmp_path / "films" / next((tiny_run.dataset / "datasets-PNG").iterdir()).name
    film.parent.mkdir()
    shutil.copyfile(tiny_run.dataset / "datasets-PNG" / film.name, film)
    return run, run / "checkpoints" / tiny_run.checkpoint.name, film


def snapshot(*paths):
    return {p: p.read_bytes() for p in paths}


@pytest.mark.slow  # a command in a subprocess: tens of seconds
def test_predict_onto_one_of_its_films_ends_with_one_line_and_keeps_the_film(copies, tmp_path):
    _, ckpt, film = copies
    before = snapshot(film)
    result = run_module(
        "csxa_lightning.predict", f"ckpt={ckpt}", f"input={film.parent}", f"out={film}",
        cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: out={film}: is the film")
    assert snapshot(film) == before


def test_predict_and_export_onto_their_checkpoint_keep_it(copies):
    _, ckpt, film = copies
    before = snapshot(ckpt)
    with pytest.raises(OutputPathError, match="is the checkpoint this command reads"):
        predict(compose_config("predict", [f"ckpt={ckpt}", f"input={film}", f"out={ckpt}"]))
    with pytest.raises(OutputPathError, match="is the checkpoint this command reads"):
        export(compose_config("export", [f"ckpt={ckpt}", f"out={ckpt}"]))
    assert snapshot(ckpt) == before


def test_evaluate_into_a_training_run_folder_keeps_its_files(copies, tiny_run):
    run, ckpt, _ = copies
    files = [run / "metrics.json", run / "predictions.csv"]
    before = snapshot(*files)
    overrides = [f"ckpt={ckpt}", f"data.root={tiny_run.dataset}", f"out={run}"]
    with pytest.raises(OutputPathError, match=f"lies inside the training run folder {run}"):
        evaluate(compose_config("evaluate", overrides))
    assert snapshot(*files) == before
    assert not (run / "report.md").exists()


@pytest.mark.slow  # a command in a subprocess: tens of seconds
def test_train_with_another_config_on_a_finished_run_folder_changes_nothing(
    tiny_run, phantom_run_overrides, tmp_path
):
    """The report describes a run by its folder's saved config: a start with another config
    must not rewrite it (Hydra used to, before train() could say "finished earlier")."""
    from tests.integration.conftest import TINY_RUN_OVERRIDES

    run = tmp_path / "run"  # the fixture's paths.output_dir
    shutil.copytree(tiny_run.folder, run)
    kept = [run / ".hydra" / "config.yaml", run / "metrics.json", run / "predictions.csv"]
    before = snapshot(*kept)
    result = run_module(
        "csxa_lightning.train", *phantom_run_overrides, *TINY_RUN_OVERRIDES,
        f"hydra.run.dir={run}", "seed=7", cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {run}: holds a finished run made with another config (")
    assert "seed 42 -> 7" in line and "force=true" in line
    assert snapshot(*kept) == before
    assert not (run / ".hydra-incoming").exists()


def test_predict_holds_films_to_the_checks_training_made(tiny_run, tmp_path):
    """A blank film, and one smaller than the data.min_size its model trained with (stored in
    the checkpoint), are refused by predict as training refused them."""
    import cv2
    import numpy as np

    from csxa_lightning.utils.errors import UserError

    stem = sorted(tiny_run.predictions["stem"])[0]  # its annotation is in the dataset
    small, blank = tmp_path / "small" / f"{stem}.png", tmp_path / "blank" / f"{stem}.png"
    for path in (small, blank):
        path.parent.mkdir()
    cv2.imwrite(str(small), (np.arange(40 * 40).reshape(40, 40) % 256).astype(np.uint8))
    cv2.imwrite(str(blank), np.full((128, 128), 9, np.uint8))
    for film, reason in ((small, "smaller than the 64 a side its model was trained to accept"),
                         (blank, r"every pixel is 9 \(a blank film")):  # fmt: skip
        overrides = [
            f"ckpt={tiny_run.checkpoint}",
            f"input={film}",
            f"out={tmp_path / 'p.csv'}",
            f"annotations={tiny_run.dataset / 'datasets-JSON'}",
        ]
        with pytest.raises(UserError, match=reason):
            predict(compose_config("predict", overrides))
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.slow  # a command in a subprocess: tens of seconds
def test_a_full_disk_is_one_line_and_the_old_file_stays(tiny_run, tmp_path):
    """ulimit -f, as a full disk: the CSV cannot be written. One line, exit 1, and the file
    that was there before is intact (written whole)."""
    import resource
    import subprocess

    from tests.helpers import module_command, module_env

    film = next((tiny_run.dataset / "datasets-PNG").iterdir())
    out = tmp_path / "p.csv"
    out.write_text("the previous predictions\n")

    def small_files() -> None:  # every file this process writes stops at 64 bytes
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

    arguments = [f"ckpt={tiny_run.checkpoint}", f"input={film}", f"out={out}",
                 f"annotations={tiny_run.dataset / 'datasets-JSON'}"]  # fmt: skip
    result = subprocess.run(
        module_command("csxa_lightning.predict", *arguments),
        capture_output=True, text=True, cwd=tmp_path, timeout=300, env=module_env(),
        preexec_fn=small_files,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no room left while writing")
    assert "(File too large)" in lines[0]
    assert out.read_text() == "the previous predictions\n"
    assert [p.name for p in tmp_path.iterdir()] == ["p.csv"]  # no partial file left


def retrain_overrides(phantom_run_overrides, *extra: str) -> list[str]:
    """tiny_run's config (its dataset is the session's phantom) with force=true, written to the
    fixture's tmp_path/run: where each test copies tiny_run's folder."""
    from tests.integration.conftest import TINY_RUN_OVERRIDES

    return [*phantom_run_overrides, *TINY_RUN_OVERRIDES, "force=true", *extra]


def every_file(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_force_on_a_finished_run_that_then_fails_leaves_the_run_byte_identical(
    tiny_run, phantom_run_overrides, tmp_path
):
    """force=true replaces a finished run only once the new one has finished: a failure
    leaves every file of the old one, and no staging folder."""
    from csxa_lightning.training.run import train
    from tests.helpers import compose_train_config

    run = tmp_path / "run"
    shutil.copytree(tiny_run.folder, run)
    before = every_file(run)
    bug = ["+callbacks.bug._target_=tests.helpers.BugAtFitStart", "seed=7"]
    with pytest.raises(ValueError, match="simulated bug"):
        train(compose_train_config(retrain_overrides(phantom_run_overrides, *bug)))
    assert every_file(run) == before
    assert sorted(p.name for p in run.iterdir()) == sorted(
        p.name for p in tiny_run.folder.iterdir()
    )


def test_force_with_another_config_replaces_the_run_and_its_config_once_finished(
    tiny_run, phantom_run_overrides, tmp_path
):
    import json

    from omegaconf import OmegaConf

    from csxa_lightning.training.run import train
    from tests.helpers import compose_train_config

    run = tmp_path / "run"
    shutil.copytree(tiny_run.folder, run)
    cfg = compose_train_config(retrain_overrides(phantom_run_overrides, "seed=7"))
    (run / ".hydra-incoming").mkdir()  # what Hydra's command line saves for this start
    OmegaConf.save(cfg, run / ".hydra-incoming" / "config.yaml")
    old_predictions = (run / "predictions.csv").read_bytes()
    metrics = train(cfg)
    recorded = json.loads((run / "metrics.json").read_text())
    assert (run / "predictions.csv").read_bytes() != old_predictions  # seed 7's model
    checkpoint = run / "checkpoints" / tiny_run.checkpoint.name
    assert recorded["checkpoint"] == metrics["checkpoint"] == str(checkpoint)
    assert [p.name for p in (run / "checkpoints").iterdir()] == [checkpoint.name]
    assert OmegaConf.load(run / ".hydra" / "config.yaml").seed == 7
    assert not {".retraining", ".replaced", ".hydra-incoming"} & {p.name for p in run.iterdir()}


def test_ctrl_c_during_a_forced_retraining_says_the_finished_run_is_unchanged(
    tiny_run, phantom_run_overrides, tmp_path, caplog
):
    from csxa_lightning.training.run import train
    from tests.helpers import compose_train_config

    run = tmp_path / "run"
    shutil.copytree(tiny_run.folder, run)
    before = every_file(run)
    ctrl_c = [
        "+callbacks.interrupt._target_=tests.helpers.SignalOnce",
        "+callbacks.interrupt.epoch=0",
    ]
    with pytest.raises((SystemExit, KeyboardInterrupt)):
        train(compose_train_config(retrain_overrides(phantom_run_overrides, *ctrl_c)))
    assert (
        f"interrupted: the retraining (force=true) of {run} stopped before it finished; the "
        "finished run there is unchanged" in caplog.text
    )
    assert every_file(run) == before
    assert not (run / ".retraining").exists()
