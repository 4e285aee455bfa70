"""`python -m csxa_lightning.report SWEEP` in a fresh process gives the report the sweep itself
wrote, Grad-CAM pictures included, for runs whose saved config names the precision by one of
our interpolations (the default trainer's ${csxa_precision:})."""

from __future__ import annotations

import json
import shutil

import pytest
from omegaconf import OmegaConf

from csxa_lightning.results.document import build_report
from tests.helpers import run_module


@pytest.mark.slow  # a command in a subprocess: tens of seconds
def test_a_report_rebuilt_in_a_fresh_process_keeps_its_grad_cam_pictures(tiny_run, tmp_path):
    sweep = tmp_path / "sweep"
    for name, recorded in (("recorded", True), ("older", False)):
        folder = sweep / name
        shutil.copytree(tiny_run.folder, folder)
        config = OmegaConf.load(folder / ".hydra" / "config.yaml")
        config.trainer.precision = "${csxa_precision:}"  # as trainer=default saves it
        if not recorded:
            config.crop.name = "wide"  # another variant, so that both runs get a picture
        OmegaConf.save(config, folder / ".hydra" / "config.yaml")
        if not recorded:  # a run written before metrics.json kept trainer_precision
            metrics = json.loads((folder / "metrics.json").read_text())
            del metrics["trainer_precision"]
            (folder / "metrics.json").write_text(json.dumps(metrics))
    in_process = build_report(sweep)["md"].read_text()
    pictures = sorted(p.name for p in (sweep / "figures").glob("cam_*.png"))
    shutil.rmtree(sweep / "figures")

    result = run_module("csxa_lightning.report", str(sweep), cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Unsupported interpolation" not in (sweep / "report.md").read_text()
    assert (sweep / "report.md").read_text() == in_process
    assert sorted(p.name for p in (sweep / "figures").glob("cam_*.png")) == pictures
    assert len(pictures) == 2
