"""The lines a finished run prints to use its checkpoint paste into a shell as they are: the
shell and then Hydra's override parser give back the exact path, `=` and `,` included (a
sweep's run folders are named after their overrides)."""

from __future__ import annotations

import shlex

from hydra.core.override_parser.overrides_parser import OverridesParser

from csxa_lightning.training.run_job import use_commands

FOLDER = "/runs/sweeps/table1/+variant=cropped,experiment=table1"
CHECKPOINT = f"{FOLDER}/checkpoints/epoch012.ckpt"
ROOT = "/data/CSXA v2, copy=1"


def parsed(argument: str) -> tuple[str, object]:
    (override,) = OverridesParser.create().parse_overrides([argument])
    return override.key_or_group, override.value()


def test_the_predict_and_evaluate_lines_give_hydra_the_exact_paths():
    predict, evaluate = use_commands(CHECKPOINT, ROOT)
    predict_words = shlex.split(predict.split(":", 1)[1])
    assert predict_words[0] == "csxa-predict"
    assert parsed(predict_words[1]) == ("ckpt", CHECKPOINT)
    evaluate_words = shlex.split(evaluate.split(":", 1)[1])
    assert evaluate_words[0] == "csxa-evaluate"
    assert parsed(evaluate_words[1]) == ("ckpt", CHECKPOINT)
    assert ("data.root", ROOT) in [parsed(w) for w in evaluate_words[2:]]
    assert "subset=test" in evaluate_words


def test_without_a_recorded_dataset_the_evaluate_line_names_a_placeholder():
    _, evaluate = use_commands(CHECKPOINT, None)
    assert "data.root=/path/to/CSXA" in evaluate
