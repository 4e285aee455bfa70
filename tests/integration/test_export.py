"""Export: the ONNX and TorchScript models give PyTorch's outputs, and the JSON beside them is
enough to reproduce a run's test probabilities from the PNGs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import onnxruntime
import pytest
import torch
from hydra import compose, initialize_config_dir

from csxa_lightning.config.location import CONFIG_DIR
from csxa_lightning.data.cache import preprocess_file
from csxa_lightning.inference.export import ExportError, export
from csxa_lightning.inference.loading import load_trained_model


def export_config(*overrides: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="export", overrides=list(overrides))


@pytest.fixture(scope="module")
def test_films(tiny_run):
    """uint8 (N, variants, 3, S, S) model inputs of the run's test images, and their rows."""
    model = load_trained_model(tiny_run.checkpoint)
    stems = tiny_run.predictions["stem"]
    images = np.stack(
        [
            preprocess_file(model.preprocessor, str(tiny_run.png(s)), str(tiny_run.annotation(s)))
            for s in stems
        ]
    )
    return model, images


def normalized(images: np.ndarray, contract: dict) -> np.ndarray:
    """The exported model's input, made as the JSON says: (pixel/255 - mean[c]) / std[c]."""
    mean = np.array(contract["input"]["mean"], dtype=np.float32)[:, None, None]
    std = np.array(contract["input"]["std"], dtype=np.float32)[:, None, None]
    return ((images.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)


def pytorch_probabilities(model, images: np.ndarray) -> np.ndarray:
    """(N, variants) probability of diseased per channel order, from the checkpoint's model."""
    with torch.no_grad():
        flat = torch.from_numpy(images.reshape(-1, *images.shape[2:]))
        prob = model.classifier(flat).float().softmax(dim=-1)[:, 1]
    return prob.numpy().reshape(images.shape[:2])


def test_onnx_matches_pytorch_and_reproduces_the_runs_predictions(tiny_run, test_films, tmp_path):
    model, images = test_films
    paths = export(export_config(f"ckpt={tiny_run.checkpoint}", f"out={tmp_path / 'm.onnx'}"))
    assert paths["model"] == tmp_path / "m.onnx"
    contract = json.loads(paths["preprocessing"].read_text())
    assert paths["preprocessing"].name == "m.preprocessing.json"
    assert contract["input"]["shape"] == ["batch", 3, 64, 64]
    assert contract["variants"] == ["gray_eq_inv", "gray_inv_eq"]
    assert contract["preprocessing"]["crop"]["name"] == "tight"
    assert contract["threshold"] == 0.5

    session = onnxruntime.InferenceSession(str(paths["model"]), providers=["CPUExecutionProvider"])
    n, variants = images.shape[:2]
    flat = normalized(images.reshape(n * variants, *images.shape[2:]), contract)
    logits, prob = session.run(None, {"input": flat})
    onnx_prob = prob[:, 1].reshape(n, variants)
    np.testing.assert_allclose(onnx_prob, pytorch_probabilities(model, images), rtol=0, atol=1e-4)
    np.testing.assert_allclose(prob, torch.from_numpy(logits).softmax(-1).numpy(), atol=1e-6)
    # A film = the mean of its channel orders: the run's own test probabilities.
    film = onnx_prob.mean(axis=1)
    expected = tiny_run.predictions["prob_diseased"].to_numpy()
    np.testing.assert_allclose(film, expected, rtol=0, atol=1e-4)
    assert ((film >= contract["threshold"]) == tiny_run.predictions["pred"]).all()


def test_torchscript_gives_the_same_outputs(tiny_run, test_films, tmp_path):
    model, images = test_films
    paths = export(
        export_config(
            f"ckpt={tiny_run.checkpoint}", "+format=torchscript", f"out={tmp_path / 'm.pt'}"
        )
    )
    contract = json.loads(paths["preprocessing"].read_text())
    assert contract["format"] == "torchscript"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still loads
        loaded = torch.jit.load(str(paths["model"]))
    n, variants = images.shape[:2]
    flat = torch.from_numpy(normalized(images.reshape(n * variants, *images.shape[2:]), contract))
    with torch.no_grad():
        _, prob = loaded(flat)
    np.testing.assert_allclose(
        prob[:, 1].numpy().reshape(n, variants),
        pytorch_probabilities(model, images),
        rtol=0,
        atol=1e-6,
    )


def test_run_folder_exports_its_tested_checkpoint(tiny_run, tmp_path):
    paths = export(
        export_config(f"run={tiny_run.folder}", "format=torchscript", f"out={tmp_path / 'm.pt'}")
    )
    contract = json.loads(paths["preprocessing"].read_text())
    assert contract["checkpoint"] == str(tiny_run.checkpoint.resolve())


def test_unknown_format_is_refused(tiny_run):
    with pytest.raises(
        ExportError, match=r"format='tflite'; choose one of \['onnx', 'torchscript'\]"
    ):
        export(export_config(f"ckpt={tiny_run.checkpoint}", "format=tflite"))
