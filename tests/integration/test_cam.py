"""Grad-CAM: maps of the input's size that vary over the image, and the report's section built
from a run folder (or a line saying why not)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import torch

from csxa_lightning.data.cache import preprocess_file
from csxa_lightning.inference.loading import load_trained_model
from csxa_lightning.models.cam import grad_cam, overlay
from csxa_lightning.results.cam_section import cam_section
from csxa_lightning.runs.folder import load_run


def test_cam_has_the_inputs_size_and_is_not_constant(tiny_run):
    model = load_trained_model(tiny_run.checkpoint)
    stems = tiny_run.predictions["stem"][:4]
    images = torch.from_numpy(
        np.stack(
            [
                preprocess_file(
                    model.preprocessor, str(tiny_run.png(s)), str(tiny_run.annotation(s))
                )
                for s in stems
            ]
        )
    )
    size = images.shape[-1]
    cams = grad_cam(model.classifier, model.arch, images, [1, 1, 0, 0])
    assert cams.maps.shape == (4, size, size)
    assert cams.layer == "layer4" and cams.grid == (2, 2)  # ResNet18 at 64 px
    assert (cams.maps >= 0).all() and (cams.maps <= 1).all()
    assert (cams.maps.reshape(4, -1).std(axis=1) > 0).all()
    picture = overlay(images[0, 0].numpy(), cams.maps[0])
    assert picture.shape == (size, size, 3) and picture.dtype == np.uint8


def test_report_section_shows_the_run_or_says_why_not(tiny_run, tmp_path):
    section = cam_section([load_run(tiny_run.folder)], per_category=2)
    assert len(section.pictures) == 1
    (name,) = section.pictures
    assert section.pictures[name][:8] == b"\x89PNG\r\n\x1a\n"
    assert f"![{name}](figures/{name})" in section.markdown
    assert "`layer4` (2 × 2 cells, upsampled to 64 px)" in section.markdown

    # The same run folder without its checkpoints: a line instead of a picture.
    bare = tmp_path / "run"
    shutil.copytree(tiny_run.folder, bare, ignore=shutil.ignore_patterns("checkpoints"))
    metrics = json.loads((bare / "metrics.json").read_text())
    metrics["checkpoint"] = str(bare / "checkpoints" / tiny_run.checkpoint.name)
    (bare / "metrics.json").write_text(json.dumps(metrics))
    section = cam_section([load_run(bare)], per_category=2)
    assert section.pictures == {}
    missing = bare / "checkpoints" / tiny_run.checkpoint.name
    assert f"no Grad-CAM pictures: no checkpoint: {missing} not found." in section.markdown
