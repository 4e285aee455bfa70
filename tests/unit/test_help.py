"""Each Hydra command's own --help (what it does, options, example, outputs), predict's and
export's without training's groups; training groups added to predict are refused."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from csxa_lightning.config.command_options import own_options, refuse_foreign_options
from csxa_lightning.config.location import CONFIG_DIR
from csxa_lightning.utils.errors import ConfigValueError
from tests.helpers import REPO, run_module


@pytest.mark.parametrize(
    "command",
    ["train", *(pytest.param(c, marks=pytest.mark.slow) for c in ("predict", "export"))],
)
def test_help_is_the_commands_own(command, tmp_path):
    result = run_module(f"csxa_lightning.{command}", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith(f"csxa-{command}:") and "powered by Hydra" not in text
    for section in ("usage:", "== Example ==", "== Outputs =="):
        assert section in text
    if command != "train":
        assert "balance:" not in text and "model:" not in text  # no training groups
        assert "ckpt: ???" in text


def test_predict_refuses_a_training_group():
    own = own_options(CONFIG_DIR, "predict")
    assert {"ckpt", "input", "out", "cam", "threshold"} <= own
    cfg = OmegaConf.create({**{k: None for k in own}, "crop": {"_target_": "x"}})
    with pytest.raises(ConfigValueError, match="predict does not take crop"):
        refuse_foreign_options(cfg, own, "predict")
    refuse_foreign_options(OmegaConf.create({k: None for k in own}), own, "predict")


def test_predict_command_line_refuses_plus_crop(tmp_path):
    result = run_module(
        "csxa_lightning.predict", "ckpt=x.ckpt", "input=y", "+crop=tight", cwd=tmp_path
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: predict does not take crop")
    assert REPO.exists()
