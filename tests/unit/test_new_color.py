"""A new color is one class, one conf/color/*.yaml and its tests: color=clahe composes with
the real config and runs through the Preprocessor, export's channel names and the checkpoint
spec without any other change."""

from __future__ import annotations

import numpy as np
from hydra.utils import instantiate

from csxa_lightning.data.cache import preprocess_file
from csxa_lightning.data.csxa import load_index
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.data.transforms import ClaheColor
from tests.helpers import compose_train_config


def test_clahe_is_one_class_and_one_yaml(phantom):
    cfg = compose_train_config(["color=clahe", "crop=wide", "image_size=64"])
    preprocessor: Preprocessor = instantiate(cfg.data.preprocess)
    assert isinstance(preprocessor.color, ClaheColor)
    assert preprocessor.channels == 3 and preprocessor.variants == ("clahe",)
    assert preprocessor.color.channel_names == {"clahe": ("gray", "clahe", "inverted")}

    row = load_index(phantom.root).iloc[0]
    inputs = preprocess_file(preprocessor, row["png_path"], row["json_path"])
    assert inputs.shape == (1, 3, 64, 64) and inputs.dtype == np.uint8
    gray, clahe, inverted = inputs[0].astype(int)
    assert np.abs(inverted - (255 - gray)).max() <= 1  # resized separately: rounding only
    assert not np.array_equal(clahe, gray)  # the equalization changed the film

    # Checkpoints keep the preprocessing as a spec: the new color comes back from it.
    assert Preprocessor.from_spec(preprocessor.spec()) == preprocessor
