"""An output never replaces an input, never lands in a dataset or a training run folder, and an
unwritable one is named before any work."""

from __future__ import annotations

import pytest

from csxa_lightning.inference.output_paths import OutputPathError, check_output


def run_folder(root):
    """What train.py leaves: Hydra's saved config, the split and the checkpoints."""
    (root / ".hydra").mkdir(parents=True)
    (root / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (root / "checkpoints").mkdir()
    (root / "split.csv").write_text("case_id,split\n")
    (root / "metrics.json").write_text("{}\n")
    return root


def test_an_output_that_is_an_input_is_refused_and_names_both(tmp_path):
    film = tmp_path / "films" / "0001130.png"
    film.parent.mkdir()
    film.write_bytes(b"\x89PNG")
    with pytest.raises(OutputPathError, match=r"out=.*0001130.png: is the film this command") as e:
        check_output("out", film, {"film": [film]})
    assert "writing there would destroy it" in str(e.value)
    with pytest.raises(OutputPathError, match="lies inside the input folder"):
        check_output("out", film.parent / "p.csv", {"input folder": [film.parent]})
    assert film.read_bytes() == b"\x89PNG"


def test_the_same_file_by_another_spelling_is_the_same_file(tmp_path, monkeypatch):
    ckpt = tmp_path / "run" / "a.ckpt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"x")
    monkeypatch.chdir(tmp_path / "run")
    with pytest.raises(OutputPathError, match="is the checkpoint"):
        check_output("out", "./../run/a.ckpt", {"checkpoint": [ckpt]})


def test_dataset_and_training_run_folders_are_refused(tmp_path):
    dataset = tmp_path / "CSXA"
    (dataset / "datasets-PNG").mkdir(parents=True)
    with pytest.raises(OutputPathError, match="lies inside the dataset folder"):
        check_output("out", dataset / "scores.csv")
    run = run_folder(tmp_path / "outputs" / "train" / "runs" / "x" / "t")
    with pytest.raises(OutputPathError, match=f"lies inside the training run folder {run}"):
        check_output("out", run)  # evaluate out=<the run's folder>
    with pytest.raises(OutputPathError, match="training run folder"):
        check_output("out", run / "logs" / "p.csv")
    # Beside the checkpoint, for export's default: allowed.
    assert check_output("out", run / "checkpoints" / "e.onnx", run_folder_allowed=True) == (
        run / "checkpoints" / "e.onnx"
    )


def test_a_folder_that_merely_holds_a_checkpoints_folder_is_no_run(tmp_path):
    (tmp_path / "checkpoints").mkdir()  # a common name in a user's own project
    assert check_output("out", tmp_path / "p.csv") == tmp_path / "p.csv"


def test_an_unwritable_place_is_named(tmp_path):
    with pytest.raises(OutputPathError, match=r"out=/proc/x.csv: cannot create files in /proc"):
        check_output("out", "/proc/x.csv")
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(OutputPathError, match=f"{blocked} is a file, not a folder"):
        check_output("out", blocked / "sub" / "p.csv")
    # A folder that does not exist yet is fine where its parent takes files.
    assert check_output("out", tmp_path / "new" / "deeper" / "p.csv").parent.name == "deeper"
